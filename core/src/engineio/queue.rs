//! The outgoing queue of a session: a bounded `VecDeque` under a `parking_lot` mutex plus a `Notify`.
//!
//! Cheaper than a channel for this job: nothing is allocated until the first packet (an idle connection
//! costs a few words), the consumer takes everything queued in one swap (so a burst of broadcasts leaves in
//! one flush), and only a push into an empty queue wakes the consumer.

use super::{Outgoing, SendError};
use parking_lot::Mutex;
use std::collections::VecDeque;
use tokio::sync::Notify;

pub(crate) struct OutQueue {
    items: Mutex<VecDeque<Outgoing>>,
    ready: Notify,
    capacity: usize,
}

impl OutQueue {
    pub(crate) fn new(capacity: usize) -> OutQueue {
        OutQueue {
            items: Mutex::new(VecDeque::new()),
            ready: Notify::new(),
            capacity: capacity.max(1),
        }
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
            // A permit is stored if the consumer is not waiting yet, so no wake-up is lost.
            self.ready.notify_one();
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
        self.ready.notify_one();
    }

    /// Waits until something may have been queued since the last [`OutQueue::take_all`].
    pub(crate) async fn ready(&self) {
        self.ready.notified().await
    }
}
