//! The in-memory adapter: the room index of one namespace in one process, read under a `parking_lot`
//! read lock on the broadcast path. Adapters spanning processes keep one for their local part.

use super::{
    AckCollector, Adapter, AdapterError, BoxFuture, BroadcastOptions, BroadcastPacket,
    BroadcastReport, LocalNamespace, RemoteSocketData, Room, RoomEvent, SocketEmitter, Targets,
};
use crate::engineio::Sid;
use crate::payload::Payload;
use parking_lot::RwLock;
use std::collections::{HashMap, HashSet};

#[derive(Default)]
struct Rooms {
    rooms: HashMap<Room, HashSet<Sid>>,
    sids: HashMap<Sid, HashSet<Room>>,
}

/// The default adapter: rooms and fan-out within this process.
pub struct MemoryAdapter {
    nsp: LocalNamespace,
    state: RwLock<Rooms>,
}

impl std::fmt::Debug for MemoryAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryAdapter")
            .field("rooms", &self.state.read().rooms.len())
            .finish()
    }
}

impl MemoryAdapter {
    /// The adapter of a namespace.
    pub fn new(nsp: LocalNamespace) -> MemoryAdapter {
        MemoryAdapter {
            nsp,
            state: RwLock::new(Rooms::default()),
        }
    }

    /// The namespace it serves.
    pub fn namespace(&self) -> &LocalNamespace {
        &self.nsp
    }

    /// Runs `f` with the namespace's sockets and the local targets of `opts`, under the room index's read
    /// lock (so `f` must not change rooms); `None` once the namespace is gone.
    #[inline]
    pub fn with_targets<R>(
        &self,
        opts: &BroadcastOptions,
        f: impl FnOnce(&dyn SocketEmitter, &Targets<'_>) -> R,
    ) -> Option<R> {
        let emitter = self.nsp.emitter()?;
        let state = self.state.read();
        let targets = Targets::new(opts, &state.rooms);
        Some(f(&*emitter, &targets))
    }

    /// Sends a broadcast with acks to the local targets, each awaiting its answer for `collector`;
    /// returns how many were reached.
    pub fn broadcast_with_ack_local(
        &self,
        packet: &BroadcastPacket,
        opts: &BroadcastOptions,
        collector: AckCollector,
    ) -> usize {
        self.with_targets(opts, |emitter, targets| {
            emitter.send_many_with_ack(targets, packet, opts.volatile, &collector)
        })
        .unwrap_or(0)
    }

    /// The ids of the local sockets `opts` targets.
    pub fn socket_ids(&self, opts: &BroadcastOptions) -> Vec<Sid> {
        self.with_targets(opts, |emitter, targets| emitter.socket_ids(targets))
            .unwrap_or_default()
    }

    /// The local sockets `opts` targets, with their details.
    pub fn fetch_local(&self, opts: &BroadcastOptions) -> Vec<RemoteSocketData> {
        let sids = self.socket_ids(opts);
        match self.nsp.emitter() {
            Some(emitter) => emitter.socket_data(&sids),
            None => Vec::new(),
        }
    }

    /// How many local sockets are in a room.
    pub fn socket_count_in(&self, room: &str) -> usize {
        self.state.read().rooms.get(room).map_or(0, HashSet::len)
    }

    /// Runs `f` on the local sockets `opts` targets, outside the room index's lock (`f` may change rooms).
    fn act_on(&self, opts: &BroadcastOptions, f: impl FnOnce(&dyn SocketEmitter, &[Sid])) {
        let sids = self.socket_ids(opts);
        if let Some(emitter) = self.nsp.emitter() {
            f(&*emitter, &sids);
        }
    }
}

impl Adapter for MemoryAdapter {
    fn add_all(&self, sid: Sid, rooms: &[Room]) {
        let mut events = Vec::new();
        {
            let mut state = self.state.write();
            for room in rooms {
                let members = state.rooms.entry(room.clone()).or_insert_with(|| {
                    events.push(RoomEvent::CreateRoom(room.clone()));
                    HashSet::new()
                });
                if members.insert(sid) {
                    events.push(RoomEvent::JoinRoom(room.clone(), sid));
                }
                state.sids.entry(sid).or_default().insert(room.clone());
            }
        }
        self.nsp.room_events(events);
    }

    fn del(&self, sid: Sid, room: &str) {
        let mut events = Vec::new();
        {
            let mut state = self.state.write();
            if let Some(rooms) = state.sids.get_mut(&sid) {
                rooms.remove(room);
            }
            if let Some(members) = state.rooms.get_mut(room) {
                if members.remove(&sid) {
                    let room: Room = room.into();
                    events.push(RoomEvent::LeaveRoom(room.clone(), sid));
                    if members.is_empty() {
                        state.rooms.remove(&room);
                        events.push(RoomEvent::DeleteRoom(room));
                    }
                }
            }
        }
        self.nsp.room_events(events);
    }

    fn del_all(&self, sid: Sid) {
        let mut events = Vec::new();
        {
            let mut state = self.state.write();
            let Some(rooms) = state.sids.remove(&sid) else {
                return;
            };
            for room in rooms {
                if let Some(members) = state.rooms.get_mut(&room) {
                    if members.remove(&sid) {
                        events.push(RoomEvent::LeaveRoom(room.clone(), sid));
                    }
                    if members.is_empty() {
                        state.rooms.remove(&room);
                        events.push(RoomEvent::DeleteRoom(room));
                    }
                }
            }
        }
        self.nsp.room_events(events);
    }

    fn socket_rooms(&self, sid: Sid) -> Vec<Room> {
        self.state
            .read()
            .sids
            .get(&sid)
            .map(|rooms| rooms.iter().cloned().collect())
            .unwrap_or_default()
    }

    fn local_rooms(&self) -> Vec<(Room, usize)> {
        self.state
            .read()
            .rooms
            .iter()
            .map(|(room, members)| (room.clone(), members.len()))
            .collect()
    }

    fn local_sockets(&self, opts: &BroadcastOptions) -> Vec<Sid> {
        self.socket_ids(opts)
    }

    fn broadcast(
        &self,
        packet: &BroadcastPacket,
        opts: &BroadcastOptions,
    ) -> Result<BroadcastReport, AdapterError> {
        Ok(self
            .with_targets(opts, |emitter, targets| {
                emitter.send_many(targets, packet, opts.volatile)
            })
            .unwrap_or_default())
    }

    fn broadcast_with_ack(
        &self,
        packet: &BroadcastPacket,
        opts: &BroadcastOptions,
        collector: AckCollector,
    ) -> BoxFuture<'static, Result<usize, AdapterError>> {
        let count = self.broadcast_with_ack_local(packet, opts, collector);
        Box::pin(async move { Ok(count) })
    }

    fn sockets(
        &self,
        opts: &BroadcastOptions,
    ) -> BoxFuture<'static, Result<HashSet<Sid>, AdapterError>> {
        let ids: HashSet<Sid> = self.socket_ids(opts).into_iter().collect();
        Box::pin(async move { Ok(ids) })
    }

    fn fetch_sockets(
        &self,
        opts: &BroadcastOptions,
    ) -> BoxFuture<'static, Result<Vec<RemoteSocketData>, AdapterError>> {
        let found = self.fetch_local(opts);
        Box::pin(async move { Ok(found) })
    }

    fn add_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) -> Result<(), AdapterError> {
        self.act_on(opts, |emitter, sids| emitter.join(sids, rooms));
        Ok(())
    }

    fn del_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) -> Result<(), AdapterError> {
        self.act_on(opts, |emitter, sids| emitter.leave(sids, rooms));
        Ok(())
    }

    fn disconnect_sockets(&self, opts: &BroadcastOptions, close: bool) -> Result<(), AdapterError> {
        self.act_on(opts, |emitter, sids| emitter.disconnect(sids, close));
        Ok(())
    }

    fn server_side_emit(&self, _event: &str, _payload: &Payload) -> Result<(), AdapterError> {
        // One process: there is no other server to tell.
        Ok(())
    }

    fn server_count(&self) -> BoxFuture<'static, Result<usize, AdapterError>> {
        Box::pin(async { Ok(1) })
    }
}
