//! [`HttpService`]: ferrio's HTTP front for hosts that own the HTTP server — a hyper and tower service
//! (so axum mounts it beside its own routes), a request-at-a-time entry for bindings that relay requests
//! (Node's `request` event, ASGI), and the adoption of a connection whose request head the host has
//! already read (Node's `upgrade` event), so that a WebSocket runs on ferrio's own I/O afterwards instead
//! of being relayed frame by frame. It serves any Engine.IO handler: a Socket.IO server's
//! ([`crate::Server::http_service`]) or a bare [`Engine`]'s ([`HttpService::new`]).

use super::{handle, serve_connection, HttpState, Response};
use crate::engineio::{Engine, EngineHandler};
use bytes::Bytes;
use http::Request;
use std::convert::Infallible;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_util::sync::CancellationToken;

/// ferrio's HTTP front without a listener of its own, for the engine of handler `H`. Cheap to clone.
///
/// It answers the engine path (`/socket.io/` by default: polling, WebSocket upgrades, the official error
/// answers), the client bundle when configured, and the static directory when configured; anything else
/// gets 404, so a host normally routes only [`HttpService::owns`] paths here. Engines on different paths
/// share a port by routing each path to its own service.
pub struct HttpService<H: EngineHandler> {
    state: Arc<HttpState<H>>,
    stop: CancellationToken,
}

impl<H: EngineHandler> Clone for HttpService<H> {
    fn clone(&self) -> Self {
        HttpService {
            state: self.state.clone(),
            stop: self.stop.clone(),
        }
    }
}

impl<H: EngineHandler> std::fmt::Debug for HttpService<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpService")
            .field("path", &self.state.engine.config().path)
            .finish()
    }
}

impl<H: EngineHandler> HttpService<H> {
    /// Serves `engine` on its path, and nothing else (no client bundle, no static files).
    pub fn new(engine: Arc<Engine<H>>) -> HttpService<H> {
        HttpService::with_state(Arc::new(HttpState::bare(engine)))
    }

    pub(crate) fn with_state(state: Arc<HttpState<H>>) -> HttpService<H> {
        HttpService {
            state,
            stop: CancellationToken::new(),
        }
    }

    /// The engine it serves.
    pub fn engine(&self) -> &Arc<Engine<H>> {
        &self.state.engine
    }

    /// The engine path, e.g. `/socket.io/`.
    pub fn path(&self) -> &str {
        &self.state.engine.config().path
    }

    /// Whether a request path (without its query) is ferrio's: the engine path or a file under it.
    pub fn owns(&self, path: &str) -> bool {
        let engine_path = self.path();
        path.starts_with(engine_path) || path == engine_path.trim_end_matches('/')
    }

    /// Answers one request. A WebSocket upgrade succeeds only when the request came through a hyper
    /// connection served with upgrades (as axum's are); a relayed request cannot be upgraded — use
    /// [`HttpService::adopt`] for those.
    pub async fn handle<B>(&self, req: Request<B>, remote: SocketAddr) -> Response
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        match handle(self.state.clone(), req, remote).await {
            Ok(response) => response,
            Err(never) => match never {},
        }
    }

    /// Takes over a connection: `already_read` holds the bytes the host consumed from it (the request
    /// head it parsed, and anything read after it); they are served first, then the stream itself, as
    /// HTTP/1 with upgrades, on the current tokio runtime. The connection ends as usual (keep-alive
    /// expiry, WebSocket close) or gracefully after [`HttpService::close`].
    pub fn adopt<S>(&self, stream: S, already_read: Bytes, remote: SocketAddr)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let io = Prefixed {
            prefix: already_read,
            inner: stream,
        };
        self.state.engine.tasks.spawn(serve_connection(
            self.state.clone(),
            io,
            remote,
            self.stop.clone(),
        ));
    }

    /// Ends adopted connections gracefully (the server's own shutdown closes the sessions on them).
    pub fn close(&self) {
        self.stop.cancel();
    }
}

/// The future of one request answered as a service.
pub type ResponseFuture = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

impl<H: EngineHandler> HttpService<H> {
    fn call_service<B>(&self, req: Request<B>) -> ResponseFuture
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let remote = req
            .extensions()
            .get::<SocketAddr>()
            .copied()
            .unwrap_or(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)));
        Box::pin(handle(self.state.clone(), req, remote))
    }
}

/// As a hyper service. The peer address is taken from a `SocketAddr` request extension when the host
/// adds one, else it is unknown (0.0.0.0:0).
impl<H: EngineHandler, B> hyper::service::Service<Request<B>> for HttpService<H>
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn call(&self, req: Request<B>) -> Self::Future {
        self.call_service(req)
    }
}

/// As a tower service, always ready (axum: `Router::route_service("/socket.io/", service)`, or
/// `fallback_service`; the path is left whole). The peer address is taken as for hyper.
impl<H: EngineHandler, B> tower_service::Service<Request<B>> for HttpService<H>
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        self.call_service(req)
    }
}

/// A stream that first yields bytes already read from it by someone else.
struct Prefixed<S> {
    prefix: Bytes,
    inner: S,
}

impl<S: AsyncRead + Unpin> AsyncRead for Prefixed<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(buf.remaining());
            let chunk = self.prefix.split_to(n);
            buf.put_slice(&chunk);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Prefixed<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
