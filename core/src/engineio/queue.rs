//! The outgoing queue of a session: a bounded `VecDeque` under a `parking_lot` mutex plus an
//! `AtomicWaker` for its single consumer.
//!
//! Cheaper than a channel for this job: nothing is allocated until the first packet (an idle connection
//! costs a few words), the consumer takes everything queued in one swap (so a burst of broadcasts leaves in
//! one flush), and only a push into an empty queue wakes the consumer. Waiting costs an atomic exchange,
//! not a mutex (as `tokio::sync::Notify` would) — this is polled once per delivery.

use super::{Outgoing, SendError};
use futures_util::task::AtomicWaker;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

pub(crate) struct OutQueue {
    items: Mutex<VecDeque<Outgoing>>,
    /// Set when the consumer should look again (something was queued, or the session closed).
    signal: AtomicBool,
    consumer: AtomicWaker,
    capacity: usize,
}

impl OutQueue {
    pub(crate) fn new(capacity: usize) -> OutQueue {
        OutQueue {
            items: Mutex::new(VecDeque::new()),
            signal: AtomicBool::new(false),
            consumer: AtomicWaker::new(),
            capacity: capacity.max(1),
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// Queues `item`, or `Full` when `capacity` entries are already waiting.
    pub(crate) fn push(&self, item: Outgoing) -> Result<(), SendError> {
        let was_empty = {
            let mut items = self.items.lock();
            if items.len() >= self.capacity {
                return Err(SendError::Full);
            }
            items.push_back(item);
            items.len() == 1
        };
        if was_empty {
            self.wake_consumer();
        }
        Ok(())
    }

    /// Moves everything queued into `batch` (which must be empty), keeping both buffers' capacity.
    pub(crate) fn take_all(&self, batch: &mut VecDeque<Outgoing>) {
        debug_assert!(batch.is_empty());
        std::mem::swap(&mut *self.items.lock(), batch);
    }

    /// Puts back entries the consumer could not send now, ahead of anything queued since.
    pub(crate) fn put_back(&self, rest: &mut VecDeque<Outgoing>) {
        if rest.is_empty() {
            return;
        }
        let mut items = self.items.lock();
        while let Some(item) = rest.pop_back() {
            items.push_front(item);
        }
        drop(items);
        self.wake_consumer();
    }

    /// Makes the consumer look again; the signal stays set until it does, so no wake-up is lost.
    pub(crate) fn wake_consumer(&self) {
        self.signal.store(true, Ordering::Release);
        self.consumer.wake();
    }

    /// Ready once something may have been queued (or the session closed) since the last time it was.
    pub(crate) fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.signal.swap(false, Ordering::AcqRel) {
            return Poll::Ready(());
        }
        self.consumer.register(cx.waker());
        // Checked again after registering: a push in between would otherwise go unnoticed.
        if self.signal.swap(false, Ordering::AcqRel) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    /// Waits for [`OutQueue::poll_ready`].
    pub(crate) async fn ready(&self) {
        std::future::poll_fn(|cx| self.poll_ready(cx)).await
    }
}
