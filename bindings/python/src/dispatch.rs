//! The hop from tokio to the asyncio loop, on `ferrio_host`'s layer: the core's handlers (`attach`, see
//! `server/handlers.rs`) deliver [`HostEvent`]s to the server's [`BatchQueue`] (never blocking, never
//! touching Python), and one dispatch thread waits for its batches without the GIL, takes the GIL once per
//! batch and hands the converted batch to the asyncio loop.
//!
//! Each item reaches the facade's `_dispatch` as a tuple whose first element is its kind: the host's
//! [`EventKind::number`], or [`RESOLVE`] for the binding's own items. The facade reads these numbers from
//! `_native.EVENT_KINDS` ([`kinds`]).

use crate::convert::payload_to_list;
use crate::errors::class_name;
use crate::server::{environ, Ack, ConnectReply};
use ferrio::socketio::AckResponses;
use ferrio::socketio::RemoteSocket;
use ferrio::{AckError, CodedError, ErrorCode, Payload, Socket};
use ferrio_host::event::FIRST_BINDING_KIND;
use ferrio_host::{BatchQueue, EventKind, HostEvent, Sink};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyList, PyTuple};
use std::collections::VecDeque;
use std::sync::Arc;

/// The kind of [`Item::Resolve`]: the first of the binding's own kind numbers.
const RESOLVE: u8 = FIRST_BINDING_KIND;

/// `_native.EVENT_KINDS`: every kind's facade name and number, the binding's `RESOLVE` included.
pub(crate) fn kinds(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let table = PyDict::new(py);
    for kind in EventKind::ALL {
        table.set_item(kind.name(), kind.number())?;
    }
    table.set_item("RESOLVE", RESOLVE)?;
    Ok(table)
}

/// Something for Python to do.
pub(crate) enum Item {
    /// Something the core reported.
    Host(HostEvent),
    /// An awaitable started by Python is done.
    Resolve { future: Py<PyAny>, result: Resolved },
    /// The server has shut down: the dispatch thread delivers its batch, closes the queue and ends. (Not
    /// an item for Python: closing the queue from the shutdown task would drop what is still queued.)
    End,
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

/// A server's dispatch queue: tokio threads push without blocking, the dispatch thread takes batches.
pub(crate) type Queue = BatchQueue<Item>;

/// A new dispatch queue. Its thread is woken by the push that finds the queue empty: deferring the wake
/// to the end of the scheduler round (`BatchQueue::per_round` and its relay task) gained nothing on the
/// Python bench (echo and broadcast CPU per message no better, within its noise), so the binding keeps
/// the simpler queue, with no task per server.
pub(crate) fn queue() -> Arc<Queue> {
    Arc::new(BatchQueue::new(ferrio_host::Wake::Thread))
}

/// The core handlers' way to the dispatch thread.
pub(crate) struct ToPython(pub(crate) Arc<Queue>);

impl Sink<()> for ToPython {
    fn deliver(&self, event: HostEvent) -> bool {
        self.0.push(Item::Host(event))
    }
}

/// The dispatch thread's body: one `loop.call_soon_threadsafe(callback, batch)` per batch.
/// `keeps_sessions`: the server has connection state recovery (departures say whether the core kept the
/// socket's session).
pub(crate) fn run(
    queue: Arc<Queue>,
    event_loop: Py<PyAny>,
    callback: Py<PyAny>,
    max_json_depth: usize,
    keeps_sessions: bool,
) {
    let conversion = Conversion {
        max_json_depth,
        keeps_sessions,
    };
    while let Some(batch) = queue.wait() {
        let end = batch.iter().any(|item| matches!(item, Item::End));
        let delivered =
            Python::try_attach(|py| deliver(py, batch, &event_loop, &callback, &conversion));
        // Once delivery fails, the loop is closed or the interpreter is going away: nobody can handle
        // events any more. Dropping what is queued refuses pending connects and leaves acks unanswered.
        if end || delivered != Some(true) {
            drop(queue.close());
            return;
        }
    }
}

/// What the conversion of items needs to know of the server.
struct Conversion {
    /// The server's `max_json_depth`, which what Python answers keeps to.
    max_json_depth: usize,
    /// Whether the server has connection state recovery.
    keeps_sessions: bool,
}

fn deliver(
    py: Python<'_>,
    batch: VecDeque<Item>,
    event_loop: &Py<PyAny>,
    callback: &Py<PyAny>,
    conversion: &Conversion,
) -> bool {
    let list = PyList::empty(py);
    for item in batch {
        match convert_item(py, item, conversion) {
            Ok(Some(obj)) => {
                if list.append(obj).is_err() {
                    return false;
                }
            }
            Ok(None) => {}
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

/// One item as the facade's `_dispatch` takes it (`None`: a host event the binding never asks for); acks
/// and connect replies carry the server's `max_json_depth`, which what Python answers keeps to.
fn convert_item<'py>(
    py: Python<'py>,
    item: Item,
    conversion: &Conversion,
) -> PyResult<Option<Bound<'py, PyTuple>>> {
    let max_json_depth = conversion.max_json_depth;
    let event = match item {
        Item::Host(event) => event,
        Item::Resolve { future, result } => {
            let (ok, value) = resolved(py, result)?;
            let ok = PyBool::new(py, ok).to_owned().into_any();
            let item = [
                RESOLVE.into_pyobject(py)?.into_any(),
                future.into_bound(py),
                ok,
                value,
            ];
            return PyTuple::new(py, item).map(Some);
        }
        Item::End => return Ok(None),
    };
    let kind = event.kind().number().into_pyobject(py)?.into_any();
    let item = match event {
        // python-socketio's `connect` handler, which accepts or refuses the socket.
        HostEvent::Middleware {
            socket, verdict, ..
        } => {
            let reply = Py::new(py, ConnectReply::new(verdict, max_json_depth))?;
            let [nsp, sid, conn, environ, auth, recovered] = joining(py, &socket)?;
            PyTuple::new(
                py,
                [
                    kind,
                    nsp,
                    sid,
                    conn,
                    environ,
                    auth,
                    recovered,
                    reply.into_bound(py).into_any(),
                ],
            )
        }
        // `always_connect`, or a recovered socket that skipped the middlewares: the socket is in already.
        HostEvent::Connect { socket, .. } => {
            let [nsp, sid, conn, environ, auth, recovered] = joining(py, &socket)?;
            PyTuple::new(py, [kind, nsp, sid, conn, environ, auth, recovered])
        }
        HostEvent::Event { socket, event } => {
            let args = payload_to_list(py, &event.payload)?;
            let ack = match event.ack {
                Some(ack) => Some(Py::new(py, Ack::new(ack, max_json_depth))?.into_any()),
                None => None,
            };
            PyTuple::new(
                py,
                [
                    kind,
                    socket.nsp().into_pyobject(py)?.into_any(),
                    socket.id().as_str().into_pyobject(py)?.into_any(),
                    event.name.into_pyobject(py)?.into_any(),
                    args.into_any(),
                    ack.into_pyobject(py)?.into_any(),
                ],
            )
        }
        HostEvent::Disconnecting {
            socket,
            reason,
            rooms,
        } => {
            let rooms: Vec<&str> = rooms.iter().map(|r| r.as_ref()).collect();
            // The core keeps the socket's session for connection state recovery.
            let kept = conversion.keeps_sessions && reason.is_recoverable();
            PyTuple::new(
                py,
                [
                    kind,
                    socket.nsp().into_pyobject(py)?.into_any(),
                    socket.id().as_str().into_pyobject(py)?.into_any(),
                    socket.conn_id().as_str().into_pyobject(py)?.into_any(),
                    reason.as_str().into_pyobject(py)?.into_any(),
                    PyList::new(py, rooms)?.into_any(),
                    PyBool::new(py, kept).to_owned().into_any(),
                ],
            )
        }
        // The binding registers nothing that reports other kinds.
        _ => return Ok(None),
    };
    item.map(Some)
}

/// What the facade's connect path gets of a joining socket: namespace, sid, connection id, the
/// handshake as a WSGI environ, the auth payload, and whether it is a recovered session (connection
/// state recovery).
fn joining<'py>(py: Python<'py>, socket: &Socket) -> PyResult<[Bound<'py, PyAny>; 6]> {
    let auth = Payload::one(socket.auth())
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
    Ok([
        socket.nsp().into_pyobject(py)?.into_any(),
        socket.id().as_str().into_pyobject(py)?.into_any(),
        socket.conn_id().as_str().into_pyobject(py)?.into_any(),
        environ(py, socket)?.into_any(),
        payload_to_list(py, &auth)?.get_item(0)?,
        PyBool::new(py, socket.recovered()).to_owned().into_any(),
    ])
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
