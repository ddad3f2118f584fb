//! Adapters: where a namespace keeps its rooms and how its broadcasts and server-wide operations reach
//! sockets. The [`Adapter`] trait is object-safe and shaped like socket.io's `Adapter` class, so an
//! adapter spanning many processes (Redis) slots in without changing any caller: operations that only
//! queue work (broadcast, joins, disconnects) are synchronous and never wait; operations that gather
//! answers (acks, socket lists, server counts) return futures.
//!
//! [`MemoryAdapter`] is the default: one process, everything local.

mod memory;
#[cfg(feature = "redis")]
mod redis;

#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use self::redis::{RedisAdapter, RedisAdapterConfig, RedisAdapterFactory};
pub use memory::MemoryAdapter;

use crate::engineio::Sid;
use crate::socketio::{Namespace, NamespaceRef, Payload, Socket};
use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A room name. Every socket is in the room named by its id.
pub type Room = Arc<str>;

/// Which sockets an operation targets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BroadcastOptions {
    /// The union of these rooms; every socket of the namespace when empty.
    pub rooms: Vec<Room>,
    /// Minus the sockets in these rooms (a socket id excludes that socket).
    pub except: Vec<Room>,
    /// This process only, even with a multi-process adapter.
    pub local: bool,
    /// May be dropped for a socket that cannot take it right now.
    pub volatile: bool,
    /// How long a broadcast with acks waits for its answers (remote servers forget it afterwards).
    pub timeout: Option<std::time::Duration>,
}

/// A packet to broadcast: what was emitted, and its wire encoding, made once and shared by every target.
#[derive(Debug, Clone)]
pub struct BroadcastPacket {
    /// The event name.
    pub event: String,
    /// The arguments.
    pub payload: Payload,
    /// The ack id for a broadcast with acks.
    pub ack_id: Option<u64>,
    pub(crate) encoded: crate::engineio::Outgoing,
}

/// What a broadcast did locally.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BroadcastReport {
    /// Sockets the packet was queued for.
    pub delivered: usize,
    /// Volatile deliveries dropped because a socket's queue was full.
    pub dropped_volatile: usize,
    /// Sockets disconnected because their queue was full (non-volatile packets are never dropped silently).
    pub disconnected_slow: usize,
}

/// Errors of adapter operations.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AdapterError {
    /// A remote operation failed (the cluster's broker is unreachable, say).
    #[error("adapter unavailable: {0}")]
    Unavailable(String),
    /// A request got fewer answers than servers before its timeout.
    #[error("adapter request timed out")]
    Timeout,
    /// A request to every server was answered by only some of them before its timeout.
    #[error("timeout reached: only {answered} responses received out of {expected}")]
    Incomplete {
        /// Servers that answered.
        answered: usize,
        /// Servers that were counted.
        expected: usize,
    },
}

/// Room changes a namespace's adapter reports (socket.io's adapter events).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoomEvent {
    /// A room got its first member.
    CreateRoom(Room),
    /// A room lost its last member.
    DeleteRoom(Room),
    /// A socket joined a room.
    JoinRoom(Room, Sid),
    /// A socket left a room.
    LeaveRoom(Room, Sid),
}

/// Collects the answers of a broadcast with acks: one per socket.
#[derive(Debug, Clone)]
pub struct AckCollector {
    pub(crate) tx: tokio::sync::mpsc::UnboundedSender<(Option<Sid>, Payload)>,
}

impl AckCollector {
    /// Records one socket's answer (`None` for a socket of another server, whose id the answer omits).
    pub fn answer(&self, sid: Option<Sid>, payload: Payload) {
        let _ = self.tx.send((sid, payload));
    }

    /// Whether the broadcast still waits for answers.
    pub fn is_open(&self) -> bool {
        !self.tx.is_closed()
    }
}

/// An event another server of the cluster sent with `serverSideEmit`.
pub struct ServerSideEvent {
    /// The event name.
    pub event: String,
    /// Its arguments.
    pub payload: Payload,
    /// The acknowledgement the sender waits for, when it asked for one.
    pub ack: Option<ServerSideAck>,
}

impl std::fmt::Debug for ServerSideEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerSideEvent")
            .field("event", &self.event)
            .field("wants_ack", &self.ack.is_some())
            .finish()
    }
}

/// The answer to a server-side event; sent at most once (dropping it sends nothing).
pub struct ServerSideAck(Box<dyn FnOnce(Payload) + Send>);

impl ServerSideAck {
    /// An ack that runs `send` with the answer.
    pub fn new(send: impl FnOnce(Payload) + Send + 'static) -> ServerSideAck {
        ServerSideAck(Box::new(send))
    }

    /// Answers (socket.io relays the first argument).
    pub fn send(self, payload: Payload) {
        (self.0)(payload)
    }
}

/// A socket found by [`Adapter::fetch_sockets`], possibly in another process. Its operations go through
/// the adapter, so they work wherever the socket lives.
#[derive(Debug, Clone)]
pub struct RemoteSocket {
    /// The socket id.
    pub id: Sid,
    /// The handshake, as socket.io describes it (headers, query, address, time, url, secure, auth…).
    pub handshake: serde_json::Value,
    /// The rooms it is in.
    pub rooms: Vec<Room>,
    /// Its `data`.
    pub data: serde_json::Value,
    pub(crate) nsp: Namespace,
}

impl RemoteSocket {
    fn target(&self) -> crate::socketio::BroadcastOperator {
        self.nsp.to(Room::from(self.id.as_str()))
    }

    /// Emits an event to this socket.
    pub fn emit(&self, event: &str, payload: Payload) -> Result<(), crate::socketio::EmitError> {
        self.target().emit(event, payload)
    }

    /// Makes the socket join rooms.
    pub fn join(&self, rooms: impl crate::socketio::IntoRooms) {
        self.target().sockets_join(rooms)
    }

    /// Makes the socket leave rooms.
    pub fn leave(&self, rooms: impl crate::socketio::IntoRooms) {
        self.target().sockets_leave(rooms)
    }

    /// Disconnects the socket (and its whole connection when `close`).
    pub fn disconnect(&self, close: bool) {
        self.target().disconnect_sockets(close)
    }
}

/// The rooms and the fan-out of one namespace.
pub trait Adapter: Send + Sync + 'static {
    /// Adds a socket to rooms.
    fn add_all(&self, sid: Sid, rooms: &[Room]);
    /// Removes a socket from one room.
    fn del(&self, sid: Sid, room: &str);
    /// Removes a socket from every room (it is leaving the namespace).
    fn del_all(&self, sid: Sid);
    /// The rooms of a local socket.
    fn socket_rooms(&self, sid: Sid) -> Vec<Room>;
    /// The local rooms with their sizes, socket-id rooms included.
    fn local_rooms(&self) -> Vec<(Room, usize)>;
    /// The local sockets `opts` targets (this process only), connecting ones included.
    fn local_sockets(&self, opts: &BroadcastOptions) -> Vec<Socket>;

    /// Queues `packet` for every targeted socket. Never waits.
    fn broadcast(
        &self,
        packet: &BroadcastPacket,
        opts: &BroadcastOptions,
    ) -> Result<BroadcastReport, AdapterError>;
    /// Queues `packet` (with its ack id) for every targeted socket, registering `collector` for their
    /// answers; resolves to how many sockets were targeted, cluster-wide.
    fn broadcast_with_ack(
        &self,
        packet: &BroadcastPacket,
        opts: &BroadcastOptions,
        collector: AckCollector,
    ) -> BoxFuture<'static, Result<usize, AdapterError>>;
    /// The ids of the sockets in these rooms (all sockets when empty), cluster-wide unless `local`.
    fn sockets(
        &self,
        opts: &BroadcastOptions,
    ) -> BoxFuture<'static, Result<HashSet<Sid>, AdapterError>>;
    /// The targeted sockets with their details.
    fn fetch_sockets(
        &self,
        opts: &BroadcastOptions,
    ) -> BoxFuture<'static, Result<Vec<RemoteSocket>, AdapterError>>;
    /// Makes the targeted sockets join `rooms`.
    fn add_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) -> Result<(), AdapterError>;
    /// Makes the targeted sockets leave `rooms`.
    fn del_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) -> Result<(), AdapterError>;
    /// Disconnects the targeted sockets (their connections too when `close`).
    fn disconnect_sockets(&self, opts: &BroadcastOptions, close: bool) -> Result<(), AdapterError>;
    /// Sends an event to the other servers of the cluster (nothing to do in one process).
    fn server_side_emit(&self, event: &str, payload: &Payload) -> Result<(), AdapterError>;
    /// How many servers the cluster has.
    fn server_count(&self) -> BoxFuture<'static, Result<usize, AdapterError>>;
    /// Sends an event to the other servers and gathers one answer from each (none in one process).
    fn server_side_emit_with_ack(
        &self,
        _event: &str,
        _payload: &Payload,
    ) -> BoxFuture<'static, Result<Vec<Payload>, AdapterError>> {
        Box::pin(async { Ok(Vec::new()) })
    }
    /// Every room of the namespace, cluster-wide (socket-id rooms included).
    fn all_rooms(&self) -> BoxFuture<'static, Result<HashSet<Room>, AdapterError>> {
        let rooms = self
            .local_rooms()
            .into_iter()
            .map(|(room, _)| room)
            .collect();
        Box::pin(async move { Ok(rooms) })
    }
}

/// Makes the adapter of each namespace.
pub trait AdapterFactory: Send + Sync + 'static {
    /// The adapter for a namespace being created.
    fn create(&self, nsp: NamespaceRef) -> Arc<dyn Adapter>;
}

/// The factory of the default [`MemoryAdapter`].
#[derive(Debug, Default, Clone, Copy)]
pub struct MemoryAdapterFactory;

impl AdapterFactory for MemoryAdapterFactory {
    fn create(&self, nsp: NamespaceRef) -> Arc<dyn Adapter> {
        Arc::new(MemoryAdapter::new(nsp))
    }
}

/// Sends to one local socket according to the broadcast flags; shared by every adapter's local part.
pub(crate) fn deliver(
    socket: &Socket,
    packet: &BroadcastPacket,
    volatile: bool,
    report: &mut BroadcastReport,
) {
    use crate::engineio::SendError;
    match socket.push_raw(packet.encoded.clone()) {
        Ok(()) => report.delivered += 1,
        Err(SendError::Full) if volatile => report.dropped_volatile += 1,
        Err(SendError::Full) => {
            socket.close_slow_consumer();
            report.disconnected_slow += 1;
        }
        Err(SendError::Closed) => {}
    }
}
