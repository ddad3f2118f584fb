//! What both adapters do the same way with requests to the other servers of a cluster, whatever their
//! wire: gathering one answer per server until a timeout, the socket counts and answers of a broadcast
//! with acks, relaying the answers of local sockets to a remote broadcast, and reading the sockets of
//! `fetchSockets` answers.

use crate::room_name;
use crate::wire::Decoded;
use ferrio::adapter::{AckCollector, AdapterError, RemoteSocketData, SocketEmitter};
use ferrio::{Payload, Sid};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// A request this server sent and whose answers it gathers.
struct Pending {
    remaining: usize,
    answers: Vec<Decoded>,
    done: Option<oneshot::Sender<Vec<Decoded>>>,
}

/// The requests in flight, by id.
#[derive(Default)]
pub(crate) struct Requests(Mutex<HashMap<String, Pending>>);

/// Answers a request awaits; see [`Requests::wait`].
pub(crate) struct Awaited {
    id: String,
    expected: usize,
    answers: oneshot::Receiver<Vec<Decoded>>,
}

impl Requests {
    /// Registers request `id`, which `expected` servers should answer.
    pub fn open(&self, id: String, expected: usize) -> Awaited {
        let (done, answers) = oneshot::channel();
        self.0.lock().insert(
            id.clone(),
            Pending {
                remaining: expected,
                answers: Vec::new(),
                done: Some(done),
            },
        );
        Awaited {
            id,
            expected,
            answers,
        }
    }

    /// Forgets a request that could not be sent.
    pub fn cancel(&self, awaited: &Awaited) {
        self.0.lock().remove(&awaited.id);
    }

    /// Records an answer to a request in flight (others are ignored).
    pub fn answer(&self, id: &str, answer: Decoded) {
        let mut requests = self.0.lock();
        let Some(pending) = requests.get_mut(id) else {
            return;
        };
        pending.answers.push(answer);
        pending.remaining = pending.remaining.saturating_sub(1);
        if pending.remaining == 0 {
            if let Some(Pending {
                answers,
                done: Some(done),
                ..
            }) = requests.remove(id)
            {
                let _ = done.send(answers);
            }
        }
    }

    /// Waits for every answer until `timeout`; fails naming how many came.
    pub async fn wait(
        &self,
        awaited: Awaited,
        timeout: Duration,
    ) -> Result<Vec<Decoded>, AdapterError> {
        match tokio::time::timeout(timeout, awaited.answers).await {
            Ok(Ok(answers)) => Ok(answers),
            _ => {
                let answered = self
                    .0
                    .lock()
                    .remove(&awaited.id)
                    .map_or(0, |p| p.answers.len());
                Err(AdapterError::Incomplete {
                    answered,
                    expected: awaited.expected,
                })
            }
        }
    }
}

/// A broadcast with acks this server sent: other servers report their socket counts, then the answers.
struct AckRequest {
    collector: AckCollector,
    counts: mpsc::UnboundedSender<usize>,
}

/// The broadcasts with acks in flight, by request id.
#[derive(Default)]
pub(crate) struct AckRequests(Mutex<HashMap<String, AckRequest>>);

impl AckRequests {
    /// Registers a broadcast whose answers go to `collector`, forgotten after `timeout`; returns where
    /// the other servers' socket counts arrive.
    pub fn open(
        self: &Arc<Self>,
        id: String,
        collector: AckCollector,
        timeout: Duration,
    ) -> mpsc::UnboundedReceiver<usize> {
        let (counts_tx, counts) = mpsc::unbounded_channel();
        self.0.lock().insert(
            id.clone(),
            AckRequest {
                collector,
                counts: counts_tx,
            },
        );
        let this = Arc::downgrade(self);
        tokio::spawn(async move {
            tokio::time::sleep(timeout).await;
            if let Some(this) = this.upgrade() {
                this.0.lock().remove(&id);
            }
        });
        counts
    }

    /// Whether `id` is a broadcast of this server's.
    pub fn contains(&self, id: &str) -> bool {
        self.0.lock().contains_key(id)
    }

    /// Records a server's socket count; false if `id` is unknown.
    pub fn count(&self, id: &str, count: usize) -> bool {
        match self.0.lock().get(id) {
            Some(ack) => {
                let _ = ack.counts.send(count);
                true
            }
            None => false,
        }
    }

    /// Records a remote socket's answer; false if `id` is unknown.
    pub fn answer(&self, id: &str, answer: Payload) -> bool {
        match self.0.lock().get(id) {
            Some(ack) => {
                ack.collector.answer(None, answer);
                true
            }
            None => false,
        }
    }
}

/// The total of this server's `local` sockets and the counts of the `servers - 1` others, each awaited
/// until `timeout`.
pub(crate) async fn total_count(
    local: usize,
    servers: usize,
    counts: &mut mpsc::UnboundedReceiver<usize>,
    timeout: Duration,
) -> usize {
    let mut total = local;
    for _ in 1..servers {
        match tokio::time::timeout(timeout, counts.recv()).await {
            Ok(Some(n)) => total += n,
            _ => break,
        }
    }
    total
}

/// Relays the answers of the `count` local sockets a remote broadcast with acks reached (`send` each),
/// until `timeout`; then stops awaiting the rest.
pub(crate) fn relay_answers(
    emitter: Arc<dyn SocketEmitter>,
    ack_id: u64,
    count: usize,
    mut answers: ferrio::adapter::AckReceiver,
    timeout: Duration,
    send: impl Fn(Payload) + Send + 'static,
) {
    tokio::spawn(async move {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut answered = 0;
        while answered < count {
            let Ok(Some((_, answer))) = tokio::time::timeout_at(deadline, answers.recv()).await
            else {
                break;
            };
            answered += 1;
            send(answer);
        }
        if answered < count {
            emitter.forget_ack(ack_id);
        }
    });
}

/// The sockets listed in `fetchSockets` answers, after `found`.
pub(crate) fn remote_sockets(
    mut found: Vec<RemoteSocketData>,
    answers: Vec<Decoded>,
) -> Vec<RemoteSocketData> {
    for answer in answers {
        for socket in answer.value["sockets"].as_array().into_iter().flatten() {
            let Some(id) = socket["id"].as_str().and_then(Sid::parse) else {
                continue;
            };
            found.push(RemoteSocketData {
                id,
                handshake: socket["handshake"].clone(),
                rooms: socket["rooms"]
                    .as_array()
                    .map(|r| r.iter().filter_map(room_name).collect())
                    .unwrap_or_default(),
                data: socket["data"].clone(),
            });
        }
    }
    found
}
