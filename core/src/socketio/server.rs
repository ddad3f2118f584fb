//! [`Server`]: the Socket.IO server — its options, its namespaces (static and dynamic), the connect
//! timeout, listening and graceful shutdown.

use super::client::{joined_any, Conn, SioHandler};
use super::handler::NamespaceHandlers;
use super::{BroadcastOperator, EmitError, IntoRooms, Namespace, Payload};
use crate::adapter::{AdapterFactory, MemoryAdapterFactory};
use crate::engineio::{
    AllowRequest, CloseReason, Cors, Engine, EngineConfig, RequestInfo, Sid, TransportKind,
};
use crate::error::{check_at_least, check_duration, CodedError, ConfigError, ErrorCode};
use crate::mounts::Mounts;
use parking_lot::{Mutex, RwLock};
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// Socket.IO options on top of the Engine.IO ones.
#[derive(Clone)]
#[non_exhaustive]
pub struct ServerConfig {
    /// The Engine.IO options.
    pub engine: EngineConfig,
    /// A connection that joins no namespace within this delay is closed (default 45 s).
    pub connect_timeout: Duration,
    /// The most binary attachments one packet may announce (default 10).
    pub max_attachments: usize,
    /// The deepest nesting of arrays and objects a packet's JSON may have, the arguments' own array
    /// included (default 128); deeper is a parse error that closes the connection. Emits and acks whose
    /// arguments nest deeper fail with [`EmitError::TooDeep`] instead of being sent.
    pub max_json_depth: usize,
    /// The most namespaces one connection may join, counting those still in their middlewares (default
    /// 32); a CONNECT beyond it is answered with CONNECT_ERROR "Too many namespaces".
    pub max_namespaces_per_connection: usize,
    /// The most acknowledgements the server may await from one socket (default 1024): an
    /// `emit_with_ack` beyond it fails with [`EmitError::TooManyPendingAcks`] (a broadcast with acks does
    /// not wait for such a socket's answer). Acks with ids the server is not waiting for are ignored.
    pub max_pending_acks: usize,
    /// An optional limit on the events each socket may send (default none); see [`RateLimit`].
    pub rate_limit: Option<RateLimit>,
    /// Where the `socket.io-client` bundle (`dist/`) is, to serve `<path>/socket.io.js` and friends.
    pub client_dir: Option<PathBuf>,
    /// A directory of the application's own static files, served outside the engine path.
    pub static_dir: Option<PathBuf>,
    /// Makes each namespace's adapter (default: in memory).
    pub adapter: Arc<dyn AdapterFactory>,
    /// Connection state recovery (socket.io's `connectionStateRecovery`), off by default (`None`); see
    /// [`ConnectionStateRecovery`].
    pub connection_state_recovery: Option<ConnectionStateRecovery>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            engine: EngineConfig::default(),
            connect_timeout: Duration::from_millis(45_000),
            max_attachments: 10,
            max_json_depth: 128,
            max_namespaces_per_connection: 32,
            max_pending_acks: 1024,
            rate_limit: None,
            client_dir: None,
            static_dir: None,
            adapter: Arc::new(MemoryAdapterFactory),
            connection_state_recovery: None,
        }
    }
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("engine", &self.engine)
            .field("connect_timeout", &self.connect_timeout)
            .field("max_attachments", &self.max_attachments)
            .field("max_json_depth", &self.max_json_depth)
            .field(
                "max_namespaces_per_connection",
                &self.max_namespaces_per_connection,
            )
            .field("max_pending_acks", &self.max_pending_acks)
            .field("rate_limit", &self.rate_limit)
            .field("client_dir", &self.client_dir)
            .field("static_dir", &self.static_dir)
            .field("connection_state_recovery", &self.connection_state_recovery)
            .finish_non_exhaustive()
    }
}

/// The deepest `max_json_depth` allowed: every binding walks nested arguments recursively when it
/// converts them (Python objects, JavaScript values), on threads whose stacks are bounded.
pub const MAX_JSON_DEPTH: usize = 1000;

impl ServerConfig {
    /// Checks every option, as [`ServerBuilder::build`] does: the engine's ([`EngineConfig::validate`]),
    /// `connect_timeout` (1 ms to about 12 days), `max_json_depth` (1 to [`MAX_JSON_DEPTH`]),
    /// `max_namespaces_per_connection` and `max_pending_acks` (at least 1), the rate limit, and
    /// connection state recovery's `max_disconnection_duration` (1 ms to about 12 days) and
    /// `max_stored_packets` (at least 1).
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.engine.validate()?;
        check_duration("connect_timeout", self.connect_timeout)?;
        check_at_least("max_json_depth", self.max_json_depth, 1)?;
        if self.max_json_depth > MAX_JSON_DEPTH {
            return Err(ConfigError::new(
                "max_json_depth",
                format!("must be at most {MAX_JSON_DEPTH}"),
            ));
        }
        check_at_least(
            "max_namespaces_per_connection",
            self.max_namespaces_per_connection,
            1,
        )?;
        check_at_least("max_pending_acks", self.max_pending_acks, 1)?;
        if let Some(limit) = &self.rate_limit {
            limit.check()?;
        }
        if let Some(recovery) = &self.connection_state_recovery {
            check_duration(
                "max_disconnection_duration",
                recovery.max_disconnection_duration,
            )?;
            check_at_least("max_stored_packets", recovery.max_stored_packets, 1)?;
        }
        Ok(())
    }
}

/// Connection state recovery, as socket.io 4.6+ does it (`connectionStateRecovery`): a client that lost
/// its connection comes back within `max_disconnection_duration` as the same socket — same id, rooms and
/// `data` — and first receives every event it missed meanwhile.
///
/// With it on, each namespace keeps the events that can be recovered (those without an ack and not
/// volatile, whether broadcast or emitted to one socket) for `max_disconnection_duration`, each with an
/// offset the client gets as the event's last argument; the CONNECT answer carries a private session id
/// (`pid`). A socket whose connection ends for a reason socket.io deems recoverable (see
/// [`DisconnectReason::is_recoverable`](super::DisconnectReason::is_recoverable)) leaves a session
/// behind; a client whose CONNECT auth names that `pid` and the `offset` of the last event it handled gets
/// it back, with [`Socket::recovered`](super::Socket::recovered) true, the events it missed queued before
/// the CONNECT answer, and (with `skip_middlewares`) without running the middlewares again.
///
/// Memory is bounded twice: events older than `max_disconnection_duration` are dropped, and each
/// namespace keeps at most `max_stored_packets` of them, dropping the oldest first. A client that missed
/// an event dropped early is not recovered (it connects as a fresh socket) rather than recovered with a
/// gap; so is one that missed more events than its connection's queue holds (`max_queued_packets`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionStateRecovery {
    /// How long a session is kept after its connection was lost (default 2 minutes).
    pub max_disconnection_duration: Duration,
    /// Whether a recovered socket skips the namespace's middlewares (default true).
    pub skip_middlewares: bool,
    /// The most events each namespace keeps for recovery (default 10 000); at the cap the oldest is
    /// dropped, and the sessions that missed it are no longer recovered.
    pub max_stored_packets: usize,
}

impl Default for ConnectionStateRecovery {
    fn default() -> Self {
        ConnectionStateRecovery {
            max_disconnection_duration: Duration::from_secs(120),
            skip_middlewares: true,
            max_stored_packets: 10_000,
        }
    }
}

impl ConnectionStateRecovery {
    /// socket.io's defaults: 2 minutes, middlewares skipped, and at most 10 000 events per namespace.
    pub fn new() -> ConnectionStateRecovery {
        ConnectionStateRecovery::default()
    }

    /// How long a session is kept after its connection was lost.
    pub fn max_disconnection_duration(mut self, duration: Duration) -> Self {
        self.max_disconnection_duration = duration;
        self
    }

    /// Whether a recovered socket skips the namespace's middlewares.
    pub fn skip_middlewares(mut self, skip: bool) -> Self {
        self.skip_middlewares = skip;
        self
    }

    /// The most events each namespace keeps for recovery.
    pub fn max_stored_packets(mut self, packets: usize) -> Self {
        self.max_stored_packets = packets;
        self
    }
}

/// A per-socket limit on incoming events: a token bucket holding `burst` events, refilled at
/// `events_per_second`. A socket that sends an event when the bucket is empty has its whole connection
/// closed with the reason "rate limit exceeded" (every socket of the connection sees it in its
/// disconnect handlers). Only events count (acks, pings and CONNECTs do not).
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct RateLimit {
    /// The sustained rate, in events per second (positive).
    pub events_per_second: f64,
    /// How many events may come at once after a quiet period (at least 1).
    pub burst: u32,
}

/// A rate limit's numbers out of range: events per second must be positive and finite, the burst at
/// least 1.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[error("a rate limit needs events per second > 0 (finite) and a burst of at least 1")]
pub struct InvalidRateLimit;

impl CodedError for InvalidRateLimit {
    fn code(&self) -> ErrorCode {
        ErrorCode::InvalidArgument
    }
}

impl From<InvalidRateLimit> for ConfigError {
    fn from(_: InvalidRateLimit) -> ConfigError {
        ConfigError::new(
            "rate_limit",
            "needs events per second > 0 (finite) and a burst of at least 1",
        )
    }
}

impl RateLimit {
    /// `events_per_second` sustained, `burst` at once; refuses numbers out of range (the one check every
    /// binding relies on).
    pub fn new(events_per_second: f64, burst: u32) -> Result<RateLimit, InvalidRateLimit> {
        let limit = RateLimit {
            events_per_second,
            burst,
        };
        limit.check()?;
        Ok(limit)
    }

    fn check(&self) -> Result<(), InvalidRateLimit> {
        if self.events_per_second.is_finite() && self.events_per_second > 0.0 && self.burst > 0 {
            Ok(())
        } else {
            Err(InvalidRateLimit)
        }
    }
}

/// What every socket of a namespace checks on its own hot path, copied out of the configuration so the
/// check needs no pointer chase to the server.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SocketLimits {
    pub(crate) max_json_depth: usize,
    pub(crate) max_pending_acks: usize,
    /// The rate limit as a generic cell rate: the interval between events and the burst tolerance, in
    /// nanoseconds.
    pub(crate) rate: Option<(u64, u64)>,
}

impl SocketLimits {
    pub(crate) fn new(config: &ServerConfig) -> SocketLimits {
        // The configuration was validated: the numbers are in range.
        let rate = config.rate_limit.map(|limit| {
            let interval = (1e9 / limit.events_per_second).max(1.0) as u64;
            let tolerance = interval.saturating_mul(u64::from(limit.burst.saturating_sub(1)));
            (interval, tolerance)
        });
        SocketLimits {
            max_json_depth: config.max_json_depth,
            max_pending_acks: config.max_pending_acks,
            rate,
        }
    }
}

/// Builds a [`Server`]; every option has socket.io's default. The setters only record:
/// [`build`](Self::build) checks every value and names the first one out of range.
#[derive(Debug, Default, Clone)]
pub struct ServerBuilder {
    config: ServerConfig,
}

impl ServerBuilder {
    /// The engine path (default `/socket.io/`).
    pub fn path(mut self, path: impl Into<String>) -> Self {
        let mut path = path.into();
        if !path.starts_with('/') {
            path.insert(0, '/');
        }
        if !path.ends_with('/') {
            path.push('/');
        }
        self.config.engine.path = path;
        self
    }

    /// The ping interval (default 25 s).
    pub fn ping_interval(mut self, interval: Duration) -> Self {
        self.config.engine.ping_interval = interval;
        self
    }

    /// The ping timeout (default 20 s).
    pub fn ping_timeout(mut self, timeout: Duration) -> Self {
        self.config.engine.ping_timeout = timeout;
        self
    }

    /// The upgrade timeout (default 10 s).
    pub fn upgrade_timeout(mut self, timeout: Duration) -> Self {
        self.config.engine.upgrade_timeout = timeout;
        self
    }

    /// The connect timeout (default 45 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.connect_timeout = timeout;
        self
    }

    /// The largest HTTP body or WebSocket message (default 1e6 bytes; socket.io's `maxHttpBufferSize`).
    pub fn max_payload(mut self, bytes: usize) -> Self {
        self.config.engine.max_payload = bytes;
        self
    }

    /// Which transports clients may use (default both).
    pub fn transports(mut self, polling: bool, websocket: bool) -> Self {
        self.config.engine.polling = polling;
        self.config.engine.websocket = websocket;
        self
    }

    /// Whether polling sessions may upgrade to WebSocket (default true).
    pub fn allow_upgrades(mut self, allow: bool) -> Self {
        self.config.engine.allow_upgrades = allow;
        self
    }

    /// Packets queued per connection before it counts as a slow consumer (default 1024).
    pub fn max_queued_packets(mut self, packets: usize) -> Self {
        self.config.engine.max_queued_packets = packets;
        self
    }

    /// The most header lines per HTTP request (default 100; more is answered 431).
    pub fn max_headers(mut self, headers: usize) -> Self {
        self.config.engine.max_headers = headers;
        self
    }

    /// The most bytes of request line and headers per HTTP request (default 32 KiB, at least 8 KiB;
    /// more is answered 431).
    pub fn max_header_bytes(mut self, bytes: usize) -> Self {
        self.config.engine.max_header_bytes = bytes;
        self
    }

    /// How long a client may take to send a request's headers (default 10 s).
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.config.engine.header_read_timeout = timeout;
        self
    }

    /// CORS for cross-origin polling clients.
    pub fn cors(mut self, cors: Cors) -> Self {
        self.config.engine.cors = cors;
        self
    }

    /// A hook accepting or refusing handshakes (socket.io's `allowRequest`).
    pub fn allow_request<F>(mut self, hook: F) -> Self
    where
        F: Fn(&RequestInfo) -> Result<(), String> + Send + Sync + 'static,
    {
        let hook: AllowRequest = Arc::new(hook);
        self.config.engine.allow_request = Some(hook);
        self
    }

    /// The deepest JSON nesting a packet may have, its arguments' array included (default 128).
    pub fn max_json_depth(mut self, depth: usize) -> Self {
        self.config.max_json_depth = depth;
        self
    }

    /// The most binary attachments one packet may announce (default 10).
    pub fn max_attachments(mut self, count: usize) -> Self {
        self.config.max_attachments = count;
        self
    }

    /// The most Engine.IO connections open at once (default 100 000; 0: no limit). Handshakes beyond
    /// it are answered 503.
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.config.engine.max_connections = connections;
        self
    }

    /// The most connections open at once from one IP address (default 0: no limit). Handshakes beyond
    /// it are answered 503. Not for servers behind a proxy, where every peer is the proxy.
    pub fn max_connections_per_ip(mut self, connections: usize) -> Self {
        self.config.engine.max_connections_per_ip = connections;
        self
    }

    /// Compression of long-polling responses (default on from 1024 bytes, as engine.io's
    /// `httpCompression`); `None` turns it off. See [`HttpCompression`](crate::engineio::HttpCompression).
    pub fn http_compression(
        mut self,
        compression: Option<crate::engineio::HttpCompression>,
    ) -> Self {
        self.config.engine.http_compression = compression;
        self
    }

    /// The most namespaces one connection may join (default 32); beyond it the CONNECT is answered
    /// with CONNECT_ERROR "Too many namespaces".
    pub fn max_namespaces_per_connection(mut self, namespaces: usize) -> Self {
        self.config.max_namespaces_per_connection = namespaces;
        self
    }

    /// The most acknowledgements awaited from one socket at once (default 1024).
    pub fn max_pending_acks(mut self, acks: usize) -> Self {
        self.config.max_pending_acks = acks;
        self
    }

    /// Limits the events each socket may send (default: no limit), e.g.
    /// `rate_limit(RateLimit::new(50.0, 100)?)`. See [`RateLimit`].
    pub fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.config.rate_limit = Some(limit);
        self
    }

    /// Serves the browser client from this `socket.io-client/dist` directory.
    pub fn client_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.config.client_dir = Some(dir.into());
        self
    }

    /// Serves the application's static files from this directory.
    pub fn static_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.config.static_dir = Some(dir.into());
        self
    }

    /// Uses another adapter (the default keeps everything in memory).
    pub fn adapter(mut self, factory: Arc<dyn AdapterFactory>) -> Self {
        self.config.adapter = factory;
        self
    }

    /// Turns on connection state recovery (default off), e.g.
    /// `connection_state_recovery(ConnectionStateRecovery::new())`. See [`ConnectionStateRecovery`].
    pub fn connection_state_recovery(mut self, recovery: ConnectionStateRecovery) -> Self {
        self.config.connection_state_recovery = Some(recovery);
        self
    }

    /// The whole configuration, for callers (bindings) that fill it field by field.
    pub fn config(mut self, config: ServerConfig) -> Self {
        self.config = config;
        self
    }

    /// Checks the options as [`build`](Self::build) does, without building.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.config.validate()
    }

    /// Builds the server, or names the first option out of range ([`ServerConfig::validate`] lists the
    /// checks): a bad value is refused here, never clamped or ignored later.
    pub fn build(self) -> Result<Server, ConfigError> {
        Server::with_config(self.config)
    }
}

type NamespaceMatcher = Arc<dyn Fn(&str, &Value) -> bool + Send + Sync>;

struct DynamicNamespace {
    matcher: NamespaceMatcher,
    handlers: Arc<NamespaceHandlers>,
}

pub(crate) struct ServerInner {
    pub(crate) config: ServerConfig,
    pub(crate) engine: Arc<Engine<SioHandler>>,
    namespaces: RwLock<HashMap<String, Namespace>>,
    dynamic: RwLock<Vec<DynamicNamespace>>,
    /// Connections still to check for the connect timeout, by id: a `Weak` here would keep each closed
    /// connection's allocation alive until its deadline.
    pending_connects: Mutex<VecDeque<(Instant, Sid)>>,
    sweeper: Arc<Notify>,
    sweeper_started: std::sync::Once,
    /// Called for every socket of a connection that upgraded from polling to WebSocket.
    pub(crate) upgrade_handlers: RwLock<Vec<UpgradeHandler>>,
    /// The observer hooks, shared with the namespaces and the engine handler.
    pub(crate) hooks: Arc<super::observer::Hooks>,
    /// Static directories mounted under their own path prefixes (the admin UI), read per request by the
    /// HTTP front.
    pub(crate) mounts: Mounts,
}

/// See [`Server::on_upgrade`].
pub(crate) type UpgradeHandler = Arc<dyn Fn(&super::Socket) + Send + Sync>;

impl ServerInner {
    /// The namespace a CONNECT names: an existing one, or a new child of a matching dynamic namespace.
    pub(crate) fn namespace_for(&self, name: &str, auth: &Value) -> Option<Namespace> {
        if let Some(nsp) = self.namespaces.read().get(name) {
            return Some(nsp.clone());
        }
        let handlers = self
            .dynamic
            .read()
            .iter()
            .find(|d| (d.matcher)(name, auth))
            .map(|d| d.handlers.clone())?;
        let mut namespaces = self.namespaces.write();
        Some(
            namespaces
                .entry(name.to_owned())
                .or_insert_with(|| {
                    Namespace::new(
                        name,
                        handlers,
                        self.config.adapter.as_ref(),
                        SocketLimits::new(&self.config),
                        self.hooks.clone(),
                        self.config.connection_state_recovery,
                    )
                })
                .clone(),
        )
    }

    pub(crate) fn watch_connect_timeout(self: &Arc<Self>, conn: &Arc<Conn>) {
        let deadline = Instant::now() + self.config.connect_timeout;
        self.pending_connects
            .lock()
            .push_back((deadline, conn.sid()));
        self.sweeper_started.call_once(|| {
            tokio::spawn(sweep_connect_timeouts(
                Arc::downgrade(self),
                self.sweeper.clone(),
            ));
        });
        self.sweeper.notify_one();
    }
}

/// One task per server closes connections that joined no namespace in time; deadlines are queued in
/// order because the timeout is the same for all.
async fn sweep_connect_timeouts(server: Weak<ServerInner>, wake: Arc<Notify>) {
    loop {
        let next = {
            let Some(inner) = server.upgrade() else {
                return;
            };
            let now = Instant::now();
            let mut queue = inner.pending_connects.lock();
            while let Some((deadline, _)) = queue.front() {
                if *deadline > now {
                    break;
                }
                if let Some((_, sid)) = queue.pop_front() {
                    if let Some(conn) = inner.engine.session(&sid) {
                        if !joined_any(&conn) && !conn.is_closed() {
                            tracing::debug!(sid = %conn.sid(), "no namespace joined in time");
                            conn.close(CloseReason::ForcedServerClose);
                        }
                    }
                }
            }
            queue.front().map(|(deadline, _)| *deadline)
        };
        match next {
            Some(deadline) => {
                tokio::select! {
                    _ = tokio::time::sleep_until(deadline) => {}
                    _ = wake.notified() => {}
                }
            }
            None => wake.notified().await,
        }
    }
}

/// A Socket.IO server. Cheap to clone; every clone is the same server.
///
/// ```no_run
/// use ferrio::{Payload, Server};
///
/// # async fn run() -> std::io::Result<()> {
/// let io = Server::builder().build()?;
/// io.of("/").on_connection(|socket| {
///     socket.on("chat", |socket, event| async move {
///         // Relay to everybody else, then acknowledge.
///         let _ = socket.broadcast().emit("chat", event.payload);
///         if let Some(ack) = event.ack {
///             let _ = ack.send(Payload::one(&"ok").unwrap());
///         }
///     });
/// });
/// let handle = io.listen("127.0.0.1:3000").await?;
/// handle.shutdown(std::time::Duration::from_secs(5)).await;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Server(pub(crate) Arc<ServerInner>);

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("config", &self.0.config)
            .finish_non_exhaustive()
    }
}

impl Default for Server {
    fn default() -> Self {
        // Every default is in range (`the_defaults_are_valid`).
        Server::builder()
            .build()
            .expect("the default options are valid")
    }
}

impl Server {
    /// A builder with socket.io's defaults.
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }

    /// A server with this configuration, checked first ([`ServerConfig::validate`]).
    pub fn with_config(config: ServerConfig) -> Result<Server, ConfigError> {
        config.validate()?;
        let hooks: Arc<super::observer::Hooks> = Arc::default();
        let inner = Arc::new_cyclic(|weak: &Weak<ServerInner>| ServerInner {
            engine: Engine::with_valid_config(
                config.engine.clone(),
                SioHandler {
                    server: weak.clone(),
                    hooks: hooks.clone(),
                },
            ),
            config,
            namespaces: RwLock::new(HashMap::new()),
            dynamic: RwLock::new(Vec::new()),
            pending_connects: Mutex::new(VecDeque::new()),
            sweeper: Arc::new(Notify::new()),
            sweeper_started: std::sync::Once::new(),
            upgrade_handlers: RwLock::default(),
            hooks,
            mounts: Mounts::default(),
        });
        let server = Server(inner);
        // The main namespace always exists, as in socket.io.
        server.of("/");
        Ok(server)
    }

    /// A weak handle on the server, for what belongs to it and must not keep it alive (an observer, a
    /// periodic task).
    pub fn downgrade(&self) -> WeakServer {
        WeakServer(Arc::downgrade(&self.0))
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.0.config
    }

    /// The namespace `name`, created if needed (`"chat"` and `"/chat"` are the same).
    pub fn of(&self, name: &str) -> Namespace {
        let name = if name.starts_with('/') {
            name.to_owned()
        } else {
            format!("/{name}")
        };
        if let Some(nsp) = self.0.namespaces.read().get(&name) {
            return nsp.clone();
        }
        self.0
            .namespaces
            .write()
            .entry(name.clone())
            .or_insert_with(|| {
                Namespace::new(
                    &name,
                    Arc::default(),
                    self.0.config.adapter.as_ref(),
                    SocketLimits::new(&self.0.config),
                    self.0.hooks.clone(),
                    self.0.config.connection_state_recovery,
                )
            })
            .clone()
    }

    /// Dynamic namespaces: every name `matcher` accepts (given the name and the client's auth) is created
    /// on first connect, sharing the returned parent's middlewares and connection handlers.
    pub fn of_dynamic<F>(&self, matcher: F) -> DynamicNamespaceParent
    where
        F: Fn(&str, &Value) -> bool + Send + Sync + 'static,
    {
        let handlers: Arc<NamespaceHandlers> = Arc::default();
        self.0.dynamic.write().push(DynamicNamespace {
            matcher: Arc::new(matcher),
            handlers: handlers.clone(),
        });
        DynamicNamespaceParent {
            handlers,
            server: self.clone(),
        }
    }

    /// Dynamic namespaces whose names match a regular expression.
    pub fn of_regex(&self, regex: regex::Regex) -> DynamicNamespaceParent {
        self.of_dynamic(move |name, _| regex.is_match(name))
    }

    /// The namespace `name` if it exists (`of` would create it).
    pub fn get_namespace(&self, name: &str) -> Option<Namespace> {
        self.0.namespaces.read().get(name).cloned()
    }

    /// The namespaces that exist now.
    pub fn namespaces(&self) -> Vec<Namespace> {
        self.0.namespaces.read().values().cloned().collect()
    }

    /// Shorthand for `of("/").on_connection(handler)`.
    pub fn on_connection<F>(&self, handler: F)
    where
        F: Fn(super::Socket) + Send + Sync + 'static,
    {
        self.of("/").on_connection(handler);
    }

    /// Emits to every socket of the main namespace.
    pub fn emit(&self, event: &str, payload: Payload) -> Result<(), EmitError> {
        self.of("/").emit(event, payload)
    }

    /// Targets rooms of the main namespace.
    pub fn to(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.of("/").to(rooms)
    }

    /// Targets the main namespace except some rooms.
    pub fn except(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.of("/").except(rooms)
    }

    /// Runs `handler` for every socket of a connection when it upgrades from HTTP long-polling to
    /// WebSocket (socket.io's `socket.conn.on("upgrade")`), on the connection's task.
    pub fn on_upgrade<F>(&self, handler: F)
    where
        F: Fn(&super::Socket) + Send + Sync + 'static,
    {
        self.0.upgrade_handlers.write().push(Arc::new(handler));
    }

    /// How many Engine.IO connections are open.
    pub fn connection_count(&self) -> usize {
        self.0.engine.session_count()
    }

    /// How many Engine.IO connections are open on HTTP long-polling (not upgraded).
    pub fn polling_connection_count(&self) -> usize {
        self.0
            .engine
            .count_sessions(|s| s.transport() == TransportKind::Polling)
    }

    /// Installs the server's one [`Observer`](super::Observer) (the admin UI instrumentation uses it).
    /// Fails, giving it back, when one is already installed.
    pub fn set_observer(
        &self,
        observer: Arc<dyn super::Observer>,
    ) -> Result<(), Arc<dyn super::Observer>> {
        self.0.hooks.set(observer)
    }

    /// Serves the files of `dir` under the HTTP path `prefix` (e.g. `/admin/`) on the server's own port,
    /// also after it started listening. `prefix` without its final `/` redirects to it.
    pub fn mount_static(&self, prefix: &str, dir: impl Into<PathBuf>) {
        self.0.mounts.add(prefix, dir.into());
    }

    /// Disconnects every client with "server shutting down".
    pub fn close(&self) {
        self.0.engine.close_all(CloseReason::ServerShuttingDown);
    }
}

/// A weak handle on a [`Server`] ([`Server::downgrade`]).
#[derive(Clone)]
pub struct WeakServer(Weak<ServerInner>);

impl std::fmt::Debug for WeakServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WeakServer")
    }
}

impl WeakServer {
    /// The server, unless every handle on it is gone.
    pub fn upgrade(&self) -> Option<Server> {
        self.0.upgrade().map(Server)
    }
}

/// The parent of dynamic namespaces: what is registered here applies to every child.
pub struct DynamicNamespaceParent {
    handlers: Arc<NamespaceHandlers>,
    server: Server,
}

impl std::fmt::Debug for DynamicNamespaceParent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DynamicNamespaceParent")
    }
}

impl DynamicNamespaceParent {
    /// Adds a connect middleware to every child.
    pub fn use_middleware<F, Fut>(&self, middleware: F)
    where
        F: Fn(super::Socket) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), super::ConnectError>> + Send + 'static,
    {
        self.handlers
            .middlewares
            .write()
            .push(Arc::new(super::handler::AsyncMiddlewareFn(middleware)));
    }

    /// Runs `handler` for every socket joining any child.
    pub fn on_connection<F>(&self, handler: F)
    where
        F: Fn(super::Socket) + Send + Sync + 'static,
    {
        self.handlers
            .connection
            .write()
            .push(Arc::new(super::handler::ConnectionFn(handler)));
    }

    /// The children created so far.
    pub fn children(&self) -> Vec<Namespace> {
        self.server
            .namespaces()
            .into_iter()
            .filter(|n| Arc::ptr_eq(&n.0.handlers, &self.handlers))
            .collect()
    }
}
