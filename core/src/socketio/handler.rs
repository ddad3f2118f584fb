//! The object-safe handler traits: the one dispatch path every language uses. Rust closures are adapted
//! onto them; the C, Python and Node bindings implement them with a queue to their own thread.

use super::{DisconnectReason, Event, Payload, Socket};
use crate::adapter::BoxFuture;
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Waker};

/// Why a namespace connection was refused: sent to the client as CONNECT_ERROR
/// `{"message": …, "data": …}`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectError {
    /// The message (`err.message` on the client).
    pub message: String,
    /// Optional details (`err.data` on the client).
    pub data: Option<serde_json::Value>,
}

impl ConnectError {
    /// A refusal with a message only.
    pub fn new(message: impl Into<String>) -> ConnectError {
        ConnectError {
            message: message.into(),
            data: None,
        }
    }

    /// A refusal with a message and data.
    pub fn with_data(message: impl Into<String>, data: serde_json::Value) -> ConnectError {
        ConnectError {
            message: message.into(),
            data: Some(data),
        }
    }
}

/// A namespace middleware: runs before a socket joins; `Err` refuses it.
pub trait Middleware: Send + Sync + 'static {
    /// Decides about `socket` (not yet connected; its `auth` and request are available).
    fn call(&self, socket: Socket) -> BoxFuture<'static, Result<(), ConnectError>>;
}

/// Runs when a socket has joined a namespace (socket.io's `connection` event).
pub trait ConnectionHandler: Send + Sync + 'static {
    /// The socket is connected; register its event handlers here.
    fn call(&self, socket: Socket);
}

/// Handles one event. Called in wire order on the connection's task: it must only start work, not wait.
pub trait EventHandler: Send + Sync + 'static {
    /// Handles `event` received by `socket`.
    fn call(&self, socket: &Socket, event: Event);
}

/// Sees every event (`onAny`, `onAnyOutgoing`).
pub trait AnyHandler: Send + Sync + 'static {
    /// One event with its name and arguments.
    fn call(&self, socket: &Socket, event: &str, payload: &Payload);
}

impl<F: Fn(&Socket, &str, &Payload) + Send + Sync + 'static> AnyHandler for F {
    fn call(&self, socket: &Socket, event: &str, payload: &Payload) {
        self(socket, event, payload)
    }
}

/// Runs on `disconnecting` or `disconnect`.
pub trait DisconnectHandler: Send + Sync + 'static {
    /// The socket is leaving (or has left) for `reason`.
    fn call(&self, socket: &Socket, reason: DisconnectReason);
}

impl<F: Fn(&Socket, DisconnectReason) + Send + Sync + 'static> DisconnectHandler for F {
    fn call(&self, socket: &Socket, reason: DisconnectReason) {
        self(socket, reason)
    }
}

/// A per-packet middleware (socket.io's `socket.use`).
pub trait PacketMiddleware: Send + Sync + 'static {
    /// `Err` drops the event.
    fn call(&self, socket: &Socket, event: &str, payload: &Payload) -> Result<(), String>;
}

impl<F> PacketMiddleware for F
where
    F: Fn(&Socket, &str, &Payload) -> Result<(), String> + Send + Sync + 'static,
{
    fn call(&self, socket: &Socket, event: &str, payload: &Payload) -> Result<(), String> {
        self(socket, event, payload)
    }
}

/// Starts a future in order: its first poll happens now, on the caller's task, so what it does before its
/// first await (emits, joins) happens in wire order; only if it then waits is it spawned to finish
/// concurrently.
pub(crate) fn start_in_order<F: Future<Output = ()> + Send + 'static>(future: F) {
    let mut future = Box::pin(future);
    let mut cx = Context::from_waker(Waker::noop());
    if future.as_mut().poll(&mut cx).is_pending() {
        // The spawned task polls again with a real waker, re-registering whatever the first poll waited on.
        tokio::spawn(future);
    }
}

pub(crate) struct AsyncEventFn<F>(pub(crate) F);

impl<F, Fut> EventHandler for AsyncEventFn<F>
where
    F: Fn(Socket, Event) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    fn call(&self, socket: &Socket, event: Event) {
        start_in_order((self.0)(socket.clone(), event));
    }
}

pub(crate) struct AsyncMiddlewareFn<F>(pub(crate) F);

impl<F, Fut> Middleware for AsyncMiddlewareFn<F>
where
    F: Fn(Socket) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), ConnectError>> + Send + 'static,
{
    fn call(&self, socket: Socket) -> BoxFuture<'static, Result<(), ConnectError>> {
        Box::pin((self.0)(socket))
    }
}

pub(crate) struct ConnectionFn<F>(pub(crate) F);

impl<F: Fn(Socket) + Send + Sync + 'static> ConnectionHandler for ConnectionFn<F> {
    fn call(&self, socket: Socket) {
        (self.0)(socket)
    }
}

/// Shared handler lists of a namespace (and of every child of a dynamic namespace).
#[derive(Default)]
pub(crate) struct NamespaceHandlers {
    pub(crate) middlewares: parking_lot::RwLock<Vec<Arc<dyn Middleware>>>,
    pub(crate) connection: parking_lot::RwLock<Vec<Arc<dyn ConnectionHandler>>>,
    pub(crate) fallback: parking_lot::RwLock<Option<Arc<dyn EventHandler>>>,
}
