//! The Engine.IO v4 layer: sessions over HTTP long-polling and WebSocket, the upgrade between them, the
//! server heartbeat and the limits. It knows nothing of Socket.IO: it hands text and binary messages to an
//! [`EngineHandler`] and sends what it is given, as the `engine.io` package does in Node.
//!
//! Every session owns one bounded outgoing queue. Whatever transport is active drains it, so packets leave
//! in the order they were queued, also across a polling → WebSocket upgrade. A full queue is reported to
//! the sender ([`SendError::Full`]) instead of growing, and the sender decides (Socket.IO drops volatile
//! packets and disconnects the socket otherwise).

pub(crate) mod packet;
mod sid;

pub(crate) mod polling;
mod queue;
pub(crate) mod websocket;

use crate::error::{check_at_least, check_duration, CodedError, ConfigError, ErrorCode};
use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::Notify;
use tokio::time::{sleep_until, Instant};
use tokio_tungstenite::tungstenite::Utf8Bytes;
use tokio_util::sync::CancellationToken;

pub use sid::Sid;

/// The transports a client may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportKind {
    /// HTTP long-polling.
    Polling,
    /// WebSocket.
    WebSocket,
}

impl TransportKind {
    /// The name used on the wire (`transport=` query parameter).
    pub fn as_str(self) -> &'static str {
        match self {
            TransportKind::Polling => "polling",
            TransportKind::WebSocket => "websocket",
        }
    }
}

/// Who may connect from which origin (Cross-Origin Resource Sharing for the polling transport).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum CorsOrigins {
    /// No CORS headers at all (same-origin only), as socket.io's default.
    #[default]
    Disabled,
    /// Any origin; the request's origin is echoed back.
    Any,
    /// Only these exact origins, e.g. `https://example.com`.
    List(Vec<String>),
}

/// CORS settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Cors {
    /// Which origins are allowed.
    pub origins: CorsOrigins,
    /// Whether `Access-Control-Allow-Credentials: true` is sent.
    pub credentials: bool,
}

impl Cors {
    /// These origins, without credentials.
    pub fn new(origins: CorsOrigins) -> Cors {
        Cors {
            origins,
            credentials: false,
        }
    }

    /// Whether `Access-Control-Allow-Credentials: true` is sent.
    pub fn credentials(mut self, credentials: bool) -> Cors {
        self.credentials = credentials;
        self
    }
}

/// What a handshake request looked like; kept for the life of the session.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RequestInfo {
    /// The request headers.
    pub headers: http::HeaderMap,
    /// The request target (path and query).
    pub uri: http::Uri,
    /// The peer's address.
    pub remote_addr: SocketAddr,
    /// Whether the connection was over TLS (ferrio's own listener is plain TCP; a TLS-terminating proxy
    /// in front sets `X-Forwarded-Proto`).
    pub secure: bool,
    /// When the handshake happened.
    pub issued: SystemTime,
}

impl RequestInfo {
    /// One query parameter, percent-decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        query_pairs(self.uri.query().unwrap_or("")).find_map(|(k, v)| (k == name).then_some(v))
    }
}

/// Splits and percent-decodes a query string.
pub(crate) fn query_pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    query.split('&').filter(|p| !p.is_empty()).map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(k), percent_decode(v))
    })
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A hook deciding whether a handshake may proceed; `Err(message)` answers 403 with that message.
pub type AllowRequest = Arc<dyn Fn(&RequestInfo) -> Result<(), String> + Send + Sync>;

/// Engine.IO options. The defaults are socket.io's.
#[derive(Clone)]
#[non_exhaustive]
pub struct EngineConfig {
    /// The HTTP path the engine answers on (default `/socket.io/`).
    pub path: String,
    /// How often the server pings (default 25 s).
    pub ping_interval: Duration,
    /// How long the server waits for the pong before closing with "ping timeout" (default 20 s).
    pub ping_timeout: Duration,
    /// How long a started polling → WebSocket upgrade may take (default 10 s).
    pub upgrade_timeout: Duration,
    /// The largest accepted HTTP body or WebSocket message, in bytes (default 1e6, `maxHttpBufferSize`).
    pub max_payload: usize,
    /// Whether clients may use HTTP long-polling (default true).
    pub polling: bool,
    /// Whether clients may use WebSocket (default true).
    pub websocket: bool,
    /// Whether a polling session may upgrade to WebSocket (default true).
    pub allow_upgrades: bool,
    /// Packets (messages, pings) queued per session before [`SendError::Full`] (default 1024).
    pub max_queued_packets: usize,
    /// CORS for the polling transport (default: disabled, same origin only).
    pub cors: Cors,
    /// Optional handshake hook (socket.io's `allowRequest`).
    pub allow_request: Option<AllowRequest>,
    /// The most header lines one HTTP request may have (default 100); more is answered 431.
    pub max_headers: usize,
    /// The most bytes of request line and headers one HTTP request may have (default 32 KiB, at least
    /// 8 KiB); more is answered 431.
    pub max_header_bytes: usize,
    /// How long a client may take to send a request's headers (default 10 s): slow or half-open
    /// connections are closed after it.
    pub header_read_timeout: Duration,
    /// The most sessions open at once (default 100 000; 0 means no limit). A handshake beyond it, over
    /// polling or WebSocket, is answered 503 with `{"code":3,"message":"Too many connections"}`.
    pub max_connections: usize,
    /// The most sessions open at once from one peer IP address (default 0: no limit). Beyond it the
    /// handshake is answered 503 as for `max_connections`. Behind a proxy every client has the proxy's
    /// address, so leave it off there.
    pub max_connections_per_ip: usize,
    /// Compression of long-polling responses (engine.io's `httpCompression`; default on, from 1024
    /// bytes); `None` turns it off.
    pub http_compression: Option<HttpCompression>,
}

/// gzip/deflate of long-polling responses, as engine.io's `httpCompression`: a response of at least
/// `threshold` bytes is compressed when the request's `Accept-Encoding` takes gzip (preferred) or
/// deflate. WebSocket messages are not affected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpCompression {
    /// The smallest response compressed, in bytes (default 1024, engine.io's).
    pub threshold: usize,
}

impl Default for HttpCompression {
    fn default() -> Self {
        HttpCompression { threshold: 1024 }
    }
}

impl HttpCompression {
    /// engine.io's defaults.
    pub fn new() -> HttpCompression {
        HttpCompression::default()
    }

    /// Sets the smallest response compressed.
    pub fn threshold(mut self, bytes: usize) -> HttpCompression {
        self.threshold = bytes;
        self
    }
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            path: "/socket.io/".to_owned(),
            ping_interval: Duration::from_millis(25_000),
            ping_timeout: Duration::from_millis(20_000),
            upgrade_timeout: Duration::from_millis(10_000),
            max_payload: 1_000_000,
            polling: true,
            websocket: true,
            allow_upgrades: true,
            max_queued_packets: 1024,
            cors: Cors::default(),
            allow_request: None,
            max_headers: 100,
            max_header_bytes: 32 * 1024,
            header_read_timeout: Duration::from_secs(10),
            max_connections: 100_000,
            max_connections_per_ip: 0,
            http_compression: Some(HttpCompression::default()),
        }
    }
}

impl std::fmt::Debug for EngineConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineConfig")
            .field("path", &self.path)
            .field("ping_interval", &self.ping_interval)
            .field("ping_timeout", &self.ping_timeout)
            .field("upgrade_timeout", &self.upgrade_timeout)
            .field("max_payload", &self.max_payload)
            .field("polling", &self.polling)
            .field("websocket", &self.websocket)
            .field("allow_upgrades", &self.allow_upgrades)
            .field("max_queued_packets", &self.max_queued_packets)
            .field("cors", &self.cors)
            .field("allow_request", &self.allow_request.is_some())
            .field("max_headers", &self.max_headers)
            .field("max_header_bytes", &self.max_header_bytes)
            .field("header_read_timeout", &self.header_read_timeout)
            .field("max_connections", &self.max_connections)
            .field("max_connections_per_ip", &self.max_connections_per_ip)
            .field("http_compression", &self.http_compression)
            .finish()
    }
}

impl EngineConfig {
    /// Checks every option (what [`ServerBuilder::build`](crate::ServerBuilder::build) does for a
    /// server): durations of 1 ms to about 12 days, counts within their ranges, a path and CORS origins
    /// of the right shape, at least one transport. [`Engine::new`] takes a configuration as it is: check
    /// a hand-made one with this first.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_path(&self.path)?;
        check_duration("ping_interval", self.ping_interval)?;
        check_duration("ping_timeout", self.ping_timeout)?;
        check_duration("upgrade_timeout", self.upgrade_timeout)?;
        check_at_least("max_payload", self.max_payload, 1)?;
        if !self.polling && !self.websocket {
            return Err(ConfigError::new(
                "transports",
                "must allow polling, websocket or both",
            ));
        }
        check_at_least("max_queued_packets", self.max_queued_packets, 1)?;
        check_at_least("max_headers", self.max_headers, 1)?;
        // hyper's smallest read buffer: less could not hold an ordinary request's headers.
        check_at_least("max_header_bytes", self.max_header_bytes, MIN_HEADER_BYTES)?;
        check_duration("header_read_timeout", self.header_read_timeout)?;
        if let CorsOrigins::List(origins) = &self.cors.origins {
            for origin in origins {
                check_origin(origin)?;
            }
        }
        Ok(())
    }

    pub(crate) fn allows(&self, transport: TransportKind) -> bool {
        match transport {
            TransportKind::Polling => self.polling,
            TransportKind::WebSocket => self.websocket,
        }
    }
}

/// The least `max_header_bytes` may be (8 KiB, hyper's smallest read buffer).
pub(crate) const MIN_HEADER_BYTES: usize = 8 * 1024;

/// The engine path: an absolute URL path ending with `/` (the builder adds both slashes), with no query,
/// fragment, space or control character.
fn check_path(path: &str) -> Result<(), ConfigError> {
    if !path.starts_with('/') || !path.ends_with('/') {
        return Err(ConfigError::new(
            "path",
            format!("must start and end with \"/\" (got {path:?})"),
        ));
    }
    let plain = path.parse::<http::uri::PathAndQuery>().is_ok()
        && !path.contains(['?', '#'])
        && !path.chars().any(|c| c.is_whitespace() || c.is_control());
    if !plain {
        return Err(ConfigError::new(
            "path",
            format!("must be a URL path without query, fragment, spaces or control characters (got {path:?})"),
        ));
    }
    Ok(())
}

/// An allowed CORS origin, compared as is with a browser's `Origin` header: `scheme://host[:port]` with
/// no path (not even a final `/`, which no browser sends), or `null` (opaque origins such as `file:`).
fn check_origin(origin: &str) -> Result<(), ConfigError> {
    if origin == "null" {
        return Ok(());
    }
    let shaped = origin.split_once("://").is_some_and(|(scheme, rest)| {
        !scheme.is_empty() && !rest.is_empty() && !rest.contains(['/', '?', '#'])
    }) && origin
        .parse::<http::Uri>()
        .is_ok_and(|uri| uri.scheme().is_some() && uri.authority().is_some());
    if !shaped {
        let hint = if origin == "*" {
            " (any origin is CorsOrigins::Any)"
        } else {
            ""
        };
        return Err(ConfigError::new(
            "cors",
            format!("origin {origin:?} is not an origin like \"https://example.com\" (scheme://host[:port], no path){hint}"),
        ));
    }
    Ok(())
}

/// Why a session ended. The strings are the reasons socket.io reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// The client closed the connection, or sent a close packet.
    TransportClose,
    /// The connection failed (I/O error, overlapping polling requests, oversized message).
    TransportError,
    /// No pong within `ping_timeout`.
    PingTimeout,
    /// The client sent something that is not Engine.IO or Socket.IO.
    ParseError,
    /// The server closed the session.
    ForcedClose,
    /// The session joined no namespace within the connect timeout.
    ForcedServerClose,
    /// The server is shutting down.
    ServerShuttingDown,
    /// The client did not read fast enough: its bounded outgoing queue filled up.
    SendBufferFull,
    /// The client sent events faster than the configured rate limit allows.
    RateLimitExceeded,
}

impl CloseReason {
    /// The reason as socket.io spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::TransportClose => "transport close",
            CloseReason::TransportError => "transport error",
            CloseReason::PingTimeout => "ping timeout",
            CloseReason::ParseError => "parse error",
            CloseReason::ForcedClose => "forced close",
            CloseReason::ForcedServerClose => "forced server close",
            CloseReason::ServerShuttingDown => "server shutting down",
            CloseReason::SendBufferFull => "send buffer full",
            CloseReason::RateLimitExceeded => "rate limit exceeded",
        }
    }

    /// Whether a polling session closed for this reason still waits for the client's next GET, which
    /// collects the last packets and the close packet (the server ended it on purpose and has something
    /// to say). Any other end removes the session at once, as engine.io forgets a closed socket.
    pub(crate) fn awaits_final_poll(self) -> bool {
        matches!(
            self,
            CloseReason::ForcedClose
                | CloseReason::ForcedServerClose
                | CloseReason::RateLimitExceeded
        )
    }
}

impl std::fmt::Display for CloseReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A message received from a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message<'a> {
    /// A text message (the data of a `4` packet).
    Text(&'a str),
    /// A binary message.
    Binary(Bytes),
}

/// The error codes of the official Engine.IO server, answered as `{"code":N,"message":"..."}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EngineErrorCode {
    /// 0: the transport is unknown or disabled.
    UnknownTransport = 0,
    /// 1: no session with this id.
    UnknownSid = 1,
    /// 2: a handshake must be a GET.
    BadHandshakeMethod = 2,
    /// 3: anything else malformed.
    BadRequest = 3,
    /// 4: refused by the `allow_request` hook (HTTP 403).
    Forbidden = 4,
    /// 5: the `EIO` query parameter is not 4.
    UnsupportedProtocolVersion = 5,
}

impl EngineErrorCode {
    /// The message the official server sends with the code.
    pub fn message(self) -> &'static str {
        match self {
            EngineErrorCode::UnknownTransport => "Transport unknown",
            EngineErrorCode::UnknownSid => "Session ID unknown",
            EngineErrorCode::BadHandshakeMethod => "Bad handshake method",
            EngineErrorCode::BadRequest => "Bad request",
            EngineErrorCode::Forbidden => "Forbidden",
            EngineErrorCode::UnsupportedProtocolVersion => "Unsupported protocol version",
        }
    }
}

/// Why a message could not be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The session's outgoing queue is full: the client is not reading fast enough.
    #[error("the session's outgoing queue is full")]
    Full,
    /// The session is closed.
    #[error("the session is closed")]
    Closed,
}

impl CodedError for SendError {
    fn code(&self) -> ErrorCode {
        match self {
            SendError::Full => ErrorCode::QueueFull,
            SendError::Closed => ErrorCode::SocketClosed,
        }
    }
}

/// Receives what happens on the sessions of an [`Engine`].
///
/// Calls for one session come in wire order, from the task that reads its transport; they must not
/// block (queue work elsewhere if it is slow).
pub trait EngineHandler: Send + Sync + 'static {
    /// Per-session state owned by the handler (Socket.IO keeps its sockets of the connection there).
    type Data: Default + Send + Sync + 'static;
    /// A session was opened (the open packet is already queued).
    fn on_open(&self, session: &Arc<Session<Self>>);
    /// A message arrived.
    fn on_message(&self, session: &Arc<Session<Self>>, message: Message<'_>);
    /// The session ended; called once.
    fn on_close(&self, session: &Arc<Session<Self>>, reason: CloseReason);
    /// The session moved from polling to WebSocket.
    fn on_upgrade(&self, _session: &Arc<Session<Self>>) {}
}

/// One frame of the wire: a whole Engine.IO text packet (type digit included) or a binary message.
#[derive(Debug, Clone)]
pub(crate) enum Frame {
    Text(Utf8Bytes),
    Binary(Bytes),
}

/// One entry of a session's outgoing queue: frames that must leave together, in order, never interleaved
/// with another entry (a Socket.IO packet and its binary attachments).
#[derive(Debug, Clone)]
pub(crate) enum Outgoing {
    One(Frame),
    Many(Arc<[Frame]>),
}

impl Frame {
    fn len(&self) -> usize {
        match self {
            Frame::Text(text) => text.len(),
            Frame::Binary(data) => data.len(),
        }
    }
}

impl Outgoing {
    /// How many frames and how many payload bytes the entry holds.
    pub(crate) fn size(&self) -> (usize, usize) {
        match self {
            Outgoing::One(frame) => (1, frame.len()),
            Outgoing::Many(frames) => (frames.len(), frames.iter().map(Frame::len).sum()),
        }
    }
}

/// Polling; no WebSocket is trying to take over.
const TRANSPORT_POLLING: u8 = 0;
/// Polling; a WebSocket claimed the upgrade and has not probed yet.
const TRANSPORT_PROBING: u8 = 1;
/// Polling; the probe was answered and the pending GET released. Waiting for the client's `5`.
const TRANSPORT_UPGRADING: u8 = 2;
/// WebSocket: opened so, or the client sent `5`. Polling requests are refused from here on.
const TRANSPORT_WEBSOCKET: u8 = 3;

/// How long a polling session closed by the server waits at most for the client's GET that collects the
/// close packet (engine.io's polling `closeTimeout`); its heartbeat usually ends it sooner.
const POLLING_CLOSE_TIMEOUT: Duration = Duration::from_secs(30);

/// One Engine.IO session (a client connection, whichever transport carries it).
pub struct Session<H: EngineHandler + ?Sized> {
    sid: Sid,
    request: RequestInfo,
    transport: AtomicU8,
    queue: queue::OutQueue,
    /// The consumer's batch buffer, held by whichever transport drains the queue: a pending polling GET,
    /// or the WebSocket task. Holding it is what makes a transport the consumer.
    consumer: tokio::sync::Mutex<VecDeque<Outgoing>>,
    /// Held while a polling POST is read, so overlapping POSTs are detected.
    post_lock: tokio::sync::Mutex<()>,
    cancel: CancellationToken,
    closed: AtomicBool,
    close_reason: Mutex<Option<CloseReason>>,
    /// A pong arrived (wakes the heartbeat task of polling sessions).
    pong: Notify,
    /// The upgrade probe succeeded: a pending polling GET must return a noop.
    upgrade_started: Notify,
    /// The last polling response (with the close packet) was written.
    final_flush: Notify,
    /// The handler's per-session state.
    pub data: H::Data,
}

impl<H: EngineHandler> std::fmt::Debug for Session<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("sid", &self.sid)
            .field("transport", &self.transport())
            .finish_non_exhaustive()
    }
}

impl<H: EngineHandler> Session<H> {
    fn new(request: RequestInfo, transport: TransportKind, queue: usize) -> Session<H> {
        Session {
            sid: Sid::generate(),
            request,
            transport: AtomicU8::new(match transport {
                TransportKind::Polling => TRANSPORT_POLLING,
                TransportKind::WebSocket => TRANSPORT_WEBSOCKET,
            }),
            queue: queue::OutQueue::new(queue),
            consumer: tokio::sync::Mutex::new(VecDeque::new()),
            post_lock: tokio::sync::Mutex::new(()),
            cancel: CancellationToken::new(),
            closed: AtomicBool::new(false),
            close_reason: Mutex::new(None),
            pong: Notify::new(),
            upgrade_started: Notify::new(),
            final_flush: Notify::new(),
            data: H::Data::default(),
        }
    }

    /// The session id.
    pub fn sid(&self) -> Sid {
        self.sid
    }

    /// The handshake request.
    pub fn request(&self) -> &RequestInfo {
        &self.request
    }

    /// The transport currently carrying the session (polling until an upgrade completes).
    pub fn transport(&self) -> TransportKind {
        match self.transport.load(Ordering::Acquire) {
            TRANSPORT_WEBSOCKET => TransportKind::WebSocket,
            _ => TransportKind::Polling,
        }
    }

    fn set_transport(&self, state: u8) {
        self.transport.store(state, Ordering::Release);
    }

    /// Claims the upgrade for one WebSocket: only a polling session that no other WebSocket is
    /// upgrading can be claimed. The claim is given back when dropped unless the upgrade completed.
    pub(crate) fn claim_upgrade(self: &Arc<Self>) -> Option<websocket::UpgradeClaim<H>> {
        self.transport
            .compare_exchange(
                TRANSPORT_POLLING,
                TRANSPORT_PROBING,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .ok()
            .map(|_| websocket::UpgradeClaim::new(self.clone()))
    }

    /// Back to plain polling after an upgrade that did not complete (an upgraded session stays so).
    fn release_upgrade(&self) {
        for from in [TRANSPORT_PROBING, TRANSPORT_UPGRADING] {
            let _ = self.transport.compare_exchange(
                from,
                TRANSPORT_POLLING,
                Ordering::AcqRel,
                Ordering::Acquire,
            );
        }
    }

    /// Whether requests may still reach the session: an open one, or a polling one the server closed
    /// and whose last packets the client has yet to collect. engine.io forgets any other closed session
    /// at once, so its id is unknown from then on.
    pub(crate) fn reachable(&self) -> bool {
        !self.is_closed()
            || (self.reason().awaits_final_poll() && self.transport() == TransportKind::Polling)
    }

    /// Whether the client ended the session itself (its close packet).
    fn closed_by_client(&self) -> bool {
        self.is_closed() && self.reason() == CloseReason::TransportClose
    }

    /// Queues a text message (sent as a `4` packet).
    pub fn send_text(&self, text: &str) -> Result<(), SendError> {
        let mut packet = String::with_capacity(text.len() + 1);
        packet.push('4');
        packet.push_str(text);
        self.push(Outgoing::One(Frame::Text(packet.into())))
    }

    /// Queues a binary message.
    pub fn send_binary(&self, data: Bytes) -> Result<(), SendError> {
        self.push(Outgoing::One(Frame::Binary(data)))
    }

    /// How many entries the outgoing queue holds at most.
    pub(crate) fn queue_capacity(&self) -> usize {
        self.queue.capacity()
    }

    pub(crate) fn push(&self, item: Outgoing) -> Result<(), SendError> {
        if self.is_closed() {
            return Err(SendError::Closed);
        }
        self.queue.push(item)
    }

    /// Whether the session has been closed.
    pub fn is_closed(&self) -> bool {
        // An atomic load: the token's own `is_cancelled` takes a mutex, too slow for every emit.
        self.closed.load(Ordering::Acquire)
    }

    /// Closes the session: what is already queued is still flushed to the client, then the transport
    /// closes and [`EngineHandler::on_close`] runs with `reason`. Later calls do nothing.
    pub fn close(&self, reason: CloseReason) {
        {
            let mut slot = self.close_reason.lock();
            if slot.is_some() {
                return;
            }
            *slot = Some(reason);
        }
        self.closed.store(true, Ordering::Release);
        // The queue's consumer (the WebSocket task or a pending GET) watches the queue, not the token.
        self.queue.wake_consumer();
        self.cancel.cancel();
    }

    fn reason(&self) -> CloseReason {
        self.close_reason
            .lock()
            .unwrap_or(CloseReason::TransportClose)
    }
}

/// Why a handshake was refused by the connection limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// `max_connections` sessions are open.
    Total,
    /// `max_connections_per_ip` sessions are open from the peer's address.
    PerIp,
}

impl Refused {
    pub(crate) fn message(self) -> &'static str {
        match self {
            Refused::Total => "Too many connections",
            Refused::PerIp => "Too many connections from this address",
        }
    }
}

/// Counts the sessions open (or being opened) in total and per peer address, for `max_connections` and
/// `max_connections_per_ip`. Touched once per handshake and once per close, never per message; the
/// per-address map is only used when that limit is on.
pub(crate) struct Admission {
    total: AtomicUsize,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
    max_total: usize,
    max_per_ip: usize,
}

impl Admission {
    fn new(config: &EngineConfig) -> Admission {
        Admission {
            total: AtomicUsize::new(0),
            per_ip: Mutex::new(HashMap::new()),
            max_total: config.max_connections,
            max_per_ip: config.max_connections_per_ip,
        }
    }

    /// Takes a place for a new session from `ip`, or says which limit refuses it.
    fn admit(&self, ip: IpAddr) -> Result<(), Refused> {
        let before = self.total.fetch_add(1, Ordering::AcqRel);
        if self.max_total > 0 && before >= self.max_total {
            self.total.fetch_sub(1, Ordering::AcqRel);
            return Err(Refused::Total);
        }
        if self.max_per_ip > 0 {
            let mut per_ip = self.per_ip.lock();
            let count = per_ip.entry(ip).or_insert(0);
            if *count >= self.max_per_ip {
                drop(per_ip);
                self.total.fetch_sub(1, Ordering::AcqRel);
                return Err(Refused::PerIp);
            }
            *count += 1;
        }
        Ok(())
    }

    /// Gives back the place of a session from `ip`.
    fn release(&self, ip: IpAddr) {
        self.total.fetch_sub(1, Ordering::AcqRel);
        if self.max_per_ip > 0 {
            let mut per_ip = self.per_ip.lock();
            if let std::collections::hash_map::Entry::Occupied(mut entry) = per_ip.entry(ip) {
                *entry.get_mut() -= 1;
                if *entry.get() == 0 {
                    entry.remove();
                }
            }
        }
    }
}

/// An admitted handshake's place in the connection counts. Given back when dropped unless a session took
/// it over (the session gives it back when it ends), so a WebSocket upgrade that fails before its session
/// opens does not leak a place.
pub(crate) struct Slot {
    admission: Arc<Admission>,
    ip: IpAddr,
    armed: bool,
}

impl Slot {
    /// The session owns the place from now on.
    fn commit(mut self) {
        self.armed = false;
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if self.armed {
            self.admission.release(self.ip);
        }
    }
}

/// An Engine.IO server: the session table and the handler. The HTTP front (`ferrio::http`) serves it,
/// alone or beside other engines; a Socket.IO server owns one.
pub struct Engine<H: EngineHandler> {
    pub(crate) config: EngineConfig,
    pub(crate) handler: H,
    sessions: RwLock<HashMap<Sid, Arc<Session<H>>>>,
    admission: Arc<Admission>,
    /// Tracks the sessions' tasks so shutdown can wait for them.
    pub(crate) tasks: tokio_util::task::TaskTracker,
    /// Cancelled when the engine stops: closed polling sessions stop waiting for their clients' last GET.
    pub(crate) stopping: CancellationToken,
}

impl<H: EngineHandler> std::fmt::Debug for Engine<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.config)
            .field("sessions", &self.sessions.read().len())
            .finish()
    }
}

impl<H: EngineHandler> Engine<H> {
    /// An engine with these options, handing events to `handler`; options out of range are refused
    /// ([`EngineConfig::validate`]).
    pub fn new(config: EngineConfig, handler: H) -> Result<Arc<Engine<H>>, ConfigError> {
        config.validate()?;
        Ok(Engine::with_valid_config(config, handler))
    }

    /// [`Engine::new`] for a caller that validated `config` already (the Socket.IO server, whose own
    /// validation covers the engine's options).
    pub(crate) fn with_valid_config(config: EngineConfig, handler: H) -> Arc<Engine<H>> {
        Arc::new(Engine {
            admission: Arc::new(Admission::new(&config)),
            config,
            handler,
            sessions: RwLock::new(HashMap::new()),
            tasks: tokio_util::task::TaskTracker::new(),
            stopping: CancellationToken::new(),
        })
    }

    /// The options.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The handler.
    pub fn handler(&self) -> &H {
        &self.handler
    }

    /// A live session by id.
    pub fn session(&self, sid: &Sid) -> Option<Arc<Session<H>>> {
        self.sessions.read().get(sid).cloned()
    }

    /// How many sessions are open.
    pub fn session_count(&self) -> usize {
        self.sessions.read().len()
    }

    /// Takes a place for a new session from `ip` under `max_connections` and `max_connections_per_ip`.
    pub(crate) fn admit(&self, ip: IpAddr) -> Result<Slot, Refused> {
        self.admission.admit(ip)?;
        Ok(Slot {
            admission: self.admission.clone(),
            ip,
            armed: true,
        })
    }

    /// How many open sessions satisfy `pred`.
    pub fn count_sessions(&self, pred: impl Fn(&Session<H>) -> bool) -> usize {
        self.sessions.read().values().filter(|s| pred(s)).count()
    }

    /// Closes every session with `reason`.
    pub fn close_all(&self, reason: CloseReason) {
        let sessions: Vec<_> = self.sessions.read().values().cloned().collect();
        for session in sessions {
            session.close(reason);
        }
    }

    /// The open packet for a new session.
    fn open_packet(&self, session: &Session<H>, transport: TransportKind) -> String {
        let upgrades: &[&str] = if transport == TransportKind::Polling
            && self.config.websocket
            && self.config.allow_upgrades
        {
            &["websocket"]
        } else {
            &[]
        };
        format!(
            "0{}",
            serde_json::json!({
                "sid": session.sid.as_str(),
                "upgrades": upgrades,
                "pingInterval": self.config.ping_interval.as_millis() as u64,
                "pingTimeout": self.config.ping_timeout.as_millis() as u64,
                "maxPayload": self.config.max_payload,
            })
        )
    }

    /// Creates and registers a session; the open packet is queued first.
    fn open_session(
        self: &Arc<Self>,
        request: RequestInfo,
        transport: TransportKind,
        slot: Slot,
    ) -> Arc<Session<H>> {
        debug_assert_eq!(slot.ip, request.remote_addr.ip());
        slot.commit();
        // One slot more than configured so the open packet never counts against the user's budget.
        let session = Arc::new(Session::new(
            request,
            transport,
            self.config.max_queued_packets + 1,
        ));
        let open = self.open_packet(&session, transport);
        // A fresh queue has room.
        let _ = session.push(Outgoing::One(Frame::Text(open.into())));
        self.sessions.write().insert(session.sid, session.clone());
        tracing::debug!(sid = %session.sid, transport = transport.as_str(), "session opened");
        self.handler.on_open(&session);
        session
    }

    /// Delivers one decoded packet from a client, in order. Returns false when the session must stop
    /// reading (it was closed).
    fn on_packet(&self, session: &Arc<Session<H>>, packet: packet::Packet<'_>) -> bool {
        use packet::Packet;
        match packet {
            Packet::Message(text) => self.handler.on_message(session, Message::Text(text)),
            Packet::Binary(data) => self.handler.on_message(session, Message::Binary(data)),
            Packet::Pong(_) => session.pong.notify_one(),
            Packet::Close => {
                session.close(CloseReason::TransportClose);
                return false;
            }
            Packet::Noop => {}
            Packet::Open | Packet::Ping(_) | Packet::Upgrade => {
                tracing::debug!(sid = %session.sid, "unexpected packet from the client");
                session.close(CloseReason::ParseError);
                return false;
            }
        }
        !session.is_closed()
    }

    /// Removes a closed session and tells the handler; called once by the task that owns the session.
    fn finish(&self, session: &Arc<Session<H>>) {
        let reason = session.reason();
        // The place first: once a session is gone from the table, its place is free.
        self.admission.release(session.request.remote_addr.ip());
        self.sessions.write().remove(&session.sid);
        tracing::debug!(sid = %session.sid, %reason, "session closed");
        self.handler.on_close(session, reason);
    }

    /// The polling heartbeat: runs for a session that started on polling (also after it upgrades), and
    /// owns its end.
    async fn polling_heartbeat(self: Arc<Self>, session: Arc<Session<H>>) {
        let ping = Outgoing::One(Frame::Text(Utf8Bytes::from_static("2")));
        let config = &self.config;
        // When the session times out unless a pong comes first. A close does not move it: engine.io keeps
        // its heartbeat running while a closed polling session waits for the client's last GET, so a
        // client that stopped polling ends at its ping timeout either way.
        let mut expires;
        loop {
            let next_ping = Instant::now() + config.ping_interval;
            expires = next_ping + config.ping_timeout;
            tokio::select! {
                _ = session.cancel.cancelled() => break,
                _ = sleep_until(next_ping) => {}
            }
            if session.push(ping.clone()).is_err() {
                break;
            }
            expires = Instant::now() + config.ping_timeout;
            tokio::select! {
                _ = session.cancel.cancelled() => break,
                _ = session.pong.notified() => {}
                _ = sleep_until(expires) => {
                    session.close(CloseReason::PingTimeout);
                    break;
                }
            }
        }
        // Whatever stopped the loop, the session is closed from here on.
        session.close(CloseReason::TransportClose);
        if session.reason().awaits_final_poll() && session.transport() == TransportKind::Polling {
            // Let the client's next GET collect the last packets and the close packet.
            let wait = expires.min(Instant::now() + POLLING_CLOSE_TIMEOUT);
            tokio::select! {
                _ = session.final_flush.notified() => {}
                _ = sleep_until(wait) => {}
                _ = self.stopping.cancelled() => {}
            }
        }
        self.finish(&session);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_are_percent_decoded() {
        let pairs: Vec<_> = query_pairs("EIO=4&transport=polling&x=a%20b+c&y=%zz&z").collect();
        assert_eq!(
            pairs,
            vec![
                ("EIO".into(), "4".into()),
                ("transport".into(), "polling".into()),
                ("x".into(), "a b c".into()),
                ("y".into(), "%zz".into()),
                ("z".into(), "".into()),
            ]
        );
    }
}
