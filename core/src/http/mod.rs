//! The HTTP front: routes requests under the engine path to Engine.IO (polling, WebSocket upgrades, the
//! official error answers), serves the browser client bundle and an optional static directory, applies
//! CORS, and runs the listener with graceful shutdown.
//!
//! It sits on top of [`crate::engineio`] and serves any [`EngineHandler`]: a Socket.IO server's, or a bare
//! Engine.IO one's, alone or several on one port (each [`HttpService`] answers its own engine path). The
//! engine decides what to answer; this layer owns everything HTTP — hyper, request parsing, bodies,
//! upgrades, status codes and headers.

mod compression;
mod files;
mod service;

pub use crate::engineio::EngineErrorCode;
pub use files::{ClientBundle, StaticDir};
pub use service::HttpService;

use crate::engineio::polling::{self, PostBody, Reply};
use crate::engineio::{websocket, CorsOrigins, Engine, EngineHandler, RequestInfo};
use crate::engineio::{CloseReason, Sid, TransportKind};
use crate::mounts::Mounts;
use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The response type of every route.
pub type Response = http::Response<Full<Bytes>>;

/// An Engine.IO error answer: HTTP 400 (403 for `Forbidden`) with the official JSON body.
pub(crate) fn engine_error(code: EngineErrorCode) -> Response {
    engine_error_with(code, code.message())
}

fn engine_error_with(code: EngineErrorCode, message: &str) -> Response {
    let status = if code == EngineErrorCode::Forbidden {
        StatusCode::FORBIDDEN
    } else {
        StatusCode::BAD_REQUEST
    };
    engine_error_status(status, code, message)
}

/// A handshake refused by `max_connections` or `max_connections_per_ip`: 503, with the official body's
/// shape (code 3, "Bad request" family) and a message saying which limit.
fn refused(reason: crate::engineio::Refused) -> Response {
    let mut response = engine_error_status(
        StatusCode::SERVICE_UNAVAILABLE,
        EngineErrorCode::BadRequest,
        reason.message(),
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

fn engine_error_status(status: StatusCode, code: EngineErrorCode, message: &str) -> Response {
    let body = serde_json::json!({ "code": code as u8, "message": message }).to_string();
    let mut response = http::Response::new(Full::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn plain(status: StatusCode, body: &'static str) -> Response {
    let mut response = http::Response::new(Full::from(body));
    *response.status_mut() = status;
    response
}

/// Everything the HTTP front needs.
pub(crate) struct HttpState<H: EngineHandler> {
    pub(crate) engine: Arc<Engine<H>>,
    pub(crate) client: Option<ClientBundle>,
    pub(crate) static_dir: Option<StaticDir>,
    pub(crate) mounts: Mounts,
}

impl<H: EngineHandler> HttpState<H> {
    /// The engine's path only: no client bundle, no static files.
    pub(crate) fn bare(engine: Arc<Engine<H>>) -> HttpState<H> {
        HttpState {
            engine,
            client: None,
            static_dir: None,
            mounts: Mounts::default(),
        }
    }
}

/// Writes the engine's answer to a polling request.
fn reply(reply: Reply) -> Response {
    reply_coded(reply, None)
}

/// Writes the engine's answer to a polling request, its payload compressed with `coding` when it has at
/// least the given number of bytes (`httpCompression`).
fn reply_coded(reply: Reply, coding: Option<(compression::Coding, usize)>) -> Response {
    let (content_type, body) = match reply {
        Reply::Payload(payload) => match coding {
            Some((coding, threshold)) if payload.len() >= threshold => {
                let body = compression::compress(coding, payload.as_bytes());
                let mut response = http::Response::new(Full::new(Bytes::from(body)));
                let headers = response.headers_mut();
                headers.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; charset=UTF-8"),
                );
                headers.insert(
                    header::CONTENT_ENCODING,
                    HeaderValue::from_static(coding.name()),
                );
                headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                return response;
            }
            _ => ("text/plain; charset=UTF-8", Bytes::from(payload)),
        },
        Reply::Ok => ("text/html", Bytes::from_static(b"ok")),
        Reply::Error(code) => return engine_error(code),
        Reply::PayloadTooLarge => {
            let mut response = http::Response::new(Full::new(Bytes::from_static(
                b"{\"code\":3,\"message\":\"Payload too large\"}",
            )));
            *response.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            return response;
        }
    };
    let mut response = http::Response::new(Full::new(body));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Reads a polling POST's body: at most `max_payload` bytes (a larger declared length is refused before
/// reading anything), and no longer than the headers may take, so a slow sender cannot hold the session.
async fn read_post_body<B>(body: B, max_payload: usize, timeout: Duration) -> PostBody
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    if body.size_hint().lower() > max_payload as u64 {
        return PostBody::TooLarge;
    }
    let collected = tokio::time::timeout(
        timeout,
        http_body_util::Limited::new(body, max_payload).collect(),
    );
    match collected.await {
        Ok(Ok(collected)) => PostBody::Read(collected.to_bytes()),
        Ok(Err(error)) if error.is::<http_body_util::LengthLimitError>() => PostBody::TooLarge,
        Ok(Err(_)) => PostBody::Failed,
        Err(_elapsed) => PostBody::TooSlow,
    }
}

fn is_websocket_upgrade<B>(req: &Request<B>) -> bool {
    let has_token = |name: header::HeaderName, token: &str| {
        req.headers().get_all(name).iter().any(|v| {
            v.to_str()
                .map(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
                .unwrap_or(false)
        })
    };
    req.method() == Method::GET
        && has_token(header::CONNECTION, "upgrade")
        && has_token(header::UPGRADE, "websocket")
}

fn request_info<B>(req: &Request<B>, remote_addr: SocketAddr) -> RequestInfo {
    let secure = req
        .headers()
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"));
    // Copies, not clones: hyper's header values and URI are slices of the connection's 8 KiB read buffer,
    // and a clone kept for the session's life would keep that whole buffer alive with it.
    let mut headers = http::HeaderMap::with_capacity(req.headers().len());
    for (name, value) in req.headers() {
        if let Ok(value) = HeaderValue::from_bytes(value.as_bytes()) {
            headers.append(name.clone(), value);
        }
    }
    let uri = req
        .uri()
        .to_string()
        .parse()
        .unwrap_or_else(|_| req.uri().clone());
    RequestInfo {
        headers,
        uri,
        remote_addr,
        secure,
        issued: SystemTime::now(),
    }
}

/// Adds the CORS headers to an engine response.
fn apply_cors<H: EngineHandler>(
    engine: &Engine<H>,
    origin: Option<&HeaderValue>,
    response: &mut Response,
) {
    let cors = &engine.config.cors;
    let allowed = match (&cors.origins, origin) {
        (CorsOrigins::Disabled, _) | (_, None) => None,
        (CorsOrigins::Any, Some(origin)) => Some(origin.clone()),
        (CorsOrigins::List(list), Some(origin)) => origin
            .to_str()
            .ok()
            .filter(|o| list.iter().any(|allowed| allowed == o))
            .map(|_| origin.clone()),
    };
    let headers = response.headers_mut();
    if cors.origins != CorsOrigins::Disabled {
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
    }
    if let Some(origin) = allowed {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        if cors.credentials {
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
    }
}

/// Answers one HTTP request.
pub(crate) async fn handle<H: EngineHandler, B>(
    state: Arc<HttpState<H>>,
    req: Request<B>,
    remote_addr: SocketAddr,
) -> Result<Response, Infallible>
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let engine_path = state.engine.config.path.as_str();
    let path = req.uri().path();
    let trimmed = engine_path.trim_end_matches('/');
    if path == engine_path || path == trimmed {
        let origin = req.headers().get(header::ORIGIN).cloned();
        let preflight = req.method() == Method::OPTIONS
            && state.engine.config.cors.origins != CorsOrigins::Disabled;
        let mut response = if preflight {
            preflight_response(&req)
        } else {
            engine_request(&state.engine, req, remote_addr).await
        };
        if response.status() != StatusCode::SWITCHING_PROTOCOLS {
            apply_cors(&state.engine, origin.as_ref(), &mut response);
        }
        return Ok(response);
    }
    if let Some(file) = path.strip_prefix(engine_path) {
        if let Some(client) = &state.client {
            if let Some(response) = client.serve(file, &req) {
                return Ok(response);
            }
        }
        return Ok(engine_error(EngineErrorCode::BadRequest));
    }
    match state.mounts.find(path) {
        Some(Ok((dir, rest))) => {
            if let Some(response) = StaticDir::new(dir).serve(&rest, req.method()).await {
                return Ok(response);
            }
            return Ok(plain(StatusCode::NOT_FOUND, "Not Found"));
        }
        Some(Err(location)) => {
            let mut response = plain(StatusCode::MOVED_PERMANENTLY, "");
            if let Ok(value) = HeaderValue::from_str(&location) {
                response.headers_mut().insert(header::LOCATION, value);
            }
            return Ok(response);
        }
        None => {}
    }
    if let Some(dir) = &state.static_dir {
        if let Some(response) = dir.serve(path, req.method()).await {
            return Ok(response);
        }
    }
    Ok(plain(StatusCode::NOT_FOUND, "Not Found"))
}

fn preflight_response<B>(req: &Request<B>) -> Response {
    let mut response = plain(StatusCode::NO_CONTENT, "");
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET,HEAD,PUT,PATCH,POST,DELETE"),
    );
    if let Some(requested) = req.headers().get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, requested.clone());
        headers.append(
            header::VARY,
            HeaderValue::from_static("Access-Control-Request-Headers"),
        );
    }
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    response
}

/// The Engine.IO request checks, in the official server's order, then the transport.
async fn engine_request<H: EngineHandler, B>(
    engine: &Arc<Engine<H>>,
    req: Request<B>,
    remote_addr: SocketAddr,
) -> Response
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut eio = None;
    let mut transport = None;
    let mut sid = None;
    for (key, value) in crate::engineio::query_pairs(req.uri().query().unwrap_or("")) {
        match key.as_str() {
            "EIO" => eio = Some(value),
            "transport" => transport = Some(value),
            "sid" => sid = Some(value),
            _ => {}
        }
    }
    let transport = match transport.as_deref() {
        Some("polling") if engine.config.allows(TransportKind::Polling) => TransportKind::Polling,
        Some("websocket") if engine.config.allows(TransportKind::WebSocket) => {
            TransportKind::WebSocket
        }
        _ => return engine_error(EngineErrorCode::UnknownTransport),
    };
    let upgrade = is_websocket_upgrade(&req);
    // How a polling response to this request may be compressed (GET and handshake answers).
    let coding = match (transport, &engine.config.http_compression) {
        (TransportKind::Polling, Some(compression)) => {
            compression::negotiate(req.headers()).map(|coding| (coding, compression.threshold))
        }
        _ => None,
    };

    if let Some(sid) = sid {
        let Some(session) = Sid::parse(&sid)
            .and_then(|sid| engine.session(&sid))
            .filter(|session| session.reachable())
        else {
            return engine_error(EngineErrorCode::UnknownSid);
        };
        return match transport {
            TransportKind::Polling => {
                if session.transport() != TransportKind::Polling {
                    return engine_error(EngineErrorCode::BadRequest);
                }
                match *req.method() {
                    Method::GET => reply_coded(polling::poll(engine, &session).await, coding),
                    Method::POST => {
                        let guard = match polling::begin_post(&session) {
                            Ok(guard) => guard,
                            Err(refused) => return reply(refused),
                        };
                        let config = engine.config();
                        let body = read_post_body(
                            req.into_body(),
                            config.max_payload,
                            config.header_read_timeout,
                        )
                        .await;
                        reply(polling::finish_post(engine, &session, guard, body))
                    }
                    _ => engine_error(EngineErrorCode::BadRequest),
                }
            }
            TransportKind::WebSocket => {
                if !upgrade {
                    return engine_error(EngineErrorCode::BadRequest);
                }
                let tasks = engine.tasks.clone();
                let claim = (engine.config.allow_upgrades && !session.is_closed())
                    .then(|| session.claim_upgrade())
                    .flatten();
                match claim {
                    Some(claim) => {
                        let engine = engine.clone();
                        accept_websocket(req, &tasks, move |upgraded| {
                            websocket::serve_upgrade(engine, claim, TokioIo::new(upgraded))
                        })
                    }
                    None => {
                        let max_payload = engine.config.max_payload;
                        let bound = engine.config.upgrade_timeout;
                        accept_websocket(req, &tasks, move |upgraded| {
                            websocket::refuse(TokioIo::new(upgraded), max_payload, bound)
                        })
                    }
                }
            }
        };
    }

    if req.method() != Method::GET {
        return engine_error(EngineErrorCode::BadHandshakeMethod);
    }
    if transport == TransportKind::WebSocket && !upgrade {
        return engine_error(EngineErrorCode::BadRequest);
    }
    let info = request_info(&req, remote_addr);
    if let Some(allow) = &engine.config.allow_request {
        if let Err(message) = allow(&info) {
            return engine_error_with(EngineErrorCode::Forbidden, &message);
        }
    }
    if eio.as_deref() != Some("4") {
        return engine_error(EngineErrorCode::UnsupportedProtocolVersion);
    }
    let slot = match engine.admit(info.remote_addr.ip()) {
        Ok(slot) => slot,
        Err(reason) => {
            tracing::debug!(peer = %info.remote_addr, reason = reason.message(), "handshake refused");
            return refused(reason);
        }
    };
    match transport {
        TransportKind::Polling => reply_coded(polling::handshake(engine, info, slot).await, coding),
        TransportKind::WebSocket => {
            let tasks = engine.tasks.clone();
            let engine = engine.clone();
            accept_websocket(req, &tasks, move |upgraded| {
                websocket::serve_new(engine, info, slot, TokioIo::new(upgraded))
            })
        }
    }
}

/// Whether `key` is a `Sec-WebSocket-Key` as RFC 6455 §4.2.1 requires: the base64 of 16 bytes, so 22
/// characters of the base64 alphabet and the padding `==`. The same test as the `ws` package behind
/// engine.io (which does not look at the unused low bits of the 22nd character either).
fn is_websocket_key(key: &[u8]) -> bool {
    key.len() == 24
        && key[22..] == *b"=="
        && key[..22]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/')
}

/// Answers 101 and runs `serve` on the upgraded connection.
fn accept_websocket<B, F, Fut>(
    req: Request<B>,
    tasks: &tokio_util::task::TaskTracker,
    serve: F,
) -> Response
where
    B: Send + 'static,
    F: FnOnce(hyper::upgrade::Upgraded) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let mut keys = req.headers().get_all(header::SEC_WEBSOCKET_KEY).iter();
    let (Some(key), None) = (keys.next().cloned(), keys.next()) else {
        return engine_error(EngineErrorCode::BadRequest);
    };
    if !is_websocket_key(key.as_bytes()) {
        return engine_error(EngineErrorCode::BadRequest);
    }
    let version_ok = req
        .headers()
        .get(header::SEC_WEBSOCKET_VERSION)
        .is_some_and(|v| v == "13");
    if !version_ok {
        return engine_error(EngineErrorCode::BadRequest);
    }
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    tasks.spawn(async move {
        match hyper::upgrade::on(req).await {
            Ok(upgraded) => serve(upgraded).await,
            Err(error) => tracing::debug!(%error, "websocket upgrade failed"),
        }
    });
    let mut response = plain(StatusCode::SWITCHING_PROTOCOLS, "");
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    if let Ok(value) = HeaderValue::from_str(&accept) {
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, value);
    }
    response
}

/// Serves HTTP/1 (with upgrades) on one connection until it ends or `stop` asks for a graceful end.
pub(crate) async fn serve_connection<H, S>(
    state: Arc<HttpState<H>>,
    stream: S,
    remote: SocketAddr,
    stop: CancellationToken,
) where
    H: EngineHandler,
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let config = state.engine.config();
    // `ServerBuilder::build` refuses less; a bare `Engine`'s hand-made configuration is taken as it is,
    // and hyper panics on a read buffer under 8 KiB.
    let max_header_bytes = config
        .max_header_bytes
        .max(crate::engineio::MIN_HEADER_BYTES);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(config.header_read_timeout)
        .max_headers(config.max_headers)
        .max_buf_size(max_header_bytes);
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        handle(state.clone(), req, remote)
    });
    let conn = builder
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = stop.cancelled() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// A running listener.
#[derive(Debug)]
pub(crate) struct Listener {
    pub(crate) local_addr: SocketAddr,
    pub(crate) stop: CancellationToken,
    pub(crate) connections: tokio_util::task::TaskTracker,
}

/// Binds `addr` and serves `state` until `stop` is cancelled.
pub(crate) async fn bind<H: EngineHandler>(
    state: Arc<HttpState<H>>,
    addr: impl tokio::net::ToSocketAddrs,
) -> std::io::Result<Listener> {
    let listener = TcpListener::bind(addr).await?;
    let local_addr = listener.local_addr()?;
    let stop = CancellationToken::new();
    let connections = tokio_util::task::TaskTracker::new();
    let accept_stop = stop.clone();
    let tracker = connections.clone();
    tokio::spawn(async move {
        loop {
            let (stream, remote) = tokio::select! {
                _ = accept_stop.cancelled() => break,
                accepted = listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(error) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let _ = stream.set_nodelay(true);
            tracker.spawn(serve_connection(
                state.clone(),
                stream,
                remote,
                accept_stop.clone(),
            ));
        }
        tracker.close();
    });
    Ok(Listener {
        local_addr,
        stop,
        connections,
    })
}

/// An Engine.IO server listening on its own port (the Engine.IO layer used alone).
#[derive(Debug)]
pub struct EngineListener<H: EngineHandler> {
    engine: Arc<Engine<H>>,
    listener: Listener,
}

impl<H: EngineHandler> EngineListener<H> {
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr
    }

    /// Stops accepting, closes every session ("forced close") and waits at most `grace`.
    pub async fn shutdown(self, grace: Duration) {
        self.listener.stop.cancel();
        self.engine.stopping.cancel();
        self.engine.close_all(CloseReason::ForcedClose);
        self.engine.tasks.close();
        let _ = tokio::time::timeout(grace, async {
            self.engine.tasks.wait().await;
            self.listener.connections.wait().await;
        })
        .await;
    }
}

/// Serves `engine` alone on `addr` (no client bundle, no static files).
pub async fn listen<H: EngineHandler>(
    engine: Arc<Engine<H>>,
    addr: impl tokio::net::ToSocketAddrs,
) -> std::io::Result<EngineListener<H>> {
    let listener = bind(Arc::new(HttpState::bare(engine.clone())), addr).await?;
    Ok(EngineListener { engine, listener })
}
