//! The one path from tokio to JavaScript: every handler the binding registers in the core turns what it
//! sees into an [`Item`] and enqueues it on the server's ThreadsafeFunction (non-blocking, unbounded),
//! so items reach the JavaScript dispatcher in the order the core produced them. The state JavaScript
//! answers later (acks it owes to clients, middleware verdicts) is kept here, keyed by numeric tokens.

use bytes::Bytes;
use ferrio::socketio::{ConnectError, EventHandler};
use ferrio::{AckSender, Event, Payload, Sid, Socket};
use napi::bindgen_prelude::{Buffer, FnArgs, Unknown};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::oneshot;

/// What the JavaScript dispatcher receives: `(kind, nsp, sid, a, b, buffers, n1, n2)`.
pub(crate) type Args = FnArgs<(
    u32,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<Vec<Buffer>>,
    f64,
    f64,
)>;

/// The server's dispatcher: one per listening server.
pub(crate) type Dispatcher = ThreadsafeFunction<Item, Unknown<'static>, Args, napi::Status, false>;

/// The kinds of items, as the facade numbers them.
pub(crate) mod kind {
    pub const MIDDLEWARE: u32 = 0;
    pub const CONNECT: u32 = 1;
    pub const EVENT: u32 = 2;
    pub const DISCONNECTING: u32 = 3;
    pub const DISCONNECT: u32 = 4;
    pub const ROOM: u32 = 5;
    pub const UPGRADE: u32 = 6;
    pub const SERVER_SIDE: u32 = 7;
}

/// One thing that happened, on its way to JavaScript.
pub(crate) enum Item {
    /// An event another server of the cluster sent (`serverSideEmit`); `ack` is the token of the answer
    /// it waits for.
    ServerSide {
        nsp: String,
        name: String,
        payload: Payload,
        ack: Option<u64>,
    },
    /// A socket waits for the namespace's middlewares: `n1` is the verdict token, `n2` the dynamic parent.
    Middleware {
        nsp: String,
        sid: Sid,
        handshake: String,
        token: u64,
        parent: i32,
    },
    /// A socket joined a namespace.
    Connect {
        nsp: String,
        sid: Sid,
        handshake: String,
        parent: i32,
    },
    /// An event from a client; `ack` is the token of the acknowledgement it asked for.
    Event {
        nsp: String,
        sid: Sid,
        name: String,
        payload: Payload,
        ack: Option<u64>,
    },
    /// The socket is leaving; its rooms as they were.
    Disconnecting {
        nsp: String,
        sid: Sid,
        reason: &'static str,
        rooms: Vec<ferrio::Room>,
    },
    /// The socket has left.
    Disconnect {
        nsp: String,
        sid: Sid,
        reason: &'static str,
    },
    /// An adapter event: `what` is 0 create-room, 1 delete-room, 2 join-room, 3 leave-room.
    Room {
        nsp: String,
        what: u32,
        room: String,
        sid: Option<Sid>,
    },
    /// The socket's connection upgraded from polling to WebSocket.
    Upgrade { nsp: String, sid: Sid },
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

impl Item {
    /// The dispatcher's arguments (runs on the JavaScript thread).
    pub(crate) fn into_args(self) -> Args {
        let none = || None;
        match self {
            Item::Middleware {
                nsp,
                sid,
                handshake,
                token,
                parent,
            } => (
                kind::MIDDLEWARE,
                nsp,
                sid.as_str().to_owned(),
                Some(handshake),
                none(),
                None,
                token as f64,
                f64::from(parent),
            ),
            Item::Connect {
                nsp,
                sid,
                handshake,
                parent,
            } => (
                kind::CONNECT,
                nsp,
                sid.as_str().to_owned(),
                Some(handshake),
                none(),
                None,
                0.0,
                f64::from(parent),
            ),
            Item::Event {
                nsp,
                sid,
                name,
                payload,
                ack,
            } => {
                let (json, attachments) = payload.into_parts();
                (
                    kind::EVENT,
                    nsp,
                    sid.as_str().to_owned(),
                    Some(name),
                    Some(json),
                    buffers(attachments),
                    ack.map_or(-1.0, |t| t as f64),
                    0.0,
                )
            }
            Item::Disconnecting {
                nsp,
                sid,
                reason,
                rooms,
            } => {
                let rooms: Vec<&str> = rooms.iter().map(|r| &**r).collect();
                (
                    kind::DISCONNECTING,
                    nsp,
                    sid.as_str().to_owned(),
                    Some(reason.to_owned()),
                    serde_json::to_string(&rooms).ok(),
                    None,
                    0.0,
                    0.0,
                )
            }
            Item::Disconnect { nsp, sid, reason } => (
                kind::DISCONNECT,
                nsp,
                sid.as_str().to_owned(),
                Some(reason.to_owned()),
                none(),
                None,
                0.0,
                0.0,
            ),
            Item::Room {
                nsp,
                what,
                room,
                sid,
            } => (
                kind::ROOM,
                nsp,
                sid.map(|s| s.as_str().to_owned()).unwrap_or_default(),
                Some(room),
                none(),
                None,
                f64::from(what),
                0.0,
            ),
            Item::ServerSide {
                nsp,
                name,
                payload,
                ack,
            } => {
                let (json, attachments) = payload.into_parts();
                (
                    kind::SERVER_SIDE,
                    nsp,
                    String::new(),
                    Some(name),
                    Some(json),
                    buffers(attachments),
                    ack.map_or(-1.0, |t| t as f64),
                    0.0,
                )
            }
            Item::Upgrade { nsp, sid } => (
                kind::UPGRADE,
                nsp,
                sid.as_str().to_owned(),
                none(),
                none(),
                None,
                0.0,
                0.0,
            ),
        }
        .into()
    }
}

/// State shared by a server, its namespaces and the handlers registered in the core.
#[derive(Default)]
pub(crate) struct Shared {
    /// Present while the server listens; dropping it releases the ThreadsafeFunction (and Node's loop).
    pub(crate) dispatcher: RwLock<Option<Arc<Dispatcher>>>,
    /// Acknowledgements clients asked for, until JavaScript answers or the socket leaves.
    acks: Mutex<HashMap<u64, (Sid, AckSender)>>,
    /// Answers other servers wait for (server-side emits with an ack), until JavaScript answers.
    server_acks: Mutex<HashMap<u64, ferrio::adapter::ServerSideAck>>,
    /// Sockets waiting for the verdict of the namespace's JavaScript middlewares.
    verdicts: Mutex<HashMap<u64, oneshot::Sender<Result<(), ConnectError>>>>,
    tokens: AtomicU64,
    /// Set by `close()`: later operations fail with `ERR_FERRIO_SERVER_CLOSED`.
    pub(crate) closed: std::sync::atomic::AtomicBool,
}

impl Shared {
    /// Enqueues an item; `false` when there is no dispatcher (not listening, or closed).
    pub(crate) fn send(&self, item: Item) -> bool {
        match &*self.dispatcher.read() {
            Some(dispatcher) => {
                dispatcher.call(item, ThreadsafeFunctionCallMode::NonBlocking) == napi::Status::Ok
            }
            None => false,
        }
    }

    fn token(&self) -> u64 {
        self.tokens.fetch_add(1, Ordering::Relaxed)
    }

    /// Keeps an ack sender until JavaScript answers it.
    pub(crate) fn keep_ack(&self, sid: Sid, ack: AckSender) -> u64 {
        let token = self.token();
        self.acks.lock().insert(token, (sid, ack));
        token
    }

    /// The ack sender of a token (once).
    pub(crate) fn take_ack(&self, token: u64) -> Option<AckSender> {
        self.acks.lock().remove(&token).map(|(_, ack)| ack)
    }

    /// Forgets the unanswered acks of a socket that left.
    pub(crate) fn forget_acks(&self, sid: Sid) {
        let mut acks = self.acks.lock();
        if !acks.is_empty() {
            acks.retain(|_, (owner, _)| *owner != sid);
        }
    }

    /// Hands a server-side event to JavaScript, keeping its ack until JavaScript answers.
    pub(crate) fn server_side_event(&self, nsp: &str, event: ferrio::adapter::ServerSideEvent) {
        let ack = event.ack.map(|ack| {
            let token = self.token();
            self.server_acks.lock().insert(token, ack);
            token
        });
        let sent = self.send(Item::ServerSide {
            nsp: nsp.to_owned(),
            name: event.event,
            payload: event.payload,
            ack,
        });
        if !sent {
            if let Some(token) = ack {
                self.server_acks.lock().remove(&token);
            }
        }
    }

    /// The answer of a server-side event (once).
    pub(crate) fn take_server_ack(&self, token: u64) -> Option<ferrio::adapter::ServerSideAck> {
        self.server_acks.lock().remove(&token)
    }

    /// Registers a middleware verdict to wait for.
    pub(crate) fn expect_verdict(&self) -> (u64, oneshot::Receiver<Result<(), ConnectError>>) {
        let token = self.token();
        let (tx, rx) = oneshot::channel();
        self.verdicts.lock().insert(token, tx);
        (token, rx)
    }

    /// JavaScript's verdict.
    pub(crate) fn verdict(&self, token: u64, verdict: Result<(), ConnectError>) {
        if let Some(tx) = self.verdicts.lock().remove(&token) {
            let _ = tx.send(verdict);
        }
    }

    /// Refuses every pending middleware (the server closes).
    pub(crate) fn refuse_pending(&self) {
        for (_, tx) in self.verdicts.lock().drain() {
            let _ = tx.send(Err(ConnectError::new("server closed")));
        }
    }
}

/// The event handler of every namespace: enqueues the event, keeping its ack sender.
pub(crate) struct Fallback {
    pub(crate) shared: Arc<Shared>,
}

impl EventHandler for Fallback {
    fn call(&self, socket: &Socket, event: Event) {
        let sid = socket.id();
        let ack = event.ack.map(|ack| self.shared.keep_ack(sid, ack));
        let sent = self.shared.send(Item::Event {
            nsp: socket.nsp().to_owned(),
            sid,
            name: event.name,
            payload: event.payload,
            ack,
        });
        if !sent {
            if let Some(token) = ack {
                self.shared.take_ack(token);
            }
        }
    }
}

/// Registers what every connected socket reports (disconnecting with its rooms, disconnect) and tells
/// JavaScript about the connection.
pub(crate) fn on_connect(shared: &Arc<Shared>, socket: &Socket, parent: i32) {
    let s = shared.clone();
    socket.on_disconnecting(move |socket, reason| {
        s.send(Item::Disconnecting {
            nsp: socket.nsp().to_owned(),
            sid: socket.id(),
            reason: reason.as_str(),
            rooms: socket.rooms(),
        });
    });
    let s = shared.clone();
    socket.on_disconnect(move |socket, reason| {
        s.forget_acks(socket.id());
        s.send(Item::Disconnect {
            nsp: socket.nsp().to_owned(),
            sid: socket.id(),
            reason: reason.as_str(),
        });
    });
    shared.send(Item::Connect {
        nsp: socket.nsp().to_owned(),
        sid: socket.id(),
        handshake: socket.handshake().to_string(),
        parent,
    });
}

/// Asks JavaScript for a middleware verdict about `socket` and waits for it (on a tokio task, never
/// blocking a worker).
pub(crate) async fn ask_middleware(
    shared: Arc<Shared>,
    socket: Socket,
    parent: i32,
) -> Result<(), ConnectError> {
    let (token, rx) = shared.expect_verdict();
    let sent = shared.send(Item::Middleware {
        nsp: socket.nsp().to_owned(),
        sid: socket.id(),
        handshake: socket.handshake().to_string(),
        token,
        parent,
    });
    if !sent {
        shared.verdict(token, Err(ConnectError::new("server closed")));
    }
    rx.await
        .unwrap_or_else(|_| Err(ConnectError::new("server closed")))
}
