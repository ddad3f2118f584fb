//! [`Namespace`]: a channel multiplexed over connections, with its middlewares, its connection handlers,
//! its sockets and its adapter (rooms and fan-out). The namespace is its adapter's [`SocketEmitter`]: the
//! adapter picks sockets by id, the namespace delivers to them, so the adapter never sees a socket.

use super::client::Conn;
use super::handler::{
    AsyncMiddlewareFn, ConnectError, ConnectionFn, ConnectionHandler, EventHandler, Middleware,
    NamespaceHandlers,
};
use super::{packet, BroadcastOperator, DisconnectReason, EmitError, IntoRooms, Payload, Socket};
use crate::adapter::{
    AckCollector, Adapter, AdapterError, AdapterFactory, BroadcastOptions, BroadcastPacket,
    BroadcastReport, LocalNamespace, RemoteSocketData, Room, RoomEvent, ServerSideEvent,
    SocketEmitter, Targets,
};
use crate::engineio::Sid;
use parking_lot::RwLock;
use serde_json::Value;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

type RoomListener = Arc<dyn Fn(&RoomEvent) + Send + Sync>;
type ServerSideListener = Arc<dyn Fn(ServerSideEvent) + Send + Sync>;

pub(crate) struct NamespaceInner {
    name: Arc<str>,
    pub(crate) handlers: Arc<NamespaceHandlers>,
    sockets: RwLock<HashMap<Sid, Socket>>,
    adapter: Arc<dyn Adapter>,
    ack_ids: AtomicU64,
    room_listeners: RwLock<Vec<RoomListener>>,
    server_side_listeners: RwLock<Vec<ServerSideListener>>,
    pub(crate) limits: super::server::SocketLimits,
    pub(crate) hooks: Arc<super::observer::Hooks>,
    /// The events and sessions kept for connection state recovery, when it is on.
    pub(crate) recovery: Option<Box<super::recovery::Recovery>>,
}

impl NamespaceInner {
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn adapter(&self) -> &Arc<dyn Adapter> {
        &self.adapter
    }

    /// Ack ids are unique per namespace, as in socket.io, so a broadcast can share one id.
    pub(crate) fn next_ack_id(&self) -> u64 {
        self.ack_ids.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn remove_socket(&self, sid: Sid) {
        self.sockets.write().remove(&sid);
    }

    pub(crate) fn fallback_handler(&self) -> Option<Arc<dyn EventHandler>> {
        self.handlers.fallback.read().clone()
    }
}

impl NamespaceInner {
    /// The local sockets with these ids, taken out of the table (its lock is released before they are
    /// used: acting on a socket may take the adapter's lock, which comes first).
    fn sockets_by_id(&self, sids: &[Sid]) -> Vec<Socket> {
        let sockets = self.sockets.read();
        sids.iter()
            .filter_map(|sid| sockets.get(sid).cloned())
            .collect()
    }
}

impl SocketEmitter for NamespaceInner {
    fn send_many(
        &self,
        targets: &Targets<'_>,
        packet: &BroadcastPacket,
        volatile: bool,
    ) -> BroadcastReport {
        let mut report = BroadcastReport::default();
        let sockets = self.sockets.read();
        targets.for_each(&sockets, |socket| {
            super::socket::deliver(socket, packet, volatile, &mut report)
        });
        report
    }

    fn send_many_with_ack(
        &self,
        targets: &Targets<'_>,
        packet: &BroadcastPacket,
        volatile: bool,
        collector: &AckCollector,
    ) -> usize {
        let id = packet.ack_id.unwrap_or_default();
        let mut report = BroadcastReport::default();
        let sockets = self.sockets.read();
        targets.for_each(&sockets, |socket| {
            socket.expect_ack_for_broadcast(id, collector.clone());
            super::socket::deliver(socket, packet, volatile, &mut report);
        });
        report.delivered
    }

    fn socket_ids(&self, targets: &Targets<'_>) -> Vec<Sid> {
        let mut ids = Vec::new();
        targets.for_each(&self.sockets.read(), |socket| ids.push(socket.id()));
        ids
    }

    fn socket_data(&self, sids: &[Sid]) -> Vec<RemoteSocketData> {
        self.sockets_by_id(sids)
            .iter()
            .map(Socket::remote_data)
            .collect()
    }

    fn join(&self, sids: &[Sid], rooms: &[Room]) {
        for socket in self.sockets_by_id(sids) {
            socket.join(rooms.to_vec());
        }
    }

    fn leave(&self, sids: &[Sid], rooms: &[Room]) {
        for socket in self.sockets_by_id(sids) {
            for room in rooms {
                socket.leave(room.clone());
            }
        }
    }

    fn disconnect(&self, sids: &[Sid], close: bool) {
        for socket in self.sockets_by_id(sids) {
            socket.disconnect(close);
        }
    }

    fn packet(&self, event: &str, payload: Payload, ack_id: Option<u64>) -> BroadcastPacket {
        super::broadcast_packet(self.name(), event, payload, ack_id)
    }

    fn recoverable_packet(&self, event: &str, payload: Payload, offset: &str) -> BroadcastPacket {
        if self.recovery.is_none() {
            // No offsets on the wire unless the server recovers connection states (as socket.io).
            return super::broadcast_packet(self.name(), event, payload, None);
        }
        super::recoverable_packet(self.name(), event, payload, offset)
    }

    fn keeps_remote_events(&self) -> bool {
        self.recovery.is_some() && self.adapter.session_store().is_none()
    }

    fn remote_event(
        &self,
        event: &str,
        payload: Payload,
        opts: &BroadcastOptions,
        deliver: &mut dyn FnMut(&BroadcastPacket),
    ) {
        let kept = self
            .recovery
            .as_deref()
            .filter(|_| !opts.volatile && self.adapter.session_store().is_none());
        let Some(recovery) = kept else {
            return deliver(&super::broadcast_packet(self.name(), event, payload, None));
        };
        // As for an event emitted here: stored and queued under one lock.
        let guard = recovery.lock();
        let offset = guard.next_offset();
        let packet = super::recoverable_packet(self.name(), event, payload, &offset);
        guard.store(
            opts.rooms.clone(),
            opts.except.clone(),
            packet.encoded.clone(),
        );
        deliver(&packet);
    }

    fn next_ack_id(&self) -> u64 {
        NamespaceInner::next_ack_id(self)
    }

    fn forget_ack(&self, id: u64) {
        for socket in self.sockets.read().values() {
            socket.forget_ack(id);
        }
    }

    fn room_events(&self, events: Vec<RoomEvent>) {
        if let Some(observer) = self.hooks.get() {
            for event in &events {
                observer.room_event(self.name(), event);
            }
        }
        let listeners = self.room_listeners.read().clone();
        for event in &events {
            for listener in &listeners {
                listener(event);
            }
        }
    }

    fn server_side_event(&self, mut event: ServerSideEvent) {
        let listeners = self.server_side_listeners.read().clone();
        let Some((last, others)) = listeners.split_last() else {
            return;
        };
        for listener in others {
            listener(ServerSideEvent {
                event: event.event.clone(),
                payload: event.payload.clone(),
                ack: event.ack.take(),
            });
        }
        last(event);
    }
}

/// A weak handle on a namespace: it does not keep the namespace alive.
#[derive(Clone)]
pub struct NamespaceRef(Weak<NamespaceInner>, Arc<str>);

impl std::fmt::Debug for NamespaceRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NamespaceRef")
    }
}

impl NamespaceRef {
    /// The namespace's name (known even while the namespace is being made).
    pub fn name(&self) -> &str {
        &self.1
    }

    /// The namespace, unless it is gone.
    pub fn upgrade(&self) -> Option<Namespace> {
        self.0.upgrade().map(Namespace)
    }
}

/// A namespace. Cheap to clone.
#[derive(Clone)]
pub struct Namespace(pub(crate) Arc<NamespaceInner>);

impl std::fmt::Debug for Namespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Namespace")
            .field("name", &self.name())
            .finish()
    }
}

impl Namespace {
    pub(crate) fn new(
        name: &str,
        handlers: Arc<NamespaceHandlers>,
        factory: &dyn AdapterFactory,
        limits: super::server::SocketLimits,
        hooks: Arc<super::observer::Hooks>,
        recovery: Option<super::ConnectionStateRecovery>,
    ) -> Namespace {
        let name: Arc<str> = name.into();
        Namespace(Arc::new_cyclic(|weak: &Weak<NamespaceInner>| {
            let emitter: Weak<dyn SocketEmitter> = weak.clone();
            NamespaceInner {
                adapter: factory.create(LocalNamespace::new(name.clone(), emitter)),
                name,
                handlers,
                sockets: RwLock::new(HashMap::new()),
                ack_ids: AtomicU64::new(0),
                room_listeners: RwLock::new(Vec::new()),
                server_side_listeners: RwLock::new(Vec::new()),
                limits,
                hooks,
                recovery: recovery.map(|options| Box::new(super::recovery::Recovery::new(options))),
            }
        }))
    }

    /// A weak handle on the namespace (it does not keep the namespace alive).
    pub fn downgrade(&self) -> NamespaceRef {
        NamespaceRef(Arc::downgrade(&self.0), self.0.name.clone())
    }

    /// The name, e.g. `/` or `/chat`.
    pub fn name(&self) -> &str {
        self.0.name()
    }

    /// The adapter.
    pub fn adapter(&self) -> &Arc<dyn Adapter> {
        self.0.adapter()
    }

    /// Adds a connect middleware (socket.io's `use`): async, may refuse with a [`ConnectError`].
    pub fn use_middleware<F, Fut>(&self, middleware: F)
    where
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), ConnectError>> + Send + 'static,
    {
        self.use_handler(Arc::new(AsyncMiddlewareFn(middleware)));
    }

    /// Adds an object-safe connect middleware.
    pub fn use_handler(&self, middleware: Arc<dyn Middleware>) {
        self.0.handlers.middlewares.write().push(middleware);
    }

    /// Runs `handler` for every socket that joins (socket.io's `connection` event).
    pub fn on_connection<F>(&self, handler: F)
    where
        F: Fn(Socket) + Send + Sync + 'static,
    {
        self.on_connection_handler(Arc::new(ConnectionFn(handler)));
    }

    /// Adds an object-safe connection handler.
    pub fn on_connection_handler(&self, handler: Arc<dyn ConnectionHandler>) {
        self.0.handlers.connection.write().push(handler);
    }

    /// Handles events that have no handler of their own on their socket. Bindings whose handlers live in
    /// another language use it to receive every event in order.
    pub fn set_fallback_handler(&self, handler: Arc<dyn EventHandler>) {
        *self.0.handlers.fallback.write() = Some(handler);
    }

    /// Listens to room changes (socket.io's adapter events `create-room`, `delete-room`, `join-room`,
    /// `leave-room`).
    pub fn on_room_event<F>(&self, listener: F)
    where
        F: Fn(&RoomEvent) + Send + Sync + 'static,
    {
        self.0.room_listeners.write().push(Arc::new(listener));
    }

    /// Listens to events other servers of the cluster send with `server_side_emit` (socket.io's
    /// `io.on(event)` for non-connection events, and `serverSideEmit`'s receiving end).
    pub fn on_server_side_emit<F>(&self, listener: F)
    where
        F: Fn(ServerSideEvent) + Send + Sync + 'static,
    {
        self.0
            .server_side_listeners
            .write()
            .push(Arc::new(listener));
    }

    /// Sends an event to the other servers of the cluster (socket.io's `serverSideEmit`).
    pub fn server_side_emit(&self, event: &str, payload: Payload) -> Result<(), AdapterError> {
        self.adapter().server_side_emit(event, &payload)
    }

    /// Sends an event to the other servers and waits for one answer from each (socket.io's
    /// `serverSideEmitWithAck`); fails with [`AdapterError::Incomplete`] when some did not answer in time.
    pub async fn server_side_emit_with_ack(
        &self,
        event: &str,
        payload: Payload,
    ) -> Result<Vec<Payload>, AdapterError> {
        self.adapter()
            .server_side_emit_with_ack(event, &payload)
            .await
    }

    /// How many servers the cluster has (1 with the in-memory adapter).
    pub async fn server_count(&self) -> Result<usize, AdapterError> {
        self.adapter().server_count().await
    }

    /// Every room of the namespace across the cluster, socket-id rooms excluded, sorted.
    pub async fn all_rooms(&self) -> Result<Vec<Room>, AdapterError> {
        let all = self.adapter().all_rooms().await?;
        let ids = self.adapter().sockets(&Default::default()).await?;
        let mut rooms: Vec<Room> = all
            .into_iter()
            .filter(|room| Sid::parse(room).is_none_or(|sid| !ids.contains(&sid)))
            .collect();
        rooms.sort();
        Ok(rooms)
    }

    /// A local socket by id.
    pub fn socket(&self, sid: &Sid) -> Option<Socket> {
        self.0.sockets.read().get(sid).cloned()
    }

    /// The local sockets.
    pub fn sockets(&self) -> Vec<Socket> {
        self.0.sockets.read().values().cloned().collect()
    }

    /// The local sockets in `room` (every local socket when `None`), connecting ones included, in no
    /// particular order: python-socketio's `manager.get_participants`.
    pub fn local_sockets_in(&self, room: Option<&str>) -> Vec<Socket> {
        let opts = crate::adapter::BroadcastOptions {
            rooms: room.map(|r| vec![Room::from(r)]).unwrap_or_default(),
            local: true,
            ..Default::default()
        };
        self.0.sockets_by_id(&self.adapter().local_sockets(&opts))
    }

    /// How many local sockets are connected.
    pub fn socket_count(&self) -> usize {
        self.0.sockets.read().len()
    }

    /// Targets every socket of the namespace.
    pub fn broadcast_operator(&self) -> BroadcastOperator {
        BroadcastOperator::new(self.clone())
    }

    /// Targets the sockets in `rooms` (a socket id targets that socket).
    pub fn to(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.broadcast_operator().to(rooms)
    }

    /// Same as [`Namespace::to`].
    pub fn within(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.to(rooms)
    }

    /// Targets every socket except those in `rooms`.
    pub fn except(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.broadcast_operator().except(rooms)
    }

    /// Emits to every socket of the namespace.
    pub fn emit(&self, event: &str, payload: Payload) -> Result<(), EmitError> {
        self.broadcast_operator().emit(event, payload)
    }

    /// The local rooms and their sizes. With `include_private`, also the rooms named by socket ids.
    pub fn rooms(&self, include_private: bool) -> Vec<(Room, usize)> {
        // The adapter's lock first and released before the sockets' lock: the broadcast path takes them
        // in the other order, and holding both here could deadlock against it.
        let all = self.adapter().local_rooms();
        let sockets = self.0.sockets.read();
        let mut rooms: Vec<_> = all
            .into_iter()
            .filter(|(room, _)| {
                include_private || Sid::parse(room).is_none_or(|sid| !sockets.contains_key(&sid))
            })
            .collect();
        rooms.sort();
        rooms
    }

    /// The number of sockets in a room, cluster-wide.
    pub async fn room_size(
        &self,
        room: impl Into<Room>,
    ) -> Result<usize, crate::adapter::AdapterError> {
        Ok(self.to(room.into()).socket_ids().await?.len())
    }

    /// Starts a socket's connection: the socket joins the namespace and its own room at once (so its
    /// middlewares, like python-socketio's `connect` handler, see a socket that exists: rooms joined
    /// there are visible everywhere and emits reach it), then the middlewares decide; the CONNECT answer
    /// and whatever was sent to it meanwhile follow, then the connection handlers. A refusal undoes it all.
    ///
    /// With connection state recovery, a CONNECT whose auth names a kept session (`pid`) and the offset
    /// of the last event its client handled (`offset`) gets that session back instead: the socket has
    /// its old id, rooms and `data`, the events it missed are queued before its CONNECT answer, and the
    /// middlewares are skipped if the options say so.
    pub(crate) fn connect(&self, conn: &Arc<Conn>, auth: Value) {
        let Some(recovery) = self.0.recovery.as_deref() else {
            return self.connect_fresh(conn, auth);
        };
        let claim = match (auth.get("pid"), auth.get("offset")) {
            (Some(Value::String(pid)), Some(Value::String(offset))) => {
                Some((pid.clone(), offset.clone()))
            }
            _ => None,
        };
        // Room for the missed events and the CONNECT answer in the connection's queue.
        let room = conn.queue_capacity().saturating_sub(2);
        if let Some(store) = self.adapter().session_store() {
            let Some((pid, offset)) = claim else {
                return self.connect_fresh(conn, auth);
            };
            let nsp = self.clone();
            let conn = conn.clone();
            store.restore_session(
                &pid,
                &offset,
                room,
                Box::new(move |restored| match restored {
                    Some(restored) => {
                        let missed = restored.missed.into_iter().map(|p| p.encoded).collect();
                        if let Some(socket) = nsp.resume(&conn, auth, &restored.session, missed) {
                            nsp.admit_resumed(socket);
                        }
                    }
                    None => nsp.connect_fresh(&conn, auth),
                }),
            );
            return;
        }
        if recovery.claim_sweeper() {
            tokio::spawn(sweep_recovery(
                Arc::downgrade(&self.0),
                recovery.sweep_interval(),
            ));
        }
        if let Some((pid, offset)) = claim {
            // Under the store's lock until the socket is back in its rooms: every event is either
            // among the missed ones or reaches the socket live (held after them).
            let guard = recovery.lock();
            if let Some(restored) = guard.restore(&pid, &offset, room) {
                let socket = self.resume(conn, auth, &restored.session, restored.missed);
                drop(guard);
                if let Some(socket) = socket {
                    self.admit_resumed(socket);
                }
                return;
            }
        }
        self.connect_fresh(conn, auth)
    }

    /// Connects a new socket.
    fn connect_fresh(&self, conn: &Arc<Conn>, auth: Value) {
        let socket = Socket::new(self.0.clone(), conn.clone(), auth);
        let own = [Room::from(socket.id().as_str())];
        if self.enter(conn, &socket, &own) {
            self.run_middlewares(socket);
        }
    }

    /// The socket of a recovered session, back in the namespace and its rooms before this returns (the
    /// caller holds back the events that follow until then), its missed events queued before its
    /// CONNECT answer; `None` if its connection ended meanwhile.
    fn resume(
        &self,
        conn: &Arc<Conn>,
        auth: Value,
        session: &crate::adapter::Session,
        missed: Vec<crate::engineio::Outgoing>,
    ) -> Option<Socket> {
        tracing::debug!(socket = %session.sid, nsp = self.name(), "connection state recovered");
        let socket = Socket::restored(self.0.clone(), conn.clone(), auth, session, missed);
        let mut rooms = session.rooms.clone();
        let own = Room::from(socket.id().as_str());
        if !rooms.contains(&own) {
            rooms.push(own);
        }
        self.enter(conn, &socket, &rooms).then_some(socket)
    }

    /// Connects a resumed socket, its middlewares skipped if the options say so.
    fn admit_resumed(&self, socket: Socket) {
        let skip = self
            .0
            .recovery
            .as_deref()
            .is_some_and(|r| r.options.skip_middlewares);
        if skip {
            self.finish_connect(socket);
        } else {
            self.run_middlewares(socket);
        }
    }

    /// Puts a connecting socket in the namespace, the connection and `rooms`; false if its connection
    /// ended meanwhile (the socket has then left again).
    fn enter(&self, conn: &Arc<Conn>, socket: &Socket, rooms: &[Room]) -> bool {
        self.0.sockets.write().insert(socket.id(), socket.clone());
        super::client::remember_socket(conn, socket);
        if conn.is_closed() {
            // The connection ended meanwhile, maybe before its sockets were walked.
            socket.on_close(DisconnectReason::Connection(
                crate::engineio::CloseReason::TransportClose,
            ));
            return false;
        }
        self.adapter().add_all(socket.id(), rooms);
        if !socket.live() {
            self.adapter().del_all(socket.id());
            return false;
        }
        true
    }

    /// Runs the middlewares, then connects the socket or refuses it.
    fn run_middlewares(&self, socket: Socket) {
        let middlewares = self.0.handlers.middlewares.read().clone();
        if middlewares.is_empty() {
            self.finish_connect(socket);
            return;
        }
        let nsp = self.clone();
        tokio::spawn(async move {
            for middleware in middlewares {
                if let Err(error) = middleware.call(socket.clone()).await {
                    nsp.refuse(&socket, &error);
                    return;
                }
                if !socket.live() {
                    return; // its connection ended: nothing left to decide
                }
            }
            nsp.finish_connect(socket);
        });
    }

    /// Answers CONNECT_ERROR and forgets the socket, unless it left first.
    fn refuse(&self, socket: &Socket, error: &ConnectError) {
        if !socket.abandon() {
            return;
        }
        let text = packet::encode_connect_error(self.name(), &error.message, error.data.as_ref());
        let _ = socket.0.conn.push(super::socket::frames(text, Vec::new()));
    }

    fn finish_connect(&self, socket: Socket) {
        if !socket.accept() {
            return;
        }
        super::client::mark_joined(&socket.0.conn);
        tracing::debug!(socket = %socket.id(), nsp = self.name(), "socket connected");
        if let Some(observer) = self.0.hooks.get() {
            observer.socket_connected(&socket);
        }
        // Before the CONNECT answer: the client sends nothing until it has it, so no event of its can
        // arrive before the handlers these register; what they emit is held and follows the answer.
        let handlers = self.0.handlers.connection.read().clone();
        for handler in handlers {
            handler.call(socket.clone());
        }
        let pid = socket.pid();
        let text = packet::encode_connect(
            self.name(),
            socket.id().as_str(),
            pid.as_ref().map(Sid::as_str),
        );
        if socket.answer(text) == Some(true) {
            socket.disconnect(false);
        }
    }
}

/// Drops the expired events and sessions of a namespace's recovery store even while nothing happens in
/// it (each store, persist and restore prunes too); ends with the namespace.
async fn sweep_recovery(nsp: Weak<NamespaceInner>, interval: std::time::Duration) {
    loop {
        tokio::time::sleep(interval).await;
        let Some(nsp) = nsp.upgrade() else {
            return;
        };
        if let Some(recovery) = nsp.recovery.as_deref() {
            recovery.sweep();
        }
    }
}
