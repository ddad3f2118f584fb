//! [`Socket`]: one client's membership of one namespace — its handlers, rooms, data and acks. Events are
//! dispatched here in wire order; emits are encoded here and queued on the connection.

use super::handler::{AnyHandler, DisconnectHandler, EventHandler, PacketMiddleware};
use super::namespace::NamespaceInner;
use super::{
    packet, AckError, BroadcastOperator, DisconnectReason, EmitError, IntoRooms, Namespace, Payload,
};
use crate::adapter::{
    AckCollector, BroadcastOptions, BroadcastPacket, BroadcastReport, RemoteSocketData, Room,
};
use crate::engineio::{CloseReason, Frame, Outgoing, RequestInfo, SendError, Sid, TransportKind};
use parking_lot::{Mutex, RwLock};
use serde_json::Value;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::oneshot;

use super::client::Conn;

/// Event names a server may not emit: the client gives them a meaning of their own.
const RESERVED_EVENTS: &[&str] = &[
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// Whether a server may not emit `event` (`connect`, `disconnect`, … mean something else to clients).
/// Bindings that must answer synchronously use it before crossing into the engine.
pub fn is_reserved_event(event: &str) -> bool {
    RESERVED_EVENTS.contains(&event)
}

/// An event received from a client.
#[derive(Debug)]
pub struct Event {
    /// The event name.
    pub name: String,
    /// The arguments.
    pub payload: Payload,
    /// Present when the client asked for an acknowledgement.
    pub ack: Option<AckSender>,
}

/// Answers one client event's acknowledgement; consumed by [`AckSender::send`]. Dropping it unsent means
/// no answer.
#[derive(Debug)]
pub struct AckSender {
    socket: Socket,
    id: u64,
}

impl AckSender {
    /// Sends the acknowledgement with these arguments.
    pub fn send(self, payload: Payload) -> Result<(), EmitError> {
        let (args, attachments) = payload.into_parts();
        if packet::nesting_exceeds(&args, self.socket.0.ns.limits.max_json_depth) {
            return Err(EmitError::TooDeep);
        }
        let text = packet::encode_ack(self.socket.nsp(), self.id, &args, attachments.len());
        self.socket.observe_sent(&text, &attachments);
        self.socket.send_frames(text, attachments, false)
    }
}

enum AckWaiter {
    One(oneshot::Sender<Payload>),
    Broadcast(AckCollector),
}

#[derive(Clone, Default)]
pub(crate) struct SocketHandlers {
    events: HashMap<String, Arc<dyn EventHandler>>,
    any: Vec<Arc<dyn AnyHandler>>,
    any_outgoing: Vec<Arc<dyn AnyHandler>>,
    disconnecting: Vec<Arc<dyn DisconnectHandler>>,
    disconnect: Vec<Arc<dyn DisconnectHandler>>,
    middlewares: Vec<Arc<dyn PacketMiddleware>>,
}

pub(crate) struct SocketInner {
    id: Sid,
    /// The private session id of connection state recovery (`None` while it is off).
    pid: Option<Sid>,
    /// Whether this socket is a recovered session.
    recovered: bool,
    ns: Arc<NamespaceInner>,
    pub(crate) conn: Arc<Conn>,
    auth: Value,
    handlers: RwLock<Arc<SocketHandlers>>,
    data: Mutex<Value>,
    acks: Mutex<HashMap<u64, AckWaiter>>,
    /// `CONNECTING` while the namespace middlewares run, `ACCEPTED` while the connection handlers run,
    /// `ANSWERING` while its CONNECT answer and what was held are queued, then `CONNECTED`, then
    /// `DISCONNECTED`. Every change out of the first three happens under the `held` lock.
    state: AtomicU8,
    /// What is sent to the socket while it is connecting: held until its CONNECT answer, dropped if it is
    /// refused.
    held: Mutex<Held>,
    /// The rate limit's theoretical arrival time of the next event, in nanoseconds since [`epoch`]
    /// (unused without a rate limit).
    rate_tat: AtomicU64,
}

/// The packets of a connecting socket and what was asked of it meanwhile.
#[derive(Default)]
struct Held {
    /// The events a recovered socket missed: they precede its CONNECT answer, as in socket.io.
    missed: Vec<Outgoing>,
    frames: Vec<Outgoing>,
    /// `disconnect` was called while connecting: it happens right after the CONNECT answer.
    disconnect: bool,
}

/// The time origin of the sockets' rate limits.
fn epoch() -> std::time::Instant {
    static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(std::time::Instant::now)
}

const CONNECTING: u8 = 0;
const CONNECTED: u8 = 1;
const DISCONNECTED: u8 = 2;
/// The CONNECT answer is being queued: the client may already answer it (on another thread), so its
/// packets are taken; what is sent to the socket still waits for the held packets to be queued.
const ANSWERING: u8 = 3;
/// The middlewares accepted it and the connection handlers run (socket.io's `connection` event): it is
/// connected for them, but what they send is held, so that it follows the CONNECT answer, which leaves
/// once they have registered their handlers (no client event can arrive before).
const ACCEPTED: u8 = 4;

/// A client's socket in one namespace. Cheap to clone.
#[derive(Clone)]
pub struct Socket(pub(crate) Arc<SocketInner>);

impl std::fmt::Debug for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket")
            .field("id", &self.0.id)
            .field("nsp", &self.nsp())
            .finish()
    }
}

impl PartialEq for Socket {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Socket {
    /// A new socket; it gets a private session id when its namespace recovers connection states.
    pub(crate) fn new(ns: Arc<NamespaceInner>, conn: Arc<Conn>, auth: Value) -> Socket {
        let pid = ns.recovery.as_ref().map(|_| Sid::generate());
        Socket::with_identity(
            ns,
            conn,
            auth,
            Sid::generate(),
            pid,
            false,
            Value::Null,
            Vec::new(),
        )
    }

    /// The socket of a recovered session: its id, private id and `data`, and the events it missed,
    /// queued before its CONNECT answer.
    pub(crate) fn restored(
        ns: Arc<NamespaceInner>,
        conn: Arc<Conn>,
        auth: Value,
        session: &crate::adapter::Session,
        missed: Vec<Outgoing>,
    ) -> Socket {
        Socket::with_identity(
            ns,
            conn,
            auth,
            session.sid,
            Some(session.pid),
            true,
            session.data.clone(),
            missed,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn with_identity(
        ns: Arc<NamespaceInner>,
        conn: Arc<Conn>,
        auth: Value,
        id: Sid,
        pid: Option<Sid>,
        recovered: bool,
        data: Value,
        missed: Vec<Outgoing>,
    ) -> Socket {
        Socket(Arc::new(SocketInner {
            id,
            pid,
            recovered,
            ns,
            conn,
            auth,
            handlers: RwLock::new(Arc::default()),
            data: Mutex::new(data),
            acks: Mutex::new(HashMap::new()),
            state: AtomicU8::new(CONNECTING),
            held: Mutex::new(Held {
                missed,
                ..Held::default()
            }),
            rate_tat: AtomicU64::new(0),
        }))
    }

    /// The socket id (also the name of its private room).
    pub fn id(&self) -> Sid {
        self.0.id
    }

    /// Whether this socket is a session recovered after a temporary disconnection (connection state
    /// recovery): same id, rooms and `data` as before, and the events it missed were sent to it before
    /// its CONNECT answer. Its middlewares did not run when recovery skips them.
    pub fn recovered(&self) -> bool {
        self.0.recovered
    }

    /// The private session id sent in the CONNECT answer (connection state recovery only).
    pub(crate) fn pid(&self) -> Option<Sid> {
        self.0.pid
    }

    /// The namespace name.
    pub fn nsp(&self) -> &str {
        self.0.ns.name()
    }

    /// The namespace.
    pub fn namespace(&self) -> Namespace {
        Namespace(self.0.ns.clone())
    }

    /// The client's `auth` payload from its CONNECT packet (`{}` when it sent none).
    pub fn auth(&self) -> &Value {
        &self.0.auth
    }

    /// The handshake HTTP request of the connection.
    pub fn request(&self) -> &RequestInfo {
        self.0.conn.request()
    }

    /// The Engine.IO session id of the connection (shared by its sockets of every namespace).
    pub fn conn_id(&self) -> Sid {
        self.0.conn.sid()
    }

    /// The transport in use now.
    pub fn transport(&self) -> TransportKind {
        self.0.conn.transport()
    }

    /// Whether the socket is still connected to its namespace.
    pub fn connected(&self) -> bool {
        matches!(
            self.0.state.load(Ordering::Acquire),
            CONNECTED | ANSWERING | ACCEPTED
        )
    }

    /// Whether the client's events and acks are taken: from the moment its CONNECT answer is queued.
    pub(crate) fn takes_packets(&self) -> bool {
        matches!(self.0.state.load(Ordering::Acquire), CONNECTED | ANSWERING)
    }

    /// Connected, or still connecting: a connecting socket already belongs to its namespace, so its
    /// middlewares (python-socketio's `connect` handler among them) may join rooms and emit to it; what is
    /// sent to it is held until its CONNECT answer.
    pub(crate) fn live(&self) -> bool {
        self.0.state.load(Ordering::Acquire) != DISCONNECTED
    }

    /// The handshake as socket.io describes it: `headers`, `query`, `address`, `time`, `issued`, `url`,
    /// `secure`, `xdomain`, `auth`.
    pub fn handshake(&self) -> Value {
        let request = self.request();
        let headers: serde_json::Map<String, Value> = request
            .headers
            .keys()
            .map(|name| {
                let joined = request
                    .headers
                    .get_all(name)
                    .iter()
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                    .collect::<Vec<_>>()
                    .join(", ");
                (name.as_str().to_owned(), Value::String(joined))
            })
            .collect();
        let query: serde_json::Map<String, Value> =
            crate::engineio::query_pairs(request.uri.query().unwrap_or(""))
                .map(|(k, v)| (k, Value::String(v)))
                .collect();
        let issued = request
            .issued
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        serde_json::json!({
            "headers": headers,
            "time": httpdate::fmt_http_date(request.issued),
            "address": request.remote_addr.ip().to_string(),
            "xdomain": request.headers.contains_key(http::header::ORIGIN),
            "secure": request.secure,
            "issued": issued,
            "url": request.uri.to_string(),
            "query": query,
            "auth": self.0.auth,
        })
    }

    /// A copy of the socket's `data`.
    pub fn data(&self) -> Value {
        self.0.data.lock().clone()
    }

    /// Replaces the socket's `data`.
    pub fn set_data(&self, value: Value) {
        *self.0.data.lock() = value;
    }

    /// Reads or changes `data` in place.
    pub fn with_data<R>(&self, f: impl FnOnce(&mut Value) -> R) -> R {
        f(&mut self.0.data.lock())
    }

    fn handlers(&self) -> Arc<SocketHandlers> {
        self.0.handlers.read().clone()
    }

    fn update_handlers(&self, f: impl FnOnce(&mut SocketHandlers)) {
        let mut guard = self.0.handlers.write();
        f(Arc::make_mut(&mut guard));
    }

    /// Registers the handler of an event (replacing any previous one). Async handlers are started in wire
    /// order and run concurrently: the next event does not wait for this one to finish.
    pub fn on<F, Fut>(&self, event: impl Into<String>, handler: F)
    where
        F: Fn(Socket, Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.on_handler(event, Arc::new(super::handler::AsyncEventFn(handler)));
    }

    /// Registers an object-safe event handler (the path the language bindings use).
    pub fn on_handler(&self, event: impl Into<String>, handler: Arc<dyn EventHandler>) {
        let event = event.into();
        self.update_handlers(|h| {
            h.events.insert(event, handler);
        });
    }

    /// Removes the handler of an event.
    pub fn off(&self, event: &str) {
        self.update_handlers(|h| {
            h.events.remove(event);
        });
    }

    /// Calls `handler` for every incoming event, before the event's own handler.
    pub fn on_any<F>(&self, handler: F)
    where
        F: Fn(&Socket, &str, &Payload) + Send + Sync + 'static,
    {
        let handler: Arc<dyn AnyHandler> = Arc::new(handler);
        self.update_handlers(|h| h.any.push(handler));
    }

    /// Calls `handler` for every event emitted to this socket.
    pub fn on_any_outgoing<F>(&self, handler: F)
    where
        F: Fn(&Socket, &str, &Payload) + Send + Sync + 'static,
    {
        let handler: Arc<dyn AnyHandler> = Arc::new(handler);
        self.update_handlers(|h| h.any_outgoing.push(handler));
    }

    /// Calls `handler` when the socket is about to leave (its rooms are still visible).
    pub fn on_disconnecting<F>(&self, handler: F)
    where
        F: Fn(&Socket, DisconnectReason) + Send + Sync + 'static,
    {
        let handler: Arc<dyn DisconnectHandler> = Arc::new(handler);
        self.update_handlers(|h| h.disconnecting.push(handler));
    }

    /// Calls `handler` once the socket has left.
    pub fn on_disconnect<F>(&self, handler: F)
    where
        F: Fn(&Socket, DisconnectReason) + Send + Sync + 'static,
    {
        let handler: Arc<dyn DisconnectHandler> = Arc::new(handler);
        self.update_handlers(|h| h.disconnect.push(handler));
    }

    /// Adds a per-packet middleware (socket.io's `socket.use`): an `Err` drops the event.
    pub fn use_middleware<F>(&self, middleware: F)
    where
        F: Fn(&Socket, &str, &Payload) -> Result<(), String> + Send + Sync + 'static,
    {
        let middleware: Arc<dyn PacketMiddleware> = Arc::new(middleware);
        self.update_handlers(|h| h.middlewares.push(middleware));
    }

    /// Whether one more event fits the rate limit (a generic cell rate algorithm: one atomic word per
    /// socket, no lock). One socket's events come from one reader at a time, so load-then-store is enough.
    fn within_rate(&self, interval: u64, tolerance: u64) -> bool {
        let now = epoch().elapsed().as_nanos() as u64;
        let tat = self.0.rate_tat.load(Ordering::Relaxed).max(now);
        if tat - now > tolerance {
            return false;
        }
        self.0.rate_tat.store(tat + interval, Ordering::Relaxed);
        true
    }

    /// Dispatches an event from the client, in wire order.
    pub(crate) fn dispatch_event(&self, name: String, payload: Payload, ack_id: Option<u64>) {
        if let Some((interval, tolerance)) = self.0.ns.limits.rate {
            if !self.within_rate(interval, tolerance) {
                tracing::debug!(socket = %self.id(), "rate limit exceeded: closing the connection");
                self.0.conn.close(CloseReason::RateLimitExceeded);
                return;
            }
        }
        let handlers = self.handlers();
        for middleware in &handlers.middlewares {
            if let Err(error) = middleware.call(self, &name, &payload) {
                tracing::debug!(socket = %self.id(), event = %name, %error, "event refused by a middleware");
                return;
            }
        }
        if let Some(observer) = self.0.ns.hooks.get() {
            observer.event_received(self, &name, &payload);
        }
        for any in &handlers.any {
            any.call(self, &name, &payload);
        }
        if let Some(handler) = handlers.events.get(&name) {
            let ack = ack_id.map(|id| AckSender {
                socket: self.clone(),
                id,
            });
            handler.call(self, Event { name, payload, ack });
        } else if let Some(fallback) = self.0.ns.fallback_handler() {
            let ack = ack_id.map(|id| AckSender {
                socket: self.clone(),
                id,
            });
            fallback.call(self, Event { name, payload, ack });
        }
    }

    /// An acknowledgement from the client.
    pub(crate) fn dispatch_ack(&self, id: u64, payload: Payload) {
        let waiter = self.0.acks.lock().remove(&id);
        match waiter {
            Some(AckWaiter::One(tx)) => {
                let _ = tx.send(payload);
            }
            Some(AckWaiter::Broadcast(collector)) => collector.answer(Some(self.id()), payload),
            // Unsolicited or duplicate ack ids are ignored.
            None => {}
        }
    }

    pub(crate) fn push_raw(&self, item: Outgoing) -> Result<(), SendError> {
        match self.0.state.load(Ordering::Acquire) {
            CONNECTED => self.0.conn.push(item),
            CONNECTING | ACCEPTED | ANSWERING => self.hold(item),
            _ => Err(SendError::Closed),
        }
    }

    /// Holds a packet for a connecting socket, bounded like the connection's own queue (less the place of
    /// the CONNECT answer, so that all of it fits there later); sends it at once if the socket connected
    /// meanwhile.
    fn hold(&self, item: Outgoing) -> Result<(), SendError> {
        let mut held = self.0.held.lock();
        match self.0.state.load(Ordering::Acquire) {
            CONNECTING | ACCEPTED
                if held.missed.len() + held.frames.len() + 1 >= self.0.conn.queue_capacity() =>
            {
                Err(SendError::Full)
            }
            CONNECTING | ACCEPTED => {
                held.frames.push(item);
                Ok(())
            }
            CONNECTED => {
                drop(held);
                self.0.conn.push(item)
            }
            _ => Err(SendError::Closed),
        }
    }

    pub(crate) fn close_slow_consumer(&self) {
        tracing::warn!(socket = %self.id(), "outgoing queue full: disconnecting the slow client");
        self.0.conn.close(CloseReason::SendBufferFull);
    }

    pub(crate) fn send_frames(
        &self,
        text: String,
        attachments: Vec<bytes::Bytes>,
        volatile: bool,
    ) -> Result<(), EmitError> {
        self.send_item(frames(text, attachments), volatile)
    }

    fn send_item(&self, item: Outgoing, volatile: bool) -> Result<(), EmitError> {
        match self.push_raw(item) {
            Ok(()) => Ok(()),
            Err(SendError::Full) if volatile => Ok(()),
            Err(SendError::Full) => {
                self.close_slow_consumer();
                Err(EmitError::Full)
            }
            Err(SendError::Closed) => Err(EmitError::Closed),
        }
    }

    fn emit_inner(
        &self,
        event: &str,
        payload: Payload,
        ack_id: Option<u64>,
        volatile: bool,
    ) -> Result<(), EmitError> {
        if is_reserved_event(event) {
            return Err(EmitError::Reserved(event.to_owned()));
        }
        // Cloned only when someone listens: this runs for every emit.
        let outgoing = {
            let handlers = self.0.handlers.read();
            (!handlers.any_outgoing.is_empty()).then(|| handlers.clone())
        };
        if let Some(handlers) = outgoing {
            for any in &handlers.any_outgoing {
                any.call(self, event, &payload);
            }
        }
        if let Some(observer) = self.0.ns.hooks.get() {
            observer.event_sent(self, event, &payload);
        }
        let recoverable = ack_id.is_none() && !volatile && self.0.ns.recovery.is_some();
        if recoverable {
            if let Some(store) = self.0.ns.adapter().session_store() {
                // As socket.io 4.8 does with a cluster's adapter: a broadcast to the socket's own room,
                // so the event is kept where any server can find it.
                if packet::nesting_exceeds(payload.args_json(), self.0.ns.limits.max_json_depth) {
                    return Err(EmitError::TooDeep);
                }
                let opts = BroadcastOptions {
                    rooms: vec![self.own_room()],
                    ..BroadcastOptions::default()
                };
                return store
                    .broadcast_recoverable(event, payload, &opts)
                    .map_err(EmitError::Adapter);
            }
        }
        let (args, attachments) = payload.into_parts();
        if packet::nesting_exceeds(&args, self.0.ns.limits.max_json_depth) {
            return Err(EmitError::TooDeep);
        }
        if recoverable {
            if let Some(recovery) = self.0.ns.recovery.as_deref() {
                // Kept for recovery, as socket.io 4.8 keeps an emit to one socket (it broadcasts it to
                // the socket's own room): stored and queued under the store's lock.
                let guard = recovery.lock();
                let offset = guard.next_offset();
                let text = packet::encode_event_with_offset(
                    self.nsp(),
                    event,
                    &args,
                    attachments.len(),
                    &offset,
                );
                self.observe_sent(&text, &attachments);
                let item = frames(text, attachments);
                guard.store(vec![self.own_room()], Vec::new(), item.clone());
                return self.send_item(item, false);
            }
        }
        let text = packet::encode_event(self.nsp(), event, &args, attachments.len(), ack_id);
        self.observe_sent(&text, &attachments);
        self.send_frames(text, attachments, volatile)
    }

    /// Tells the observer (if any) about one packet queued for this client.
    fn observe_sent(&self, text: &str, attachments: &[bytes::Bytes]) {
        if let Some(observer) = self.0.ns.hooks.get() {
            let bytes = text.len() + attachments.iter().map(|a| a.len()).sum::<usize>();
            observer.messages_sent(1 + attachments.len(), bytes);
        }
    }

    /// Emits an event to this client.
    pub fn emit(&self, event: &str, payload: Payload) -> Result<(), EmitError> {
        self.emit_inner(event, payload, None, false)
    }

    /// Emits an event that may be dropped if the client cannot take it now (socket.io's `volatile`).
    pub fn emit_volatile(&self, event: &str, payload: Payload) -> Result<(), EmitError> {
        self.emit_inner(event, payload, None, true)
    }

    /// Emits an event and waits for the client's acknowledgement, at most `timeout`. The packet is
    /// queued before this returns, so emits keep their order whether or not the future is awaited.
    pub fn emit_with_ack(
        &self,
        event: &str,
        payload: Payload,
        timeout: Duration,
    ) -> impl Future<Output = Result<Payload, AckError>> + Send + 'static {
        let id = self.0.ns.next_ack_id();
        let (tx, rx) = oneshot::channel();
        let registered = {
            let mut acks = self.0.acks.lock();
            let room = acks.len() < self.0.ns.limits.max_pending_acks;
            if room {
                acks.insert(id, AckWaiter::One(tx));
            }
            room
        };
        let sent = if registered {
            self.emit_inner(event, payload, Some(id), false)
        } else {
            Err(EmitError::TooManyPendingAcks)
        };
        let socket = self.clone();
        async move {
            if let Err(error) = sent {
                if registered {
                    socket.0.acks.lock().remove(&id);
                }
                return Err(AckError::Emit(error));
            }
            match tokio::time::timeout(timeout, rx).await {
                Ok(Ok(payload)) => Ok(payload),
                Ok(Err(_)) => Err(AckError::Disconnected),
                Err(_) => {
                    socket.0.acks.lock().remove(&id);
                    Err(AckError::Timeout {
                        answers: Vec::new(),
                    })
                }
            }
        }
    }

    pub(crate) fn expect_ack_for_broadcast(&self, id: u64, collector: AckCollector) {
        if self.live() {
            let mut acks = self.0.acks.lock();
            // Full: this socket's answer is not awaited (the broadcast times out without it).
            if acks.len() < self.0.ns.limits.max_pending_acks {
                acks.insert(id, AckWaiter::Broadcast(collector));
            }
        }
    }

    pub(crate) fn forget_ack(&self, id: u64) {
        self.0.acks.lock().remove(&id);
    }

    /// Joins one or more rooms.
    pub fn join(&self, rooms: impl IntoRooms) {
        if !self.live() {
            return;
        }
        self.0.ns.adapter().add_all(self.id(), &rooms.into_rooms());
        if !self.live() {
            // It left while joining, maybe after its rooms were cleared: clear them again.
            self.0.ns.adapter().del_all(self.id());
        }
    }

    /// Leaves a room.
    pub fn leave(&self, room: impl Into<Room>) {
        self.0.ns.adapter().del(self.id(), &room.into());
    }

    /// The rooms the socket is in (its own id room included).
    pub fn rooms(&self) -> Vec<Room> {
        self.0.ns.adapter().socket_rooms(self.id())
    }

    fn own_room(&self) -> Room {
        Room::from(self.id().as_str())
    }

    /// Targets the members of `rooms` except this socket.
    pub fn to(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.broadcast().to(rooms)
    }

    /// Same as [`Socket::to`].
    pub fn within(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.to(rooms)
    }

    /// Targets every socket of the namespace but this one, minus `rooms`.
    pub fn except(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.broadcast().except(rooms)
    }

    /// Targets every socket of the namespace but this one.
    pub fn broadcast(&self) -> BroadcastOperator {
        self.namespace().except(self.own_room())
    }

    /// Disconnects from the namespace (sending DISCONNECT), or closes the whole connection when `close`.
    pub fn disconnect(&self, close: bool) {
        if close {
            super::client::disconnect_all(&self.0.conn);
            self.0.conn.close(CloseReason::ForcedClose);
            return;
        }
        if self.0.state.load(Ordering::Acquire) != CONNECTED {
            // Connecting or being answered: decided under the held lock (which waits for the answer).
            let mut held = self.0.held.lock();
            if matches!(self.0.state.load(Ordering::Acquire), CONNECTING | ACCEPTED) {
                held.disconnect = true;
                return;
            }
        }
        // Claim the close before the DISCONNECT leaves: the client answers it by closing its
        // transport, and that "transport close" must not win the race for the reason.
        if !self.mark_disconnected() {
            return;
        }
        let _ = self
            .0
            .conn
            .push(frames(packet::encode_disconnect(self.nsp()), Vec::new()));
        self.finish_close(DisconnectReason::ServerNamespaceDisconnect, true);
    }

    /// Leaves the namespace: `disconnecting` (rooms visible), then rooms and acks cleared, then
    /// `disconnect`. Runs once.
    /// A socket whose connection ends while it is connecting leaves the same way (announced to the
    /// observer only if its connection handlers ran).
    pub(crate) fn on_close(&self, reason: DisconnectReason) {
        // Not connected yet: decided under the held lock (which waits for an answer being queued).
        if self.0.state.load(Ordering::Acquire) != CONNECTED {
            if let Some(announced) = self.leave_pending() {
                self.finish_close(reason, announced);
                return;
            }
        }
        if self.mark_disconnected() {
            self.finish_close(reason, true);
        }
    }

    /// Connected → disconnected; false if another path closed the socket first.
    fn mark_disconnected(&self) -> bool {
        self.0
            .state
            .compare_exchange(CONNECTED, DISCONNECTED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    fn finish_close(&self, reason: DisconnectReason, announced: bool) {
        let handlers = self.handlers();
        for handler in &handlers.disconnecting {
            handler.call(self, reason);
        }
        // The session socket.io keeps for recovery: its rooms as the `disconnecting` handlers left them.
        let persist = match (self.0.ns.recovery.as_deref(), self.0.pid) {
            (Some(recovery), Some(pid)) if reason.is_recoverable() => Some((
                recovery,
                crate::adapter::Session::new(self.id(), pid, self.rooms(), self.data()),
            )),
            _ => None,
        };
        self.0.ns.adapter().del_all(self.id());
        self.0.ns.remove_socket(self.id());
        super::client::forget_socket(&self.0.conn, self);
        // Only once the socket is gone from its namespace: a restore must not find it still there.
        if let Some((recovery, session)) = persist {
            match self.0.ns.adapter().session_store() {
                Some(store) => {
                    store.persist_session(session, recovery.options.max_disconnection_duration)
                }
                None => recovery.persist(session),
            }
        }
        // Dropping the waiters fails pending emit_with_ack futures with `Disconnected`.
        self.0.acks.lock().clear();
        for handler in &handlers.disconnect {
            handler.call(self, reason);
        }
        if announced {
            if let Some(observer) = self.0.ns.hooks.get() {
                observer.socket_disconnected(self, reason);
            }
        }
        tracing::debug!(socket = %self.id(), nsp = self.nsp(), %reason, "socket disconnected");
    }

    /// Connecting → accepted (its middlewares said yes; the connection handlers run next). False if it
    /// left meanwhile.
    pub(crate) fn accept(&self) -> bool {
        let _held = self.0.held.lock();
        self.0
            .state
            .compare_exchange(CONNECTING, ACCEPTED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Accepted → connected: queues the CONNECT answer `text`, then what was held for the socket, in
    /// one step with the state change, so nothing sent meanwhile overtakes them. `None` if the socket
    /// left meanwhile, else whether a `disconnect` was asked for before the answer.
    pub(crate) fn answer(&self, text: String) -> Option<bool> {
        let mut held = self.0.held.lock();
        if self.0.state.load(Ordering::Acquire) != ACCEPTED {
            return None;
        }
        // Before the answer leaves: the client may reply at once, from another thread.
        self.0.state.store(ANSWERING, Ordering::Release);
        // A recovered socket's missed events come first: the client keeps them until the answer.
        let mut result = Ok(());
        for item in std::mem::take(&mut held.missed) {
            if result.is_err() {
                break;
            }
            result = self.0.conn.push(item);
        }
        if result.is_ok() {
            result = self.0.conn.push(frames(text, Vec::new()));
        }
        for item in std::mem::take(&mut held.frames) {
            if result.is_err() {
                break;
            }
            result = self.0.conn.push(item);
        }
        self.0.state.store(CONNECTED, Ordering::Release);
        let disconnect = held.disconnect;
        drop(held);
        match result {
            Ok(()) => Some(disconnect),
            // The connection is closing: its close reaches this socket as for any connected one.
            Err(SendError::Closed) => Some(false),
            Err(SendError::Full) => {
                self.close_slow_consumer();
                Some(false)
            }
        }
    }

    /// Connecting or accepted → disconnected, dropping what was held: `Some(announced)` (whether its
    /// connection handlers ran), `None` if it was in neither state.
    fn leave_pending(&self) -> Option<bool> {
        let mut held = self.0.held.lock();
        let announced = match self.0.state.load(Ordering::Acquire) {
            CONNECTING => false,
            ACCEPTED => true,
            _ => return None,
        };
        self.0.state.store(DISCONNECTED, Ordering::Release);
        *held = Held::default();
        Some(announced)
    }

    /// A connection refused by a middleware: undoes what it did (rooms joined, packets held, acks
    /// awaited) without running any handler. False if the socket had already left.
    pub(crate) fn abandon(&self) -> bool {
        {
            let mut held = self.0.held.lock();
            if self
                .0
                .state
                .compare_exchange(
                    CONNECTING,
                    DISCONNECTED,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .is_err()
            {
                return false;
            }
            *held = Held::default();
        }
        self.0.ns.adapter().del_all(self.id());
        self.0.ns.remove_socket(self.id());
        super::client::forget_socket(&self.0.conn, self);
        self.0.acks.lock().clear();
        true
    }

    /// The socket's details as an adapter reports them.
    pub(crate) fn remote_data(&self) -> RemoteSocketData {
        RemoteSocketData {
            id: self.id(),
            handshake: self.handshake(),
            rooms: self.rooms(),
            data: self.data(),
        }
    }
}

/// Queues a broadcast's shared frames for one socket according to the broadcast flags: the one step of a
/// fan-out per target.
#[inline]
pub(crate) fn deliver(
    socket: &Socket,
    packet: &BroadcastPacket,
    volatile: bool,
    report: &mut BroadcastReport,
) {
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

/// One outgoing queue entry: the text frame alone, or with its attachments.
pub(crate) fn frames(text: String, attachments: Vec<bytes::Bytes>) -> Outgoing {
    if attachments.is_empty() {
        Outgoing::One(Frame::Text(text.into()))
    } else {
        let mut all = Vec::with_capacity(attachments.len() + 1);
        all.push(Frame::Text(text.into()));
        all.extend(attachments.into_iter().map(Frame::Binary));
        Outgoing::Many(all.into())
    }
}
