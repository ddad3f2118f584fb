//! The adapter core: where a namespace keeps its rooms and how its broadcasts and server-wide operations
//! reach sockets. The [`Adapter`] trait is object-safe and shaped like socket.io's `Adapter` class, so an
//! adapter spanning many processes (the `ferrio-redis` crate) slots in without changing any caller:
//! operations that only queue work (broadcast, joins, disconnects) are synchronous and never wait;
//! operations that gather answers (acks, socket lists, server counts) return futures.
//!
//! An adapter never touches a socket. It selects sockets by id from its room index ([`Targets`]) and
//! hands them to the [`SocketEmitter`] its namespace implements (reached through a [`LocalNamespace`]),
//! which does the delivery: one call per operation, not per socket. So this module knows ids, rooms,
//! options, packets and errors, and no Socket.IO internals; an adapter in a crate of its own needs
//! nothing but this public API.
//!
//! [`MemoryAdapter`] is the default: one process, everything local.

mod memory;

pub use memory::MemoryAdapter;

use crate::engineio::{Outgoing, Sid};
use crate::error::{CodedError, ErrorCode};
use crate::payload::Payload;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A room name. Every socket is in the room named by its id.
pub type Room = Arc<str>;

/// Which sockets an operation targets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
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
    /// The wire frames, encoded once ([`SocketEmitter::packet`] makes them).
    pub(crate) encoded: Outgoing,
}

/// What a broadcast did locally.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
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
#[non_exhaustive]
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

impl CodedError for AdapterError {
    fn code(&self) -> ErrorCode {
        ErrorCode::AdapterError
    }
}

/// Room changes a namespace's adapter reports (socket.io's adapter events: these four are all there
/// are, so listeners may match them exhaustively).
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
    tx: tokio::sync::mpsc::UnboundedSender<(Option<Sid>, Payload)>,
}

/// Where the answers handed to an [`AckCollector`] arrive; it ends once every clone of the collector is
/// gone.
pub type AckReceiver = tokio::sync::mpsc::UnboundedReceiver<(Option<Sid>, Payload)>;

impl AckCollector {
    /// A collector and the receiving end of its answers.
    pub fn channel() -> (AckCollector, AckReceiver) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        (AckCollector { tx }, rx)
    }

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

/// A socket's details as an adapter reports them ([`Adapter::fetch_sockets`]), wherever the socket lives.
/// The Socket.IO layer wraps them into handles that can act on the socket.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteSocketData {
    /// The socket id.
    pub id: Sid,
    /// The handshake, as socket.io describes it (headers, query, address, time, url, secure, auth…).
    pub handshake: serde_json::Value,
    /// The rooms it is in.
    pub rooms: Vec<Room>,
    /// Its `data`.
    pub data: serde_json::Value,
}

/// The local sockets an operation targets, as a room index selects them: the members of the options'
/// rooms (every socket when there are none) minus the members of their `except` rooms. Borrowed from the
/// index, under its lock, for one [`SocketEmitter`] call, which visits them against the namespace's own
/// table of sockets.
#[derive(Debug)]
pub struct Targets<'a> {
    rooms: &'a [Room],
    index: &'a HashMap<Room, HashSet<Sid>>,
    except: HashSet<Sid>,
}

impl<'a> Targets<'a> {
    /// The sockets `opts` targets in `index` (room → member ids).
    pub fn new(opts: &'a BroadcastOptions, index: &'a HashMap<Room, HashSet<Sid>>) -> Targets<'a> {
        let except = opts
            .except
            .iter()
            .filter_map(|room| index.get(room))
            .flatten()
            .copied()
            .collect();
        Targets {
            rooms: &opts.rooms,
            index,
            except,
        }
    }

    /// Calls `f` once for every targeted socket present in `sockets` (a namespace's table, by id).
    #[inline]
    pub fn for_each<S>(&self, sockets: &HashMap<Sid, S>, mut f: impl FnMut(&S)) {
        if self.rooms.is_empty() {
            for (sid, socket) in sockets {
                if !self.except.contains(sid) {
                    f(socket);
                }
            }
            return;
        }
        let single = self.rooms.len() == 1;
        let mut seen = HashSet::new();
        for room in self.rooms {
            let Some(members) = self.index.get(room) else {
                continue;
            };
            for sid in members {
                if self.except.contains(sid) || (!single && !seen.insert(*sid)) {
                    continue;
                }
                if let Some(socket) = sockets.get(sid) {
                    f(socket);
                }
            }
        }
    }
}

/// How an adapter reaches the local sockets of its namespace; the namespace implements it. Every method
/// acts in this process only, and is called once per operation (the namespace loops over the targets).
pub trait SocketEmitter: Send + Sync + 'static {
    /// Queues `packet` for every socket of `targets`: sockets whose queue is full are skipped for a
    /// `volatile` packet and disconnected otherwise, as the report says.
    fn send_many(
        &self,
        targets: &Targets<'_>,
        packet: &BroadcastPacket,
        volatile: bool,
    ) -> BroadcastReport;
    /// Same for a packet with an ack id: each socket it reaches awaits its answer for `collector`.
    /// Returns how many sockets it reached.
    fn send_many_with_ack(
        &self,
        targets: &Targets<'_>,
        packet: &BroadcastPacket,
        volatile: bool,
        collector: &AckCollector,
    ) -> usize;
    /// The ids of the sockets of `targets` (connecting ones included).
    fn socket_ids(&self, targets: &Targets<'_>) -> Vec<Sid>;
    /// The details of those of these sockets that are here. Call it without holding the room index's
    /// lock: a socket's rooms come from the adapter.
    fn socket_data(&self, sids: &[Sid]) -> Vec<RemoteSocketData>;
    /// Makes these sockets join `rooms`, as their own `join` does (so through [`Adapter::add_all`]: call
    /// it without holding the room index's lock).
    fn join(&self, sids: &[Sid], rooms: &[Room]);
    /// Makes these sockets leave `rooms` (through [`Adapter::del`]).
    fn leave(&self, sids: &[Sid], rooms: &[Room]);
    /// Disconnects these sockets from the namespace, or their whole connections when `close`.
    fn disconnect(&self, sids: &[Sid], close: bool);
    /// Encodes an event of this namespace for a broadcast (one received from another server, say).
    fn packet(&self, event: &str, payload: Payload, ack_id: Option<u64>) -> BroadcastPacket;
    /// A fresh ack id (unique in the namespace, so one broadcast shares it among its targets).
    fn next_ack_id(&self) -> u64;
    /// Stops awaiting answers to ack `id` (the broadcast that sent it is over).
    fn forget_ack(&self, id: u64);
    /// Hands room changes to the namespace's room listeners and observer.
    fn room_events(&self, events: Vec<RoomEvent>);
    /// Hands an event from another server to the namespace's server-side listeners.
    fn server_side_event(&self, event: ServerSideEvent);
    /// Encodes an event kept for connection state recovery: `offset` is appended as its last argument on
    /// the wire, where socket.io puts it and the official client reads it back. Without recovery on the
    /// namespace, the plain packet (an adapter may not know the server's options).
    fn recoverable_packet(&self, event: &str, payload: Payload, offset: &str) -> BroadcastPacket;
    /// Whether the namespace keeps the events of other servers for connection state recovery (in
    /// memory): an adapter must then hand every one to [`remote_event`](Self::remote_event), even one
    /// for a room without local members (a socket that lost its connection may come back for it).
    fn keeps_remote_events(&self) -> bool;
    /// Encodes an event another server broadcast and hands it to `deliver`, which queues it for the
    /// local targets. When the namespace keeps events for recovery in memory, the event is kept too,
    /// with an offset of this server's, and `deliver` runs under the store's lock, so that a socket
    /// being restored gets it exactly once.
    fn remote_event(
        &self,
        event: &str,
        payload: Payload,
        opts: &BroadcastOptions,
        deliver: &mut dyn FnMut(&BroadcastPacket),
    );
}

/// The namespace an adapter serves, as the adapter holds it: its name and a weak handle on its
/// [`SocketEmitter`] (the namespace owns its adapter, which must not keep it alive).
#[derive(Clone)]
pub struct LocalNamespace {
    name: Arc<str>,
    emitter: Weak<dyn SocketEmitter>,
}

impl std::fmt::Debug for LocalNamespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalNamespace")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl LocalNamespace {
    /// The namespace `name`, reached through `emitter` (a stand-in one tests an adapter alone).
    pub fn new(name: impl Into<Arc<str>>, emitter: Weak<dyn SocketEmitter>) -> LocalNamespace {
        LocalNamespace {
            name: name.into(),
            emitter,
        }
    }

    /// The namespace's name (known even while the namespace is being made).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The namespace's local sockets, unless the namespace is gone.
    #[inline]
    pub fn emitter(&self) -> Option<Arc<dyn SocketEmitter>> {
        self.emitter.upgrade()
    }

    /// Tells the namespace's room listeners about room changes.
    pub fn room_events(&self, events: Vec<RoomEvent>) {
        if events.is_empty() {
            return;
        }
        if let Some(emitter) = self.emitter() {
            emitter.room_events(events);
        }
    }

    /// Hands an event from another server to the namespace's server-side listeners; the first one gets
    /// the ack, if any (an unanswered ack is dropped, as socket.io does).
    pub fn server_side_event(&self, event: ServerSideEvent) {
        if let Some(emitter) = self.emitter() {
            emitter.server_side_event(event);
        }
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
    /// The ids of the local sockets `opts` targets (this process only), connecting ones included.
    fn local_sockets(&self, opts: &BroadcastOptions) -> Vec<Sid>;

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
    ) -> BoxFuture<'static, Result<Vec<RemoteSocketData>, AdapterError>>;
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
    /// The adapter's own connection state recovery, if it keeps one (a cluster's adapter does, so a
    /// client may recover on any server); the namespace keeps it in memory otherwise.
    fn session_store(&self) -> Option<&dyn SessionStore> {
        None
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

/// What a socket whose connection was lost leaves behind for connection state recovery (socket.io's
/// `Session`).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Session {
    /// The socket id, which the recovered socket gets back.
    pub sid: Sid,
    /// The private session id the client presents to recover it.
    pub pid: Sid,
    /// Its rooms when it left, its own id room included.
    pub rooms: Vec<Room>,
    /// Its `data` when it left.
    pub data: serde_json::Value,
}

impl Session {
    /// A session of socket `sid` with private id `pid`.
    pub fn new(sid: Sid, pid: Sid, rooms: Vec<Room>, data: serde_json::Value) -> Session {
        Session {
            sid,
            pid,
            rooms,
            data,
        }
    }
}

/// A session given back with the events it missed, in order, each encoded with its offset
/// ([`SocketEmitter::recoverable_packet`]).
#[derive(Debug)]
pub struct RestoredSession {
    /// The session as it was kept.
    pub session: Session,
    /// The events addressed to it after the client's offset.
    pub missed: Vec<BroadcastPacket>,
}

/// Hands a restore's outcome back to the namespace, which puts the socket back in its rooms (or, on
/// `None`, connects a fresh socket) before it returns.
pub type ResumeSession = Box<dyn FnOnce(Option<RestoredSession>) + Send>;

/// Connection state recovery kept by an adapter, for a cluster (socket.io's session-aware adapters, as
/// @socket.io/redis-streams-adapter does it): the adapter gives each kept event its offset, keeps the
/// sessions and finds what a returning client missed, wherever the event was emitted. A namespace whose
/// adapter offers one ([`Adapter::session_store`]) uses it instead of its in-memory store.
pub trait SessionStore: Send + Sync {
    /// Broadcasts an event kept for recovery: gives it its offset, sends it to the other servers, and
    /// queues it, encoded with that offset, for the local sockets `opts` targets. Never waits: the
    /// local delivery may follow later, in the order the store keeps its events.
    fn broadcast_recoverable(
        &self,
        event: &str,
        payload: Payload,
        opts: &BroadcastOptions,
    ) -> Result<(), AdapterError>;
    /// Keeps `session` for `window` (the recovery window).
    fn persist_session(&self, session: Session, window: std::time::Duration);
    /// Takes session `pid` back with the events after `offset` addressed to it, and calls `resume` with
    /// it at a point where every later event reaches the resumed socket live — so each event arrives
    /// once. `None` when the session or the offset is unknown or expired, or when more than `max_missed`
    /// events were missed.
    fn restore_session(&self, pid: &str, offset: &str, max_missed: usize, resume: ResumeSession);
}

/// Makes the adapter of each namespace.
pub trait AdapterFactory: Send + Sync + 'static {
    /// The adapter for a namespace being created.
    fn create(&self, nsp: LocalNamespace) -> Arc<dyn Adapter>;
}

/// The factory of the default [`MemoryAdapter`].
#[derive(Debug, Default, Clone, Copy)]
pub struct MemoryAdapterFactory;

impl AdapterFactory for MemoryAdapterFactory {
    fn create(&self, nsp: LocalNamespace) -> Arc<dyn Adapter> {
        Arc::new(MemoryAdapter::new(nsp))
    }
}
