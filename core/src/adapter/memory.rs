//! The in-memory adapter: the room index of one namespace in one process, read under a `parking_lot`
//! read lock on the broadcast path.

use super::{
    deliver, AckCollector, Adapter, AdapterError, BoxFuture, BroadcastOptions, BroadcastPacket,
    BroadcastReport, RemoteSocket, Room, RoomEvent,
};
use crate::engineio::Sid;
use crate::socketio::{NamespaceRef, Payload, Socket};
use parking_lot::RwLock;
use std::collections::{HashMap, HashSet};

#[derive(Default)]
struct Rooms {
    rooms: HashMap<Room, HashSet<Sid>>,
    sids: HashMap<Sid, HashSet<Room>>,
}

/// The default adapter: rooms and fan-out within this process.
pub struct MemoryAdapter {
    nsp: NamespaceRef,
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
    pub fn new(nsp: NamespaceRef) -> MemoryAdapter {
        MemoryAdapter {
            nsp,
            state: RwLock::new(Rooms::default()),
        }
    }

    /// Calls `f` for every local socket targeted by `opts`, each once, under the read locks.
    pub fn for_each_target(&self, opts: &BroadcastOptions, mut f: impl FnMut(&Socket)) {
        let Some(nsp) = self.nsp.upgrade() else {
            return;
        };
        let state = self.state.read();
        let except: HashSet<Sid> = opts
            .except
            .iter()
            .filter_map(|room| state.rooms.get(room))
            .flatten()
            .copied()
            .collect();
        nsp.with_sockets(|sockets| {
            if opts.rooms.is_empty() {
                for (sid, socket) in sockets {
                    if !except.contains(sid) {
                        f(socket);
                    }
                }
                return;
            }
            let single = opts.rooms.len() == 1;
            let mut seen = HashSet::new();
            for room in &opts.rooms {
                let Some(members) = state.rooms.get(room) else {
                    continue;
                };
                for sid in members {
                    if except.contains(sid) || (!single && !seen.insert(*sid)) {
                        continue;
                    }
                    if let Some(socket) = sockets.get(sid) {
                        f(socket);
                    }
                }
            }
        });
    }

    /// Sends a broadcast with acks to the local targets; returns how many were reached.
    pub(crate) fn local_broadcast_with_ack(
        &self,
        packet: &BroadcastPacket,
        opts: &BroadcastOptions,
        collector: AckCollector,
    ) -> usize {
        let mut count = 0;
        let id = packet.ack_id.unwrap_or_default();
        self.for_each_target(opts, |socket| {
            socket.expect_ack_for_broadcast(id, collector.clone());
            let mut report = BroadcastReport::default();
            deliver(socket, packet, opts.volatile, &mut report);
            count += report.delivered;
        });
        count
    }

    /// How many local sockets are in a room (the Redis adapter's question).
    #[cfg(feature = "redis")]
    pub(crate) fn socket_count_in(&self, room: &str) -> usize {
        self.state.read().rooms.get(room).map_or(0, HashSet::len)
    }

    pub(crate) fn targets(&self, opts: &BroadcastOptions) -> Vec<Socket> {
        let mut out = Vec::new();
        self.for_each_target(opts, |s| out.push(s.clone()));
        out
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

    fn local_sockets(&self, opts: &BroadcastOptions) -> Vec<Socket> {
        self.targets(opts)
    }

    fn broadcast(
        &self,
        packet: &BroadcastPacket,
        opts: &BroadcastOptions,
    ) -> Result<BroadcastReport, AdapterError> {
        let mut report = BroadcastReport::default();
        self.for_each_target(opts, |socket| {
            deliver(socket, packet, opts.volatile, &mut report)
        });
        Ok(report)
    }

    fn broadcast_with_ack(
        &self,
        packet: &BroadcastPacket,
        opts: &BroadcastOptions,
        collector: AckCollector,
    ) -> BoxFuture<'static, Result<usize, AdapterError>> {
        let count = self.local_broadcast_with_ack(packet, opts, collector);
        Box::pin(async move { Ok(count) })
    }

    fn sockets(
        &self,
        opts: &BroadcastOptions,
    ) -> BoxFuture<'static, Result<HashSet<Sid>, AdapterError>> {
        let mut ids = HashSet::new();
        self.for_each_target(opts, |s| {
            ids.insert(s.id());
        });
        Box::pin(async move { Ok(ids) })
    }

    fn fetch_sockets(
        &self,
        opts: &BroadcastOptions,
    ) -> BoxFuture<'static, Result<Vec<RemoteSocket>, AdapterError>> {
        let found: Vec<RemoteSocket> = self
            .targets(opts)
            .into_iter()
            .map(|s| s.to_remote())
            .collect();
        Box::pin(async move { Ok(found) })
    }

    fn add_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) -> Result<(), AdapterError> {
        for socket in self.targets(opts) {
            socket.join(rooms.to_vec());
        }
        Ok(())
    }

    fn del_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) -> Result<(), AdapterError> {
        for socket in self.targets(opts) {
            for room in rooms {
                socket.leave(room.clone());
            }
        }
        Ok(())
    }

    fn disconnect_sockets(&self, opts: &BroadcastOptions, close: bool) -> Result<(), AdapterError> {
        for socket in self.targets(opts) {
            socket.disconnect(close);
        }
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
