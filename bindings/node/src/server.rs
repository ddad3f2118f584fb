//! [`NativeServer`]: the core server behind the facade's `Server`: options, the dispatcher's lifetime
//! (created by `start`, released by `close`, so Node stays alive exactly while the server listens),
//! namespaces (static and dynamic), and the answers JavaScript sends back (acks, middleware verdicts).

use crate::dispatch::{Batch, Shared};
use crate::errors::{code_error, emitted, js_error, server_closed};
use crate::namespace::{payload, NativeNamespace};
use crate::{coded_error, runtime};
use ferrio::socketio::{ConnectError, DynamicNamespaceParent};
use ferrio::SocketIoService as HttpService;
use ferrio::{
    CodedError, ConfigError, ConnectionStateRecovery, Cors, CorsOrigins, ErrorCode,
    HttpCompression, Server, ServerHandle,
};
use ferrio_host::{attach, Watch};
use napi::bindgen_prelude::{Buffer, Function, Unknown};
use napi_derive::napi;
use parking_lot::Mutex;
use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Once};
use std::time::Duration;

/// The server options, already in the core's terms (the facade maps socket.io's names onto them).
#[napi(object)]
#[derive(Default)]
pub struct NativeOptions {
    /// The engine path, e.g. `/socket.io/`.
    pub path: Option<String>,
    /// Milliseconds between pings.
    pub ping_interval: Option<f64>,
    /// Milliseconds to wait for a pong.
    pub ping_timeout: Option<f64>,
    /// Milliseconds an upgrade may take.
    pub upgrade_timeout: Option<f64>,
    /// Milliseconds a connection may take to join a namespace.
    pub connect_timeout: Option<f64>,
    /// The largest message, in bytes.
    pub max_http_buffer_size: Option<f64>,
    /// Whether HTTP long-polling is allowed.
    pub polling: Option<bool>,
    /// Whether WebSocket is allowed.
    pub websocket: Option<bool>,
    /// Whether polling sessions may upgrade.
    pub allow_upgrades: Option<bool>,
    /// Allowed CORS origins (`["*"]` for any); none disables CORS.
    pub cors_origins: Option<Vec<String>>,
    /// Whether CORS allows credentials.
    pub cors_credentials: Option<bool>,
    /// The `socket.io-client/dist` directory to serve the browser client from.
    pub client_dir: Option<String>,
    /// Packets queued per connection before it counts as a slow consumer.
    pub max_queued_packets: Option<f64>,
    /// A directory of static files served outside the engine path.
    pub static_dir: Option<String>,
    /// The Redis adapter's URL (`createAdapter(url)`); the in-memory adapter when absent.
    pub redis_url: Option<String>,
    /// The Redis channels' prefix (the Node adapter's `key`, default `socket.io`).
    pub redis_key: Option<String>,
    /// Milliseconds a request to the other servers waits (`requestsTimeout`, default 5000).
    pub redis_requests_timeout: Option<f64>,
    /// The most binary attachments one packet may announce.
    pub max_attachments: Option<f64>,
    /// The deepest JSON nesting of a packet (decode and encode).
    pub max_json_depth: Option<f64>,
    /// The most header lines per HTTP request.
    pub max_headers_count: Option<f64>,
    /// The most bytes of request line and headers per HTTP request.
    pub max_header_size: Option<f64>,
    /// Milliseconds a client may take to send a request's headers.
    pub headers_timeout: Option<f64>,
    /// The most connections open at once (0: no limit).
    pub max_connections: Option<f64>,
    /// The most connections open at once from one IP address (0: no limit).
    pub max_connections_per_ip: Option<f64>,
    /// The most namespaces one connection may join.
    pub max_namespaces_per_connection: Option<f64>,
    /// The most acknowledgements awaited from one socket.
    pub max_pending_acks: Option<f64>,
    /// Events per second each socket may send (with `rate_limit_burst`).
    pub rate_limit_events_per_second: Option<f64>,
    /// Events each socket may send at once.
    pub rate_limit_burst: Option<f64>,
    /// Connection state recovery (`connectionStateRecovery`); absent: off.
    pub connection_state_recovery: Option<NativeRecovery>,
    /// Whether long-polling responses may be compressed (`httpCompression`); absent: on.
    pub http_compression: Option<bool>,
    /// The smallest response compressed, in bytes (`httpCompression.threshold`); absent: the core's.
    pub http_compression_threshold: Option<f64>,
}

/// Connection state recovery's options (absent ones: the core's defaults).
#[napi(object)]
#[derive(Default)]
pub struct NativeRecovery {
    /// Milliseconds a lost connection's session is kept.
    pub max_disconnection_duration: Option<f64>,
    /// Whether a recovered socket skips the middlewares.
    pub skip_middlewares: Option<bool>,
    /// The most events each namespace keeps for recovery.
    pub max_stored_packets: Option<f64>,
}

/// The name `new Server({...})` gives a `ServerBuilder` option.
fn js_option(option: &str) -> &str {
    match option {
        "path" => "path",
        "ping_interval" => "pingInterval",
        "ping_timeout" => "pingTimeout",
        "upgrade_timeout" => "upgradeTimeout",
        "connect_timeout" => "connectTimeout",
        "max_payload" => "maxHttpBufferSize",
        "allow_upgrades" => "allowUpgrades",
        "max_queued_packets" => "maxQueuedPackets",
        "max_attachments" => "maxAttachments",
        "max_json_depth" => "maxJsonDepth",
        "max_headers" => "maxHeadersCount",
        "max_header_bytes" => "maxHeaderSize",
        "header_read_timeout" => "headersTimeout",
        "max_connections" => "maxConnections",
        "max_connections_per_ip" => "maxConnectionsPerIp",
        "max_namespaces_per_connection" => "maxNamespacesPerConnection",
        "max_pending_acks" => "maxPendingAcks",
        "rate_limit" => "rateLimit",
        "cors" => "cors.origin",
        "static_dir" => "staticDir",
        "max_disconnection_duration" => "connectionStateRecovery.maxDisconnectionDuration",
        "max_stored_packets" => "connectionStateRecovery.maxStoredPackets",
        other => other,
    }
}

/// The core's refusal of an option, as `new Server({...})` users name it.
fn config_error(error: ConfigError) -> napi::Error {
    code_error(
        error.code(),
        format!("{} {}", js_option(error.option), error.reason),
    )
}

/// A refused conversion of option `option`.
fn not_a(option: &str, what: &str) -> napi::Error {
    code_error(
        ErrorCode::InvalidArgument,
        format!("{option} must be {what}"),
    )
}

/// A JavaScript number of milliseconds as a duration (negative, infinite and NaN numbers have none).
fn millis(value: Option<f64>, option: &str) -> napi::Result<Option<Duration>> {
    value
        .map(|ms| {
            Duration::try_from_secs_f64(ms / 1000.0)
                .map_err(|_| not_a(option, "a non-negative number of milliseconds"))
        })
        .transpose()
}

/// A JavaScript number as a count (a non-negative whole number).
fn count(value: Option<f64>, option: &str) -> napi::Result<Option<usize>> {
    value
        .map(|n| {
            if n.is_finite() && n >= 0.0 && n.fract() == 0.0 && n <= usize::MAX as f64 {
                Ok(n as usize)
            } else {
                Err(not_a(option, "a non-negative whole number"))
            }
        })
        .transpose()
}

/// The admin UI options in the core's terms (the facade maps `@socket.io/admin-ui`'s names onto them).
#[napi(object)]
#[derive(Default)]
pub struct NativeAdminOptions {
    /// The admin namespace.
    pub namespace: String,
    /// The login's user name; none disables the login.
    pub username: Option<String>,
    /// The login's bcrypt hash.
    pub password_hash: Option<String>,
    /// No commands.
    pub read_only: bool,
    /// `development` or `production`.
    pub mode: String,
    /// The server's id in the UI (default: the host name).
    pub server_id: Option<String>,
    /// Milliseconds between `server_stats`.
    pub stats_interval_ms: Option<f64>,
    /// The built UI to serve, if any.
    pub ui_dir: Option<String>,
    /// Where the UI is served.
    pub ui_path: Option<String>,
}

/// A ferrio server, driven by the JavaScript facade.
#[napi]
pub struct NativeServer {
    server: Server,
    shared: Arc<Shared>,
    handle: Arc<tokio::sync::Mutex<Option<ServerHandle>>>,
    registered: Mutex<HashSet<String>>,
    middlewares: Mutex<HashSet<String>>,
    room_watchers: Mutex<HashSet<String>>,
    parents: Mutex<Vec<DynamicNamespaceParent>>,
    /// Set when attached to a Node `http.Server` instead of listening.
    service: Mutex<Option<HttpService>>,
}

/// One answer to a relayed HTTP request.
#[napi(object)]
pub struct HttpReply {
    /// The status code.
    pub status: u32,
    /// Header names and values, alternating (as Node's `rawHeaders`).
    pub headers: Vec<String>,
    /// The body.
    pub body: Buffer,
}

#[napi]
impl NativeServer {
    /// A server with these options (not listening yet). An option out of range throws
    /// `ERR_FERRIO_INVALID_ARG` naming it (the core checks every value; this only converts them).
    #[napi(constructor)]
    pub fn new(options: NativeOptions) -> napi::Result<NativeServer> {
        let mut builder = Server::builder();
        if let Some(path) = options.path {
            builder = builder.path(path);
        }
        if let Some(v) = millis(options.ping_interval, "pingInterval")? {
            builder = builder.ping_interval(v);
        }
        if let Some(v) = millis(options.ping_timeout, "pingTimeout")? {
            builder = builder.ping_timeout(v);
        }
        if let Some(v) = millis(options.upgrade_timeout, "upgradeTimeout")? {
            builder = builder.upgrade_timeout(v);
        }
        if let Some(v) = millis(options.connect_timeout, "connectTimeout")? {
            builder = builder.connect_timeout(v);
        }
        if let Some(v) = count(options.max_http_buffer_size, "maxHttpBufferSize")? {
            builder = builder.max_payload(v);
        }
        builder = builder.transports(
            options.polling.unwrap_or(true),
            options.websocket.unwrap_or(true),
        );
        if let Some(v) = options.allow_upgrades {
            builder = builder.allow_upgrades(v);
        }
        if let Some(v) = count(options.max_queued_packets, "maxQueuedPackets")? {
            builder = builder.max_queued_packets(v);
        }
        if let Some(v) = count(options.max_attachments, "maxAttachments")? {
            builder = builder.max_attachments(v);
        }
        if let Some(v) = count(options.max_json_depth, "maxJsonDepth")? {
            builder = builder.max_json_depth(v);
        }
        if let Some(v) = count(options.max_headers_count, "maxHeadersCount")? {
            builder = builder.max_headers(v);
        }
        if let Some(v) = count(options.max_header_size, "maxHeaderSize")? {
            builder = builder.max_header_bytes(v);
        }
        if let Some(v) = millis(options.headers_timeout, "headersTimeout")? {
            builder = builder.header_read_timeout(v);
        }
        if let Some(v) = count(options.max_connections, "maxConnections")? {
            builder = builder.max_connections(v);
        }
        if let Some(v) = count(options.max_connections_per_ip, "maxConnectionsPerIp")? {
            builder = builder.max_connections_per_ip(v);
        }
        if let Some(v) = count(
            options.max_namespaces_per_connection,
            "maxNamespacesPerConnection",
        )? {
            builder = builder.max_namespaces_per_connection(v);
        }
        if let Some(v) = count(options.max_pending_acks, "maxPendingAcks")? {
            builder = builder.max_pending_acks(v);
        }
        if let Some(rate) = options.rate_limit_events_per_second {
            let burst = count(options.rate_limit_burst, "rateLimit.burst")?.unwrap_or(1);
            let burst = u32::try_from(burst).map_err(|_| not_a("rateLimit.burst", "below 2^32"))?;
            let limit = ferrio::RateLimit::new(rate, burst)
                .map_err(|e| config_error(ConfigError::from(e)))?;
            builder = builder.rate_limit(limit);
        }
        if let Some(recovery) = options.connection_state_recovery {
            let mut r = ConnectionStateRecovery::new();
            let window = "connectionStateRecovery.maxDisconnectionDuration";
            if let Some(v) = millis(recovery.max_disconnection_duration, window)? {
                r = r.max_disconnection_duration(v);
            }
            if let Some(v) = recovery.skip_middlewares {
                r = r.skip_middlewares(v);
            }
            let stored = "connectionStateRecovery.maxStoredPackets";
            if let Some(v) = count(recovery.max_stored_packets, stored)? {
                r = r.max_stored_packets(v);
            }
            builder = builder.connection_state_recovery(r);
        }
        if options.http_compression == Some(false) {
            builder = builder.http_compression(None);
        } else if let Some(v) = count(
            options.http_compression_threshold,
            "httpCompression.threshold",
        )? {
            builder = builder.http_compression(Some(HttpCompression::new().threshold(v)));
        }
        if let Some(origins) = options.cors_origins {
            let origins = if origins.iter().any(|o| o == "*") {
                CorsOrigins::Any
            } else {
                CorsOrigins::List(origins)
            };
            builder = builder
                .cors(Cors::new(origins).credentials(options.cors_credentials.unwrap_or(false)));
        }
        if let Some(dir) = options.client_dir {
            builder = builder.client_dir(dir);
        }
        if let Some(dir) = options.static_dir {
            builder = builder.static_dir(dir);
        }
        // Checked before the Redis adapter starts connecting.
        builder.validate().map_err(config_error)?;
        if let Some(url) = options.redis_url {
            let mut config = ferrio_redis::RedisAdapterConfig::new(url);
            if let Some(key) = options.redis_key {
                config = config.prefix(key);
            }
            if let Some(timeout) = millis(options.redis_requests_timeout, "requestsTimeout")? {
                config = config.request_timeout(timeout);
            }
            let _rt = runtime().enter();
            let factory =
                ferrio_redis::RedisAdapterFactory::new(config).map_err(|e| js_error(&e))?;
            builder = builder.adapter(Arc::new(factory));
        }
        let server = builder.build().map_err(config_error)?;
        let keeps_sessions = server.config().connection_state_recovery.is_some();
        let server = NativeServer {
            server,
            shared: Shared::new(keeps_sessions),
            handle: Arc::default(),
            registered: Mutex::default(),
            middlewares: Mutex::default(),
            room_watchers: Mutex::default(),
            parents: Mutex::default(),
            service: Mutex::default(),
        };
        Ok(server)
    }

    /// The deepest nesting of JSON arrays and objects the server's packets may have (`maxJsonDepth`),
    /// which the facade's conversion of arguments also keeps to.
    #[napi(getter)]
    pub fn max_json_depth(&self) -> u32 {
        u32::try_from(self.server.config().max_json_depth).unwrap_or(u32::MAX)
    }

    /// How long, in milliseconds, a lost connection's session is kept for connection state recovery
    /// (`maxDisconnectionDuration`), or null when recovery is off: the facade keeps `socket.data` (which
    /// lives in JavaScript) that long for the socket that may come back.
    #[napi(getter)]
    pub fn max_disconnection_duration(&self) -> Option<f64> {
        self.server
            .config()
            .connection_state_recovery
            .map(|r| r.max_disconnection_duration.as_secs_f64() * 1000.0)
    }

    /// Installs the dispatcher: from now on Node stays alive until `close()`. It is called with one
    /// batch at a time (see `dispatch.rs`).
    #[napi]
    pub fn start(&self, dispatch: Function<'_, Batch, Unknown<'static>>) -> napi::Result<()> {
        if self.shared.closed.load(Ordering::Acquire) {
            return Err(server_closed());
        }
        let mut slot = self.shared.dispatcher.write();
        if slot.is_none() {
            let shared = Arc::downgrade(&self.shared);
            let tsfn = dispatch
                .build_threadsafe_function::<()>()
                .callee_handled::<false>()
                .build_callback(move |_| Ok(Batch::take(&shared)))?;
            *slot = Some(tsfn);
            self.server
                .on_upgrade(attach::upgrades(self.shared.clone()));
        }
        Ok(())
    }

    /// Binds `host:port` (port 0: the OS picks) and serves; resolves with the bound port.
    #[napi]
    pub async fn listen(&self, port: u32, host: String) -> napi::Result<u32> {
        let server = self.server.clone();
        let slot = self.handle.clone();
        let shared = self.shared.clone();
        runtime()
            .spawn(async move {
                if shared.closed.load(Ordering::Acquire) {
                    return Err(server_closed());
                }
                let port = u16::try_from(port)
                    .map_err(|_| coded_error("ERR_FERRIO_LISTEN", "port out of range"))?;
                let handle = server
                    .listen((host.as_str(), port))
                    .await
                    .map_err(|e| coded_error("ERR_FERRIO_LISTEN", format!("{host}:{port}: {e}")))?;
                let bound = handle.local_addr().port();
                let mut slot = slot.lock().await;
                if slot.is_some() {
                    return Err(coded_error(
                        "ERR_FERRIO_LISTEN",
                        "the server is already listening",
                    ));
                }
                *slot = Some(handle);
                Ok(u32::from(bound))
            })
            .await
            .map_err(|e| code_error(ErrorCode::Panic, e))?
    }

    /// Serves through the host's `http.Server` instead of a port of its own (`attach`): from now on
    /// `handleRequest` and `adopt` work.
    #[napi]
    pub fn attach(&self) -> napi::Result<()> {
        if self.shared.closed.load(Ordering::Acquire) {
            return Err(server_closed());
        }
        let mut slot = self.service.lock();
        if slot.is_none() {
            let service = self
                .server
                .http_service()
                .map_err(|e| coded_error("ERR_FERRIO_ATTACH", e))?;
            *slot = Some(service);
        }
        Ok(())
    }

    fn attached(&self) -> napi::Result<HttpService> {
        if self.shared.closed.load(Ordering::Acquire) {
            return Err(server_closed());
        }
        self.service
            .lock()
            .clone()
            .ok_or_else(|| coded_error("ERR_FERRIO_ATTACH", "the server is not attached"))
    }

    /// Answers one request the host's `http.Server` received under the engine path (polling, the client
    /// bundle, the official error answers). `headers` alternate names and values.
    #[napi]
    pub async fn handle_request(
        &self,
        method: String,
        url: String,
        headers: Vec<String>,
        body: Buffer,
        remote_address: String,
        remote_port: u32,
    ) -> napi::Result<HttpReply> {
        use http_body_util::BodyExt;
        let service = self.attached()?;
        let mut builder = http::Request::builder().method(method.as_str()).uri(url);
        for pair in headers.chunks_exact(2) {
            builder = builder.header(pair[0].as_str(), pair[1].as_str());
        }
        let body = http_body_util::Full::new(bytes::Bytes::copy_from_slice(&body));
        let request = builder
            .body(body)
            .map_err(|e| code_error(ErrorCode::InvalidArgument, e))?;
        let remote = std::net::SocketAddr::new(
            remote_address
                .parse()
                .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED.into()),
            u16::try_from(remote_port).unwrap_or(0),
        );
        runtime()
            .spawn(async move {
                let response = service.handle(request, remote).await;
                let (parts, body) = response.into_parts();
                let body = match body.collect().await {
                    Ok(collected) => collected.to_bytes(),
                    Err(never) => match never {},
                };
                let mut headers = Vec::with_capacity(parts.headers.len() * 2);
                for (name, value) in &parts.headers {
                    headers.push(name.as_str().to_owned());
                    headers.push(String::from_utf8_lossy(value.as_bytes()).into_owned());
                }
                HttpReply {
                    status: u32::from(parts.status.as_u16()),
                    headers,
                    body: body.to_vec().into(),
                }
            })
            .await
            .map_err(|e| code_error(ErrorCode::Panic, e))
    }

    /// Takes over a TCP connection the host's `http.Server` handed to its `upgrade` listeners: `fd` is
    /// the socket's descriptor (duplicated here, so the host then destroys its own handle), `method`,
    /// `url` and `headers` (alternating) the request it parsed, `head` what it read after the request.
    /// The WebSocket then runs entirely on ferrio's threads.
    #[napi]
    pub fn adopt(
        &self,
        fd: i32,
        method: String,
        url: String,
        headers: Vec<String>,
        head: Buffer,
    ) -> napi::Result<()> {
        let service = self.attached()?;
        let stream = adopt_fd(fd).map_err(|e| coded_error("ERR_FERRIO_ATTACH", e))?;
        let remote = stream
            .peer_addr()
            .map_err(|e| coded_error("ERR_FERRIO_ATTACH", e))?;
        let mut request = Vec::with_capacity(256 + head.len());
        request.extend_from_slice(format!("{method} {url} HTTP/1.1\r\n").as_bytes());
        for pair in headers.chunks_exact(2) {
            request.extend_from_slice(pair[0].as_bytes());
            request.extend_from_slice(b": ");
            request.extend_from_slice(pair[1].as_bytes());
            request.extend_from_slice(b"\r\n");
        }
        request.extend_from_slice(b"\r\n");
        request.extend_from_slice(&head);
        let _rt = runtime().enter();
        let stream = tokio::net::TcpStream::from_std(stream)
            .map_err(|e| coded_error("ERR_FERRIO_ATTACH", e))?;
        let _ = stream.set_nodelay(true);
        service.adopt(stream, request.into(), remote);
        Ok(())
    }

    /// Disconnects everybody ("server shutting down"), stops listening, waits at most `grace_ms` for
    /// connections to finish, then releases the dispatcher (once its queued items are delivered, Node
    /// may exit).
    #[napi]
    pub async fn close(&self, grace_ms: f64) -> napi::Result<()> {
        self.shared.closed.store(true, Ordering::Release);
        let server = self.server.clone();
        let slot = self.handle.clone();
        let shared = self.shared.clone();
        // Not an option of the server: a grace that is no duration is the default one.
        let grace = millis(Some(grace_ms), "grace")
            .ok()
            .flatten()
            .unwrap_or(Duration::from_secs(1));
        let service = self.service.lock().take();
        runtime()
            .spawn(async move {
                if let Some(service) = service {
                    service.close();
                }
                let handle = slot.lock().await.take();
                match handle {
                    Some(handle) => handle.shutdown(grace).await,
                    None => server.close(),
                }
                // Dropping the ThreadsafeFunction releases it; the batch already asked for is still
                // delivered. Then the verdicts JavaScript still owes are refused.
                shared.dispatcher.write().take();
                shared.refuse_pending();
            })
            .await
            .map_err(|e| code_error(ErrorCode::Panic, e))
    }

    /// Whether `close()` was called.
    #[napi(getter)]
    pub fn closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }

    /// Instruments the server for the admin UI (`io.instrument(opts)` in the facade).
    #[napi]
    pub fn instrument(&self, options: NativeAdminOptions) -> napi::Result<()> {
        use ferrio_admin::{AdminAuth, AdminMode, AdminOptions, Instrument};
        let auth = match (options.username, options.password_hash) {
            (Some(username), Some(hash)) => AdminAuth::basic(username, hash),
            _ => AdminAuth::Disabled,
        };
        let mut admin = AdminOptions::new(auth);
        admin.namespace = options.namespace;
        admin.read_only = options.read_only;
        admin.mode = options
            .mode
            .parse::<AdminMode>()
            .map_err(|e| coded_error("ERR_FERRIO_ADMIN", e))?;
        admin.server_id = options.server_id;
        // The admin UI's own option, as before: an interval that is no duration keeps the default.
        if let Some(interval) = millis(options.stats_interval_ms, "serverStatsInterval")
            .ok()
            .flatten()
        {
            admin.stats_interval = interval;
        }
        admin.ui_dir = options.ui_dir.map(Into::into);
        if let Some(path) = options.ui_path {
            admin.ui_path = path;
        }
        self.server
            .instrument(admin)
            .map_err(|e| coded_error("ERR_FERRIO_ADMIN", e))
    }

    /// How many Engine.IO connections are open.
    #[napi]
    pub fn connection_count(&self) -> u32 {
        self.server.connection_count() as u32
    }

    /// The namespace `name` (created if needed). Unless `dynamic_child`, its event and connection
    /// handlers are registered the first time (the children of a dynamic namespace share their parent's).
    #[napi]
    pub fn namespace(&self, name: String, dynamic_child: bool) -> NativeNamespace {
        let _rt = runtime().enter();
        let nsp = self.server.of(&name);
        if !dynamic_child && self.registered.lock().insert(nsp.name().to_owned()) {
            nsp.set_fallback_handler(attach::events(self.shared.clone()));
            nsp.on_connection(attach::connection(self.shared.clone(), -1, Watch::BOTH));
        }
        NativeNamespace::new(nsp, self.shared.clone())
    }

    /// Routes the connections of namespace `name` through the JavaScript middlewares (once).
    #[napi]
    pub fn use_middleware(&self, name: String) {
        let nsp = self.server.of(&name);
        if self.middlewares.lock().insert(nsp.name().to_owned()) {
            nsp.use_middleware(attach::middleware(self.shared.clone(), -1));
        }
    }

    /// Reports the room changes of namespace `name` to JavaScript (once).
    #[napi]
    pub fn watch_rooms(&self, name: String) {
        let nsp = self.server.of(&name);
        if self.room_watchers.lock().insert(nsp.name().to_owned()) {
            nsp.on_room_event(attach::room_events(
                self.shared.clone(),
                nsp.name().to_owned(),
            ));
        }
    }

    /// Declares dynamic namespace parent number `index`: names matching `regex` (Rust syntax), or, with no
    /// regex, every name, JavaScript deciding in the middleware (a function matcher).
    #[napi]
    pub fn of_dynamic(&self, regex: Option<String>, index: i32) -> napi::Result<()> {
        let parent = match &regex {
            Some(source) => {
                let regex = regex::Regex::new(source)
                    .map_err(|e| code_error(ErrorCode::InvalidArgument, e))?;
                self.server.of_regex(regex)
            }
            None => self.server.of_dynamic(|_, _| true),
        };
        let fallback_set = Arc::new(Once::new());
        let install = {
            let events = attach::events(self.shared.clone());
            let fallback_set = fallback_set.clone();
            move |socket: &ferrio::Socket| {
                fallback_set.call_once(|| socket.namespace().set_fallback_handler(events.clone()));
            }
        };
        {
            let install = install.clone();
            let connected = attach::connection(self.shared.clone(), index, Watch::BOTH);
            parent.on_connection(move |socket| {
                install(&socket);
                connected(socket);
            });
        }
        if regex.is_none() {
            self.add_dynamic_middleware(&parent, index, install);
        }
        self.parents.lock().push(parent);
        Ok(())
    }

    /// Routes the connections to the children of dynamic parent `index` through JavaScript middlewares.
    #[napi]
    pub fn use_dynamic_middleware(&self, index: i32) {
        let parents = self.parents.lock();
        if let Some(parent) = usize::try_from(index).ok().and_then(|i| parents.get(i)) {
            let events = attach::events(self.shared.clone());
            let install = move |socket: &ferrio::Socket| {
                socket.namespace().set_fallback_handler(events.clone());
            };
            self.add_dynamic_middleware(parent, index, install);
        }
    }

    /// Answers an acknowledgement a client asked for (nothing when it was already answered, or its socket
    /// is gone).
    #[napi]
    pub fn ack(&self, token: f64, json: String, buffers: Option<Vec<Buffer>>) -> napi::Result<()> {
        let Some(ack) = self.shared.acks.take(token as u64) else {
            return Ok(());
        };
        let payload = payload(json, buffers)?;
        let _rt = runtime().enter();
        emitted(ack.send(payload))
    }

    /// Answers a server-side event another server sent with an ack (its first argument is relayed).
    #[napi]
    pub fn server_side_ack(
        &self,
        token: f64,
        json: String,
        buffers: Option<Vec<Buffer>>,
    ) -> napi::Result<()> {
        let Some(ack) = self.shared.server_acks.take(token as u64) else {
            return Ok(());
        };
        let payload = payload(json, buffers)?;
        let _rt = runtime().enter();
        ack.send(payload);
        Ok(())
    }

    /// The middlewares' verdict about a connecting socket: accepted unless `message` is given.
    #[napi]
    pub fn verdict(&self, token: f64, message: Option<String>, data: Option<String>) {
        let verdict = match message {
            None => Ok(()),
            Some(message) => Err(ConnectError {
                message,
                data: data.and_then(|d| serde_json::from_str(&d).ok()),
            }),
        };
        if let Some(pending) = self.shared.verdicts.take(token as u64) {
            pending.answer(verdict);
        }
    }
}

impl NativeServer {
    fn add_dynamic_middleware(
        &self,
        parent: &DynamicNamespaceParent,
        index: i32,
        install: impl Fn(&ferrio::Socket) + Send + Sync + 'static,
    ) {
        if !self.middlewares.lock().insert(format!("\0parent{index}")) {
            return;
        }
        let ask = attach::middleware(self.shared.clone(), index);
        parent.use_middleware(move |socket| {
            // Installed before the socket can send anything: with middlewares, the connection handlers
            // run on another task than the one that reads the client's packets.
            install(&socket);
            ask(socket)
        });
    }
}

/// A private copy of a connected TCP socket's descriptor, non-blocking.
#[cfg(unix)]
fn adopt_fd(fd: i32) -> std::io::Result<std::net::TcpStream> {
    use std::os::fd::BorrowedFd;
    if fd < 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a file descriptor",
        ));
    }
    // SAFETY: the descriptor belongs to the live socket the host is handing over; it is only borrowed for
    // the duration of the dup, which gives ferrio its own descriptor for the same connection.
    let owned = unsafe { BorrowedFd::borrow_raw(fd) }.try_clone_to_owned()?;
    let stream = std::net::TcpStream::from(owned);
    // Not a connected socket (a pipe, a listener): refuse before serving anything on it.
    stream.peer_addr()?;
    stream.set_nonblocking(true)?;
    Ok(stream)
}

#[cfg(not(unix))]
fn adopt_fd(_fd: i32) -> std::io::Result<std::net::TcpStream> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "adopting connections needs a Unix platform",
    ))
}
