//! One batch-draining queue between the core's threads and a host's consumer.
//!
//! Producers (tokio workers, host threads) push without ever waiting for the consumer. The consumer is
//! woken once when the queue turns non-empty and then takes everything queued: a consumer that is awake
//! takes the next items without another wake-up, and a wake-up hands over a whole batch. How the
//! consumer is woken is the only thing that differs between languages ([`Wake`]).
//!
//! A wake-up may also be deferred to the end of the runtime's scheduler round ([`BatchQueue::relay`]):
//! waking a consumer thread on every push would, on a busy machine, let the kernel switch to it after
//! each event and run the host's handlers one at a time (two context switches per event). The relay
//! yields once first, so every task already runnable (the other connections' reads) queues its items,
//! then wakes the consumer for the whole batch.

use parking_lot::{Condvar, Mutex};
use std::collections::VecDeque;
use std::io::Read;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Weak};

/// How a [`BatchQueue`]'s consumer learns that items are waiting (a queue polled through a file
/// descriptor is made by [`BatchQueue::pollable`] instead).
pub enum Wake {
    /// A consumer thread blocks in [`BatchQueue::wait`] (C's callback thread, Python's dispatch thread).
    Thread,
    /// This function runs once each time the queue turns non-empty; the consumer it wakes then calls
    /// [`BatchQueue::take`] (Node's thread-safe function, or C's inline dispatch running the items on the
    /// network thread). It runs on the pushing thread (or the relay task) outside the queue's lock.
    Call(Box<dyn Fn() + Send + Sync>),
    /// The host polls [`BatchQueue::fd`] for readability and then calls [`BatchQueue::take`] (C's
    /// manual dispatch from the host's own event loop).
    Fd,
}

struct State<T> {
    items: VecDeque<T>,
    closed: bool,
    /// A wake-up is under way and the consumer has not taken everything since: pushes add to the batch
    /// without waking anybody again.
    signaled: bool,
}

/// A FIFO with one consumer, woken once per batch. See the module documentation.
pub struct BatchQueue<T> {
    state: Mutex<State<T>>,
    ready: Condvar,
    wake: Wake,
    /// `Fd`: the host polls the first; the second gets one byte when the queue turns non-empty.
    pipe: Option<(UnixStream, UnixStream)>,
    /// Present when wake-ups are deferred to the end of a scheduler round (see [`BatchQueue::relay`]).
    round: Option<Arc<tokio::sync::Notify>>,
}

impl<T> BatchQueue<T> {
    /// A queue whose consumer is woken by `wake`, at once on the first push after a take. (A
    /// [`Wake::Fd`] given here wakes nobody: use [`BatchQueue::pollable`], which can fail.)
    pub fn new(wake: Wake) -> BatchQueue<T> {
        BatchQueue {
            state: Mutex::new(State {
                items: VecDeque::new(),
                closed: false,
                signaled: false,
            }),
            ready: Condvar::new(),
            wake,
            pipe: None,
            round: None,
        }
    }

    /// A queue the host polls: [`BatchQueue::fd`] is readable exactly while items wait.
    pub fn pollable() -> std::io::Result<BatchQueue<T>> {
        let (reader, writer) = UnixStream::pair()?;
        reader.set_nonblocking(true)?;
        writer.set_nonblocking(true)?;
        let mut queue = BatchQueue::new(Wake::Fd);
        queue.pipe = Some((reader, writer));
        Ok(queue)
    }

    /// A queue whose wake-ups wait for the end of the scheduler round: spawn [`BatchQueue::relay`] on
    /// the runtime whose tasks push.
    pub fn per_round(wake: Wake) -> BatchQueue<T> {
        let mut queue = BatchQueue::new(wake);
        queue.round = Some(Arc::new(tokio::sync::Notify::new()));
        queue
    }

    /// Enqueues an item; `false` (and the item is dropped, releasing what it holds) once closed.
    pub fn push(&self, item: T) -> bool {
        let mut state = self.state.lock();
        if state.closed {
            drop(state);
            drop(item);
            return false;
        }
        state.items.push_back(item);
        if state.signaled {
            return true;
        }
        state.signaled = true;
        if let Some((_, writer)) = &self.pipe {
            // Under the lock, so the byte and the flag agree when `take` drains the pipe.
            send_no_sigpipe(writer, 1);
            return true;
        }
        drop(state);
        match &self.round {
            Some(round) => round.notify_one(),
            None => self.wake_consumer(),
        }
        true
    }

    fn wake_consumer(&self) {
        match &self.wake {
            Wake::Thread => {
                self.ready.notify_one();
            }
            Wake::Call(wake) => wake(),
            Wake::Fd => {}
        }
    }

    /// Relays deferred wake-ups (see the module documentation) for as long as the queue lives; spawn it
    /// once on the runtime whose tasks push to a queue made by [`BatchQueue::per_round`].
    pub async fn relay(queue: Weak<BatchQueue<T>>) {
        loop {
            let round = match queue.upgrade().and_then(|q| q.round.clone()) {
                Some(round) => round,
                None => return,
            };
            round.notified().await;
            tokio::task::yield_now().await;
            let Some(queue) = queue.upgrade() else {
                return;
            };
            // Pushes from now on start a new round: the consumer may already be taking this one.
            queue.state.lock().signaled = false;
            queue.wake_consumer();
        }
    }

    /// Takes up to `max` items (0: all) without waiting. Once the queue is empty, the next push wakes
    /// the consumer again (and the fd stops being readable).
    pub fn take(&self, max: usize) -> VecDeque<T> {
        let mut state = self.state.lock();
        let items = if max == 0 || max >= state.items.len() {
            std::mem::take(&mut state.items)
        } else {
            let rest = state.items.split_off(max);
            std::mem::replace(&mut state.items, rest)
        };
        if state.items.is_empty() && state.signaled {
            if let Some((reader, _)) = &self.pipe {
                let mut buf = [0u8; 64];
                while matches!((&*reader).read(&mut buf), Ok(n) if n > 0) {}
            }
            state.signaled = false;
        }
        items
    }

    /// Everything queued, or `None` once closed; no allocation when the queue is empty.
    pub fn take_open(&self) -> Option<VecDeque<T>> {
        let mut state = self.state.lock();
        if state.closed {
            return None;
        }
        if state.items.is_empty() {
            return Some(VecDeque::new());
        }
        state.signaled = false;
        Some(std::mem::take(&mut state.items))
    }

    /// [`Wake::Thread`]: waits for the next batch; `None` once closed ([`BatchQueue::close`] hands what
    /// was still queued to its caller, so a consumer that must see everything is told to stop by an item
    /// of its own instead).
    pub fn wait(&self) -> Option<VecDeque<T>> {
        let mut state = self.state.lock();
        while state.items.is_empty() && !state.closed {
            self.ready.wait(&mut state);
        }
        if state.items.is_empty() {
            return None;
        }
        if self.round.is_none() {
            state.signaled = false;
        }
        Some(std::mem::take(&mut state.items))
    }

    /// Refuses new items and returns those pending (a waiting consumer wakes and sees the end).
    pub fn close(&self) -> VecDeque<T> {
        let mut state = self.state.lock();
        state.closed = true;
        let items = std::mem::take(&mut state.items);
        drop(state);
        self.ready.notify_all();
        items
    }

    /// Whether [`BatchQueue::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.state.lock().closed
    }

    /// [`Wake::Fd`]: the descriptor the host polls for readability (`None` for other wakes).
    pub fn fd(&self) -> Option<RawFd> {
        self.pipe.as_ref().map(|(reader, _)| reader.as_raw_fd())
    }
}

/// Writes `byte` to the fd wake's socket pair without ever raising SIGPIPE: this runs on whichever thread
/// pushes, the host's included (`MSG_NOSIGNAL`). The reader lives as long as the writer, so the write
/// cannot meet a closed peer unless the host closed the fd it was lent; a full buffer is fine (the
/// reader is already readable).
fn send_no_sigpipe(writer: &UnixStream, byte: u8) {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        // SAFETY: sends one byte from a live local to the socket this `UnixStream` owns.
        let _ = unsafe {
            libc::send(
                writer.as_raw_fd(),
                (&byte as *const u8).cast(),
                1,
                libc::MSG_NOSIGNAL,
            )
        };
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = std::io::Write::write(&mut &*writer, &[byte]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn a_call_wake_runs_once_per_batch() {
        let wakes = Arc::new(AtomicUsize::new(0));
        let counted = wakes.clone();
        let queue = BatchQueue::new(Wake::Call(Box::new(move || {
            counted.fetch_add(1, Ordering::SeqCst);
        })));
        for i in 0..5 {
            assert!(queue.push(i));
        }
        assert_eq!(wakes.load(Ordering::SeqCst), 1);
        assert_eq!(queue.take(2), VecDeque::from([0, 1]));
        assert!(queue.push(5));
        assert_eq!(
            wakes.load(Ordering::SeqCst),
            1,
            "not drained yet: no new wake"
        );
        assert_eq!(queue.take(0), VecDeque::from([2, 3, 4, 5]));
        assert!(queue.push(6));
        assert_eq!(wakes.load(Ordering::SeqCst), 2);
        assert_eq!(queue.close(), VecDeque::from([6]));
        assert!(!queue.push(7));
        assert_eq!(queue.take_open(), None);
    }

    #[test]
    fn the_fd_is_readable_exactly_while_items_wait() {
        let queue = BatchQueue::pollable().unwrap();
        let fd = queue.fd().unwrap();
        let readable = || {
            let mut poll = libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd, no wait.
            unsafe { libc::poll(&mut poll, 1, 0) == 1 }
        };
        assert!(!readable());
        queue.push("a");
        queue.push("b");
        assert!(readable());
        assert_eq!(queue.take(1).len(), 1);
        assert!(readable(), "one item is left");
        assert_eq!(queue.take(0).len(), 1);
        assert!(!readable());
    }

    #[test]
    fn a_waiting_thread_gets_every_item_in_order_and_sees_the_close() {
        let queue = Arc::new(BatchQueue::new(Wake::Thread));
        let consumer = {
            let queue = queue.clone();
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                while let Some(batch) = queue.wait() {
                    seen.extend(batch);
                }
                seen
            })
        };
        let producers: Vec<_> = (0..4)
            .map(|p| {
                let queue = queue.clone();
                std::thread::spawn(move || {
                    for i in 0..1000 {
                        queue.push((p, i));
                    }
                })
            })
            .collect();
        for producer in producers {
            producer.join().unwrap();
        }
        // Close only once everything was taken, so the test sees every item through `wait`.
        while !queue.state.lock().items.is_empty() {
            std::thread::yield_now();
        }
        queue.close();
        let seen = consumer.join().unwrap();
        assert_eq!(seen.len(), 4000);
        for p in 0..4 {
            let mine: Vec<_> = seen
                .iter()
                .filter(|(q, _)| *q == p)
                .map(|(_, i)| *i)
                .collect();
            assert_eq!(mine, (0..1000).collect::<Vec<_>>(), "producer {p} in order");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_per_round_queue_wakes_its_thread_through_the_relay() {
        let queue = Arc::new(BatchQueue::per_round(Wake::Thread));
        tokio::spawn(BatchQueue::relay(Arc::downgrade(&queue)));
        let consumer = {
            let queue = queue.clone();
            std::thread::spawn(move || queue.wait())
        };
        let pushed = tokio::spawn({
            let queue = queue.clone();
            async move {
                for i in 0..10 {
                    queue.push(i);
                }
            }
        });
        pushed.await.unwrap();
        let batch = tokio::task::spawn_blocking(move || consumer.join().unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(batch.front(), Some(&0));
    }
}
