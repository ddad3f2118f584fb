//! The Socket.IO side of one Engine.IO connection: decodes packets (reassembling binary attachments),
//! routes them to the connection's socket in each namespace, and closes the connection when it joins no
//! namespace in time.

use super::packet::{self, PacketKind};
use super::server::ServerInner;
use super::{DisconnectReason, Payload, Socket};
use crate::engineio::{CloseReason, EngineHandler, Message, Session};
use bytes::Bytes;
use parking_lot::Mutex;
use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

/// An Engine.IO session carrying Socket.IO.
pub(crate) type Conn = Session<SioHandler>;

/// A binary packet waiting for its attachments.
pub(crate) struct PendingBinary {
    kind: PacketKind,
    nsp: String,
    id: Option<u64>,
    name: String,
    args: String,
    expected: usize,
    attachments: Vec<Bytes>,
}

impl PendingBinary {
    /// Whether every attachment the packet announced has arrived.
    pub(crate) fn is_complete(&self) -> bool {
        self.attachments.len() == self.expected
    }

    /// Adds the next attachment; true once the packet is complete.
    pub(crate) fn push(&mut self, data: Bytes) -> bool {
        self.attachments.push(data);
        self.is_complete()
    }

    /// The arguments with their attachments.
    pub(crate) fn into_payload(self) -> Payload {
        Payload::from_parts(self.args, self.attachments)
    }
}

/// A text packet from a client, decoded and checked: what [`SioHandler`] acts on.
pub(crate) enum Decoded<'a> {
    /// CONNECT to `nsp` with the auth object (`{}` when absent).
    Connect { nsp: &'a str, auth: Value },
    /// DISCONNECT from `nsp`.
    Disconnect { nsp: &'a str },
    /// An EVENT: its name and the JSON array text of its arguments.
    Event {
        nsp: &'a str,
        id: Option<u64>,
        name: String,
        args: String,
    },
    /// An ACK and the JSON array text of its arguments.
    Ack { nsp: &'a str, id: u64, args: String },
    /// A BINARY_EVENT or BINARY_ACK, waiting for its attachments (complete when it announced none).
    Binary(PendingBinary),
}

/// Why a client's text packet was refused (the connection closes with a parse error).
#[derive(Debug)]
pub(crate) enum Refused {
    /// The packet's header or data did not decode.
    Packet(packet::ParseError),
    /// It decoded, but is not something a client may send.
    Invalid(&'static str),
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::Packet(error) => error.fmt(f),
            Refused::Invalid(why) => f.write_str(why),
        }
    }
}

/// Decodes a client's text packet: the header, the JSON depth limit, and the data each type requires.
pub(crate) fn decode_text(
    text: &str,
    max_attachments: usize,
    max_json_depth: usize,
) -> Result<Decoded<'_>, Refused> {
    let packet = packet::decode(text, max_attachments).map_err(Refused::Packet)?;
    if packet::nesting_exceeds(packet.data, max_json_depth) {
        return Err(Refused::Invalid("JSON nested too deep"));
    }
    let nsp = packet.nsp;
    Ok(match packet.kind {
        PacketKind::Connect => {
            let auth = if packet.data.is_empty() {
                Value::Object(Default::default())
            } else {
                match serde_json::from_str::<Value>(packet.data) {
                    Ok(auth @ Value::Object(_)) => auth,
                    _ => return Err(Refused::Invalid("CONNECT payload must be an object")),
                }
            };
            Decoded::Connect { nsp, auth }
        }
        PacketKind::Disconnect => Decoded::Disconnect { nsp },
        PacketKind::Event => {
            let (name, args) = packet::split_event(packet.data).map_err(Refused::Packet)?;
            Decoded::Event {
                nsp,
                id: packet.id,
                name,
                args,
            }
        }
        PacketKind::Ack => {
            let (Some(id), Ok(args)) = (packet.id, packet::ack_args(packet.data)) else {
                return Err(Refused::Invalid("invalid ACK"));
            };
            Decoded::Ack { nsp, id, args }
        }
        PacketKind::BinaryEvent | PacketKind::BinaryAck => {
            let (name, args) = if packet.kind == PacketKind::BinaryEvent {
                packet::split_event(packet.data).map_err(Refused::Packet)?
            } else {
                match (packet.id, packet::ack_args(packet.data)) {
                    (Some(_), Ok(args)) => (String::new(), args),
                    _ => return Err(Refused::Invalid("invalid BINARY_ACK")),
                }
            };
            Decoded::Binary(PendingBinary {
                kind: packet.kind,
                nsp: nsp.to_owned(),
                id: packet.id,
                name,
                args,
                expected: packet.attachments,
                attachments: Vec::with_capacity(packet.attachments),
            })
        }
        PacketKind::ConnectError => return Err(Refused::Invalid("CONNECT_ERROR from a client")),
    })
}

/// Per-connection Socket.IO state.
#[derive(Default)]
pub struct ClientState {
    /// One socket per joined namespace; a handful at most, so a vector beats a map.
    sockets: Mutex<Vec<Socket>>,
    pending: Mutex<Option<PendingBinary>>,
    joined_any: AtomicBool,
}

/// Adds a socket that starts connecting to the connection's sockets.
pub(crate) fn remember_socket(conn: &Conn, socket: &Socket) {
    conn.data.sockets.lock().push(socket.clone());
}

/// A socket of the connection got its CONNECT answer: the connect timeout no longer applies (a socket
/// still in its middlewares does not stop it, as in socket.io).
pub(crate) fn mark_joined(conn: &Conn) {
    conn.data.joined_any.store(true, Ordering::Release);
}

pub(crate) fn forget_socket(conn: &Conn, socket: &Socket) {
    conn.data.sockets.lock().retain(|s| s != socket);
}

/// The connection's socket in `nsp`, connected or still connecting.
fn socket_for(conn: &Conn, nsp: &str) -> Option<Socket> {
    conn.data
        .sockets
        .lock()
        .iter()
        .find(|s| s.nsp() == nsp)
        .cloned()
}

/// The connection's socket in `nsp` once its CONNECT answer is queued: events and acks for a socket
/// still connecting are ignored (the official clients send none before the CONNECT answer).
fn connected_socket_for(conn: &Conn, nsp: &str) -> Option<Socket> {
    socket_for(conn, nsp).filter(Socket::takes_packets)
}

/// Disconnects every socket of the connection from its namespace (sending DISCONNECT to each).
pub(crate) fn disconnect_all(conn: &Conn) {
    let sockets: Vec<Socket> = conn.data.sockets.lock().clone();
    for socket in sockets {
        socket.disconnect(false);
    }
}

pub(crate) fn joined_any(conn: &Conn) -> bool {
    conn.data.joined_any.load(Ordering::Acquire)
}

/// The engine handler of a Socket.IO server.
pub struct SioHandler {
    pub(crate) server: Weak<ServerInner>,
    pub(crate) hooks: Arc<super::observer::Hooks>,
}

impl SioHandler {
    fn parse_error(&self, conn: &Arc<Conn>, error: impl std::fmt::Display) {
        tracing::debug!(sid = %conn.sid(), %error, "socket.io parse error");
        conn.close(CloseReason::ParseError);
    }

    fn on_text(&self, server: &Arc<ServerInner>, conn: &Arc<Conn>, text: &str) {
        if conn.data.pending.lock().is_some() {
            return self.parse_error(conn, "text packet while attachments were expected");
        }
        let config = &server.config;
        let decoded = match decode_text(text, config.max_attachments, config.max_json_depth) {
            Ok(decoded) => decoded,
            Err(error) => return self.parse_error(conn, error),
        };
        match decoded {
            Decoded::Connect { nsp, auth } => {
                if socket_for(conn, nsp).is_some() {
                    tracing::debug!(nsp, "already connected to this namespace");
                    return;
                }
                // Sockets still in their middlewares count: CONNECTs cannot pile up behind slow ones.
                let joined = conn.data.sockets.lock().len();
                if joined >= server.config.max_namespaces_per_connection {
                    tracing::debug!(sid = %conn.sid(), nsp, "too many namespaces");
                    let text = packet::encode_connect_error(nsp, "Too many namespaces", None);
                    let _ = conn.push(super::socket::frames(text, Vec::new()));
                    return;
                }
                match server.namespace_for(nsp, &auth) {
                    Some(namespace) => namespace.connect(conn, auth),
                    None => {
                        let text = packet::encode_connect_error(nsp, "Invalid namespace", None);
                        let _ = conn.push(super::socket::frames(text, Vec::new()));
                    }
                }
            }
            Decoded::Disconnect { nsp } => {
                if let Some(socket) = socket_for(conn, nsp) {
                    socket.on_close(DisconnectReason::ClientNamespaceDisconnect);
                }
            }
            Decoded::Event {
                nsp,
                id,
                name,
                args,
            } => {
                if let Some(socket) = connected_socket_for(conn, nsp) {
                    socket.dispatch_event(name, Payload::from_parts(args, Vec::new()), id);
                }
            }
            Decoded::Ack { nsp, id, args } => {
                if let Some(socket) = connected_socket_for(conn, nsp) {
                    socket.dispatch_ack(id, Payload::from_parts(args, Vec::new()));
                }
            }
            Decoded::Binary(pending) => {
                if pending.is_complete() {
                    self.complete(conn, pending);
                } else {
                    *conn.data.pending.lock() = Some(pending);
                }
            }
        }
    }

    fn on_binary(&self, conn: &Arc<Conn>, data: Bytes) {
        let done = {
            let mut slot = conn.data.pending.lock();
            let Some(pending) = slot.as_mut() else {
                drop(slot);
                return self.parse_error(conn, "unexpected binary message");
            };
            if pending.push(data) {
                slot.take()
            } else {
                None
            }
        };
        if let Some(pending) = done {
            self.complete(conn, pending);
        }
    }

    fn complete(&self, conn: &Arc<Conn>, mut pending: PendingBinary) {
        let Some(socket) = connected_socket_for(conn, &pending.nsp) else {
            return;
        };
        let (kind, name, id) = (pending.kind, std::mem::take(&mut pending.name), pending.id);
        let payload = pending.into_payload();
        match kind {
            PacketKind::BinaryEvent => socket.dispatch_event(name, payload, id),
            _ => socket.dispatch_ack(id.unwrap_or_default(), payload),
        }
    }
}

impl EngineHandler for SioHandler {
    type Data = ClientState;

    fn on_open(&self, session: &Arc<Conn>) {
        if let Some(observer) = self.hooks.get() {
            observer.connection_opened(session.transport());
        }
        if let Some(server) = self.server.upgrade() {
            server.watch_connect_timeout(session);
        }
    }

    fn on_message(&self, session: &Arc<Conn>, message: Message<'_>) {
        if let Some(observer) = self.hooks.get() {
            observer.message_received(match &message {
                Message::Text(text) => text.len(),
                Message::Binary(data) => data.len(),
            });
        }
        match message {
            Message::Text(text) => {
                if let Some(server) = self.server.upgrade() {
                    self.on_text(&server, session, text);
                }
            }
            Message::Binary(data) => self.on_binary(session, data),
        }
    }

    fn on_upgrade(&self, session: &Arc<Conn>) {
        let Some(server) = self.server.upgrade() else {
            return;
        };
        let handlers = server.upgrade_handlers.read().clone();
        let observer = self.hooks.get();
        if handlers.is_empty() && observer.is_none() {
            return;
        }
        let sockets: Vec<Socket> = session.data.sockets.lock().clone();
        if let Some(observer) = observer {
            observer.connection_upgraded(&sockets);
        }
        for socket in &sockets {
            for handler in &handlers {
                handler(socket);
            }
        }
    }

    fn on_close(&self, session: &Arc<Conn>, reason: CloseReason) {
        if let Some(observer) = self.hooks.get() {
            observer.connection_closed(reason);
        }
        let sockets: Vec<Socket> = std::mem::take(&mut *session.data.sockets.lock());
        let reason = DisconnectReason::from(reason);
        for socket in sockets {
            socket.on_close(reason);
        }
        session.data.pending.lock().take();
    }
}
