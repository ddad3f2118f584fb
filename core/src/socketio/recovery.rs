//! Connection state recovery for one namespace, in this process: the events a client may have missed,
//! each with its offset, and the sessions of sockets whose connection was lost (socket.io's
//! `SessionAwareAdapter`).
//!
//! Offsets are this store's tag followed by a sequence number, so finding where a client stopped is
//! arithmetic on a deque, not a search. Storing an event and queueing it for its targets happen under
//! one lock, and so does restoring a session (collecting its missed events, putting the socket back in
//! its rooms): an event is either among the missed ones or reaches the restored socket live, never
//! both, never neither. The lock is reentrant because putting a socket back in its rooms tells the room
//! listeners, which may emit in the same namespace.

use super::server::ConnectionStateRecovery;
use crate::adapter::{Room, Session};
use crate::engineio::{Outgoing, Sid};
use parking_lot::{ReentrantMutex, ReentrantMutexGuard};
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// An event kept for the sockets that may have missed it.
struct StoredPacket {
    seq: u64,
    emitted_at: Instant,
    /// Its targets, as the broadcast named them (every socket when empty)…
    rooms: Vec<Room>,
    /// …minus the members of these rooms.
    except: Vec<Room>,
    /// The frames exactly as they were sent, offset included.
    frames: Outgoing,
}

/// A session kept, and since when.
struct KeptSession {
    session: Session,
    disconnected_at: Instant,
}

/// A session given back, with the events it missed in order.
pub(crate) struct Restored {
    pub(crate) session: Session,
    pub(crate) missed: Vec<Outgoing>,
}

#[derive(Default)]
struct Store {
    /// The sequence number the next event gets.
    next_seq: u64,
    /// Consecutive sequence numbers, oldest first.
    packets: VecDeque<StoredPacket>,
    sessions: HashMap<Sid, KeptSession>,
    /// When each session was stored, oldest first (a session stored again appears twice; the older
    /// entry no longer matches it and is skipped).
    session_times: VecDeque<(Instant, Sid)>,
}

impl Store {
    /// The sequence number of the oldest event kept (the next one's when none is).
    fn first_seq(&self) -> u64 {
        self.packets.front().map_or(self.next_seq, |p| p.seq)
    }

    /// Drops what is older than the window.
    fn prune(&mut self, now: Instant, options: &ConnectionStateRecovery) {
        let Some(threshold) = now.checked_sub(options.max_disconnection_duration) else {
            return;
        };
        while self
            .packets
            .front()
            .is_some_and(|p| p.emitted_at < threshold)
        {
            self.packets.pop_front();
        }
        while let Some(&(at, pid)) = self.session_times.front() {
            if at >= threshold {
                break;
            }
            self.session_times.pop_front();
            if self
                .sessions
                .get(&pid)
                .is_some_and(|s| s.disconnected_at <= at)
            {
                self.sessions.remove(&pid);
            }
        }
    }
}

/// Whether a stored event was addressed to a socket in `rooms` (socket.io's `shouldIncludePacket`).
fn addressed_to(rooms: &[Room], packet: &StoredPacket) -> bool {
    let included = packet.rooms.is_empty() || rooms.iter().any(|room| packet.rooms.contains(room));
    included && !rooms.iter().any(|room| packet.except.contains(room))
}

/// The recovery store of one namespace.
pub(crate) struct Recovery {
    pub(crate) options: ConnectionStateRecovery,
    /// Starts every offset of this store: an offset from another store (or made up) does not parse.
    tag: String,
    store: ReentrantMutex<RefCell<Store>>,
    /// Whether the task dropping what expired while the namespace is quiet was started.
    sweeping: AtomicBool,
}

impl std::fmt::Debug for Recovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recovery")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// The store, locked (by this thread; reentrant).
pub(crate) struct RecoveryGuard<'a> {
    recovery: &'a Recovery,
    store: ReentrantMutexGuard<'a, RefCell<Store>>,
}

impl Recovery {
    pub(crate) fn new(options: ConnectionStateRecovery) -> Recovery {
        let sid = Sid::generate();
        Recovery {
            options,
            tag: sid.as_str()[..8].to_owned(),
            store: ReentrantMutex::new(RefCell::new(Store::default())),
            sweeping: AtomicBool::new(false),
        }
    }

    /// How often the sweeper runs: every window, within 1 s to 60 s (socket.io sweeps every minute).
    pub(crate) fn sweep_interval(&self) -> Duration {
        self.options
            .max_disconnection_duration
            .clamp(Duration::from_secs(1), Duration::from_secs(60))
    }

    /// True the first time it is called on a thread of a Tokio runtime: the caller then starts the
    /// sweeper there.
    pub(crate) fn claim_sweeper(&self) -> bool {
        !self.sweeping.load(Ordering::Relaxed)
            && tokio::runtime::Handle::try_current().is_ok()
            && !self.sweeping.swap(true, Ordering::AcqRel)
    }

    /// Drops the events and sessions older than the window, as each store, persist and restore does.
    pub(crate) fn sweep(&self) {
        let guard = self.store.lock();
        guard.borrow_mut().prune(Instant::now(), &self.options);
    }

    /// Locks the store: hold the guard while an event is stored and queued for its targets.
    pub(crate) fn lock(&self) -> RecoveryGuard<'_> {
        RecoveryGuard {
            recovery: self,
            store: self.store.lock(),
        }
    }

    fn offset_text(&self, seq: u64) -> String {
        format!("{}{seq}", self.tag)
    }

    fn parse_offset(&self, offset: &str) -> Option<u64> {
        let digits = offset.strip_prefix(self.tag.as_str())?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    }

    /// Keeps the session of a socket whose connection was lost.
    pub(crate) fn persist(&self, session: Session) {
        let now = Instant::now();
        let guard = self.store.lock();
        let mut store = guard.borrow_mut();
        store.prune(now, &self.options);
        store.session_times.push_back((now, session.pid));
        store.sessions.insert(
            session.pid,
            KeptSession {
                session,
                disconnected_at: now,
            },
        );
    }

    /// How many events and sessions are kept now (for tests of the bounds).
    #[cfg(test)]
    fn sizes(&self) -> (usize, usize) {
        let guard = self.store.lock();
        let store = guard.borrow();
        (store.packets.len(), store.sessions.len())
    }
}

impl RecoveryGuard<'_> {
    /// The offset the next stored event gets (it is part of the event's encoding, so it is known
    /// before [`store`](Self::store), which must follow under the same guard).
    pub(crate) fn next_offset(&self) -> String {
        self.recovery.offset_text(self.store.borrow().next_seq)
    }

    /// Stores the event [`next_offset`](Self::next_offset) named, dropping the expired and, at the
    /// cap, the oldest.
    pub(crate) fn store(&self, rooms: Vec<Room>, except: Vec<Room>, frames: Outgoing) {
        let now = Instant::now();
        let options = &self.recovery.options;
        let mut store = self.store.borrow_mut();
        store.prune(now, options);
        while store.packets.len() >= options.max_stored_packets {
            store.packets.pop_front();
        }
        let seq = store.next_seq;
        store.next_seq += 1;
        store.packets.push_back(StoredPacket {
            seq,
            emitted_at: now,
            rooms,
            except,
            frames,
        });
    }

    /// Takes the session `pid` back with the events it missed after `offset`, if it is still kept,
    /// every event after `offset` is still kept, and no more than `max_missed` were addressed to it.
    /// Otherwise `None`, and the session (if any) is left to expire.
    pub(crate) fn restore(&self, pid: &str, offset: &str, max_missed: usize) -> Option<Restored> {
        let pid = Sid::parse(pid)?;
        let seq = self.recovery.parse_offset(offset)?;
        let mut store = self.store.borrow_mut();
        store.prune(Instant::now(), &self.recovery.options);
        let session = &store.sessions.get(&pid)?.session;
        let first = store.first_seq();
        // The offset must be one this store gave, and nothing after it may have been dropped.
        if seq >= store.next_seq || seq.saturating_add(1) < first {
            return None;
        }
        let start = usize::try_from(seq + 1 - first).ok()?;
        let mut missed = Vec::new();
        for packet in store.packets.iter().skip(start) {
            if addressed_to(&session.rooms, packet) {
                if missed.len() == max_missed {
                    return None;
                }
                missed.push(packet.frames.clone());
            }
        }
        let session = store.sessions.remove(&pid)?.session;
        Some(Restored { session, missed })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engineio::Frame;
    use serde_json::Value;
    use std::time::Duration;

    fn frames(text: &str) -> Outgoing {
        Outgoing::One(Frame::Text(text.to_owned().into()))
    }

    fn text(item: &Outgoing) -> String {
        match item {
            Outgoing::One(Frame::Text(t)) => t.as_str().to_owned(),
            _ => String::new(),
        }
    }

    fn room(name: &str) -> Room {
        Room::from(name)
    }

    fn options(max: usize) -> ConnectionStateRecovery {
        ConnectionStateRecovery::new().max_stored_packets(max)
    }

    #[test]
    fn restores_the_missed_events_addressed_to_the_session() {
        let recovery = Recovery::new(options(100));
        let sid = Sid::generate();
        let pid = Sid::generate();
        let guard = recovery.lock();
        let offset = guard.next_offset();
        guard.store(vec![], vec![], frames("a")); // the client's last
        guard.store(vec![room("r")], vec![], frames("to r"));
        guard.store(vec![room("other")], vec![], frames("to other"));
        guard.store(vec![], vec![room(sid.as_str())], frames("all but it"));
        guard.store(vec![room(sid.as_str())], vec![], frames("to it"));
        guard.store(vec![], vec![room("r")], frames("all but r"));
        guard.store(vec![room("other"), room("r")], vec![], frames("to both"));
        drop(guard);
        recovery.persist(Session::new(
            sid,
            pid,
            vec![room(sid.as_str()), room("r")],
            Value::from(7),
        ));
        assert!(recovery.lock().restore(pid.as_str(), "nope", 100).is_none());
        let restored = recovery
            .lock()
            .restore(pid.as_str(), &offset, 100)
            .expect("restored");
        assert_eq!(restored.session.sid, sid);
        assert_eq!(restored.session.data, Value::from(7));
        let texts: Vec<String> = restored.missed.iter().map(text).collect();
        assert_eq!(texts, ["to r", "to it", "to both"]);
        // Taken: a second restore of the same session fails.
        assert!(recovery
            .lock()
            .restore(pid.as_str(), &offset, 100)
            .is_none());
    }

    #[test]
    fn a_dropped_event_after_the_offset_prevents_recovery() {
        let recovery = Recovery::new(options(2));
        let pid = Sid::generate();
        let guard = recovery.lock();
        let first = guard.next_offset();
        guard.store(vec![], vec![], frames("0"));
        let second = guard.next_offset();
        guard.store(vec![], vec![], frames("1"));
        guard.store(vec![], vec![], frames("2")); // drops "0"
        guard.store(vec![], vec![], frames("3")); // drops "1"
        drop(guard);
        recovery.persist(Session::new(Sid::generate(), pid, vec![], Value::Null));
        assert_eq!(recovery.sizes(), (2, 1));
        // After "0": "1" was dropped, so not recoverable.
        assert!(recovery.lock().restore(pid.as_str(), &first, 10).is_none());
        // After "1" (itself dropped, but nothing after it): recoverable.
        let restored = recovery
            .lock()
            .restore(pid.as_str(), &second, 10)
            .expect("restored");
        let texts: Vec<String> = restored.missed.iter().map(text).collect();
        assert_eq!(texts, ["2", "3"]);
    }

    #[test]
    fn too_many_missed_events_prevent_recovery() {
        let recovery = Recovery::new(options(10));
        let pid = Sid::generate();
        let guard = recovery.lock();
        let offset = guard.next_offset();
        for i in 0..4 {
            guard.store(vec![], vec![], frames(&i.to_string()));
        }
        drop(guard);
        recovery.persist(Session::new(Sid::generate(), pid, vec![], Value::Null));
        assert!(recovery.lock().restore(pid.as_str(), &offset, 2).is_none());
        assert!(recovery.lock().restore(pid.as_str(), &offset, 3).is_some());
    }

    #[test]
    fn sessions_and_events_expire_with_the_window() {
        let recovery =
            Recovery::new(options(10).max_disconnection_duration(Duration::from_millis(30)));
        let pid = Sid::generate();
        let guard = recovery.lock();
        let offset = guard.next_offset();
        guard.store(vec![], vec![], frames("0"));
        drop(guard);
        recovery.persist(Session::new(Sid::generate(), pid, vec![], Value::Null));
        std::thread::sleep(Duration::from_millis(60));
        assert!(recovery.lock().restore(pid.as_str(), &offset, 10).is_none());
        assert_eq!(recovery.sizes(), (0, 0));
    }

    #[test]
    fn the_sweeper_drops_what_expired_without_any_activity() {
        let recovery =
            Recovery::new(options(10).max_disconnection_duration(Duration::from_millis(30)));
        assert!(!recovery.claim_sweeper(), "not on a runtime thread");
        let guard = recovery.lock();
        guard.store(vec![], vec![], frames("0"));
        drop(guard);
        recovery.persist(Session::new(
            Sid::generate(),
            Sid::generate(),
            vec![],
            Value::Null,
        ));
        recovery.sweep();
        assert_eq!(recovery.sizes(), (1, 1), "nothing expired yet");
        std::thread::sleep(Duration::from_millis(60));
        recovery.sweep();
        assert_eq!(recovery.sizes(), (0, 0));
        assert_eq!(recovery.sweep_interval(), Duration::from_secs(1));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async {
            assert!(recovery.claim_sweeper());
            assert!(!recovery.claim_sweeper(), "started once");
        });
    }
}
