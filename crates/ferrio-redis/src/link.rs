//! The two Redis connections one ferrio process keeps, whatever its number of namespaces: a subscriber
//! (patterns and channels of every namespace, messages routed to their adapter) and a publisher fed by one
//! bounded queue, so what a process publishes reaches Redis in the order it was sent. Both reconnect by
//! themselves with a capped backoff; while either is down, remote operations fail at once with
//! [`AdapterError::Unavailable`] instead of queueing without bound.

use crate::RedisAdapter;
use ferrio::adapter::AdapterError;
use futures_util::StreamExt;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Messages waiting for the publisher; beyond this a publish fails rather than growing the queue.
const PUBLISH_QUEUE: usize = 65_536;
/// Publishes written to Redis in one pipeline.
const PUBLISH_BATCH: usize = 256;
pub(crate) const FIRST_RETRY: Duration = Duration::from_millis(100);
const LAST_RETRY: Duration = Duration::from_secs(2);

/// What the adapters of one process share.
pub(super) struct Link {
    pub uid: String,
    pub prefix: String,
    pub request_timeout: Duration,
    publish_tx: mpsc::Sender<(String, Vec<u8>)>,
    command: Mutex<Option<redis::aio::MultiplexedConnection>>,
    subscriptions: Mutex<Subscriptions>,
    routes: Mutex<Vec<Weak<RedisAdapter>>>,
    publisher_up: AtomicBool,
    subscriber_up: AtomicBool,
    up_changed: tokio::sync::Notify,
    /// Counts the subscriber's lost connections; the publisher reconnects when it moves (Redis went away,
    /// so its own connection is stale even if no publish has failed yet).
    subscriber_losses: tokio::sync::watch::Sender<u64>,
    stop: CancellationToken,
    /// Where subscriptions of namespaces made later are sent from (a namespace may be made on any thread).
    runtime: tokio::runtime::Handle,
}

#[derive(Default)]
struct Subscriptions {
    patterns: Vec<String>,
    channels: Vec<String>,
    sink: Option<redis::aio::PubSubSink>,
}

impl Drop for Link {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Link {
    /// Starts both connections' tasks on the current tokio runtime.
    pub fn start(
        url: &str,
        prefix: String,
        request_timeout: Duration,
    ) -> Result<Arc<Link>, AdapterError> {
        let client = redis::Client::open(url)
            .map_err(|e| AdapterError::Unavailable(format!("invalid Redis URL: {e}")))?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            AdapterError::Unavailable("the Redis adapter needs a tokio runtime".into())
        })?;
        let (publish_tx, publish_rx) = mpsc::channel(PUBLISH_QUEUE);
        let link = Arc::new(Link {
            uid: random_id(10),
            prefix,
            request_timeout,
            publish_tx,
            command: Mutex::new(None),
            subscriptions: Mutex::new(Subscriptions::default()),
            routes: Mutex::new(Vec::new()),
            publisher_up: AtomicBool::new(false),
            subscriber_up: AtomicBool::new(false),
            up_changed: tokio::sync::Notify::new(),
            subscriber_losses: tokio::sync::watch::Sender::new(0),
            stop: CancellationToken::new(),
            runtime: runtime.clone(),
        });
        runtime.spawn(run_writer(
            Arc::downgrade(&link),
            client.clone(),
            publish_rx,
            link.subscriber_losses.subscribe(),
            link.stop.clone(),
            PUBLISH_BATCH,
            |pipe, (channel, message): (String, Vec<u8>)| {
                pipe.publish(channel, message).ignore();
            },
        ));
        runtime.spawn(run_subscriber(
            Arc::downgrade(&link),
            client,
            link.stop.clone(),
        ));
        Ok(link)
    }

    /// Whether both connections are up.
    pub fn is_up(&self) -> bool {
        self.publisher_up.load(Ordering::Acquire) && self.subscriber_up.load(Ordering::Acquire)
    }

    /// Waits until both connections are up, or `timeout`.
    pub async fn wait_up(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let changed = self.up_changed.notified();
            if self.is_up() {
                return true;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return self.is_up();
            }
        }
    }

    fn set_up(&self, flag: &AtomicBool, up: bool) {
        flag.store(up, Ordering::Release);
        self.up_changed.notify_waiters();
    }

    fn unavailable() -> AdapterError {
        AdapterError::Unavailable("Redis is unreachable".into())
    }

    /// Queues a message for the publisher. Fails at once when Redis is down or the queue is full.
    pub fn publish(&self, channel: String, message: Vec<u8>) -> Result<(), AdapterError> {
        // Either connection down means Redis is (or was just) unreachable: the publisher itself may not
        // have noticed yet.
        if !self.is_up() {
            return Err(Self::unavailable());
        }
        self.publish_tx
            .try_send((channel, message))
            .map_err(|error| match error {
                mpsc::error::TrySendError::Full(_) => {
                    AdapterError::Unavailable("the Redis publish queue is full".into())
                }
                mpsc::error::TrySendError::Closed(_) => Self::unavailable(),
            })
    }

    /// How many servers listen on `channel` (PUBSUB NUMSUB), which is how the Node adapter counts servers.
    pub async fn subscriber_count(&self, channel: &str) -> Result<usize, AdapterError> {
        let Some(mut conn) = self.command.lock().clone() else {
            return Err(Self::unavailable());
        };
        let mut command = redis::cmd("PUBSUB");
        command.arg("NUMSUB").arg(channel);
        let query = command.query_async::<Vec<redis::Value>>(&mut conn);
        let reply = tokio::time::timeout(self.request_timeout, query)
            .await
            .map_err(|_| AdapterError::Timeout)?
            .map_err(|e| AdapterError::Unavailable(format!("Redis: {e}")))?;
        match reply.get(1) {
            Some(redis::Value::Int(n)) => Ok((*n).max(0) as usize),
            _ => Err(AdapterError::Unavailable(
                "Redis answered PUBSUB NUMSUB oddly".into(),
            )),
        }
    }

    /// Subscribes an adapter's channels (now if connected, and again after every reconnection) and routes
    /// their messages to it.
    pub fn register(&self, adapter: &Arc<RedisAdapter>) {
        {
            let mut routes = self.routes.lock();
            routes.retain(|r| r.strong_count() > 0);
            routes.push(Arc::downgrade(adapter));
        }
        let pattern = format!("{}*", adapter.broadcast_channel);
        let channels = adapter.listened_channels();
        let sink = {
            let mut subs = self.subscriptions.lock();
            subs.patterns.push(pattern.clone());
            subs.channels.extend(channels.iter().cloned());
            subs.sink.clone()
        };
        if let Some(mut sink) = sink {
            self.runtime.spawn(async move {
                // A failure here means the connection is going down; the reconnection subscribes again.
                let _ = sink.psubscribe(&pattern).await;
                let _ = sink.subscribe(&channels).await;
            });
        }
    }

    fn route(&self, msg: &redis::Msg) {
        let channel = msg.get_channel_name();
        let payload = msg.get_payload_bytes();
        let adapters: Vec<Arc<RedisAdapter>> = self
            .routes
            .lock()
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        for adapter in adapters {
            if adapter.accepts(channel, payload) {
                return;
            }
        }
    }
}

/// A random id of `len` alphanumeric characters (server uids and request ids, as uid2 makes them).
pub(super) fn random_id(len: usize) -> String {
    use rand::distr::{Alphanumeric, SampleString};
    Alphanumeric.sample_string(&mut rand::rng(), len)
}

/// Waits `delay` (doubling it up to the last retry's) unless stopped; false when stopped.
pub(crate) async fn pause(stop: &CancellationToken, delay: &mut Duration) -> bool {
    let stopped = tokio::select! {
        _ = stop.cancelled() => true,
        _ = tokio::time::sleep(*delay) => false,
    };
    *delay = (*delay * 2).min(LAST_RETRY);
    !stopped
}

/// What a writer task reports to: its connection once up (it doubles as the command connection), `None`
/// once lost.
pub(crate) trait WriterOwner: Send + Sync + 'static {
    fn writer_connected(&self, conn: Option<redis::aio::MultiplexedConnection>);
}

impl WriterOwner for Link {
    fn writer_connected(&self, conn: Option<redis::aio::MultiplexedConnection>) {
        let up = conn.is_some();
        *self.command.lock() = conn;
        self.set_up(&self.publisher_up, up);
    }
}

/// Writes what `queue` brings to Redis in pipelines of up to `batch` commands (`add` puts one in), in
/// order, over one connection; reconnects with a capped backoff after an error and whenever `losses`
/// moves (another connection saw Redis go away, so this one is stale even if no write failed yet).
/// What is queued while it is down was accepted before the connection dropped and is discarded (new
/// writes already fail then).
pub(crate) async fn run_writer<O: WriterOwner, T: Send>(
    owner: Weak<O>,
    client: redis::Client,
    mut queue: mpsc::Receiver<T>,
    mut losses: tokio::sync::watch::Receiver<u64>,
    stop: CancellationToken,
    batch: usize,
    mut add: impl FnMut(&mut redis::Pipeline, T) + Send,
) {
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(Duration::from_secs(5)));
    let mut delay = FIRST_RETRY;
    loop {
        let connected = loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                conn = client.get_multiplexed_async_connection_with_config(&config) => break conn,
                dropped = queue.recv() => if dropped.is_none() { return },
            }
        };
        let mut conn = match connected {
            Ok(conn) => {
                losses.borrow_and_update();
                conn
            }
            Err(error) => {
                tracing::debug!(%error, "a Redis writer cannot connect");
                if !pause(&stop, &mut delay).await {
                    return;
                }
                continue;
            }
        };
        delay = FIRST_RETRY;
        match owner.upgrade() {
            Some(owner) => owner.writer_connected(Some(conn.clone())),
            None => return,
        }
        tracing::info!("a Redis writer connected");
        let mut items = Vec::with_capacity(batch);
        loop {
            let first = tokio::select! {
                _ = stop.cancelled() => return,
                _ = losses.changed() => {
                    tracing::debug!("a Redis writer reconnecting with the other connections");
                    break;
                }
                first = queue.recv() => match first { Some(m) => m, None => return },
            };
            items.push(first);
            while items.len() < batch {
                match queue.try_recv() {
                    Ok(m) => items.push(m),
                    Err(_) => break,
                }
            }
            let mut pipe = redis::pipe();
            for item in items.drain(..) {
                add(&mut pipe, item);
            }
            if let Err(error) = pipe.query_async::<()>(&mut conn).await {
                tracing::warn!(%error, "a Redis writer lost its connection; reconnecting");
                break;
            }
        }
        match owner.upgrade() {
            Some(owner) => owner.writer_connected(None),
            None => return,
        }
    }
}

/// What a subscriber task serves: the patterns and channels to subscribe to (again after every
/// reconnection), where their messages go, and whether it is up.
pub(crate) trait SubscriberOwner: Send + Sync + 'static {
    /// Takes the new connection's sink (for later subscriptions; `None` once lost) and returns the
    /// patterns and channels to subscribe to now.
    fn subscriber_sink(&self, sink: Option<redis::aio::PubSubSink>) -> (Vec<String>, Vec<String>);
    fn subscriber_up(&self, up: bool);
    fn route(&self, msg: &redis::Msg);
}

impl SubscriberOwner for Link {
    fn subscriber_sink(&self, sink: Option<redis::aio::PubSubSink>) -> (Vec<String>, Vec<String>) {
        let mut subs = self.subscriptions.lock();
        subs.sink = sink;
        (subs.patterns.clone(), subs.channels.clone())
    }

    fn subscriber_up(&self, up: bool) {
        self.set_up(&self.subscriber_up, up);
        if !up {
            self.subscriber_losses.send_modify(|n| *n += 1);
        }
    }

    fn route(&self, msg: &redis::Msg) {
        Link::route(self, msg)
    }
}

/// Keeps a pub/sub connection subscribed to what its owner names, routing every message to it;
/// reconnects with a capped backoff.
pub(crate) async fn run_subscriber<O: SubscriberOwner>(
    owner: Weak<O>,
    client: redis::Client,
    stop: CancellationToken,
) {
    let mut delay = FIRST_RETRY;
    loop {
        let pubsub = tokio::select! {
            _ = stop.cancelled() => return,
            pubsub = client.get_async_pubsub() => pubsub,
        };
        let pubsub = match pubsub {
            Ok(pubsub) => pubsub,
            Err(error) => {
                tracing::debug!(%error, "a Redis subscriber cannot connect");
                if !pause(&stop, &mut delay).await {
                    return;
                }
                continue;
            }
        };
        let (mut sink, mut stream) = pubsub.split();
        let (patterns, channels) = match owner.upgrade() {
            Some(owner) => owner.subscriber_sink(Some(sink.clone())),
            None => return,
        };
        let subscribed = async {
            if !patterns.is_empty() {
                sink.psubscribe(&patterns).await?;
            }
            if !channels.is_empty() {
                sink.subscribe(&channels).await?;
            }
            Ok::<(), redis::RedisError>(())
        };
        if let Err(error) = subscribed.await {
            tracing::debug!(%error, "a Redis subscriber cannot subscribe");
            if !pause(&stop, &mut delay).await {
                return;
            }
            continue;
        }
        delay = FIRST_RETRY;
        match owner.upgrade() {
            Some(owner) => owner.subscriber_up(true),
            None => return,
        }
        tracing::info!("a Redis subscriber connected");
        loop {
            let msg = tokio::select! {
                _ = stop.cancelled() => return,
                msg = stream.next() => msg,
            };
            let Some(msg) = msg else { break };
            let Some(owner) = owner.upgrade() else { return };
            owner.route(&msg);
        }
        tracing::warn!("a Redis subscriber lost its connection; reconnecting");
        match owner.upgrade() {
            Some(owner) => {
                owner.subscriber_sink(None);
                owner.subscriber_up(false);
            }
            None => return,
        }
    }
}
