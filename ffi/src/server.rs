//! The server handle: its options, its tokio runtime, and the callback queue that runs every C callback
//! of the server on one thread in FIFO order (ferrio's own thread, or the host's through
//! `ferrio_server_dispatch`).

use crate::namespace::{DynParent, MiddlewareFn, NspCallbacks};
use crate::socket::SocketCallbacks;
use crate::status::{ferrio_status, guard, guard_or, Error};
use crate::types::{handle, str_arg, write_out, Callback};
use ferrio_core::{
    ConfigError, ConnectionStateRecovery, Cors, CorsOrigins, HttpCompression, RateLimit, Server,
    ServerBuilder, ServerHandle, Sid,
};
use ferrio_host::runtime::{spawn_thread, Network};
use ferrio_host::{BatchQueue, HostEvent, Sink, Wake};
use parking_lot::Mutex;
use rustc_hash::FxHashMap;
use std::cell::Cell;
use std::collections::{HashMap, VecDeque};
use std::ffi::{c_char, c_int};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

/// Who runs the callbacks.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ferrio_dispatch_mode {
    /// A thread owned by ferrio ("ferrio-callbacks") runs them (the default).
    Thread = 0,
    /// The host runs them from its own loop: it polls `ferrio_server_fd` for readability and calls
    /// `ferrio_server_dispatch`.
    Manual = 1,
    /// ferrio's one network thread runs them as soon as their event is read, as the Rust core runs its
    /// handlers: no hand-over between threads, so the least overhead per event. The network side then
    /// has one thread (`worker_threads` must be 0 or 1), and a callback that blocks stalls every
    /// connection: keep callbacks short and hand slow work to threads of your own.
    Inline = 2,
}

/// Server options, filled with setters and read by `ferrio_server_new` (which does not take them:
/// free them with `ferrio_server_options_free`). Every option has socket.io's default. The setters only
/// record their values (they refuse only what they cannot take: NULL, text that is not UTF-8, an unknown
/// dispatch mode, a Redis URL that does not parse): `ferrio_server_new` checks them all and returns
/// `FERRIO_STATUS_INVALID_ARGUMENT` for the first out of range, naming it in `ferrio_last_error` (e.g.
/// "max_json_depth must be at least 1").
pub struct ferrio_server_options {
    builder: ServerBuilder,
    cors: Cors,
    /// Events per second and burst, as given: `RateLimit::new` checks them in `ferrio_server_new`.
    rate_limit: Option<(f64, u32)>,
    mode: ferrio_dispatch_mode,
    worker_threads: usize,
    shutdown_grace: Duration,
    redis: Option<ferrio_redis::RedisAdapterConfig>,
}

/// A closure run where the callbacks run.
type Call = Box<dyn FnOnce(&Arc<Shared>) + Send>;

/// Which C callbacks a core handler was registered for: the tag of the host events it produces.
#[derive(Clone)]
pub(crate) enum Registration {
    /// A namespace's (or a dynamic parent's) connection callbacks.
    Namespace(Weak<NspCallbacks>),
    /// One C middleware.
    Middleware(Weak<Callback<MiddlewareFn>>),
}

/// One unit of work for whoever runs the callbacks.
pub(crate) enum Job {
    /// Something the core reported, as the host layer types it.
    Host(HostEvent<Registration>),
    /// Anything else (an ack's or a broadcast's completion).
    Call(Call),
}

/// The core handlers' way to the callbacks. Weak, so that freeing the server releases at once what the
/// core's handlers would otherwise keep alive.
pub(crate) struct ToCallbacks(pub(crate) Weak<Shared>);

impl Sink<Registration> for ToCallbacks {
    fn deliver(&self, event: HostEvent<Registration>) -> bool {
        match self.0.upgrade() {
            Some(shared) => {
                shared.push(Job::Host(event));
                true
            }
            None => false,
        }
    }
}

/// The callback queue of a dispatch mode: thread and inline modes wake their consumer once per round
/// of the runtime's scheduler (see `ferrio_host::queue`); inline mode's consumer is the relay task
/// itself, on the network thread, running what other threads queued. `server` is filled in once the
/// server exists.
fn callback_queue(
    mode: ferrio_dispatch_mode,
    server: Arc<OnceLock<Weak<Shared>>>,
) -> std::io::Result<BatchQueue<Job>> {
    match mode {
        ferrio_dispatch_mode::Manual => BatchQueue::pollable(),
        ferrio_dispatch_mode::Thread => Ok(BatchQueue::per_round(Wake::Thread)),
        ferrio_dispatch_mode::Inline => {
            Ok(BatchQueue::per_round(Wake::Call(Box::new(move || {
                if let Some(shared) = server.get().and_then(Weak::upgrade) {
                    if let Some(jobs) = shared.queue.take_open() {
                        shared.run(jobs);
                    }
                }
            }))))
        }
    }
}

static NEXT_SERVER_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// The id of the server whose callbacks this thread is running now (0: none).
    static DISPATCHING: Cell<u64> = const { Cell::new(0) };
    /// The id of the server whose one network thread this is (0: none), see `Network::Single`.
    static NETWORK_THREAD: Cell<u64> = const { Cell::new(0) };
}

/// Everything a server and the handles derived from it share.
pub(crate) struct Shared {
    pub(crate) id: u64,
    pub(crate) server: Server,
    pub(crate) rt: tokio::runtime::Handle,
    runtime: Mutex<Option<Network>>,
    pub(crate) queue: Arc<BatchQueue<Job>>,
    mode: ferrio_dispatch_mode,
    freed: AtomicBool,
    listener: Mutex<Option<ServerHandle>>,
    shutdown: Mutex<Option<tokio::task::JoinHandle<()>>>,
    shutdown_grace: Duration,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Per-socket C callbacks, looked up once per event: keyed by server-made random ids, so the fast
    /// unkeyed Fx hash is safe.
    pub(crate) sockets: Mutex<FxHashMap<Sid, SocketCallbacks>>,
    /// Static namespaces known to the C side, by name.
    pub(crate) namespaces: Mutex<HashMap<String, Arc<NspCallbacks>>>,
    /// Dynamic namespace parents.
    pub(crate) dynamic: Mutex<Vec<Arc<DynParent>>>,
}

impl Shared {
    pub(crate) fn alive(&self) -> Result<(), Error> {
        if self.freed.load(Ordering::Acquire) {
            return Err(Error::new(
                ferrio_status::ServerGone,
                "the server of this handle was freed",
            ));
        }
        Ok(())
    }

    /// Whether the current thread is running one of this server's callbacks.
    pub(crate) fn in_callback(&self) -> bool {
        DISPATCHING.with(|d| d.get() == self.id)
    }

    fn run(self: &Arc<Self>, jobs: VecDeque<Job>) -> usize {
        let previous = DISPATCHING.with(|d| d.replace(self.id));
        let mut count = 0;
        for job in jobs {
            self.run_job(job);
            count += 1;
        }
        DISPATCHING.with(|d| d.set(previous));
        count
    }

    fn run_job(self: &Arc<Self>, job: Job) {
        // A job that panics (a ferrio bug) must not kill the thread running it.
        guard_or((), || match job {
            Job::Host(event) => self.run_host_event(event),
            Job::Call(f) => f(self),
        });
    }

    /// Runs the C callbacks of what the core reported.
    fn run_host_event(self: &Arc<Self>, event: HostEvent<Registration>) {
        match event {
            HostEvent::Event { socket, event } => crate::socket::run_event(self, socket, event),
            HostEvent::Middleware {
                socket,
                verdict,
                tag: Registration::Middleware(cb),
            } => crate::namespace::run_middleware(self, socket, verdict, &cb),
            HostEvent::Connect {
                socket,
                tag: Registration::Namespace(cbs),
            } => crate::namespace::run_connection(self, socket, &cbs),
            HostEvent::Disconnecting {
                socket,
                reason,
                rooms,
            } => crate::socket::run_disconnect(self, socket, reason, Some(rooms), true),
            HostEvent::Disconnect { socket, reason } => {
                crate::socket::run_disconnect(self, socket, reason, None, false)
            }
            // The C API registers no handler producing anything else.
            _ => {}
        }
    }

    /// Hands a job to whoever runs this server's callbacks.
    pub(crate) fn push(self: &Arc<Self>, job: Job) {
        if self.mode == ferrio_dispatch_mode::Inline
            && NETWORK_THREAD.with(|n| n.get() == self.id)
            && !self.in_callback()
        {
            self.run_inline(job);
        } else {
            self.queue.push(job);
        }
    }

    /// Runs a closure on the thread that runs this server's callbacks.
    pub(crate) fn call(self: &Arc<Self>, f: impl FnOnce(&Arc<Shared>) + Send + 'static) {
        self.push(Job::Call(Box::new(f)));
    }

    /// Inline mode, on the network thread outside any callback: runs `job` now, after the jobs queued
    /// before it (from other threads, or by callbacks) and before those its own callbacks queue.
    fn run_inline(self: &Arc<Self>, job: Job) {
        let Some(earlier) = self.queue.take_open() else {
            return; // Freed: dropped, as the queue drops jobs once closed.
        };
        let previous = DISPATCHING.with(|d| d.replace(self.id));
        for earlier in earlier {
            self.run_job(earlier);
        }
        self.run_job(job);
        loop {
            match self.queue.take_open() {
                Some(later) if !later.is_empty() => {
                    for later in later {
                        self.run_job(later);
                    }
                }
                _ => break,
            }
        }
        DISPATCHING.with(|d| d.set(previous));
    }
}

/// A Socket.IO server. Made by `ferrio_server_new`, released by `ferrio_server_free`.
pub struct ferrio_server {
    pub(crate) shared: Arc<Shared>,
}

/// Makes options with socket.io's defaults. Free them with `ferrio_server_options_free`.
#[no_mangle]
pub extern "C" fn ferrio_server_options_new(out: *mut *mut ferrio_server_options) -> ferrio_status {
    guard(|| {
        let options = Box::new(ferrio_server_options {
            builder: Server::builder(),
            cors: Cors::default(),
            rate_limit: None,
            mode: ferrio_dispatch_mode::Thread,
            worker_threads: 0,
            shutdown_grace: Duration::from_secs(2),
            redis: None,
        });
        // SAFETY: `out` is checked for NULL and otherwise writable by contract.
        unsafe { write_out(out, Box::into_raw(options), "out") }
    })
}

/// Releases options. NULL is ignored.
#[no_mangle]
pub extern "C" fn ferrio_server_options_free(options: *mut ferrio_server_options) {
    guard_or((), || {
        if !options.is_null() {
            // SAFETY: made by `ferrio_server_options_new` and not freed before (contract).
            drop(unsafe { Box::from_raw(options) });
        }
    })
}

fn with_options(
    options: *mut ferrio_server_options,
    f: impl FnOnce(&mut ferrio_server_options) -> Result<(), Error>,
) -> ferrio_status {
    guard(|| {
        // SAFETY: a live options handle or NULL (contract); not used concurrently (contract).
        let options = unsafe { options.as_mut() }.ok_or_else(|| Error::null("options"))?;
        f(options)
    })
}

fn set_builder(
    options: &mut ferrio_server_options,
    f: impl FnOnce(ServerBuilder) -> ServerBuilder,
) {
    let builder = std::mem::take(&mut options.builder);
    options.builder = f(builder);
}

/// The engine path (default `/socket.io/`).
#[no_mangle]
pub extern "C" fn ferrio_server_options_set_path(
    options: *mut ferrio_server_options,
    path: *const c_char,
    path_len: usize,
) -> ferrio_status {
    with_options(options, |o| {
        // SAFETY: (ptr, len) string argument, contract of the header.
        let path = unsafe { str_arg(path, path_len, "path") }?.to_owned();
        set_builder(o, |b| b.path(path));
        Ok(())
    })
}

/// Makes the server one of a cluster over Redis, compatible with socket.io's @socket.io/redis-adapter:
/// `url` like `redis://127.0.0.1:6379/0`; `prefix` the channels' prefix (NULL: `socket.io`, the Node
/// adapter's `key`); `request_timeout_ms` how long requests to the other servers wait (0: 5000). The
/// connection is made in the background and remade after every loss; while Redis is away, local
/// delivery goes on and operations reaching other servers return `FERRIO_STATUS_ADAPTER_ERROR`.
/// An invalid URL gives `FERRIO_STATUS_INVALID_ARGUMENT` here.
#[no_mangle]
pub extern "C" fn ferrio_server_options_set_redis_adapter(
    options: *mut ferrio_server_options,
    url: *const c_char,
    url_len: usize,
    prefix: *const c_char,
    prefix_len: usize,
    request_timeout_ms: u64,
) -> ferrio_status {
    with_options(options, |o| {
        // SAFETY: (ptr, len) string arguments, contract of the header.
        let url = unsafe { str_arg(url, url_len, "url") }?.to_owned();
        let mut config = ferrio_redis::RedisAdapterConfig::new(url);
        if !prefix.is_null() {
            // SAFETY: as above.
            config = config.prefix(unsafe { str_arg(prefix, prefix_len, "prefix") }?);
        }
        if request_timeout_ms > 0 {
            config = config.request_timeout(Duration::from_millis(request_timeout_ms));
        }
        config.validate()?;
        o.redis = Some(config);
        Ok(())
    })
}

/// The ping interval in milliseconds (default 25000).
#[no_mangle]
pub extern "C" fn ferrio_server_options_set_ping_interval_ms(
    options: *mut ferrio_server_options,
    ms: u64,
) -> ferrio_status {
    with_options(options, |o| {
        set_builder(o, |b| b.ping_interval(Duration::from_millis(ms)));
        Ok(())
    })
}

/// The ping timeout in milliseconds (default 20000).
#[no_mangle]
pub extern "C" fn ferrio_server_options_set_ping_timeout_ms(
    options: *mut ferrio_server_options,
    ms: u64,
) -> ferrio_status {
    with_options(options, |o| {
        set_builder(o, |b| b.ping_timeout(Duration::from_millis(ms)));
        Ok(())
    })
}

/// How long a connection may take to join a namespace, in milliseconds (default 45000).
#[no_mangle]
pub extern "C" fn ferrio_server_options_set_connect_timeout_ms(
    options: *mut ferrio_server_options,
    ms: u64,
) -> ferrio_status {
    with_options(options, |o| {
        set_builder(o, |b| b.connect_timeout(Duration::from_millis(ms)));
        Ok(())
    })
}

/// The largest HTTP body or WebSocket message in bytes (default 1000000, socket.io's
/// `maxHttpBufferSize`).
#[no_mangle]
pub extern "C" fn ferrio_server_options_set_max_payload(
    options: *mut ferrio_server_options,
    bytes: usize,
) -> ferrio_status {
    with_options(options, |o| {
        set_builder(o, |b| b.max_payload(bytes));
        Ok(())
    })
}

/// Which transports clients may use (default both). At least one must be enabled.
#[no_mangle]
pub extern "C" fn ferrio_server_options_set_transports(
    options: *mut ferrio_server_options,
    polling: bool,
    websocket: bool,
) -> ferrio_status {
    with_options(options, |o| {
        set_builder(o, |b| b.transports(polling, websocket));
        Ok(())
    })
}

/// CORS for cross-origin polling clients: allow any origin (echoed back), with or without credentials.
/// Replaces origins added with `ferrio_server_options_add_cors_origin`. Default: no CORS headers.
#[no_mangle]
pub extern "C" fn ferrio_server_options_set_cors_any(
    options: *mut ferrio_server_options,
    credentials: bool,
) -> ferrio_status {
    with_options(options, |o| {
        o.cors = Cors::new(CorsOrigins::Any).credentials(credentials);
        Ok(())
    })
}

/// CORS: allows one more exact origin (e.g. `https://example.com`); `credentials` applies to all.
#[no_mangle]
pub extern "C" fn ferrio_server_options_add_cors_origin(
    options: *mut ferrio_server_options,
    origin: *const c_char,
    origin_len: usize,
    credentials: bool,
) -> ferrio_status {
    with_options(options, |o| {
        // SAFETY: (ptr, len) string argument.
        let origin = unsafe { str_arg(origin, origin_len, "origin") }?.to_owned();
        let mut list = match std::mem::take(&mut o.cors.origins) {
            CorsOrigins::List(list) => list,
            _ => Vec::new(),
        };
        list.push(origin);
        o.cors = Cors::new(CorsOrigins::List(list)).credentials(credentials);
        Ok(())
    })
}

/// Serves the browser client (`<path>/socket.io.js`…) from this `socket.io-client/dist` directory.
#[no_mangle]
pub extern "C" fn ferrio_server_options_set_client_dir(
    options: *mut ferrio_server_options,
    dir: *const c_char,
    dir_len: usize,
) -> ferrio_status {
    with_options(options, |o| {
        // SAFETY: (ptr, len) string argument.
        let dir = unsafe { str_arg(dir, dir_len, "dir") }?.to_owned();
        set_builder(o, |b| b.client_dir(dir));
        Ok(())
    })
}

/// Serves the application's static files (e.g. its page at `/`) from this directory.
#[no_mangle]
pub extern "C" fn ferrio_server_options_set_static_dir(
    options: *mut ferrio_server_options,
    dir: *const c_char,
    dir_len: usize,
) -> ferrio_status {
    with_options(options, |o| {
        // SAFETY: (ptr, len) string argument.
        let dir = unsafe { str_arg(dir, dir_len, "dir") }?.to_owned();
        set_builder(o, |b| b.static_dir(dir));
        Ok(())
    })
}

/// Who runs the callbacks (default `FERRIO_DISPATCH_MODE_THREAD`).
#[no_mangle]
pub extern "C" fn ferrio_server_options_set_dispatch_mode(
    options: *mut ferrio_server_options,
    mode: u32,
) -> ferrio_status {
    with_options(options, |o| {
        o.mode = match mode {
            0 => ferrio_dispatch_mode::Thread,
            1 => ferrio_dispatch_mode::Manual,
            2 => ferrio_dispatch_mode::Inline,
            _ => {
                return Err(Error::new(
                    ferrio_status::InvalidArgument,
                    format!("unknown dispatch mode {mode}"),
                ))
            }
        };
        Ok(())
    })
}

/// How many tokio worker threads run the network side (default 0: one per CPU; 1: a single-threaded
/// runtime on a thread of its own).
#[no_mangle]
pub extern "C" fn ferrio_server_options_set_worker_threads(
    options: *mut ferrio_server_options,
    threads: usize,
) -> ferrio_status {
    with_options(options, |o| {
        o.worker_threads = threads;
        Ok(())
    })
}

/// How long `ferrio_server_close` / `ferrio_server_free` let connections finish, in milliseconds
/// (default 2000).
#[no_mangle]
pub extern "C" fn ferrio_server_options_set_shutdown_grace_ms(
    options: *mut ferrio_server_options,
    ms: u64,
) -> ferrio_status {
    with_options(options, |o| {
        o.shutdown_grace = Duration::from_millis(ms);
        Ok(())
    })
}

/// How long a started polling → WebSocket upgrade may take, in milliseconds (default 10000).
#[no_mangle]
pub extern "C" fn ferrio_server_options_set_upgrade_timeout_ms(
    options: *mut ferrio_server_options,
    ms: u64,
) -> ferrio_status {
    with_options(options, |o| {
        set_builder(o, |b| b.upgrade_timeout(Duration::from_millis(ms)));
        Ok(())
    })
}

/// Whether polling sessions may upgrade to WebSocket (default true).
#[no_mangle]
pub extern "C" fn ferrio_server_options_set_allow_upgrades(
    options: *mut ferrio_server_options,
    allow: bool,
) -> ferrio_status {
    with_options(options, |o| {
        set_builder(o, |b| b.allow_upgrades(allow));
        Ok(())
    })
}

/// Packets queued per connection before it counts as a slow consumer and is disconnected (default
/// 1024).
#[no_mangle]
pub extern "C" fn ferrio_server_options_set_max_queued_packets(
    options: *mut ferrio_server_options,
    packets: usize,
) -> ferrio_status {
    with_options(options, |o| {
        set_builder(o, |b| b.max_queued_packets(packets));
        Ok(())
    })
}

/// The most binary attachments one packet may announce (default 10).
#[no_mangle]
pub extern "C" fn ferrio_server_options_set_max_attachments(
    options: *mut ferrio_server_options,
    count: usize,
) -> ferrio_status {
    with_options(options, |o| {
        set_builder(o, |b| b.max_attachments(count));
        Ok(())
    })
}

/// The deepest nesting of arrays and objects in a packet's JSON, its arguments' array included
/// (default 128). Deeper input closes the connection ("parse error"); a deeper emit or ack fails with
/// `FERRIO_STATUS_LIMIT_EXCEEDED`.
#[no_mangle]
pub extern "C" fn ferrio_server_options_set_max_json_depth(
    options: *mut ferrio_server_options,
    depth: usize,
) -> ferrio_status {
    with_options(options, |o| {
        set_builder(o, |b| b.max_json_depth(depth));
        Ok(())
    })
}

/// The most header lines per HTTP request (default 100; more is answered 431).
#[no_mangle]
pub extern "C" fn ferrio_server_options_set_max_headers(
    options: *mut ferrio_server_options,
    headers: usize,
) -> ferrio_status {
    with_options(options, |o| {
        set_builder(o, |b| b.max_headers(headers));
        Ok(())
    })
}

/// The most bytes of request line and headers per HTTP request (default 32768, at least 8192; more is
/// answered 431).
#[no_mangle]
pub extern "C" fn ferrio_server_options_set_max_header_bytes(
    options: *mut ferrio_server_options,
    bytes: usize,
) -> ferrio_status {
    with_options(options, |o| {
        set_builder(o, |b| b.max_header_bytes(bytes));
        Ok(())
    })
}

/// How long a client may take to send a request's headers (and a polling POST's body), in milliseconds
/// (default 10000).
#[no_mangle]
pub extern "C" fn ferrio_server_options_set_header_read_timeout_ms(
    options: *mut ferrio_server_options,
    ms: u64,
) -> ferrio_status {
    with_options(options, |o| {
        set_builder(o, |b| b.header_read_timeout(Duration::from_millis(ms)));
        Ok(())
    })
}

/// The most connections open at once (default 100000; 0: no limit). Handshakes beyond it are answered
/// 503 with `{"code":3,"message":"Too many connections"}`.
#[no_mangle]
pub extern "C" fn ferrio_server_options_set_max_connections(
    options: *mut ferrio_server_options,
    connections: usize,
) -> ferrio_status {
    with_options(options, |o| {
        set_builder(o, |b| b.max_connections(connections));
        Ok(())
    })
}

/// The most connections open at once from one IP address (default 0: no limit). Handshakes beyond it
/// are answered 503.
#[no_mangle]
pub extern "C" fn ferrio_server_options_set_max_connections_per_ip(
    options: *mut ferrio_server_options,
    connections: usize,
) -> ferrio_status {
    with_options(options, |o| {
        set_builder(o, |b| b.max_connections_per_ip(connections));
        Ok(())
    })
}

/// The most namespaces one connection may join (default 32); a CONNECT beyond it is answered with
/// CONNECT_ERROR "Too many namespaces".
#[no_mangle]
pub extern "C" fn ferrio_server_options_set_max_namespaces_per_connection(
    options: *mut ferrio_server_options,
    namespaces: usize,
) -> ferrio_status {
    with_options(options, |o| {
        set_builder(o, |b| b.max_namespaces_per_connection(namespaces));
        Ok(())
    })
}

/// The most acknowledgements awaited from one socket at once (default 1024); an emit with an ack beyond
/// it fails with `FERRIO_STATUS_LIMIT_EXCEEDED`.
#[no_mangle]
pub extern "C" fn ferrio_server_options_set_max_pending_acks(
    options: *mut ferrio_server_options,
    acks: usize,
) -> ferrio_status {
    with_options(options, |o| {
        set_builder(o, |b| b.max_pending_acks(acks));
        Ok(())
    })
}

/// Limits the events each socket may send: `events_per_second` sustained (positive and finite), `burst`
/// at once (at least 1). A socket over it has its connection closed with the reason "rate limit
/// exceeded". Default: no limit.
#[no_mangle]
pub extern "C" fn ferrio_server_options_set_rate_limit(
    options: *mut ferrio_server_options,
    events_per_second: f64,
    burst: u32,
) -> ferrio_status {
    with_options(options, |o| {
        o.rate_limit = Some((events_per_second, burst));
        Ok(())
    })
}

/// Turns on connection state recovery, as socket.io 4.6+ (`connectionStateRecovery`; default off): a
/// client whose connection was lost (transport closed or failed, ping timeout, server shutdown) and that
/// comes back within `max_disconnection_ms` gets its socket back — same id, rooms and data
/// (`ferrio_socket_data`), `ferrio_socket_recovered` true — and first receives the events it missed,
/// once and in order (those to its rooms, to it, to everybody; not volatile ones, not those awaiting
/// an ack). With `skip_middlewares` the namespace's `ferrio_namespace_use` middlewares do not run for a
/// recovered socket (its connection callbacks do). Each namespace keeps at most `max_stored_packets`
/// events, the oldest dropped first; a client that missed a dropped event gets a fresh socket instead.
/// socket.io's defaults are 120000 ms, true and 10000. Checked by `ferrio_server_new`
/// (`max_disconnection_duration` from 1 ms to about 12 days, `max_stored_packets` at least 1). Every
/// event that may be recovered carries its offset as its last argument, as socket.io sends it.
#[no_mangle]
pub extern "C" fn ferrio_server_options_set_connection_state_recovery(
    options: *mut ferrio_server_options,
    max_disconnection_ms: u64,
    skip_middlewares: bool,
    max_stored_packets: usize,
) -> ferrio_status {
    with_options(options, |o| {
        let recovery = ConnectionStateRecovery::new()
            .max_disconnection_duration(Duration::from_millis(max_disconnection_ms))
            .skip_middlewares(skip_middlewares)
            .max_stored_packets(max_stored_packets);
        set_builder(o, |b| b.connection_state_recovery(recovery));
        Ok(())
    })
}

/// Compression of long-polling responses, as engine.io's `httpCompression` (default on, from 1024
/// bytes): with `enabled`, a polling response (the handshake's too) of at least `threshold` bytes is sent
/// gzip- or deflate-compressed, with `Content-Encoding`, when the request's `Accept-Encoding` takes one
/// (gzip preferred; `q=0` refuses). Without it, every response is sent as is and `threshold` is ignored.
/// WebSocket messages are not affected.
#[no_mangle]
pub extern "C" fn ferrio_server_options_set_http_compression(
    options: *mut ferrio_server_options,
    enabled: bool,
    threshold: usize,
) -> ferrio_status {
    with_options(options, |o| {
        let compression = enabled.then(|| HttpCompression::new().threshold(threshold));
        set_builder(o, |b| b.http_compression(compression));
        Ok(())
    })
}

/// Makes a server (not listening yet) with `options` (NULL: defaults; the options are copied, not
/// taken). Starts its runtime and, in the default dispatch mode, its callback thread. Checks every
/// option first: one out of range gives `FERRIO_STATUS_INVALID_ARGUMENT`, with its name and the reason
/// in `ferrio_last_error`, and nothing is started.
#[no_mangle]
pub extern "C" fn ferrio_server_new(
    options: *const ferrio_server_options,
    out: *mut *mut ferrio_server,
) -> ferrio_status {
    guard(|| {
        if out.is_null() {
            return Err(Error::null("out"));
        }
        // SAFETY: a live options handle or NULL (contract).
        let options = unsafe { options.as_ref() };
        let (mut builder, mode, workers, grace, redis) = match options {
            Some(o) => {
                let mut builder = o.builder.clone().cors(o.cors.clone());
                if let Some((events_per_second, burst)) = o.rate_limit {
                    let limit =
                        RateLimit::new(events_per_second, burst).map_err(ConfigError::from)?;
                    builder = builder.rate_limit(limit);
                }
                (
                    builder,
                    o.mode,
                    o.worker_threads,
                    o.shutdown_grace,
                    o.redis.clone(),
                )
            }
            None => (
                Server::builder(),
                ferrio_dispatch_mode::Thread,
                0,
                Duration::from_secs(2),
                None,
            ),
        };
        // Every option is checked here, before anything starts.
        builder.validate()?;
        if mode == ferrio_dispatch_mode::Inline && workers > 1 {
            return Err(Error::new(
                ferrio_status::InvalidArgument,
                "the inline dispatch mode runs callbacks on the one network thread: worker_threads must be 0 or 1",
            ));
        }
        let workers = if mode == ferrio_dispatch_mode::Inline {
            1
        } else {
            workers
        };
        let id = NEXT_SERVER_ID.fetch_add(1, Ordering::Relaxed);
        let runtime = Network::start(workers, "ferrio-worker", move || {
            NETWORK_THREAD.with(|n| n.set(id))
        })
        .map_err(|e| {
            Error::new(
                ferrio_status::IoError,
                format!("cannot start the runtime: {e}"),
            )
        })?;
        let server_cell = Arc::new(OnceLock::new());
        let queue = callback_queue(mode, server_cell.clone())
            .map_err(|e| Error::new(ferrio_status::IoError, format!("cannot make the fd: {e}")))?;
        // The core spawns its housekeeping tasks on the current runtime.
        let server = {
            let _enter = runtime.handle().enter();
            if let Some(config) = redis {
                let factory = ferrio_redis::RedisAdapterFactory::new(config)
                    .map_err(|e| Error::new(ferrio_status::InvalidArgument, e.to_string()))?;
                builder = builder.adapter(Arc::new(factory));
            }
            builder.build()?
        };
        let shared = Arc::new(Shared {
            id,
            server,
            rt: runtime.handle().clone(),
            runtime: Mutex::new(Some(runtime)),
            queue: Arc::new(queue),
            mode,
            freed: AtomicBool::new(false),
            listener: Mutex::new(None),
            shutdown: Mutex::new(None),
            shutdown_grace: grace,
            thread: Mutex::new(None),
            sockets: Mutex::new(FxHashMap::default()),
            namespaces: Mutex::new(HashMap::new()),
            dynamic: Mutex::new(Vec::new()),
        });
        let _ = server_cell.set(Arc::downgrade(&shared));
        if mode != ferrio_dispatch_mode::Manual {
            shared
                .rt
                .spawn(BatchQueue::relay(Arc::downgrade(&shared.queue)));
        }
        if mode == ferrio_dispatch_mode::Thread {
            let worker = shared.clone();
            let thread = spawn_thread("ferrio-callbacks", move || {
                while let Some(jobs) = worker.queue.wait() {
                    worker.run(jobs);
                }
            })
            .map_err(|e| {
                Error::new(
                    ferrio_status::IoError,
                    format!("cannot start the callback thread: {e}"),
                )
            })?;
            *shared.thread.lock() = Some(thread);
        }
        let handle = Box::new(ferrio_server { shared });
        // SAFETY: checked non-NULL above.
        unsafe { *out = Box::into_raw(handle) };
        Ok(())
    })
}

/// Binds `host:port` (port 0: any free port) and serves until closed. Returns once bound, with the
/// bound port in `*out_port` (NULL allowed). Only once per server. The binding is done by ferrio's
/// network threads while this one waits, so on one of them (an inline-mode callback, a
/// dynamic-namespace predicate) it returns `FERRIO_STATUS_WOULD_DEADLOCK`.
#[no_mangle]
pub extern "C" fn ferrio_server_listen(
    server: *const ferrio_server,
    host: *const c_char,
    host_len: usize,
    port: u16,
    out_port: *mut u16,
) -> ferrio_status {
    guard(|| {
        // SAFETY: a live server handle or NULL (contract).
        let shared = &unsafe { handle(server, "server") }?.shared;
        shared.alive()?;
        // SAFETY: (ptr, len) string argument.
        let host = unsafe { str_arg(host, host_len, "host") }?.to_owned();
        if shared.mode == ferrio_dispatch_mode::Inline && shared.in_callback() {
            return Err(Error::new(
                ferrio_status::WouldDeadlock,
                "ferrio_server_listen waits for the network thread, which is running this callback \
                 (inline dispatch mode); call it outside callbacks",
            ));
        }
        shared.not_on_network_thread()?;
        let mut listener = shared.listener.lock();
        if listener.is_some() || shared.shutdown.lock().is_some() {
            return Err(Error::new(
                ferrio_status::InvalidState,
                "the server is already listening (or was closed)",
            ));
        }
        let io = shared.server.clone();
        // Binding is quick; the accept loop runs on the runtime.
        let bound = shared
            .wait_for(async move { io.listen((host.as_str(), port)).await }, None)?
            .map_err(|e| Error::new(ferrio_status::IoError, format!("cannot listen: {e}")))?;
        let actual = bound.local_addr().port();
        *listener = Some(bound);
        if !out_port.is_null() {
            // SAFETY: non-NULL and writable by contract.
            unsafe { *out_port = actual };
        }
        Ok(())
    })
}

impl Shared {
    /// `FERRIO_STATUS_WOULD_DEADLOCK` on a thread of a ferrio runtime (a dynamic-namespace predicate
    /// runs there), where waiting for the runtime could wait for this very thread.
    fn not_on_network_thread(&self) -> Result<(), Error> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(Error::new(
                ferrio_status::WouldDeadlock,
                "this call waits for ferrio's network threads and was made on one of them \
                 (e.g. from a dynamic-namespace predicate); make it from a thread of yours",
            ));
        }
        Ok(())
    }

    /// Runs `future` on the server's runtime and waits (at most `limit`) for its output on the calling
    /// thread, which only waits. Unlike `Runtime::block_on`, which may drive a current-thread runtime
    /// (every connection's I/O) on the caller's thread, this keeps the network side on ferrio's own
    /// threads (see `ferrio_host::runtime`).
    fn wait_for<T: Send + 'static>(
        &self,
        future: impl std::future::Future<Output = T> + Send + 'static,
        limit: Option<Duration>,
    ) -> Result<T, Error> {
        self.not_on_network_thread()?;
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.rt.spawn(async move {
            let _ = tx.send(future.await);
        });
        let timed_out = || {
            Error::new(
                ferrio_status::Timeout,
                "ferrio's network thread did not answer in time",
            )
        };
        let stopped = || Error::new(ferrio_status::InvalidState, "the server's runtime stopped");
        match limit {
            Some(limit) => rx.recv_timeout(limit).map_err(|e| match e {
                std::sync::mpsc::RecvTimeoutError::Timeout => timed_out(),
                std::sync::mpsc::RecvTimeoutError::Disconnected => stopped(),
            }),
            None => rx.recv().map_err(|_| stopped()),
        }
    }

    fn start_shutdown(&self) {
        if let Some(listener) = self.listener.lock().take() {
            let grace = self.shutdown_grace;
            let task = self.rt.spawn(async move { listener.shutdown(grace).await });
            *self.shutdown.lock() = Some(task);
        } else {
            self.server.close();
        }
    }
}

/// Starts a graceful shutdown and returns at once: stops accepting, disconnects every socket with
/// "server shutting down" (their `disconnect` callbacks follow), and lets connections finish within the
/// grace period. Allowed from a callback. The server must still be freed.
#[no_mangle]
pub extern "C" fn ferrio_server_close(server: *const ferrio_server) -> ferrio_status {
    guard(|| {
        // SAFETY: a live server handle or NULL (contract).
        let shared = &unsafe { handle(server, "server") }?.shared;
        shared.alive()?;
        shared.start_shutdown();
        Ok(())
    })
}

/// Closes the server if needed, waits (at most the grace period) for connections to end, runs the
/// callbacks already queued (automatic mode; in manual mode they are dropped), stops the callback thread
/// and the runtime, and releases every registered callback's user data. Handles derived from the server
/// (sockets, namespaces, broadcasts) stay valid to free, and their other calls return
/// `FERRIO_STATUS_SERVER_GONE`. From inside one of this server's callbacks, or on one of ferrio's
/// network threads (a dynamic-namespace predicate), it returns `FERRIO_STATUS_WOULD_DEADLOCK` and frees
/// nothing: call `ferrio_server_close` there and free later. NULL gives `FERRIO_STATUS_NULL_ARGUMENT`.
#[no_mangle]
pub extern "C" fn ferrio_server_free(server: *mut ferrio_server) -> ferrio_status {
    guard(|| {
        if server.is_null() {
            return Err(Error::null("server"));
        }
        {
            // SAFETY: non-NULL, a live handle by contract.
            let shared = &unsafe { &*server }.shared;
            if shared.in_callback() {
                return Err(Error::new(
                    ferrio_status::WouldDeadlock,
                    "ferrio_server_free was called from one of the server's own callbacks; \
                     call ferrio_server_close there and free the server afterwards",
                ));
            }
            shared.not_on_network_thread()?;
        }
        // SAFETY: non-NULL, a live handle by contract.
        let shared = unsafe { &*server }.shared.clone();
        // The handle stays valid while the callbacks still queued run (they may use it: they get
        // SERVER_GONE); it is released once the callback thread has stopped.
        shared.free();
        // SAFETY: made by `ferrio_server_new`, not freed before (contract); nothing uses it any more.
        drop(unsafe { Box::from_raw(server) });
        Ok(())
    })
}

impl Shared {
    fn free(self: &Arc<Self>) {
        if self.freed.load(Ordering::Acquire) {
            return;
        }
        self.start_shutdown();
        let task = self.shutdown.lock().take();
        if let Some(task) = task {
            let limit = self.shutdown_grace + Duration::from_secs(1);
            // A second more on this side: returns even if the network thread is stuck in a callback.
            let _ = self.wait_for(
                async move { tokio::time::timeout(limit, task).await },
                Some(limit + Duration::from_secs(1)),
            );
        }
        // No handle may act from now on; what is still queued runs (automatic mode) with sockets
        // reporting SERVER_GONE.
        self.freed.store(true, Ordering::Release);
        let pending = self.queue.close();
        match self.thread.lock().take() {
            Some(thread) => {
                // The thread drains what was queued before `close`; anything else is dropped here.
                let _ = thread.join();
                drop(pending);
            }
            None if self.mode == ferrio_dispatch_mode::Inline => {
                // The network thread runs callbacks: stop it first (a callback running now returns
                // first), then run what was queued here, as the callback thread would have.
                if let Some(engine) = self.runtime.lock().as_mut() {
                    engine.halt();
                }
                self.run(pending);
            }
            None => drop(pending),
        }
        crate::once::forget_server(self.id);
        let sockets = std::mem::take(&mut *self.sockets.lock());
        drop(sockets);
        let namespaces: Vec<_> = self.namespaces.lock().drain().map(|(_, n)| n).collect();
        for nsp in namespaces {
            nsp.clear();
        }
        let dynamic: Vec<_> = self.dynamic.lock().drain(..).collect();
        for parent in dynamic {
            parent.clear();
        }
        if let Some(runtime) = self.runtime.lock().take() {
            runtime.stop();
        }
    }
}

/// Manual mode: the fd to poll for readability; when readable, call `ferrio_server_dispatch`. The fd
/// belongs to the server (do not close it). `FERRIO_STATUS_INVALID_STATE` in automatic mode.
#[no_mangle]
pub extern "C" fn ferrio_server_fd(
    server: *const ferrio_server,
    out_fd: *mut c_int,
) -> ferrio_status {
    guard(|| {
        // SAFETY: a live server handle or NULL (contract).
        let shared = &unsafe { handle(server, "server") }?.shared;
        shared.alive()?;
        let Some(fd) = shared.queue.fd() else {
            return Err(Error::new(
                ferrio_status::InvalidState,
                "the server is not in manual dispatch mode",
            ));
        };
        // SAFETY: out-param, checked for NULL.
        unsafe { write_out(out_fd, fd, "out_fd") }
    })
}

/// Manual mode: runs up to `max` queued callbacks (0: all queued now) on the calling thread, in FIFO
/// order, without waiting; `*out_count` (NULL allowed) gets how many ran. Re-entering from a callback
/// gives `FERRIO_STATUS_WOULD_DEADLOCK`; automatic mode gives `FERRIO_STATUS_INVALID_STATE`.
#[no_mangle]
pub extern "C" fn ferrio_server_dispatch(
    server: *const ferrio_server,
    max: usize,
    out_count: *mut usize,
) -> ferrio_status {
    guard(|| {
        // SAFETY: a live server handle or NULL (contract).
        let shared = &unsafe { handle(server, "server") }?.shared;
        shared.alive()?;
        if shared.mode != ferrio_dispatch_mode::Manual {
            return Err(Error::new(
                ferrio_status::InvalidState,
                "the server is not in manual dispatch mode",
            ));
        }
        if shared.in_callback() {
            return Err(Error::new(
                ferrio_status::WouldDeadlock,
                "ferrio_server_dispatch was called from one of the server's own callbacks",
            ));
        }
        let jobs = shared.queue.take(max);
        let count = shared.run(jobs);
        if !out_count.is_null() {
            // SAFETY: non-NULL and writable by contract.
            unsafe { *out_count = count };
        }
        Ok(())
    })
}

/// How many Engine.IO connections are open now (0 for NULL or a freed server).
#[no_mangle]
pub extern "C" fn ferrio_server_connection_count(server: *const ferrio_server) -> usize {
    guard_or(0, || {
        // SAFETY: a live server handle or NULL (contract).
        match unsafe { server.as_ref() } {
            Some(s) if s.shared.alive().is_ok() => s.shared.server.connection_count(),
            _ => 0,
        }
    })
}
