//! Where the layers meet: a Socket.IO [`Server`] served by the HTTP front. The Socket.IO layer knows no
//! HTTP server and the HTTP front knows no Socket.IO; this module, above both, gives a server its own
//! listener ([`Server::listen`], [`ServerHandle`]) or an [`HttpService`] to mount in a host's HTTP stack
//! ([`Server::http_service`], [`SocketIoService`]).

use crate::http::{bind, ClientBundle, HttpService, HttpState, Listener, StaticDir};
use crate::socketio::{Server, SioHandler};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// The HTTP front of a Socket.IO server, as [`Server::http_service`] returns it: an [`HttpService`] over
/// the server's Engine.IO handler (opaque: only the service's own API is meant to be used).
pub type SocketIoService = HttpService<SioHandler>;

impl Server {
    /// Binds `addr` and serves until the returned handle is shut down.
    pub async fn listen(
        &self,
        addr: impl tokio::net::ToSocketAddrs,
    ) -> std::io::Result<ServerHandle> {
        let state = self.http_state()?;
        let listener = bind(state, addr).await?;
        tracing::info!(addr = %listener.local_addr, path = %self.0.config.engine.path, "listening");
        Ok(ServerHandle {
            server: self.clone(),
            listener,
        })
    }

    /// ferrio's HTTP front for a host that owns the HTTP server (hyper, axum or any tower stack, or a
    /// binding relaying its host's requests); see [`HttpService`]. Fails only when the configured client
    /// bundle cannot be read.
    pub fn http_service(&self) -> std::io::Result<SocketIoService> {
        Ok(HttpService::with_state(self.http_state()?))
    }

    fn http_state(&self) -> std::io::Result<Arc<HttpState<SioHandler>>> {
        let client = match &self.0.config.client_dir {
            Some(dir) => Some(ClientBundle::load(dir).map_err(|e| {
                std::io::Error::new(
                    e.kind(),
                    format!("cannot load the client bundle from {}: {e}", dir.display()),
                )
            })?),
            None => None,
        };
        Ok(Arc::new(HttpState {
            engine: self.0.engine.clone(),
            client,
            static_dir: self.0.config.static_dir.clone().map(StaticDir::new),
            mounts: self.0.mounts.clone(),
        }))
    }
}

/// A listening server.
#[derive(Debug)]
pub struct ServerHandle {
    server: Server,
    listener: Listener,
}

impl ServerHandle {
    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr
    }

    /// The server.
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// Graceful shutdown: stop accepting, disconnect every socket with "server shutting down", flush what
    /// is queued, and wait at most `grace` for connections to finish.
    pub async fn shutdown(self, grace: Duration) {
        self.listener.stop.cancel();
        self.server.close();
        let engine = &self.server.0.engine;
        engine.tasks.close();
        let _ = tokio::time::timeout(grace, async {
            engine.tasks.wait().await;
            self.listener.connections.wait().await;
        })
        .await;
    }
}
