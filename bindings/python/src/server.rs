//! [`NativeServer`]: the core server as the Python facade drives it — its lifecycle (create, listen or
//! attach to an ASGI server, shut down), registration of namespaces whose handlers live in Python, and the
//! outbound operations, addressed by namespace name and socket id. Operations that never wait are plain
//! methods (they never block on anything but short locks); those that wait take an asyncio future that the
//! dispatch thread resolves.
//!
//! The Python-visible methods stay in this file's one `#[pymethods]` block (pyo3 takes one per class
//! without its `multiple-pymethods` feature); what they hand to or get from the core is split out:
//! `handlers` (what the core calls, from `ferrio_host::attach`: it only enqueues), `replies` (the `ConnectReply` and `Ack` Python
//! answers with) and `environ` (the handshake as a WSGI environ).

mod environ;
mod handlers;
mod replies;

// `dispatch.rs` and `lib.rs` name these through this module.
pub(crate) use environ::environ;
pub use replies::{Ack, ConnectReply};

use crate::convert::args_to_payload;
use crate::dispatch::{self, Item, Resolved};
use crate::errors::{code_error, coded_error, ferrio_error};
use crate::options::{config_error, seconds, EngineOptions};
use crate::runtime;
use ferrio::{
    BroadcastOperator, CodedError, EmitError, ErrorCode, Namespace, Server, ServerHandle, Sid,
    Socket,
};
use ferrio_host::runtime::spawn_thread_with_stack;
use handlers::Handlers;
use parking_lot::Mutex;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

const NEW: u8 = 0;
const LISTENING: u8 = 1;
const CLOSING: u8 = 2;
const CLOSED: u8 = 3;

/// One ferrio server driven from Python.
#[pyclass(frozen, module = "ferrio._native")]
pub struct NativeServer {
    server: Server,
    handlers: Arc<Handlers>,
    handle: Arc<Mutex<Option<ServerHandle>>>,
    state: Arc<AtomicU8>,
    dispatch: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Set in ASGI mode (`attach`), where the ASGI server owns the port.
    service: Mutex<Option<ferrio::SocketIoService>>,
    max_payload: usize,
    /// The server's `max_json_depth`: what the binding's conversion of arguments keeps to as well.
    max_json_depth: usize,
    /// Whether a Redis adapter makes this server one of a cluster (socket ids may be remote).
    clustered: bool,
    /// Whether the server has connection state recovery (a socket id may be one whose connection was
    /// lost, its session kept: what is sent to it is kept for it).
    recovering: bool,
}

impl NativeServer {
    fn check_open(&self, py: Python<'_>) -> PyResult<()> {
        match self.state.load(Ordering::Acquire) {
            CLOSED => Err(code_error(
                py,
                ErrorCode::ServerGone,
                "the server has been shut down".into(),
            )),
            _ => Ok(()),
        }
    }

    fn attached(&self, py: Python<'_>) -> PyResult<ferrio::SocketIoService> {
        self.check_open(py)?;
        self.service
            .lock()
            .clone()
            .ok_or_else(|| PyRuntimeError::new_err("the server is not in ASGI mode"))
    }

    fn namespace(&self, py: Python<'_>, name: &str) -> PyResult<Namespace> {
        self.check_open(py)?;
        if let Some(nsp) = self.handlers.namespaces.read().get(name) {
            return Ok(nsp.clone());
        }
        Err(ferrio_error(
            py,
            "UnknownNamespaceError",
            format!("no namespace {name:?} on this server"),
        ))
    }

    fn socket(&self, py: Python<'_>, nsp: &str, sid: &str) -> PyResult<Socket> {
        let namespace = self.namespace(py, nsp)?;
        Sid::parse(sid)
            .and_then(|id| namespace.socket(&id))
            .ok_or_else(|| {
                ferrio_error(
                    py,
                    "UnknownSidError",
                    format!("no connected socket {sid:?} in namespace {nsp:?}"),
                )
            })
    }

    fn operator(
        &self,
        py: Python<'_>,
        nsp: &str,
        to: Option<Vec<String>>,
        except: Option<Vec<String>>,
    ) -> PyResult<BroadcastOperator> {
        let namespace = self.namespace(py, nsp)?;
        let mut op = namespace.broadcast_operator();
        if let Some(to) = to {
            op = op.to(to);
        }
        if let Some(except) = except {
            op = op.except(except);
        }
        Ok(op)
    }

    fn spawn_resolve<F>(&self, future: Py<PyAny>, work: F)
    where
        F: std::future::Future<Output = Resolved> + Send + 'static,
    {
        let queue = self.handlers.queue.clone();
        runtime().spawn(async move {
            let result = work.await;
            queue.push(Item::Resolve { future, result });
        });
    }
}

#[pymethods]
impl NativeServer {
    /// A server with `AsyncServer`'s options (see `check_options`), the engine path and the
    /// directories of `start`, and the client manager's options. An option out of range raises
    /// `InvalidArgumentError` (a `ValueError`) naming it.
    #[new]
    #[pyo3(signature = (*, options, path, static_dir, client_dir, always_connect, redis_url=None,
        redis_prefix=None, redis_request_timeout=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        options: EngineOptions,
        path: String,
        static_dir: Option<String>,
        client_dir: Option<String>,
        always_connect: bool,
        redis_url: Option<String>,
        redis_prefix: Option<String>,
        redis_request_timeout: Option<f64>,
    ) -> PyResult<NativeServer> {
        let max_payload = options.max_payload;
        let mut builder = options.builder(py, path)?;
        if let Some(dir) = static_dir {
            builder = builder.static_dir(dir);
        }
        if let Some(dir) = client_dir {
            builder = builder.client_dir(dir);
        }
        // Checked before the Redis adapter starts connecting.
        builder.validate().map_err(|e| config_error(py, e))?;
        let _guard = runtime().enter();
        let clustered = redis_url.is_some();
        if let Some(url) = redis_url {
            let mut config = ferrio_redis::RedisAdapterConfig::new(url);
            if let Some(prefix) = redis_prefix {
                config = config.prefix(prefix);
            }
            if let Some(timeout) = redis_request_timeout {
                config = config.request_timeout(seconds(py, timeout, "request_timeout")?);
            }
            let factory = ferrio_redis::RedisAdapterFactory::new(config)
                .map_err(|e| PyValueError::new_err(e.to_string()))?;
            builder = builder.adapter(Arc::new(factory));
        }
        let server = builder.build().map_err(|e| config_error(py, e))?;
        let max_json_depth = server.config().max_json_depth;
        let recovery = server.config().connection_state_recovery;
        let skip_middlewares = recovery.is_some_and(|r| r.skip_middlewares);
        Ok(NativeServer {
            server,
            handlers: Arc::new(Handlers::new(always_connect, skip_middlewares)),
            handle: Arc::default(),
            state: Arc::new(AtomicU8::new(NEW)),
            dispatch: Mutex::new(None),
            service: Mutex::new(None),
            max_payload,
            max_json_depth,
            clustered,
            recovering: recovery.is_some(),
        })
    }

    /// Connection state recovery as the server does it: `(max_disconnection_duration in seconds,
    /// skip_middlewares)`, or None when it is off. The facade keeps a departed socket's session that
    /// long, and skips its own middlewares for a recovered socket when the core skipped them.
    #[getter]
    fn recovery(&self) -> Option<(f64, bool)> {
        self.server.config().connection_state_recovery.map(|r| {
            (
                r.max_disconnection_duration.as_secs_f64(),
                r.skip_middlewares,
            )
        })
    }

    /// Accepts connections to namespace `name`; its events go to Python.
    fn add_namespace(&self, py: Python<'_>, name: &str) -> PyResult<()> {
        self.check_open(py)?;
        let nsp = self.server.of(name);
        let mut namespaces = self.handlers.namespaces.write();
        if namespaces.contains_key(nsp.name()) {
            return Ok(());
        }
        self.handlers.register(&nsp);
        namespaces.insert(nsp.name().to_owned(), nsp);
        Ok(())
    }

    /// Instruments the server for the admin UI. `credentials`: None disables the login; each password is
    /// a bcrypt hash or, when it is not one, the password itself (python-socketio compares it as is).
    #[pyo3(signature = (*, namespace, credentials, read_only, mode, server_id, stats_interval, ui_dir))]
    #[allow(clippy::too_many_arguments)]
    fn instrument(
        &self,
        py: Python<'_>,
        namespace: String,
        credentials: Option<Vec<(String, String)>>,
        read_only: bool,
        mode: String,
        server_id: Option<String>,
        stats_interval: f64,
        ui_dir: Option<String>,
    ) -> PyResult<()> {
        use ferrio_admin::{AdminAuth, AdminMode, AdminOptions, Credentials, Instrument, Password};
        self.check_open(py)?;
        let auth = match credentials {
            None => AdminAuth::Disabled,
            Some(list) => AdminAuth::Credentials(
                list.into_iter()
                    .map(|(username, password)| Credentials {
                        username,
                        password: if ferrio_admin::is_bcrypt_hash(&password) {
                            Password::Bcrypt(password)
                        } else {
                            Password::Plain(password)
                        },
                    })
                    .collect(),
            ),
        };
        let mut options = AdminOptions::new(auth);
        options.namespace = namespace;
        options.read_only = read_only;
        options.mode = mode.parse::<AdminMode>().map_err(|e| coded_error(py, &e))?;
        options.server_id = server_id;
        options.stats_interval = seconds(py, stats_interval, "server_stats_interval")?;
        options.ui_dir = ui_dir.map(Into::into);
        let _guard = runtime().enter();
        self.server
            .instrument(options)
            .map_err(|e| coded_error(py, &e))
    }

    /// Accepts connections to any namespace (python-socketio's `namespaces='*'`).
    fn add_any_namespace(&self, py: Python<'_>) -> PyResult<()> {
        self.check_open(py)?;
        let parent = self.server.of_dynamic(|_, _| true);
        self.handlers.register_dynamic(&parent);
        Ok(())
    }

    /// Starts the dispatch thread: batches go to `callback(batch)` via `event_loop.call_soon_threadsafe`.
    fn start(&self, py: Python<'_>, event_loop: Py<PyAny>, callback: Py<PyAny>) -> PyResult<()> {
        self.check_open(py)?;
        let mut dispatch = self.dispatch.lock();
        if dispatch.is_some() {
            return Err(PyRuntimeError::new_err("the server is already started"));
        }
        let queue = self.handlers.queue.clone();
        let max_json_depth = self.max_json_depth;
        let keeps_sessions = self.server.config().connection_state_recovery.is_some();
        // Converting a payload recurses once per level of nesting (up to `MAX_JSON_DEPTH`): room to spare
        // over the 2 MiB default.
        let thread = spawn_thread_with_stack("ferrio-dispatch", 8 << 20, move || {
            dispatch::run(queue, event_loop, callback, max_json_depth, keeps_sessions)
        })
        .map_err(|e| PyRuntimeError::new_err(format!("cannot start the dispatch thread: {e}")))?;
        *dispatch = Some(thread);
        Ok(())
    }

    /// ASGI mode: serves requests relayed by `handle_request` and `open_websocket` instead of a port.
    fn attach(&self, py: Python<'_>) -> PyResult<()> {
        self.check_open(py)?;
        if self
            .state
            .compare_exchange(NEW, LISTENING, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return Err(PyRuntimeError::new_err("the server is already serving"));
        }
        let _guard = runtime().enter();
        let service = self.server.http_service().map_err(|e| {
            self.state.store(NEW, Ordering::Release);
            code_error(py, ErrorCode::IoError, e.to_string())
        })?;
        *self.service.lock() = Some(service);
        Ok(())
    }

    /// Answers one request an ASGI server received under the engine path; resolves `future` with
    /// `(status, [(name, value)], body)` (bytes). `path` includes the query string.
    #[allow(clippy::too_many_arguments)]
    fn handle_request(
        &self,
        py: Python<'_>,
        method: &str,
        path: &str,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        client_host: &str,
        client_port: u16,
        future: Py<PyAny>,
    ) -> PyResult<()> {
        let service = self.attached(py)?;
        let mut builder = http::Request::builder().method(method).uri(path);
        for (name, value) in &headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let request = builder
            .body(http_body_util::Full::new(bytes::Bytes::from(body)))
            .map_err(|e| PyValueError::new_err(format!("bad request: {e}")))?;
        let remote = peer(client_host, client_port);
        self.spawn_resolve(future, crate::asgi::http(service, request, remote));
        Ok(())
    }

    /// Opens a WebSocket an ASGI server received under the engine path; resolves `future` with a
    /// `WsRelay`, or with `(status, headers, body)` when the core refuses it.
    fn open_websocket(
        &self,
        py: Python<'_>,
        path: String,
        headers: Vec<(String, String)>,
        client_host: &str,
        client_port: u16,
        future: Py<PyAny>,
    ) -> PyResult<()> {
        let service = self.attached(py)?;
        let remote = peer(client_host, client_port);
        let queue = self.handlers.queue.clone();
        let max_payload = self.max_payload;
        self.spawn_resolve(
            future,
            crate::asgi::open(service, queue, path, headers, remote, max_payload),
        );
        Ok(())
    }

    /// Binds `host:port` and resolves `future` with the bound port.
    fn listen(&self, py: Python<'_>, host: String, port: u16, future: Py<PyAny>) -> PyResult<()> {
        self.check_open(py)?;
        if self
            .state
            .compare_exchange(NEW, LISTENING, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return Err(PyRuntimeError::new_err("the server is already listening"));
        }
        let server = self.server.clone();
        let state = self.state.clone();
        let slot = self.handle.clone();
        self.spawn_resolve(future, async move {
            match server.listen((host.as_str(), port)).await {
                Ok(handle) => {
                    let port = handle.local_addr().port();
                    *slot.lock() = Some(handle);
                    Resolved::Port(port)
                }
                Err(e) => {
                    let _ =
                        state.compare_exchange(LISTENING, NEW, Ordering::AcqRel, Ordering::Acquire);
                    Resolved::Error(
                        ErrorCode::IoError,
                        format!("cannot listen on {host}:{port}: {e}"),
                    )
                }
            }
        });
        Ok(())
    }

    /// Graceful shutdown (disconnects every client, waits at most `grace` seconds), then resolves `future`.
    /// Every later call raises `ServerClosedError`.
    fn shutdown(&self, py: Python<'_>, grace: f64, future: Py<PyAny>) -> PyResult<()> {
        let grace = seconds(py, grace, "grace")?;
        let previous = self.state.swap(CLOSING, Ordering::AcqRel);
        if previous == CLOSED || previous == CLOSING {
            self.state.store(previous, Ordering::Release);
            return Err(code_error(
                py,
                ErrorCode::ServerGone,
                "the server is already shut down".into(),
            ));
        }
        let handle = self.handle.lock().take();
        let server = self.server.clone();
        let state = self.state.clone();
        let queue = self.handlers.queue.clone();
        if let Some(service) = self.service.lock().take() {
            service.close();
        }
        runtime().spawn(async move {
            match handle {
                Some(handle) => handle.shutdown(grace).await,
                None => server.close(),
            }
            state.store(CLOSED, Ordering::Release);
            queue.push(Item::Resolve {
                future,
                result: Resolved::Done,
            });
            // The dispatch thread delivers what is queued (the disconnects, then this) and ends.
            queue.push(Item::End);
        });
        Ok(())
    }

    /// Emits to the namespace, narrowed by `to` (rooms or socket ids) and `skip` (rooms or ids). A single
    /// `to` that is a socket id must name a connected socket (of any server, in a Redis cluster).
    #[pyo3(signature = (nsp, event, args, to=None, skip=None, volatile=false))]
    #[allow(clippy::too_many_arguments)]
    fn emit(
        &self,
        py: Python<'_>,
        nsp: &str,
        event: &str,
        args: &Bound<'_, PyAny>,
        to: Option<Vec<String>>,
        skip: Option<Vec<String>>,
        volatile: bool,
    ) -> PyResult<()> {
        let payload = args_to_payload(args, self.max_json_depth)?;
        let _guard = runtime().enter();
        if let (Some([one]), None) = (to.as_deref(), skip.as_ref()) {
            if let Some(id) = Sid::parse(one) {
                // The common case (reply to one client) skips the adapter.
                let namespace = self.namespace(py, nsp)?;
                match namespace.socket(&id) {
                    Some(socket) => {
                        let sent = if volatile {
                            socket.emit_volatile(event, payload)
                        } else {
                            socket.emit(event, payload)
                        };
                        return match sent {
                            // The socket is leaving: the event is lost, as with socket.io.
                            Ok(()) | Err(EmitError::Closed) | Err(EmitError::Full) => Ok(()),
                            Err(e) => Err(coded_error(py, &e)),
                        };
                    }
                    // In a cluster the socket may live on another server: its room reaches it there.
                    // With recovery it may be away for a while: its room keeps the event for it.
                    None if self.clustered || self.recovering => {}
                    None => {
                        return Err(ferrio_error(
                            py,
                            "UnknownSidError",
                            format!("no connected socket {one:?} in namespace {nsp:?}"),
                        ))
                    }
                }
            }
        }
        let mut op = self.operator(py, nsp, to, skip)?;
        if volatile {
            op = op.volatile();
        }
        let event = event.to_owned();
        py.detach(move || {
            let _guard = runtime().enter();
            op.emit(&event, payload)
        })
        .map_err(|e| coded_error(py, &e))
    }

    /// Emits to one socket and resolves `future` with its acknowledgement's arguments (a list), or fails
    /// it after `timeout` seconds.
    #[allow(clippy::too_many_arguments)]
    fn call(
        &self,
        py: Python<'_>,
        nsp: &str,
        sid: &str,
        event: &str,
        args: &Bound<'_, PyAny>,
        timeout: f64,
        future: Py<PyAny>,
    ) -> PyResult<()> {
        let payload = args_to_payload(args, self.max_json_depth)?;
        let timeout = seconds(py, timeout, "timeout")?;
        let socket = self.socket(py, nsp, sid)?;
        let _guard = runtime().enter();
        let waiting = socket.emit_with_ack(event, payload, timeout);
        self.spawn_resolve(future, async move { Resolved::Ack(waiting.await) });
        Ok(())
    }

    /// socket.io's `timeout(t).emitWithAck(...)` on a broadcast: resolves `future` with one argument
    /// list per answering socket.
    #[pyo3(signature = (nsp, event, args, timeout, future, to=None, skip=None))]
    #[allow(clippy::too_many_arguments)]
    fn broadcast_call(
        &self,
        py: Python<'_>,
        nsp: &str,
        event: &str,
        args: &Bound<'_, PyAny>,
        timeout: f64,
        future: Py<PyAny>,
        to: Option<Vec<String>>,
        skip: Option<Vec<String>>,
    ) -> PyResult<()> {
        let payload = args_to_payload(args, self.max_json_depth)?;
        let op = self
            .operator(py, nsp, to, skip)?
            .timeout(seconds(py, timeout, "timeout")?);
        // Sent now, in call order with the other emits; only the answers are awaited.
        let waiting = {
            let _guard = runtime().enter();
            op.emit_with_ack(event, payload)
        };
        self.spawn_resolve(future, async move { Resolved::Acks(waiting.await) });
        Ok(())
    }

    /// Whether `sid` is connected to `nsp`.
    fn connected(&self, py: Python<'_>, nsp: &str, sid: &str) -> PyResult<bool> {
        self.check_open(py)?;
        let namespace = self.handlers.namespaces.read().get(nsp).cloned();
        Ok(namespace
            .and_then(|n| Sid::parse(sid).and_then(|id| n.socket(&id)))
            .is_some())
    }

    /// The local sockets in `room` (all of the namespace's when `None`) as `(sid, eio_sid)` pairs:
    /// python-socketio's `manager.get_participants`. Empty for a namespace nobody joined yet.
    #[pyo3(signature = (nsp, room=None))]
    fn participants(
        &self,
        py: Python<'_>,
        nsp: &str,
        room: Option<&str>,
    ) -> PyResult<Vec<(String, String)>> {
        self.check_open(py)?;
        let Some(namespace) = self.handlers.namespaces.read().get(nsp).cloned() else {
            return Ok(Vec::new());
        };
        let mut found: Vec<(String, String)> = namespace
            .local_sockets_in(room)
            .iter()
            .map(|s| (s.id().to_string(), s.conn_id().to_string()))
            .collect();
        found.sort_unstable();
        Ok(found)
    }

    /// The local rooms of a namespace, socket-id rooms included, sorted (empty for an unknown one).
    fn room_names(&self, py: Python<'_>, nsp: &str) -> PyResult<Vec<String>> {
        self.check_open(py)?;
        let Some(namespace) = self.handlers.namespaces.read().get(nsp).cloned() else {
            return Ok(Vec::new());
        };
        Ok(namespace
            .rooms(true)
            .into_iter()
            .map(|(room, _)| room.to_string())
            .collect())
    }

    /// The namespaces sockets have joined (or that were registered), sorted.
    fn namespace_names(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        self.check_open(py)?;
        let mut names: Vec<String> = self.handlers.namespaces.read().keys().cloned().collect();
        names.sort_unstable();
        Ok(names)
    }

    /// Makes a socket join rooms.
    fn join(&self, py: Python<'_>, nsp: &str, sid: &str, rooms: Vec<String>) -> PyResult<()> {
        self.socket(py, nsp, sid)?.join(rooms);
        Ok(())
    }

    /// Makes a socket leave a room.
    fn leave(&self, py: Python<'_>, nsp: &str, sid: &str, room: &str) -> PyResult<()> {
        self.socket(py, nsp, sid)?.leave(room);
        Ok(())
    }

    /// The rooms of a socket (its own id room included).
    fn rooms(&self, py: Python<'_>, nsp: &str, sid: &str) -> PyResult<Vec<String>> {
        let mut rooms: Vec<String> = self
            .socket(py, nsp, sid)?
            .rooms()
            .iter()
            .map(|r| r.to_string())
            .collect();
        rooms.sort_unstable();
        Ok(rooms)
    }

    /// The transport a socket uses now: `"polling"` or `"websocket"`.
    fn transport(&self, py: Python<'_>, nsp: &str, sid: &str) -> PyResult<&'static str> {
        Ok(self.socket(py, nsp, sid)?.transport().as_str())
    }

    /// Disconnects a socket from its namespace, or its whole connection when `close`.
    fn disconnect(&self, py: Python<'_>, nsp: &str, sid: &str, close: bool) -> PyResult<()> {
        let socket = self.socket(py, nsp, sid)?;
        let _guard = runtime().enter();
        socket.disconnect(close);
        Ok(())
    }

    /// Makes the targeted sockets join rooms.
    #[pyo3(signature = (nsp, rooms, to=None, skip=None))]
    fn sockets_join(
        &self,
        py: Python<'_>,
        nsp: &str,
        rooms: Vec<String>,
        to: Option<Vec<String>>,
        skip: Option<Vec<String>>,
    ) -> PyResult<()> {
        self.operator(py, nsp, to, skip)?.sockets_join(rooms);
        Ok(())
    }

    /// Makes the targeted sockets leave rooms.
    #[pyo3(signature = (nsp, rooms, to=None, skip=None))]
    fn sockets_leave(
        &self,
        py: Python<'_>,
        nsp: &str,
        rooms: Vec<String>,
        to: Option<Vec<String>>,
        skip: Option<Vec<String>>,
    ) -> PyResult<()> {
        self.operator(py, nsp, to, skip)?.sockets_leave(rooms);
        Ok(())
    }

    /// Disconnects the targeted sockets (and their connections when `close`).
    #[pyo3(signature = (nsp, close, to=None, skip=None))]
    fn disconnect_sockets(
        &self,
        py: Python<'_>,
        nsp: &str,
        close: bool,
        to: Option<Vec<String>>,
        skip: Option<Vec<String>>,
    ) -> PyResult<()> {
        let op = self.operator(py, nsp, to, skip)?;
        let _guard = runtime().enter();
        op.disconnect_sockets(close);
        Ok(())
    }

    /// Resolves `future` with `[{"id", "rooms", "handshake"}, ...]` for the targeted sockets.
    #[pyo3(signature = (nsp, future, to=None, skip=None))]
    fn fetch_sockets(
        &self,
        py: Python<'_>,
        nsp: &str,
        future: Py<PyAny>,
        to: Option<Vec<String>>,
        skip: Option<Vec<String>>,
    ) -> PyResult<()> {
        let op = self.operator(py, nsp, to, skip)?;
        self.spawn_resolve(future, async move {
            match op.fetch_sockets().await {
                Ok(sockets) => Resolved::Sockets(sockets),
                Err(e) => Resolved::Error(e.code(), e.to_string()),
            }
        });
        Ok(())
    }

    /// Waits (without the GIL) for the dispatch thread to end, at most `timeout` seconds; it ends once
    /// `shutdown` has delivered its last batch. Python must not finalize while it may still take the GIL.
    fn join_dispatch(&self, py: Python<'_>, timeout: f64) -> PyResult<bool> {
        let deadline = std::time::Instant::now() + seconds(py, timeout, "timeout")?;
        let Some(thread) = self.dispatch.lock().take() else {
            return Ok(true);
        };
        Ok(py.detach(move || {
            while !thread.is_finished() {
                if std::time::Instant::now() >= deadline {
                    return false;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            thread.join().is_ok()
        }))
    }

    /// The number of open Engine.IO connections.
    fn connection_count(&self) -> usize {
        self.server.connection_count()
    }

    /// Whether the server has been shut down.
    fn closed(&self) -> bool {
        self.state.load(Ordering::Acquire) == CLOSED
    }
}

fn peer(host: &str, port: u16) -> std::net::SocketAddr {
    std::net::SocketAddr::new(
        host.parse()
            .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)),
        port,
    )
}
