//! The hop from tokio to the asyncio loop: a per-server queue filled by the core's handlers (never
//! blocking, never touching Python) and drained by one dispatch thread that takes the GIL once per batch.

use crate::convert::payload_to_list;
use crate::errors::class_name;
use crate::server::{environ, Ack, ConnectReply};
use ferrio::socketio::AckResponses;
use ferrio::socketio::RemoteSocket;
use ferrio::{
    AckError, AckSender, CodedError, ConnectError, DisconnectReason, ErrorCode, Payload, Room,
    Socket,
};
use parking_lot::{Condvar, Mutex};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::oneshot;

/// Item kinds, as the facade's `_dispatch` reads them (first tuple element).
const CONNECT: u8 = 0;
const EVENT: u8 = 1;
const DISCONNECT: u8 = 2;
const RESOLVE: u8 = 3;

/// Something for Python to do.
pub(crate) enum Item {
    /// A socket wants to join (`reply` is `None` when the connection is already accepted).
    Connect {
        socket: Socket,
        reply: Option<oneshot::Sender<Result<(), ConnectError>>>,
    },
    /// A client event.
    Event {
        socket: Socket,
        name: String,
        payload: Payload,
        ack: Option<AckSender>,
    },
    /// A socket is leaving; its rooms as they were while it was still in them.
    Disconnect {
        socket: Socket,
        reason: DisconnectReason,
        rooms: Vec<Room>,
    },
    /// An awaitable started by Python is done.
    Resolve { future: Py<PyAny>, result: Resolved },
}

/// The outcome of an awaitable operation, converted to Python on the dispatch thread.
pub(crate) enum Resolved {
    /// Nothing to return.
    Done,
    /// The bound port.
    Port(u16),
    /// An error message, raised as the `ferrio.exceptions` class of the code.
    Error(ErrorCode, String),
    /// One client's acknowledgement.
    Ack(Result<Payload, AckError>),
    /// A broadcast's acknowledgements.
    Acks(Result<AckResponses, AckError>),
    /// `fetch_sockets`.
    Sockets(Vec<RemoteSocket>),
    /// An HTTP answer: status, header pairs, body.
    Http(u16, Vec<(String, Vec<u8>)>, bytes::Bytes),
    /// An accepted relayed WebSocket.
    WebSocket(crate::asgi::WsRelay),
    /// One relayed WebSocket message (text or binary), or None once the connection is over.
    WsMessage(Option<crate::asgi::RelayMessage>),
}

/// A FIFO that tokio threads push to without blocking and the dispatch thread drains in batches.
#[derive(Default)]
pub(crate) struct Queue {
    items: Mutex<Vec<Item>>,
    ready: Condvar,
    closed: AtomicBool,
}

impl Queue {
    pub(crate) fn push(&self, item: Item) {
        let mut items = self.items.lock();
        let was_empty = items.is_empty();
        items.push(item);
        drop(items);
        if was_empty {
            self.ready.notify_one();
        }
    }

    /// The dispatch thread ends once the queue is drained.
    pub(crate) fn close(&self) {
        let _guard = self.items.lock();
        self.closed.store(true, Ordering::Release);
        self.ready.notify_all();
    }

    /// Waits (without the GIL: the caller holds none) for the next batch; `None` once closed and drained.
    fn next_batch(&self) -> Option<Vec<Item>> {
        let mut items = self.items.lock();
        while items.is_empty() {
            if self.closed.load(Ordering::Acquire) {
                return None;
            }
            self.ready.wait(&mut items);
        }
        Some(std::mem::take(&mut *items))
    }
}

/// The dispatch thread's body: one `loop.call_soon_threadsafe(callback, batch)` per batch.
pub(crate) fn run(
    queue: Arc<Queue>,
    event_loop: Py<PyAny>,
    callback: Py<PyAny>,
    max_json_depth: usize,
) {
    while let Some(batch) = queue.next_batch() {
        let delivered =
            Python::try_attach(|py| deliver(py, batch, &event_loop, &callback, max_json_depth));
        match delivered {
            Some(true) => {}
            // The loop is closed or the interpreter is going away: nobody can handle events any more.
            // Dropping what is queued refuses pending connects and leaves acks unanswered.
            Some(false) | None => {
                queue.close();
                let _ = std::mem::take(&mut *queue.items.lock());
                return;
            }
        }
    }
}

fn deliver(
    py: Python<'_>,
    batch: Vec<Item>,
    event_loop: &Py<PyAny>,
    callback: &Py<PyAny>,
    max_json_depth: usize,
) -> bool {
    let list = PyList::empty(py);
    for item in batch {
        match convert_item(py, item, max_json_depth) {
            Ok(obj) => {
                if list.append(obj).is_err() {
                    return false;
                }
            }
            Err(error) => log_error(py, "cannot convert an incoming item", &error),
        }
    }
    match event_loop.call_method1(py, "call_soon_threadsafe", (callback, list)) {
        Ok(_) => true,
        Err(error) => {
            log_error(py, "the asyncio loop refused the batch", &error);
            false
        }
    }
}

/// Logs through the `ferrio` logger (falls back to stderr if logging itself fails).
pub(crate) fn log_error(py: Python<'_>, what: &str, error: &PyErr) {
    let logged = py.import("logging").and_then(|logging| {
        let logger = logging.call_method1("getLogger", ("ferrio",))?;
        logger.call_method1("error", ("%s: %s", what, error.to_string()))
    });
    if logged.is_err() {
        eprintln!("ferrio: {what}: {error}");
    }
}

/// One item as the facade's `_dispatch` takes it; acks and connect replies carry the server's
/// `max_json_depth`, which what Python answers keeps to.
fn convert_item<'py>(
    py: Python<'py>,
    item: Item,
    max_json_depth: usize,
) -> PyResult<Bound<'py, PyTuple>> {
    match item {
        Item::Connect { socket, reply } => {
            let auth = Payload::one(socket.auth())
                .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
            let auth = payload_to_list(py, &auth)?.get_item(0)?;
            let reply = match reply {
                Some(tx) => Some(Py::new(py, ConnectReply::new(tx, max_json_depth))?.into_any()),
                None => None,
            };
            PyTuple::new(
                py,
                [
                    CONNECT.into_pyobject(py)?.into_any(),
                    socket.nsp().into_pyobject(py)?.into_any(),
                    socket.id().as_str().into_pyobject(py)?.into_any(),
                    socket.conn_id().as_str().into_pyobject(py)?.into_any(),
                    environ(py, &socket)?.into_any(),
                    auth,
                    reply.into_pyobject(py)?.into_any(),
                ],
            )
        }
        Item::Event {
            socket,
            name,
            payload,
            ack,
        } => {
            let args = payload_to_list(py, &payload)?;
            let ack = match ack {
                Some(ack) => Some(Py::new(py, Ack::new(ack, max_json_depth))?.into_any()),
                None => None,
            };
            PyTuple::new(
                py,
                [
                    EVENT.into_pyobject(py)?.into_any(),
                    socket.nsp().into_pyobject(py)?.into_any(),
                    socket.id().as_str().into_pyobject(py)?.into_any(),
                    name.into_pyobject(py)?.into_any(),
                    args.into_any(),
                    ack.into_pyobject(py)?.into_any(),
                ],
            )
        }
        Item::Disconnect {
            socket,
            reason,
            rooms,
        } => {
            let rooms: Vec<&str> = rooms.iter().map(|r| r.as_ref()).collect();
            PyTuple::new(
                py,
                [
                    DISCONNECT.into_pyobject(py)?.into_any(),
                    socket.nsp().into_pyobject(py)?.into_any(),
                    socket.id().as_str().into_pyobject(py)?.into_any(),
                    socket.conn_id().as_str().into_pyobject(py)?.into_any(),
                    reason.as_str().into_pyobject(py)?.into_any(),
                    PyList::new(py, rooms)?.into_any(),
                ],
            )
        }
        Item::Resolve { future, result } => {
            let (ok, value) = resolved(py, result)?;
            PyTuple::new(
                py,
                [
                    RESOLVE.into_pyobject(py)?.into_any(),
                    future.into_bound(py),
                    pyo3::types::PyBool::new(py, ok).to_owned().into_any(),
                    value,
                ],
            )
        }
    }
}

/// `(True, value)` or `(False, (exception class name, message, extra))`.
fn resolved<'py>(py: Python<'py>, result: Resolved) -> PyResult<(bool, Bound<'py, PyAny>)> {
    let error = |class: &str, message: String, extra: Bound<'py, PyAny>| -> PyResult<_> {
        Ok((false, (class, message, extra).into_pyobject(py)?.into_any()))
    };
    match result {
        Resolved::Done => Ok((true, py.None().into_bound(py))),
        Resolved::Port(port) => Ok((true, port.into_pyobject(py)?.into_any())),
        Resolved::Error(code, message) => {
            error(class_name(code), message, py.None().into_bound(py))
        }
        Resolved::Ack(Ok(payload)) => Ok((true, payload_to_list(py, &payload)?.into_any())),
        Resolved::Ack(Err(e)) => ack_error(py, e, error),
        Resolved::Acks(Ok(responses)) => {
            let answers = PyList::empty(py);
            for (_, payload) in &responses.answers {
                answers.append(payload_to_list(py, payload)?)?;
            }
            Ok((true, answers.into_any()))
        }
        Resolved::Acks(Err(e)) => ack_error(py, e, error),
        Resolved::Http(status, headers, body) => {
            let headers: Vec<(
                pyo3::Bound<'py, pyo3::types::PyBytes>,
                pyo3::Bound<'py, pyo3::types::PyBytes>,
            )> = headers
                .iter()
                .map(|(k, v)| {
                    (
                        pyo3::types::PyBytes::new(py, k.as_bytes()),
                        pyo3::types::PyBytes::new(py, v),
                    )
                })
                .collect();
            let body = pyo3::types::PyBytes::new(py, &body);
            Ok((true, (status, headers, body).into_pyobject(py)?.into_any()))
        }
        Resolved::WebSocket(relay) => Ok((true, Bound::new(py, relay)?.into_any())),
        Resolved::WsMessage(None) => Ok((true, py.None().into_bound(py))),
        Resolved::WsMessage(Some(crate::asgi::RelayMessage::Text(text))) => {
            Ok((true, text.as_str().into_pyobject(py)?.into_any()))
        }
        Resolved::WsMessage(Some(crate::asgi::RelayMessage::Binary(data))) => {
            Ok((true, pyo3::types::PyBytes::new(py, &data).into_any()))
        }
        Resolved::Sockets(sockets) => {
            let list = PyList::empty(py);
            for socket in sockets {
                let dict = PyDict::new(py);
                dict.set_item("id", socket.id.as_str())?;
                let mut rooms: Vec<&str> = socket.rooms.iter().map(|r| r.as_ref()).collect();
                rooms.sort_unstable();
                dict.set_item("rooms", rooms)?;
                let handshake = Payload::one(&socket.handshake)
                    .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
                dict.set_item("handshake", payload_to_list(py, &handshake)?.get_item(0)?)?;
                list.append(dict)?;
            }
            Ok((true, list.into_any()))
        }
    }
}

fn ack_error<'py, F>(py: Python<'py>, e: AckError, error: F) -> PyResult<(bool, Bound<'py, PyAny>)>
where
    F: Fn(&str, String, Bound<'py, PyAny>) -> PyResult<(bool, Bound<'py, PyAny>)>,
{
    let (class, message) = (class_name(e.code()), e.to_string());
    match e {
        // The answers that did come travel with the timeout.
        AckError::Timeout { answers } => {
            let list = PyList::empty(py);
            for (_, payload) in &answers {
                list.append(payload_to_list(py, payload)?)?;
            }
            error(class, message, list.into_any())
        }
        _ => error(class, message, py.None().into_bound(py)),
    }
}
