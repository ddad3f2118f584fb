//! The core handlers every binding registers: each turns what the core reports into a [`HostEvent`]
//! for the binding's [`Sink`] and returns at once (the core's threads never wait for a host). A binding
//! picks the handlers its language's API needs; which namespace or socket they go on stays its choice.

use crate::event::HostEvent;
use crate::reply::Verdict;
use ferrio::adapter::{BoxFuture, RoomEvent, ServerSideEvent};
use ferrio::socketio::{ConnectError, EventHandler};
use ferrio::{Event, Socket};
use std::sync::Arc;

/// Where a binding's events go: usually its [`crate::BatchQueue`], or (C's inline dispatch) straight to
/// the host when the producing thread may run host code.
pub trait Sink<T>: Send + Sync + 'static {
    /// Hands `event` to the host; `false` when the host takes no more (it closed), and the event was
    /// dropped: a dropped [`Verdict`] refuses its socket, a dropped ack is never answered.
    fn deliver(&self, event: HostEvent<T>) -> bool;
}

/// Which of a socket's departures the host hears of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Watch {
    /// [`HostEvent::Disconnecting`], with the rooms the socket was in.
    pub disconnecting: bool,
    /// [`HostEvent::Disconnect`].
    pub disconnect: bool,
}

impl Watch {
    /// Both departures.
    pub const BOTH: Watch = Watch {
        disconnecting: true,
        disconnect: true,
    };
}

/// A connect middleware that asks the host: it delivers [`HostEvent::Middleware`] and waits (on a task,
/// never blocking a worker) for the verdict.
pub fn middleware<T, S>(
    sink: Arc<S>,
    tag: T,
) -> impl Fn(Socket) -> BoxFuture<'static, Result<(), ConnectError>> + Send + Sync + 'static
where
    T: Clone + Send + Sync + 'static,
    S: Sink<T> + ?Sized,
{
    move |socket: Socket| {
        let (verdict, outcome) = Verdict::new();
        // Undelivered, the verdict is dropped and the outcome is a refusal.
        sink.deliver(HostEvent::Middleware {
            socket,
            verdict,
            tag: tag.clone(),
        });
        Box::pin(outcome)
    }
}

/// Tells the host of the socket's departures, as `watch` asks.
pub fn watch<T, S>(sink: &Arc<S>, socket: &Socket, watch: Watch)
where
    T: 'static,
    S: Sink<T> + ?Sized,
{
    if watch.disconnecting {
        let sink = sink.clone();
        socket.on_disconnecting(move |socket, reason| {
            sink.deliver(HostEvent::Disconnecting {
                socket: socket.clone(),
                reason,
                rooms: socket.rooms(),
            });
        });
    }
    if watch.disconnect {
        let sink = sink.clone();
        socket.on_disconnect(move |socket, reason| {
            sink.deliver(HostEvent::Disconnect {
                socket: socket.clone(),
                reason,
            });
        });
    }
}

/// A connection handler: watches the socket's departures, then delivers [`HostEvent::Connect`] (so the
/// host hears of the connection before anything the socket does afterwards).
pub fn connection<T, S>(
    sink: Arc<S>,
    tag: T,
    departures: Watch,
) -> impl Fn(Socket) + Send + Sync + 'static
where
    T: Clone + Send + Sync + 'static,
    S: Sink<T> + ?Sized,
{
    move |socket: Socket| {
        watch(&sink, &socket, departures);
        sink.deliver(HostEvent::Connect {
            socket,
            tag: tag.clone(),
        });
    }
}

/// The namespace's fallback event handler: every event without a Rust handler of its own goes to the
/// host, ack included.
pub fn events<T, S>(sink: Arc<S>) -> Arc<dyn EventHandler>
where
    T: 'static,
    S: Sink<T> + ?Sized,
{
    Arc::new(Events {
        sink,
        tag: std::marker::PhantomData,
    })
}

struct Events<T, S: ?Sized> {
    sink: Arc<S>,
    tag: std::marker::PhantomData<fn() -> T>,
}

impl<T: 'static, S: Sink<T> + ?Sized> EventHandler for Events<T, S> {
    fn call(&self, socket: &Socket, event: Event) {
        self.sink.deliver(HostEvent::Event {
            socket: socket.clone(),
            event,
        });
    }
}

/// A namespace's room listener (`Namespace::on_room_event`).
pub fn room_events<T, S>(sink: Arc<S>, nsp: String) -> impl Fn(&RoomEvent) + Send + Sync + 'static
where
    T: 'static,
    S: Sink<T> + ?Sized,
{
    move |event: &RoomEvent| {
        sink.deliver(HostEvent::Room {
            nsp: nsp.clone(),
            event: event.clone(),
        });
    }
}

/// A namespace's listener of other servers' events (`Namespace::on_server_side_emit`).
pub fn server_side_events<T, S>(
    sink: Arc<S>,
    nsp: String,
) -> impl Fn(ServerSideEvent) + Send + Sync + 'static
where
    T: 'static,
    S: Sink<T> + ?Sized,
{
    move |event: ServerSideEvent| {
        sink.deliver(HostEvent::ServerSide {
            nsp: nsp.clone(),
            event,
        });
    }
}

/// The server's upgrade listener (`Server::on_upgrade`).
pub fn upgrades<T, S>(sink: Arc<S>) -> impl Fn(&Socket) + Send + Sync + 'static
where
    T: 'static,
    S: Sink<T> + ?Sized,
{
    move |socket: &Socket| {
        sink.deliver(HostEvent::Upgrade {
            socket: socket.clone(),
        });
    }
}
