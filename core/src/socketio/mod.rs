//! The Socket.IO v5 layer on top of Engine.IO: namespaces, sockets, events with JSON and binary
//! arguments, acknowledgements, rooms and broadcasts.

pub(crate) mod client;
mod handler;
mod namespace;
mod observer;
mod operators;
pub(crate) mod packet;
mod recovery;
pub(crate) mod server;
mod socket;

pub use crate::payload::{Payload, PayloadBuilder, PayloadError};
pub(crate) use client::SioHandler;
pub use handler::{
    AnyHandler, ConnectError, ConnectionHandler, DisconnectHandler, EventHandler, Middleware,
    PacketMiddleware,
};
pub use namespace::{Namespace, NamespaceRef};
pub use observer::Observer;
pub(crate) use operators::{broadcast_packet, recoverable_packet};
pub use operators::{AckResponses, BroadcastOperator, IntoRooms, RemoteSocket};
pub use server::{
    ConnectionStateRecovery, DynamicNamespaceParent, InvalidRateLimit, RateLimit, Server,
    ServerBuilder, ServerConfig, WeakServer, MAX_JSON_DEPTH,
};
pub use socket::{is_reserved_event, AckSender, Event, Socket};

use crate::adapter::AdapterError;
use crate::engineio::CloseReason;
use crate::error::{CodedError, ErrorCode};

/// Why a socket left its namespace; the strings are socket.io's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The client sent DISCONNECT for the namespace.
    ClientNamespaceDisconnect,
    /// The server called `disconnect`.
    ServerNamespaceDisconnect,
    /// The connection ended: see [`CloseReason`].
    Connection(CloseReason),
}

impl DisconnectReason {
    /// Whether socket.io keeps the socket's session for connection state recovery after leaving for
    /// this reason: the connection was lost (transport error or close, ping timeout) or the server ended
    /// it (forced close, forced server close, shutting down). A namespace disconnect from either side,
    /// a parse error, a full send buffer or the rate limit is final.
    pub fn is_recoverable(self) -> bool {
        matches!(
            self,
            DisconnectReason::Connection(
                CloseReason::TransportError
                    | CloseReason::TransportClose
                    | CloseReason::ForcedClose
                    | CloseReason::PingTimeout
                    | CloseReason::ServerShuttingDown
                    | CloseReason::ForcedServerClose
            )
        )
    }

    /// The reason as socket.io spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            DisconnectReason::ClientNamespaceDisconnect => "client namespace disconnect",
            DisconnectReason::ServerNamespaceDisconnect => "server namespace disconnect",
            DisconnectReason::Connection(reason) => reason.as_str(),
        }
    }
}

impl From<CloseReason> for DisconnectReason {
    fn from(reason: CloseReason) -> Self {
        DisconnectReason::Connection(reason)
    }
}

impl std::fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an emit failed.
///
/// Deliberately not `#[non_exhaustive]` (nor [`AckError`]): each binding maps every variant to an error
/// code of its own (C status, Node `err.code`, Python exception), and the compiler checks those maps.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EmitError {
    /// The client's outgoing queue was full: it has been disconnected as a slow consumer.
    #[error("the client's outgoing queue is full; it was disconnected")]
    Full,
    /// The socket is disconnected.
    #[error("the socket is disconnected")]
    Closed,
    /// The event name is reserved (`connect`, `disconnect`, …).
    #[error("\"{0}\" is a reserved event name")]
    Reserved(String),
    /// The arguments nest arrays and objects deeper than `max_json_depth`: the packet is not sent.
    #[error("the arguments nest deeper than max_json_depth allows")]
    TooDeep,
    /// `max_pending_acks` acknowledgements are already awaited from this socket: the packet is not sent.
    #[error("too many acknowledgements are pending on this socket (max_pending_acks)")]
    TooManyPendingAcks,
    /// The adapter failed.
    #[error(transparent)]
    Adapter(#[from] AdapterError),
}

impl CodedError for EmitError {
    fn code(&self) -> ErrorCode {
        match self {
            EmitError::Full => ErrorCode::QueueFull,
            EmitError::Closed => ErrorCode::SocketClosed,
            EmitError::Reserved(_) => ErrorCode::ReservedEvent,
            EmitError::TooDeep | EmitError::TooManyPendingAcks => ErrorCode::LimitExceeded,
            EmitError::Adapter(error) => error.code(),
        }
    }
}

/// Why an acknowledgement did not come.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AckError {
    /// Not in time. For a broadcast, `answers` holds those that came.
    #[error("operation has timed out")]
    Timeout {
        /// Answers received before the deadline (broadcasts only), with the socket's id when it is local.
        answers: Vec<(Option<crate::engineio::Sid>, Payload)>,
    },
    /// The socket disconnected before answering.
    #[error("the socket disconnected before acknowledging")]
    Disconnected,
    /// The emit itself failed.
    #[error(transparent)]
    Emit(EmitError),
}

impl CodedError for AckError {
    fn code(&self) -> ErrorCode {
        match self {
            AckError::Timeout { .. } => ErrorCode::Timeout,
            AckError::Disconnected => ErrorCode::Disconnected,
            AckError::Emit(error) => error.code(),
        }
    }
}
