//! What the binding registers on the core's namespaces: `ferrio_host::attach`'s handlers, delivering to
//! the server's dispatch queue ([`ToPython`]), so the core's tokio threads never wait for the GIL. Events
//! go to the fallback event handler; python-socketio's `connect` handler runs as a middleware (the socket
//! already belongs to its namespace there, and Python accepts or refuses it), or, with `always_connect`,
//! from a connection handler. Either way the binding first makes the namespace reachable by name and
//! watches the socket's departure (python-socketio hears of it once, with the rooms). A socket recovered
//! by connection state recovery skips the middlewares (unless the options say otherwise), so with
//! recovery its `connect` handler runs from a connection handler too, as with `always_connect`.

use crate::dispatch::{Queue, ToPython};
use ferrio::adapter::BoxFuture;
use ferrio::socketio::DynamicNamespaceParent;
use ferrio::{ConnectError, Namespace, Socket};
use ferrio_host::{attach, Watch};
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::Arc;

/// The departures Python hears of: `disconnecting`, with the rooms the socket was in (the facade runs
/// both of python-socketio's departure handlers from it).
const DEPARTURES: Watch = Watch {
    disconnecting: true,
    disconnect: false,
};

/// The namespaces reachable by name from Python (registered, or dynamic ones once joined).
type Namespaces = Arc<RwLock<HashMap<String, Namespace>>>;

/// One server's handlers, registered on each of its namespaces.
pub(super) struct Handlers {
    pub(super) queue: Arc<Queue>,
    sink: Arc<ToPython>,
    always_connect: bool,
    /// Whether recovered sockets skip the middlewares (connection state recovery on, `skip_middlewares`).
    recovered_skip_middlewares: bool,
    pub(super) namespaces: Namespaces,
}

impl Handlers {
    pub(super) fn new(always_connect: bool, recovered_skip_middlewares: bool) -> Handlers {
        let queue = crate::dispatch::queue();
        Handlers {
            sink: Arc::new(ToPython(queue.clone())),
            queue,
            always_connect,
            recovered_skip_middlewares,
            namespaces: Namespaces::default(),
        }
    }

    /// Sends a static namespace's sockets to Python.
    pub(super) fn register(&self, nsp: &Namespace) {
        nsp.set_fallback_handler(attach::events(self.sink.clone()));
        if self.always_connect {
            nsp.on_connection(self.connection());
        } else {
            nsp.use_middleware(self.middleware());
            if self.recovered_skip_middlewares {
                let connected = self.connection();
                nsp.on_connection(move |socket: Socket| {
                    if socket.recovered() {
                        connected(socket);
                    }
                });
            }
        }
    }

    /// Sends the sockets of every child of a dynamic namespace to Python.
    pub(super) fn register_dynamic(&self, parent: &DynamicNamespaceParent) {
        let events = attach::events(self.sink.clone());
        // Children share their parent's handler lists: setting the fallback on one sets it on all, before
        // the first CONNECT is answered.
        let set_fallback = move |socket: &Socket| {
            socket.namespace().set_fallback_handler(events.clone());
        };
        if self.always_connect {
            parent.use_middleware(move |socket: Socket| {
                set_fallback(&socket);
                async { Ok(()) }
            });
            parent.on_connection(self.connection());
        } else {
            let middleware = self.middleware();
            let set_fallback = Arc::new(set_fallback);
            let fallback = set_fallback.clone();
            parent.use_middleware(move |socket: Socket| {
                fallback(&socket);
                middleware(socket)
            });
            if self.recovered_skip_middlewares {
                let connected = self.connection();
                parent.on_connection(move |socket: Socket| {
                    if socket.recovered() {
                        set_fallback(&socket);
                        connected(socket);
                    }
                });
            }
        }
    }

    /// python-socketio's `connect` handler as the namespace's middleware.
    fn middleware(
        &self,
    ) -> impl Fn(Socket) -> BoxFuture<'static, Result<(), ConnectError>> + Send + Sync + 'static
    {
        let ask = attach::middleware(self.sink.clone(), ());
        let (sink, namespaces) = (self.sink.clone(), self.namespaces.clone());
        move |socket: Socket| {
            remember_namespace(&namespaces, &socket);
            // Watched from now on: a client that leaves while `connect` runs is disconnected in Python too.
            attach::watch(&sink, &socket, DEPARTURES);
            ask(socket)
        }
    }

    /// `always_connect`: python-socketio's `connect` handler runs once the socket is in.
    fn connection(&self) -> impl Fn(Socket) + Send + Sync + 'static {
        let connected = attach::connection(self.sink.clone(), (), DEPARTURES);
        let namespaces = self.namespaces.clone();
        move |socket: Socket| {
            remember_namespace(&namespaces, &socket);
            connected(socket);
        }
    }
}

/// Makes the socket's namespace (maybe a dynamic one, new) reachable by name from Python.
fn remember_namespace(namespaces: &Namespaces, socket: &Socket) {
    if !namespaces.read().contains_key(socket.nsp()) {
        namespaces
            .write()
            .insert(socket.nsp().to_owned(), socket.namespace());
    }
}
