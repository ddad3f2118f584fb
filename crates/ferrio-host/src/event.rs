//! What a host hears from the core, as one typed enum, and the stable numbers of its kinds.
//!
//! Facades written in other languages (`index.js`, `_server.py`) switch on a kind number; they read the
//! numbers from [`EventKind::ALL`] through their binding instead of copying them, so a kind added here
//! cannot drift from the facades.

use ferrio::adapter::{RoomEvent, ServerSideEvent};
use ferrio::{DisconnectReason, Event, Room, Socket};

use crate::reply::Verdict;

/// The kind of a [`HostEvent`], with the number facades switch on. The numbers are stable: a new kind
/// takes the next free one, none is ever renumbered.
#[repr(u8)]
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A socket waits for the host's connect middleware.
    Middleware = 0,
    /// A socket joined its namespace (socket.io's `connection`).
    Connect = 1,
    /// A client event, maybe with an ack to answer.
    Event = 2,
    /// A socket is leaving; its rooms are still readable.
    Disconnecting = 3,
    /// A socket has left.
    Disconnect = 4,
    /// A room was created or deleted, or a socket joined or left one (the adapter's events).
    Room = 5,
    /// A socket's connection upgraded from HTTP long-polling to WebSocket.
    Upgrade = 6,
    /// An event another server of the cluster sent (`serverSideEmit`).
    ServerSide = 7,
}

/// Kind numbers from here on belong to the bindings: each may add kinds of its own to its queue (Python
/// resolves awaitables through it) without colliding with a future host kind.
pub const FIRST_BINDING_KIND: u8 = 32;

impl EventKind {
    /// Every kind, in number order.
    pub const ALL: [EventKind; 8] = [
        EventKind::Middleware,
        EventKind::Connect,
        EventKind::Event,
        EventKind::Disconnecting,
        EventKind::Disconnect,
        EventKind::Room,
        EventKind::Upgrade,
        EventKind::ServerSide,
    ];

    /// The number facades switch on.
    pub fn number(self) -> u8 {
        self as u8
    }

    /// The constant's name in the facades (`MIDDLEWARE`, `CONNECT`, …).
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Middleware => "MIDDLEWARE",
            EventKind::Connect => "CONNECT",
            EventKind::Event => "EVENT",
            EventKind::Disconnecting => "DISCONNECTING",
            EventKind::Disconnect => "DISCONNECT",
            EventKind::Room => "ROOM",
            EventKind::Upgrade => "UPGRADE",
            EventKind::ServerSide => "SERVER_SIDE",
        }
    }
}

/// The number facades switch on for each kind of room event.
#[repr(u8)]
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RoomChange {
    /// A room got its first member.
    Create = 0,
    /// A room lost its last member.
    Delete = 1,
    /// A socket joined a room.
    Join = 2,
    /// A socket left a room.
    Leave = 3,
}

impl RoomChange {
    /// The change a room event reports.
    pub fn of(event: &RoomEvent) -> RoomChange {
        match event {
            RoomEvent::CreateRoom(_) => RoomChange::Create,
            RoomEvent::DeleteRoom(_) => RoomChange::Delete,
            RoomEvent::JoinRoom(..) => RoomChange::Join,
            RoomEvent::LeaveRoom(..) => RoomChange::Leave,
        }
    }
}

/// One thing the core reported, on its way to the host. `T` is the tag the binding registered the
/// producing handler with (e.g. which of its dynamic namespace parents or which C middleware it was),
/// so the host finds its own handlers without a lookup table of its own.
#[non_exhaustive]
pub enum HostEvent<T = ()> {
    /// A socket waits for a middleware: answer `verdict` (dropping it refuses the socket).
    Middleware {
        /// The socket, registered in its namespace and its own room already.
        socket: Socket,
        /// The answer the core waits for.
        verdict: Verdict,
        /// The middleware's registration tag.
        tag: T,
    },
    /// A socket joined its namespace.
    Connect {
        /// The socket.
        socket: Socket,
        /// The connection handler's registration tag.
        tag: T,
    },
    /// A client event; `event.ack` is present when the client asked for an acknowledgement.
    Event {
        /// The socket it came from.
        socket: Socket,
        /// Its name, arguments and ack.
        event: Event,
    },
    /// A socket is leaving.
    Disconnecting {
        /// The socket.
        socket: Socket,
        /// Why, in socket.io's words.
        reason: DisconnectReason,
        /// Its rooms as they were while it was still in them.
        rooms: Vec<Room>,
    },
    /// A socket has left.
    Disconnect {
        /// The socket.
        socket: Socket,
        /// Why, in socket.io's words.
        reason: DisconnectReason,
    },
    /// An adapter event of a namespace.
    Room {
        /// The namespace's name.
        nsp: String,
        /// What changed.
        event: RoomEvent,
    },
    /// A socket's connection upgraded to WebSocket.
    Upgrade {
        /// The socket.
        socket: Socket,
    },
    /// An event another server of the cluster sent to a namespace.
    ServerSide {
        /// The namespace's name.
        nsp: String,
        /// Its name, arguments and the ack the sender may wait for.
        event: ServerSideEvent,
    },
}

impl<T> HostEvent<T> {
    /// Its kind.
    pub fn kind(&self) -> EventKind {
        match self {
            HostEvent::Middleware { .. } => EventKind::Middleware,
            HostEvent::Connect { .. } => EventKind::Connect,
            HostEvent::Event { .. } => EventKind::Event,
            HostEvent::Disconnecting { .. } => EventKind::Disconnecting,
            HostEvent::Disconnect { .. } => EventKind::Disconnect,
            HostEvent::Room { .. } => EventKind::Room,
            HostEvent::Upgrade { .. } => EventKind::Upgrade,
            HostEvent::ServerSide { .. } => EventKind::ServerSide,
        }
    }
}

impl<T> std::fmt::Debug for HostEvent<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostEvent")
            .field("kind", &self.kind())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_numbers_are_their_index_and_names_are_unique() {
        for (i, kind) in EventKind::ALL.iter().enumerate() {
            assert_eq!(usize::from(kind.number()), i);
            assert!(kind.number() < FIRST_BINDING_KIND);
        }
        let mut names: Vec<_> = EventKind::ALL.iter().map(|k| k.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), EventKind::ALL.len());
    }
}
