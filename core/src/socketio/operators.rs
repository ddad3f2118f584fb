//! [`BroadcastOperator`]: socket.io's `to` / `in` / `except` / `local` / `volatile` / `timeout`, then an
//! operation on the targeted sockets. A broadcast encodes its packet once; every target shares the bytes.

use super::{packet, AckError, EmitError, Namespace, Payload};
use crate::adapter::{
    AckCollector, AdapterError, BroadcastOptions, BroadcastPacket, RemoteSocketData, Room,
};
use crate::engineio::Sid;
use std::collections::HashSet;
use std::time::Duration;

/// Things that name one or more rooms: `"room"`, `String`, a [`Room`], or arrays and vectors of them.
pub trait IntoRooms {
    /// The rooms.
    fn into_rooms(self) -> Vec<Room>;
}

impl IntoRooms for &str {
    fn into_rooms(self) -> Vec<Room> {
        vec![Room::from(self)]
    }
}

impl IntoRooms for String {
    fn into_rooms(self) -> Vec<Room> {
        vec![Room::from(self)]
    }
}

impl IntoRooms for &String {
    fn into_rooms(self) -> Vec<Room> {
        vec![Room::from(self.as_str())]
    }
}

impl IntoRooms for Room {
    fn into_rooms(self) -> Vec<Room> {
        vec![self]
    }
}

impl IntoRooms for Sid {
    fn into_rooms(self) -> Vec<Room> {
        vec![Room::from(self.as_str())]
    }
}

impl<T: IntoRooms> IntoRooms for Vec<T> {
    fn into_rooms(self) -> Vec<Room> {
        self.into_iter().flat_map(IntoRooms::into_rooms).collect()
    }
}

impl<T: IntoRooms + Clone> IntoRooms for &[T] {
    fn into_rooms(self) -> Vec<Room> {
        self.iter()
            .cloned()
            .flat_map(IntoRooms::into_rooms)
            .collect()
    }
}

impl<T: IntoRooms, const N: usize> IntoRooms for [T; N] {
    fn into_rooms(self) -> Vec<Room> {
        self.into_iter().flat_map(IntoRooms::into_rooms).collect()
    }
}

/// A packet for a broadcast, encoded once for every target.
pub(crate) fn broadcast_packet(
    nsp: &str,
    event: &str,
    payload: Payload,
    ack_id: Option<u64>,
) -> BroadcastPacket {
    let text = packet::encode_event(
        nsp,
        event,
        payload.args_json(),
        payload.attachments().len(),
        ack_id,
    );
    finish_packet(text, event, payload, ack_id)
}

/// A packet for a broadcast kept for connection state recovery: its offset is its last argument on the
/// wire (not in `payload`, which stays what was emitted).
pub(crate) fn recoverable_packet(
    nsp: &str,
    event: &str,
    payload: Payload,
    offset: &str,
) -> BroadcastPacket {
    let text = packet::encode_event_with_offset(
        nsp,
        event,
        payload.args_json(),
        payload.attachments().len(),
        offset,
    );
    finish_packet(text, event, payload, None)
}

fn finish_packet(
    text: String,
    event: &str,
    payload: Payload,
    ack_id: Option<u64>,
) -> BroadcastPacket {
    let encoded = super::socket::frames(text, payload.attachments().to_vec());
    BroadcastPacket {
        event: event.to_owned(),
        payload,
        ack_id,
        encoded,
    }
}

/// A socket found by [`BroadcastOperator::fetch_sockets`], possibly in another process. Its operations go
/// through the adapter, so they work wherever the socket lives.
#[derive(Debug, Clone)]
pub struct RemoteSocket {
    /// The socket id.
    pub id: Sid,
    /// The handshake, as socket.io describes it (headers, query, address, time, url, secure, auth…).
    pub handshake: serde_json::Value,
    /// The rooms it is in.
    pub rooms: Vec<Room>,
    /// Its `data`.
    pub data: serde_json::Value,
    nsp: Namespace,
}

impl RemoteSocket {
    fn new(data: RemoteSocketData, nsp: Namespace) -> RemoteSocket {
        RemoteSocket {
            id: data.id,
            handshake: data.handshake,
            rooms: data.rooms,
            data: data.data,
            nsp,
        }
    }

    fn target(&self) -> BroadcastOperator {
        self.nsp.to(Room::from(self.id.as_str()))
    }

    /// Emits an event to this socket.
    pub fn emit(&self, event: &str, payload: Payload) -> Result<(), EmitError> {
        self.target().emit(event, payload)
    }

    /// Makes the socket join rooms.
    pub fn join(&self, rooms: impl IntoRooms) {
        self.target().sockets_join(rooms)
    }

    /// Makes the socket leave rooms.
    pub fn leave(&self, rooms: impl IntoRooms) {
        self.target().sockets_leave(rooms)
    }

    /// Disconnects the socket (and its whole connection when `close`).
    pub fn disconnect(&self, close: bool) {
        self.target().disconnect_sockets(close)
    }
}

/// A set of targeted sockets and the flags of what is sent to them.
#[derive(Debug, Clone)]
pub struct BroadcastOperator {
    nsp: Namespace,
    /// The targets and flags, the ack timeout included (the adapter forwards it to other servers).
    opts: BroadcastOptions,
}

/// The answers of a broadcast with acks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckResponses {
    /// One answer per socket that answered, with its id when the socket is local (an answer relayed from
    /// another server of the cluster carries no id).
    pub answers: Vec<(Option<Sid>, Payload)>,
    /// How many sockets were targeted.
    pub expected: usize,
}

impl BroadcastOperator {
    pub(crate) fn new(nsp: Namespace) -> BroadcastOperator {
        BroadcastOperator {
            nsp,
            opts: BroadcastOptions::default(),
        }
    }

    /// Adds rooms to the target union.
    pub fn to(mut self, rooms: impl IntoRooms) -> BroadcastOperator {
        for room in rooms.into_rooms() {
            if !self.opts.rooms.contains(&room) {
                self.opts.rooms.push(room);
            }
        }
        self
    }

    /// Same as [`BroadcastOperator::to`].
    pub fn within(self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.to(rooms)
    }

    /// Excludes the sockets in these rooms (a socket id excludes that socket).
    pub fn except(mut self, rooms: impl IntoRooms) -> BroadcastOperator {
        for room in rooms.into_rooms() {
            if !self.opts.except.contains(&room) {
                self.opts.except.push(room);
            }
        }
        self
    }

    /// This process only, even with a multi-process adapter.
    pub fn local(mut self) -> BroadcastOperator {
        self.opts.local = true;
        self
    }

    /// The packet may be dropped for sockets that cannot take it now.
    pub fn volatile(mut self) -> BroadcastOperator {
        self.opts.volatile = true;
        self
    }

    /// The deadline of [`BroadcastOperator::emit_with_ack`].
    pub fn timeout(mut self, timeout: Duration) -> BroadcastOperator {
        self.opts.timeout = Some(timeout);
        self
    }

    /// The options the adapter receives.
    pub fn options(&self) -> &BroadcastOptions {
        &self.opts
    }

    fn check(&self, event: &str, payload: &Payload) -> Result<(), EmitError> {
        if super::socket::is_reserved_event(event) {
            return Err(EmitError::Reserved(event.to_owned()));
        }
        if packet::nesting_exceeds(payload.args_json(), self.nsp.0.limits.max_json_depth) {
            return Err(EmitError::TooDeep);
        }
        Ok(())
    }

    fn packet(
        &self,
        event: &str,
        payload: Payload,
        ack_id: Option<u64>,
    ) -> Result<BroadcastPacket, EmitError> {
        self.check(event, &payload)?;
        Ok(broadcast_packet(self.nsp.name(), event, payload, ack_id))
    }

    /// Emits to every targeted socket. Never waits; slow sockets are dropped from volatile broadcasts and
    /// disconnected otherwise (see [`crate::adapter::BroadcastReport`]).
    ///
    /// With connection state recovery on, a broadcast that is not volatile is also kept for the sockets
    /// that lost their connection, and carries its offset as its last argument.
    pub fn emit(&self, event: &str, payload: Payload) -> Result<(), EmitError> {
        let recovery = self
            .nsp
            .0
            .recovery
            .as_deref()
            .filter(|_| !self.opts.volatile);
        if recovery.is_some() && !self.opts.local {
            if let Some(store) = self.nsp.adapter().session_store() {
                // The adapter keeps the cluster's events: it gives this one its offset and delivers it
                // here in its own order.
                self.check(event, &payload)?;
                if let Some(observer) = self.nsp.0.hooks.get() {
                    observer.event_broadcast(&self.nsp, &self.opts, event, &payload);
                }
                return store
                    .broadcast_recoverable(event, payload, &self.opts)
                    .map_err(EmitError::Adapter);
            }
        }
        let (packet, report) = match recovery {
            None => {
                let packet = self.packet(event, payload, None)?;
                let report = self.nsp.adapter().broadcast(&packet, &self.opts);
                (packet, report)
            }
            Some(recovery) => {
                self.check(event, &payload)?;
                // Stored and queued under one lock, so that a session being restored gets it exactly
                // once: among its missed events or live.
                let guard = recovery.lock();
                let offset = guard.next_offset();
                let packet = recoverable_packet(self.nsp.name(), event, payload, &offset);
                guard.store(
                    self.opts.rooms.clone(),
                    self.opts.except.clone(),
                    packet.encoded.clone(),
                );
                let report = self.nsp.adapter().broadcast(&packet, &self.opts);
                drop(guard);
                (packet, report)
            }
        };
        let report = report.map_err(EmitError::Adapter)?;
        if let Some(observer) = self.nsp.0.hooks.get() {
            let (frames, bytes) = packet.encoded.size();
            observer.messages_sent(report.delivered * frames, report.delivered * bytes);
            observer.event_broadcast(&self.nsp, &self.opts, event, &packet.payload);
        }
        Ok(())
    }

    /// Emits to every targeted socket and gathers one answer per socket until the timeout (default 5 s).
    /// Errs with [`AckError::Timeout`] when some socket did not answer in time.
    ///
    /// The packet is sent by the call itself, in order with the other emits; the returned future only
    /// gathers the answers.
    pub fn emit_with_ack(
        &self,
        event: &str,
        payload: Payload,
    ) -> impl std::future::Future<Output = Result<AckResponses, AckError>> + Send + 'static {
        let timeout = self.opts.timeout.unwrap_or(Duration::from_secs(5));
        let id = self.nsp.0.next_ack_id();
        let started = self.packet(event, payload, Some(id)).map(|packet| {
            let (collector, rx) = AckCollector::channel();
            let mut opts = self.opts.clone();
            opts.timeout = Some(timeout);
            let count = self
                .nsp
                .adapter()
                .broadcast_with_ack(&packet, &opts, collector);
            (rx, count)
        });
        let nsp = self.nsp.clone();
        async move {
            let (rx, count) = started.map_err(AckError::Emit)?;
            gather_acks(nsp, id, timeout, rx, count).await
        }
    }

    /// The ids of the targeted sockets.
    pub async fn socket_ids(&self) -> Result<HashSet<Sid>, AdapterError> {
        self.nsp.adapter().sockets(&self.opts).await
    }

    /// The targeted sockets, with handles that can emit, join, leave and disconnect.
    pub async fn fetch_sockets(&self) -> Result<Vec<RemoteSocket>, AdapterError> {
        let found = self.nsp.adapter().fetch_sockets(&self.opts).await?;
        Ok(found
            .into_iter()
            .map(|data| RemoteSocket::new(data, self.nsp.clone()))
            .collect())
    }

    /// Makes the targeted sockets join rooms.
    pub fn sockets_join(&self, rooms: impl IntoRooms) {
        if let Err(error) = self
            .nsp
            .adapter()
            .add_sockets(&self.opts, &rooms.into_rooms())
        {
            tracing::warn!(%error, "sockets_join failed");
        }
    }

    /// Makes the targeted sockets leave rooms.
    pub fn sockets_leave(&self, rooms: impl IntoRooms) {
        if let Err(error) = self
            .nsp
            .adapter()
            .del_sockets(&self.opts, &rooms.into_rooms())
        {
            tracing::warn!(%error, "sockets_leave failed");
        }
    }

    /// Disconnects the targeted sockets (and their connections when `close`).
    pub fn disconnect_sockets(&self, close: bool) {
        if let Err(error) = self.nsp.adapter().disconnect_sockets(&self.opts, close) {
            tracing::warn!(%error, "disconnect_sockets failed");
        }
    }
}

/// Gathers the answers of a broadcast with acks until every targeted socket answered or `timeout`.
async fn gather_acks(
    nsp: Namespace,
    id: u64,
    timeout: Duration,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<(Option<Sid>, Payload)>,
    mut count: crate::adapter::BoxFuture<'static, Result<usize, AdapterError>>,
) -> Result<AckResponses, AckError> {
    let deadline = tokio::time::Instant::now() + timeout;
    // Answers are gathered while the count is still coming in: with many servers, sockets elsewhere may
    // answer before every server has said how many sockets it reached.
    let mut expected = None;
    let mut answers = Vec::new();
    let mut waiters_gone = false;
    loop {
        if expected.is_some_and(|n| waiters_gone || answers.len() >= n) {
            break;
        }
        tokio::select! {
            n = &mut count, if expected.is_none() => match n {
                Ok(n) => expected = Some(n),
                Err(error) => return Err(AckError::Emit(EmitError::Adapter(error))),
            },
            answer = rx.recv(), if !waiters_gone => match answer {
                Some(answer) => answers.push(answer),
                // Every waiter is gone (sockets left): what came is all there is.
                None => waiters_gone = true,
            },
            _ = tokio::time::sleep_until(deadline) => break,
        }
    }
    let complete = expected.is_some_and(|n| answers.len() >= n);
    if !complete {
        // Late answers must not pile up in the sockets that never answered.
        for socket in nsp.sockets() {
            socket.forget_ack(id);
        }
        return Err(AckError::Timeout { answers });
    }
    let expected = expected.unwrap_or_default();
    Ok(AckResponses { answers, expected })
}
