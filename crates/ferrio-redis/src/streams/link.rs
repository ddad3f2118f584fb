//! The Redis connections of one process on the streams adapter, whatever its number of namespaces:
//!
//! - a **writer** fed by one bounded queue (stream entries, publishes, session writes), pipelined, so what
//!   this process sends reaches Redis in the order it was sent;
//! - a **reader** that follows the stream with `XREAD BLOCK` from the last id it handled — after a lost
//!   connection or a Redis restart it resumes from there, so no entry added meanwhile is skipped — and
//!   hands every entry, this server's own included, to its namespace's adapter in stream order. Restores
//!   of sessions run in that sequence too: between two entries, so that a recovered socket gets every
//!   event once (the missed ones up to there, the rest live);
//! - a **subscriber** on each namespace's public and private channels (requests that need no storing,
//!   and the answers to this server's requests);
//! - a command connection for queries (`PUBSUB NUMSUB`, sessions, `XRANGE`).
//!
//! All reconnect by themselves with a capped backoff; while the writer is down, sends fail at once.

use super::StreamsAdapter;
use crate::link::{pause, run_subscriber, run_writer, SubscriberOwner, WriterOwner, FIRST_RETRY};
use ferrio::adapter::AdapterError;
use parking_lot::Mutex;
use redis::Value as Reply;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Commands waiting for the writer; beyond this a send fails rather than growing the queue.
const WRITE_QUEUE: usize = 65_536;
/// Commands written to Redis in one pipeline.
const WRITE_BATCH: usize = 256;
/// How long one `XREAD` blocks before it is sent again.
const READ_BLOCK: Duration = Duration::from_secs(5);
/// Entries asked for per `XRANGE` while gathering a session's missed events.
const RANGE_COUNT: usize = 1_000;

/// What the writer sends.
pub(super) enum Write {
    /// `XADD stream MAXLEN ~ n * field value…`
    Entry(Vec<(&'static str, String)>),
    /// `PUBLISH channel message`
    Publish(String, Vec<u8>),
    /// `SET key value PX ms`
    Session(String, String, u64),
}

/// A stream entry: its id and fields.
pub(super) struct Entry {
    pub id: String,
    pub fields: HashMap<String, String>,
}

/// A session restore waiting for its turn in the reader's sequence.
pub(super) struct RestoreTurn {
    /// The client's offset: the reader gathers what follows it, up to what it has handled.
    pub offset: StreamId,
    /// Called in the reader's sequence with the entries after the offset, up to the reader's position
    /// (or `None` when Redis failed meanwhile).
    pub run: Box<dyn FnOnce(Option<Vec<Entry>>) + Send>,
    /// Past this, a turn still waiting for the reader fails (the client gets a fresh socket).
    pub deadline: tokio::time::Instant,
}

/// A stream id, `ms-seq`, ordered as Redis orders them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct StreamId(u64, u64);

impl StreamId {
    /// Parses `ms-seq` (the only form socket.io's offsets take on this adapter).
    pub fn parse(text: &str) -> Option<StreamId> {
        let (ms, seq) = text.split_once('-')?;
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(ms) || !digits(seq) {
            return None;
        }
        Some(StreamId(ms.parse().ok()?, seq.parse().ok()?))
    }

    /// The id right after this one (an exclusive range start that Redis before 6.2 understands).
    fn next(self) -> StreamId {
        match self.1.checked_add(1) {
            Some(seq) => StreamId(self.0, seq),
            None => StreamId(self.0 + 1, 0),
        }
    }
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.0, self.1)
    }
}

/// The settings the connections need.
pub(super) struct LinkSettings {
    pub stream: String,
    pub max_len: usize,
    pub read_count: usize,
    pub request_timeout: Duration,
}

/// What the adapters of one process share.
pub(super) struct Link {
    pub uid: String,
    pub settings: LinkSettings,
    write_tx: mpsc::Sender<Write>,
    restore_tx: mpsc::UnboundedSender<RestoreTurn>,
    command: Mutex<Option<redis::aio::MultiplexedConnection>>,
    channels: Mutex<Channels>,
    routes: Mutex<HashMap<String, Weak<StreamsAdapter>>>,
    writer_up: AtomicBool,
    reader_up: AtomicBool,
    subscriber_up: AtomicBool,
    up_changed: tokio::sync::Notify,
    /// Counts the reader's and subscriber's lost connections: the writer reconnects when it moves
    /// (Redis went away, so its own connection is stale even if no write has failed yet).
    losses: tokio::sync::watch::Sender<u64>,
    stop: CancellationToken,
    runtime: tokio::runtime::Handle,
}

#[derive(Default)]
struct Channels {
    names: Vec<String>,
    sink: Option<redis::aio::PubSubSink>,
}

impl WriterOwner for Link {
    fn writer_connected(&self, conn: Option<redis::aio::MultiplexedConnection>) {
        let up = conn.is_some();
        *self.command.lock() = conn;
        self.set_up(&self.writer_up, up);
    }
}

impl SubscriberOwner for Link {
    fn subscriber_sink(&self, sink: Option<redis::aio::PubSubSink>) -> (Vec<String>, Vec<String>) {
        let mut subs = self.channels.lock();
        subs.sink = sink;
        (Vec::new(), subs.names.clone())
    }

    fn subscriber_up(&self, up: bool) {
        if up {
            self.set_up(&self.subscriber_up, true);
        } else {
            self.lost(&self.subscriber_up);
        }
    }

    fn route(&self, msg: &redis::Msg) {
        let channel = msg.get_channel_name();
        for adapter in self.adapters() {
            if adapter.accepts(channel, msg.get_payload_bytes()) {
                break;
            }
        }
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Link {
    /// Starts the connections' tasks on the current tokio runtime.
    pub fn start(
        url: &str,
        uid: String,
        settings: LinkSettings,
    ) -> Result<Arc<Link>, AdapterError> {
        let client = redis::Client::open(url)
            .map_err(|e| AdapterError::Unavailable(format!("invalid Redis URL: {e}")))?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            AdapterError::Unavailable("the Redis streams adapter needs a tokio runtime".into())
        })?;
        let (write_tx, write_rx) = mpsc::channel(WRITE_QUEUE);
        let (restore_tx, restore_rx) = mpsc::unbounded_channel();
        let link = Arc::new(Link {
            uid,
            settings,
            write_tx,
            restore_tx,
            command: Mutex::new(None),
            channels: Mutex::new(Channels::default()),
            routes: Mutex::new(HashMap::new()),
            writer_up: AtomicBool::new(false),
            reader_up: AtomicBool::new(false),
            subscriber_up: AtomicBool::new(false),
            up_changed: tokio::sync::Notify::new(),
            losses: tokio::sync::watch::Sender::new(0),
            stop: CancellationToken::new(),
            runtime: runtime.clone(),
        });
        let weak = Arc::downgrade(&link);
        let (stream, max_len) = (link.settings.stream.clone(), link.settings.max_len);
        runtime.spawn(run_writer(
            weak.clone(),
            client.clone(),
            write_rx,
            link.losses.subscribe(),
            link.stop.clone(),
            WRITE_BATCH,
            move |pipe, write| match write {
                Write::Entry(fields) => {
                    let cmd = pipe.cmd("XADD").arg(&stream).arg("MAXLEN").arg("~");
                    cmd.arg(max_len).arg("*");
                    for (field, value) in fields {
                        cmd.arg(field).arg(value);
                    }
                    cmd.ignore();
                }
                Write::Publish(channel, message) => {
                    pipe.publish(channel, message).ignore();
                }
                Write::Session(key, value, ms) => {
                    pipe.cmd("SET")
                        .arg(key)
                        .arg(value)
                        .arg("PX")
                        .arg(ms)
                        .ignore();
                }
            },
        ));
        runtime.spawn(run_reader(
            weak.clone(),
            client.clone(),
            restore_rx,
            link.stop.clone(),
        ));
        runtime.spawn(run_subscriber(weak, client, link.stop.clone()));
        Ok(link)
    }

    /// Whether every connection is up.
    pub fn is_up(&self) -> bool {
        self.writer_up.load(Ordering::Acquire)
            && self.reader_up.load(Ordering::Acquire)
            && self.subscriber_up.load(Ordering::Acquire)
    }

    /// Waits until every connection is up, or `timeout`.
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

    /// A reading connection was lost: every connection is stale.
    fn lost(&self, flag: &AtomicBool) {
        self.set_up(flag, false);
        self.losses.send_modify(|n| *n += 1);
    }

    pub fn unavailable() -> AdapterError {
        AdapterError::Unavailable("Redis is unreachable".into())
    }

    /// Queues a command for the writer. Fails at once when Redis is down (any connection noticed) or
    /// the queue is full.
    pub fn write(&self, write: Write) -> Result<(), AdapterError> {
        if !self.is_up() {
            return Err(Self::unavailable());
        }
        self.write_tx.try_send(write).map_err(|error| match error {
            mpsc::error::TrySendError::Full(_) => {
                AdapterError::Unavailable("the Redis write queue is full".into())
            }
            mpsc::error::TrySendError::Closed(_) => Self::unavailable(),
        })
    }

    /// Whether Redis takes writes now.
    pub fn writes(&self) -> bool {
        self.is_up()
    }

    fn command(&self) -> Result<redis::aio::MultiplexedConnection, AdapterError> {
        self.command.lock().clone().ok_or_else(Self::unavailable)
    }

    async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, AdapterError> {
        let mut conn = self.command()?;
        tokio::time::timeout(
            self.settings.request_timeout,
            cmd.query_async::<T>(&mut conn),
        )
        .await
        .map_err(|_| AdapterError::Timeout)?
        .map_err(|e| AdapterError::Unavailable(format!("Redis: {e}")))
    }

    /// How many servers listen on `channel` (PUBSUB NUMSUB): the npm adapter counts servers this way.
    pub async fn subscriber_count(&self, channel: &str) -> Result<usize, AdapterError> {
        let mut cmd = redis::cmd("PUBSUB");
        cmd.arg("NUMSUB").arg(channel);
        let reply: Vec<Reply> = self.query(&cmd).await?;
        match reply.get(1) {
            Some(Reply::Int(n)) => Ok((*n).max(0) as usize),
            _ => Err(AdapterError::Unavailable(
                "Redis answered PUBSUB NUMSUB oddly".into(),
            )),
        }
    }

    /// Takes a kept session (`GET` then `DEL` in one transaction, as the npm adapter does for Redis
    /// before 6.2) and tells whether the stream still holds entry `offset`.
    pub async fn take_session(
        &self,
        key: &str,
        offset: StreamId,
    ) -> Result<(Option<String>, bool), AdapterError> {
        let mut pipe = redis::pipe();
        pipe.atomic().get(key).del(key).ignore();
        let mut conn = self.command()?;
        let session = async {
            let (session,): (Option<String>,) = pipe.query_async(&mut conn).await?;
            let offset = offset.to_string();
            let found: Reply = redis::cmd("XRANGE")
                .arg(&self.settings.stream)
                .arg(&offset)
                .arg(&offset)
                .query_async(&mut conn)
                .await?;
            Ok::<_, redis::RedisError>((session, !entries(found).is_empty()))
        };
        tokio::time::timeout(self.settings.request_timeout, session)
            .await
            .map_err(|_| AdapterError::Timeout)?
            .map_err(|e| AdapterError::Unavailable(format!("Redis: {e}")))
    }

    /// Queues a restore for the reader's sequence.
    pub fn restore_in_turn(&self, turn: RestoreTurn) {
        if let Err(mpsc::error::SendError(turn)) = self.restore_tx.send(turn) {
            (turn.run)(None);
        }
    }

    /// Subscribes an adapter's channels (now if connected, and again after every reconnection) and routes
    /// the stream's entries of its namespace to it.
    pub fn register(&self, nsp: &str, adapter: &Arc<StreamsAdapter>, channels: Vec<String>) {
        self.routes
            .lock()
            .insert(nsp.to_owned(), Arc::downgrade(adapter));
        let sink = {
            let mut subs = self.channels.lock();
            subs.names.extend(channels.iter().cloned());
            subs.sink.clone()
        };
        if let Some(mut sink) = sink {
            self.runtime.spawn(async move {
                // A failure means the connection is going down; the reconnection subscribes again.
                let _ = sink.subscribe(&channels).await;
            });
        }
    }

    fn adapter_of(&self, nsp: &str) -> Option<Arc<StreamsAdapter>> {
        self.routes.lock().get(nsp).and_then(Weak::upgrade)
    }

    fn adapters(&self) -> Vec<Arc<StreamsAdapter>> {
        self.routes
            .lock()
            .values()
            .filter_map(Weak::upgrade)
            .collect()
    }
}

fn connection_config(response_timeout: Duration) -> redis::AsyncConnectionConfig {
    redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(response_timeout))
}

/// The entries of an `XRANGE` answer, or of one stream of an `XREAD` answer.
fn entries(reply: Reply) -> Vec<Entry> {
    let Reply::Array(items) = reply else {
        return Vec::new();
    };
    items
        .into_iter()
        .filter_map(|item| {
            let Reply::Array(mut pair) = item else {
                return None;
            };
            if pair.len() != 2 {
                return None;
            }
            let fields = pair.pop()?;
            let id = text(pair.pop()?)?;
            let mut map = HashMap::new();
            if let Reply::Array(flat) = fields {
                let mut flat = flat.into_iter();
                while let (Some(k), Some(v)) = (flat.next(), flat.next()) {
                    if let (Some(k), Some(v)) = (text(k), text(v)) {
                        map.insert(k, v);
                    }
                }
            }
            Some(Entry { id, fields: map })
        })
        .collect()
}

/// The entries of an `XREAD` answer on one stream (none on a timeout).
fn read_entries(reply: Reply) -> Vec<Entry> {
    let streams = match reply {
        Reply::Array(streams) => streams,
        Reply::Map(pairs) => pairs
            .into_iter()
            .map(|(k, v)| Reply::Array(vec![k, v]))
            .collect(),
        _ => return Vec::new(),
    };
    streams
        .into_iter()
        .flat_map(|stream| match stream {
            Reply::Array(mut pair) if pair.len() == 2 => {
                pair.pop().map(entries).unwrap_or_default()
            }
            _ => Vec::new(),
        })
        .collect()
}

fn text(reply: Reply) -> Option<String> {
    match reply {
        Reply::BulkString(bytes) => String::from_utf8(bytes).ok(),
        Reply::SimpleString(s) => Some(s),
        _ => None,
    }
}

/// Where the reader starts on its first connection: after the stream's last entry (what the npm
/// adapter's `$` means), named so that later reconnections resume from a known id.
async fn last_id(
    conn: &mut redis::aio::MultiplexedConnection,
    stream: &str,
) -> redis::RedisResult<StreamId> {
    let reply: Reply = redis::cmd("XREVRANGE")
        .arg(stream)
        .arg("+")
        .arg("-")
        .arg("COUNT")
        .arg(1)
        .query_async(conn)
        .await?;
    Ok(entries(reply)
        .first()
        .and_then(|e| StreamId::parse(&e.id))
        .unwrap_or(StreamId(0, 0)))
}

/// Gathers the entries after `offset` up to `until` (inclusive), in order.
async fn range(
    conn: &mut redis::aio::MultiplexedConnection,
    stream: &str,
    offset: StreamId,
    until: StreamId,
) -> redis::RedisResult<Vec<Entry>> {
    let mut found = Vec::new();
    let mut start = offset.next();
    while start <= until {
        let reply: Reply = redis::cmd("XRANGE")
            .arg(stream)
            .arg(start.to_string())
            .arg(until.to_string())
            .arg("COUNT")
            .arg(RANGE_COUNT)
            .query_async(conn)
            .await?;
        let batch = entries(reply);
        let Some(last) = batch.last().and_then(|e| StreamId::parse(&e.id)) else {
            break;
        };
        let full = batch.len() == RANGE_COUNT;
        found.extend(batch);
        if !full {
            break;
        }
        start = last.next();
    }
    Ok(found)
}

async fn run_reader(
    link: Weak<Link>,
    client: redis::Client,
    mut restores: mpsc::UnboundedReceiver<RestoreTurn>,
    stop: CancellationToken,
) {
    let (stream, count) = match link.upgrade() {
        Some(link) => (link.settings.stream.clone(), link.settings.read_count),
        None => return,
    };
    // Blocking reads need a connection of their own, waiting longer than they block.
    let config = connection_config(READ_BLOCK + Duration::from_secs(5));
    let mut position: Option<StreamId> = None;
    // Restores whose client saw entries this reader has not handled yet: they wait until it has.
    let mut waiting: Vec<RestoreTurn> = Vec::new();
    let mut delay = FIRST_RETRY;
    loop {
        let connected = tokio::select! {
            _ = stop.cancelled() => return,
            conn = client.get_multiplexed_async_connection_with_config(&config) => conn,
        };
        let mut conn = match connected {
            Ok(conn) => conn,
            Err(error) => {
                tracing::debug!(%error, "Redis streams reader cannot connect");
                if !pause(&stop, &mut delay).await {
                    return;
                }
                continue;
            }
        };
        if position.is_none() {
            match last_id(&mut conn, &stream).await {
                Ok(id) => position = Some(id),
                Err(error) => {
                    tracing::debug!(%error, "Redis streams reader cannot find the stream's end");
                    if !pause(&stop, &mut delay).await {
                        return;
                    }
                    continue;
                }
            }
        }
        delay = FIRST_RETRY;
        match link.upgrade() {
            Some(link) => link.set_up(&link.reader_up, true),
            None => return,
        }
        tracing::info!("Redis streams reader connected");
        loop {
            let at = position.unwrap_or(StreamId(0, 0));
            let mut read = redis::cmd("XREAD");
            read.arg("BLOCK")
                .arg(READ_BLOCK.as_millis() as u64)
                .arg("COUNT")
                .arg(count)
                .arg("STREAMS")
                .arg(&stream)
                .arg(at.to_string());
            let outcome = tokio::select! {
                _ = stop.cancelled() => return,
                reply = read.query_async::<Reply>(&mut conn) => Some(reply),
                // A restore cancels the pending read (its entries are read again from `position`).
                turn = restores.recv() => {
                    match turn {
                        Some(turn) => waiting.push(turn),
                        None => return,
                    }
                    None
                }
            };
            match outcome {
                None => {}
                Some(Ok(reply)) => {
                    let mut entries = read_entries(reply);
                    // A blocked read answers as soon as the first entry of a burst lands: the rest of
                    // the burst is usually there by now. Taking it before delivering lets every socket
                    // get the burst in one write instead of one per entry.
                    if (1..count).contains(&entries.len()) {
                        let last = entries.last().map(|e| e.id.clone()).unwrap_or_default();
                        let more = redis::cmd("XREAD")
                            .arg("COUNT")
                            .arg(count - entries.len())
                            .arg("STREAMS")
                            .arg(&stream)
                            .arg(last)
                            .query_async::<Reply>(&mut conn)
                            .await;
                        if let Ok(more) = more {
                            entries.extend(read_entries(more));
                        }
                    }
                    let Some(link) = link.upgrade() else { return };
                    for entry in entries {
                        let Some(id) = StreamId::parse(&entry.id) else {
                            continue;
                        };
                        if let Some(adapter) =
                            entry.fields.get("nsp").and_then(|nsp| link.adapter_of(nsp))
                        {
                            adapter.on_entry(&entry);
                        }
                        position = Some(id);
                    }
                }
                Some(Err(error)) => {
                    tracing::warn!(%error, "Redis streams reader lost its connection; reconnecting");
                    break;
                }
            }
            // Every entry up to `position` has been handed out: restores whose offset is not past it
            // gather what their client missed up to there, and put the socket back before the next read.
            let at = position.unwrap_or(StreamId(0, 0));
            let now = tokio::time::Instant::now();
            let (ready, later): (Vec<_>, Vec<_>) = waiting
                .drain(..)
                .partition(|t| t.offset <= at || t.deadline <= now);
            let Some(link) = link.upgrade() else { return };
            waiting = later;
            for turn in ready {
                if turn.offset > at {
                    (turn.run)(None);
                    continue;
                }
                let missed = match link.command() {
                    Ok(mut command) => range(&mut command, &stream, turn.offset, at).await.ok(),
                    Err(_) => None,
                };
                (turn.run)(missed);
            }
        }
        // Restores cannot wait for a reader that is away.
        for turn in waiting.drain(..) {
            (turn.run)(None);
        }
        match link.upgrade() {
            Some(link) => link.lost(&link.reader_up),
            None => return,
        }
        if !pause(&stop, &mut delay).await {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_ids_parse_order_and_step_as_redis_does() {
        assert_eq!(StreamId::parse("1-2"), Some(StreamId(1, 2)));
        assert_eq!(
            StreamId::parse("1700000000000-0").map(|i| i.0),
            Some(1_700_000_000_000)
        );
        for bad in ["", "1", "-1", "1-", "a-1", "1-2-3", "1.0-2", " 1-2"] {
            assert_eq!(StreamId::parse(bad), None, "{bad:?}");
        }
        assert!(StreamId(1, 9) < StreamId(2, 0));
        assert_eq!(StreamId(5, 1).next().to_string(), "5-2");
        assert_eq!(StreamId(5, u64::MAX).next(), StreamId(6, 0));
    }
}
