//! The handler set the binding registers on every namespace of the core: connect (as a middleware, so
//! that Python can accept or refuse), connection, and the fallback event handler. Each call only pushes an
//! item onto the server's dispatch queue and returns, so the core's tokio threads never wait for the GIL.

use crate::dispatch::{Item, Queue};
use ferrio::adapter::BoxFuture;
use ferrio::socketio::{ConnectionHandler, EventHandler, Middleware};
use ferrio::{ConnectError, Event, Namespace, Socket};
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::oneshot;

/// The handler set registered on every namespace of one server: each call only enqueues.
pub(super) struct Handlers {
    pub(super) queue: Arc<Queue>,
    pub(super) always_connect: bool,
    /// The namespaces reachable by name from Python (registered, or dynamic ones once joined).
    pub(super) namespaces: Arc<RwLock<HashMap<String, Namespace>>>,
}

impl Handlers {
    /// python-socketio's `connect` handler runs as the namespace's middleware: the socket already belongs
    /// to its namespace there (rooms, emits, sessions work); `reply` accepts or refuses it.
    pub(super) fn connect(&self, socket: Socket) -> BoxFuture<'static, Result<(), ConnectError>> {
        if self.always_connect {
            return Box::pin(async { Ok(()) });
        }
        self.remember_namespace(&socket);
        // Watched from now on: a client that leaves while `connect` runs is disconnected in Python too.
        self.watch(&socket);
        let (tx, rx) = oneshot::channel();
        self.queue.push(Item::Connect {
            socket,
            reply: Some(tx),
        });
        Box::pin(async move {
            rx.await
                .unwrap_or_else(|_| Err(ConnectError::new("the server is shutting down")))
        })
    }

    /// Tells Python when the socket leaves, with its rooms as they were.
    fn watch(&self, socket: &Socket) {
        let queue = self.queue.clone();
        socket.on_disconnecting(move |socket, reason| {
            queue.push(Item::Disconnect {
                socket: socket.clone(),
                reason,
                rooms: socket.rooms(),
            })
        });
    }

    /// Makes the socket's namespace (maybe a dynamic one, new) reachable by name from Python.
    fn remember_namespace(&self, socket: &Socket) {
        let nsp = socket.namespace();
        if !self.namespaces.read().contains_key(nsp.name()) {
            self.namespaces.write().insert(nsp.name().to_owned(), nsp);
        }
    }

    pub(super) fn connected(&self, socket: Socket) {
        if self.always_connect {
            self.remember_namespace(&socket);
            self.watch(&socket);
            self.queue.push(Item::Connect {
                socket,
                reply: None,
            });
        }
    }
}

impl Middleware for Handlers {
    fn call(&self, socket: Socket) -> BoxFuture<'static, Result<(), ConnectError>> {
        self.connect(socket)
    }
}

impl ConnectionHandler for Handlers {
    fn call(&self, socket: Socket) {
        self.connected(socket)
    }
}

impl EventHandler for Handlers {
    fn call(&self, socket: &Socket, event: Event) {
        self.queue.push(Item::Event {
            socket: socket.clone(),
            name: event.name,
            payload: event.payload,
            ack: event.ack,
        });
    }
}
