//! Server-wide observation hooks: one optional [`Observer`] per server sees connections, sockets, rooms and
//! events as they happen. The admin UI instrumentation (the `ferrio-admin` crate) is built on it. When no observer
//! is installed each hook point costs one atomic load, so an uninstrumented server pays nothing per message.

use super::{DisconnectReason, Namespace, Payload, Socket};
use crate::adapter::{BroadcastOptions, RoomEvent};
use crate::engineio::{CloseReason, TransportKind};
use std::sync::{Arc, OnceLock};

/// Watches a server. Every method has an empty default; all run on the task where the thing happens, so
/// they must only record or enqueue, never wait.
pub trait Observer: Send + Sync + 'static {
    /// An Engine.IO connection opened on `transport`.
    fn connection_opened(&self, _transport: TransportKind) {}
    /// An Engine.IO connection closed.
    fn connection_closed(&self, _reason: CloseReason) {}
    /// A connection moved from polling to WebSocket; `sockets` are its sockets in every namespace.
    fn connection_upgraded(&self, _sockets: &[Socket]) {}
    /// A Socket.IO message of `bytes` bytes (text or binary attachment) arrived.
    fn message_received(&self, _bytes: usize) {}
    /// `packets` packets totalling `bytes` bytes were queued for clients.
    fn messages_sent(&self, _packets: usize, _bytes: usize) {}
    /// A socket joined its namespace (before the connection handlers run).
    fn socket_connected(&self, _socket: &Socket) {}
    /// A socket left its namespace (after the disconnect handlers ran).
    fn socket_disconnected(&self, _socket: &Socket, _reason: DisconnectReason) {}
    /// A room changed in namespace `nsp`.
    fn room_event(&self, _nsp: &str, _event: &RoomEvent) {}
    /// A client event passed the socket's middlewares and is about to be handled.
    fn event_received(&self, _socket: &Socket, _event: &str, _payload: &Payload) {}
    /// An event was emitted to one socket.
    fn event_sent(&self, _socket: &Socket, _event: &str, _payload: &Payload) {}
    /// An event was broadcast to the sockets `opts` targets in `nsp`.
    fn event_broadcast(
        &self,
        _nsp: &Namespace,
        _opts: &BroadcastOptions,
        _event: &str,
        _payload: &Payload,
    ) {
    }
}

/// Where a server keeps its observer; shared by the server, its engine handler and its namespaces.
#[derive(Default)]
pub(crate) struct Hooks {
    observer: OnceLock<Arc<dyn Observer>>,
}

impl Hooks {
    /// The observer, if one is installed (one atomic load).
    #[inline]
    pub(crate) fn get(&self) -> Option<&Arc<dyn Observer>> {
        self.observer.get()
    }

    /// Installs the observer; fails when one is already there.
    pub(crate) fn set(&self, observer: Arc<dyn Observer>) -> Result<(), Arc<dyn Observer>> {
        self.observer.set(observer)
    }
}
