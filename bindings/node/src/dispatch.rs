//! The one path from tokio to JavaScript, on the host layer (`ferrio-host`): the core handlers the
//! binding registers (`ferrio_host::attach`) deliver [`HostEvent`]s to the server's [`Shared`], which
//! queues them in one [`BatchQueue`] per server. The queue's wake calls the server's ThreadsafeFunction
//! once per batch; its callback (on the JavaScript thread) takes the whole batch and converts it into
//! ONE call of the JavaScript dispatcher (`lib/dispatch.js`), a flat array of [`ITEM_FIELDS`] values per
//! item, in the order the core produced them.
//!
//! What JavaScript answers later is kept under numeric tokens ([`Tokens`]), assigned while a batch is
//! converted: the acks clients asked for (owned by their socket, forgotten when it disconnects), the
//! answers other servers wait for, and the middlewares' verdicts (dropped on close, which refuses them
//! with the host layer's closing message).

use bytes::Bytes;
use ferrio::adapter::{RoomEvent, ServerSideAck};
use ferrio::{AckSender, Socket};
use ferrio_host::event::RoomChange;
use ferrio_host::{BatchQueue, EventKind, HostEvent, Sink, Tokens, Verdict, Wake};
use napi::bindgen_prelude::{Array, Buffer, ToNapiValue, Unknown};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{sys, Env};
use parking_lot::RwLock;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Weak};

/// How many values one item takes in a batch: `kind, nsp, sid, a, b, buffers, n1, n2`.
#[napi_derive::napi]
pub const ITEM_FIELDS: u32 = 8;

/// The kind numbers the dispatcher switches on (`{ MIDDLEWARE: 0, CONNECT: 1, … }`), from the host
/// layer's table.
#[napi_derive::napi]
pub fn event_kinds() -> HashMap<String, u32> {
    EventKind::ALL
        .iter()
        .map(|kind| (kind.name().to_owned(), u32::from(kind.number())))
        .collect()
}

/// The numbers of a ROOM item's `n1`, by the name of the adapter event each one is
/// (`{ "create-room": 0, … }`), from the host layer's table.
#[napi_derive::napi]
pub fn room_changes() -> HashMap<String, u32> {
    [
        ("create-room", RoomChange::Create),
        ("delete-room", RoomChange::Delete),
        ("join-room", RoomChange::Join),
        ("leave-room", RoomChange::Leave),
    ]
    .into_iter()
    .map(|(name, change)| (name.to_owned(), u32::from(change as u8)))
    .collect()
}

/// The server's dispatcher: one per listening server, called with no value once per batch.
pub(crate) type Dispatcher = ThreadsafeFunction<(), Unknown<'static>, Batch, napi::Status, false>;

/// State shared by a server, its namespaces and the handlers registered in the core. The handlers
/// deliver to it (it is their [`Sink`]); the tag of an event is the dynamic parent's index (-1 for a
/// static namespace).
pub(crate) struct Shared {
    /// Present while the server listens; dropping it releases the ThreadsafeFunction (and Node's loop).
    pub(crate) dispatcher: RwLock<Option<Dispatcher>>,
    /// What the core reported and JavaScript has not taken yet.
    queue: BatchQueue<HostEvent<i32>>,
    /// Acknowledgements clients asked for, until JavaScript answers or the socket leaves.
    pub(crate) acks: Tokens<AckSender>,
    /// Answers other servers wait for (server-side emits with an ack), until JavaScript answers.
    pub(crate) server_acks: Tokens<ServerSideAck>,
    /// Sockets waiting for the verdict of the namespace's JavaScript middlewares.
    pub(crate) verdicts: Tokens<Verdict>,
    /// Set by `close()`: later operations fail with `ERR_FERRIO_SERVER_CLOSED`.
    pub(crate) closed: AtomicBool,
    /// Whether the server has connection state recovery, so that the core keeps the session of a socket
    /// whose connection was lost for a recoverable reason.
    keeps_sessions: bool,
}

impl Shared {
    pub(crate) fn new(keeps_sessions: bool) -> Arc<Shared> {
        Arc::new_cyclic(|me: &Weak<Shared>| {
            let me = me.clone();
            Shared {
                dispatcher: RwLock::default(),
                queue: BatchQueue::new(Wake::Call(Box::new(move || {
                    if let Some(shared) = me.upgrade() {
                        shared.wake();
                    }
                }))),
                acks: Tokens::default(),
                server_acks: Tokens::default(),
                verdicts: Tokens::default(),
                closed: AtomicBool::new(false),
                keeps_sessions,
            }
        })
    }

    /// The queue turned non-empty: one call of the dispatcher takes the batch. Runs inside `deliver`,
    /// which holds the dispatcher's lock for reading (hence the recursive read).
    fn wake(&self) {
        if let Some(dispatcher) = &*self.dispatcher.read_recursive() {
            dispatcher.call((), ThreadsafeFunctionCallMode::NonBlocking);
        }
    }

    /// Refuses the middleware verdicts JavaScript still owes (the server closed); call it after the
    /// dispatcher is gone, so that a batch converted later does not keep new ones.
    pub(crate) fn refuse_pending(&self) {
        drop(self.verdicts.drain());
    }
}

impl Sink<i32> for Shared {
    /// Queues the event while the server listens; `false` (and the event is dropped) otherwise.
    fn deliver(&self, event: HostEvent<i32>) -> bool {
        let leaving = match &event {
            HostEvent::Disconnect { socket, .. } => Some(socket.id()),
            _ => None,
        };
        // Held while pushing, so that the wake finds the dispatcher an accepted event was queued for.
        let dispatcher = self.dispatcher.read();
        let queued = dispatcher.is_some() && self.queue.push(event);
        if let (false, Some(sid)) = (queued, leaving) {
            // JavaScript will not hear of the departure, so the socket's unanswered acks go now; a queued
            // departure takes them when it is converted, after every event the socket sent.
            self.acks.forget(sid);
        }
        queued
    }
}

/// One batch on its way to the dispatcher (built by the ThreadsafeFunction's callback).
pub struct Batch {
    events: VecDeque<HostEvent<i32>>,
    shared: Option<Arc<Shared>>,
}

impl Batch {
    /// Everything queued for the server (nothing once the server is gone).
    pub(crate) fn take(shared: &Weak<Shared>) -> Batch {
        let shared = shared.upgrade();
        Batch {
            events: shared.as_ref().map(|s| s.queue.take(0)).unwrap_or_default(),
            shared,
        }
    }
}

impl ToNapiValue for Batch {
    unsafe fn to_napi_value(env: sys::napi_env, batch: Batch) -> napi::Result<sys::napi_value> {
        let env = Env::from_raw(env);
        let len = batch.events.len() as u32 * ITEM_FIELDS;
        let mut items = Items {
            array: env.create_array(len)?,
            at: 0,
        };
        if let Some(shared) = &batch.shared {
            for event in batch.events {
                shared.convert(event, &mut items)?;
            }
        }
        // SAFETY: `env` is the live environment this conversion was called with.
        unsafe { Array::to_napi_value(env.raw(), items.array) }
    }
}

/// The flat array of a batch, filled one item at a time.
struct Items<'env> {
    array: Array<'env>,
    at: u32,
}

impl Items<'_> {
    #[allow(clippy::too_many_arguments)]
    fn item(
        &mut self,
        kind: EventKind,
        nsp: &str,
        sid: &str,
        a: Option<&str>,
        b: impl ToNapiValue,
        buffers: Option<Vec<Buffer>>,
        n1: f64,
        n2: f64,
    ) -> napi::Result<()> {
        let at = self.at;
        self.array.set(at, u32::from(kind.number()))?;
        self.array.set(at + 1, nsp)?;
        self.array.set(at + 2, sid)?;
        self.array.set(at + 3, a)?;
        self.array.set(at + 4, b)?;
        self.array.set(at + 5, buffers)?;
        self.array.set(at + 6, n1)?;
        self.array.set(at + 7, n2)?;
        self.at += ITEM_FIELDS;
        Ok(())
    }
}

fn buffers(attachments: Vec<Bytes>) -> Option<Vec<Buffer>> {
    if attachments.is_empty() {
        None
    } else {
        Some(
            attachments
                .into_iter()
                .map(|b| Buffer::from(b.to_vec()))
                .collect(),
        )
    }
}

/// A socket joining its namespace (a middleware's question, or the connection): its handshake, whether
/// it is a recovered session (connection state recovery), the verdict's token (0 for a connection) and
/// its dynamic parent.
fn joining(
    items: &mut Items<'_>,
    kind: EventKind,
    socket: &Socket,
    token: f64,
    parent: i32,
) -> napi::Result<()> {
    let handshake = socket.handshake().to_string();
    items.item(
        kind,
        socket.nsp(),
        socket.id().as_str(),
        Some(&handshake),
        socket.recovered(),
        None,
        token,
        f64::from(parent),
    )
}

/// A token as the facade holds it (-1: none).
fn token(token: Option<u64>) -> f64 {
    token.map_or(-1.0, |t| t as f64)
}

impl Shared {
    /// Writes one event as the dispatcher's item (on the JavaScript thread), keeping what JavaScript
    /// answers later under tokens. What each field carries per kind is listed in `lib/dispatch.js`.
    fn convert(&self, event: HostEvent<i32>, items: &mut Items<'_>) -> napi::Result<()> {
        let kind = event.kind();
        match event {
            HostEvent::Middleware {
                socket,
                verdict,
                tag,
            } => {
                let token = self.verdicts.keep(None, verdict);
                if self.dispatcher.read().is_none() {
                    // Closed since it was queued: refused at once (JavaScript's answer finds nothing).
                    drop(self.verdicts.take(token));
                }
                joining(items, kind, &socket, token as f64, tag)
            }
            HostEvent::Connect { socket, tag } => joining(items, kind, &socket, 0.0, tag),
            HostEvent::Event { socket, event } => {
                let sid = socket.id();
                let ack = event.ack.map(|ack| self.acks.keep(Some(sid), ack));
                let (json, attachments) = event.payload.into_parts();
                items.item(
                    kind,
                    socket.nsp(),
                    sid.as_str(),
                    Some(&event.name),
                    Some(&json),
                    buffers(attachments),
                    token(ack),
                    0.0,
                )
            }
            HostEvent::Disconnecting {
                socket,
                reason,
                rooms,
            } => {
                let rooms: Vec<&str> = rooms.iter().map(|r| &**r).collect();
                let rooms = serde_json::to_string(&rooms).ok();
                items.item(
                    kind,
                    socket.nsp(),
                    socket.id().as_str(),
                    Some(reason.as_str()),
                    rooms.as_deref(),
                    None,
                    0.0,
                    0.0,
                )
            }
            HostEvent::Disconnect { socket, reason } => {
                // The socket's unanswered acks go with it (its events were converted before this).
                self.acks.forget(socket.id());
                // The core kept its session (rooms, `data`) for connection state recovery.
                let kept = self.keeps_sessions && reason.is_recoverable();
                items.item(
                    kind,
                    socket.nsp(),
                    socket.id().as_str(),
                    Some(reason.as_str()),
                    None::<&str>,
                    None,
                    f64::from(u8::from(kept)),
                    0.0,
                )
            }
            HostEvent::Room { nsp, event } => {
                let change = RoomChange::of(&event) as u8;
                let (room, sid) = match &event {
                    RoomEvent::CreateRoom(room) | RoomEvent::DeleteRoom(room) => (room, None),
                    RoomEvent::JoinRoom(room, sid) | RoomEvent::LeaveRoom(room, sid) => {
                        (room, Some(*sid))
                    }
                };
                items.item(
                    kind,
                    &nsp,
                    sid.as_ref().map_or("", |s| s.as_str()),
                    Some(&**room),
                    None::<&str>,
                    None,
                    f64::from(change),
                    0.0,
                )
            }
            HostEvent::Upgrade { socket } => items.item(
                kind,
                socket.nsp(),
                socket.id().as_str(),
                None,
                None::<&str>,
                None,
                0.0,
                0.0,
            ),
            HostEvent::ServerSide { nsp, event } => {
                let ack = event.ack.map(|ack| self.server_acks.keep(None, ack));
                let (json, attachments) = event.payload.into_parts();
                items.item(
                    kind,
                    &nsp,
                    "",
                    Some(&event.event),
                    Some(&json),
                    buffers(attachments),
                    token(ack),
                    0.0,
                )
            }
            // A kind this binding registers no handler for: the dispatcher skips it.
            _ => items.item(kind, "", "", None, None::<&str>, None, 0.0, 0.0),
        }
    }
}
