//! The Redis Streams adapter: ferrio servers — and official Node socket.io servers running
//! @socket.io/redis-streams-adapter 0.3 — act as one cluster, and a client may recover its connection
//! state on any of them.
//!
//! It speaks that adapter's protocol (socket.io-adapter's cluster messages): broadcasts and
//! `socketsJoin`/`socketsLeave`/`disconnectSockets` are entries of one Redis stream (default
//! `socket.io`, trimmed with `MAXLEN ~`; fields `uid`, `nsp`, `type`, `data` — JSON, or base64
//! MessagePack when binary), whose ids are the offsets clients recover from; requests that need no
//! storing (broadcasts with acks, `fetchSockets`, `serverSideEmit`) and their answers are MessagePack on
//! pub/sub channels (`{prefix}#{nsp}#` and `{prefix}#{nsp}#{uid}#`); servers are counted with
//! `PUBSUB NUMSUB`; a session is kept under `{sessionKeyPrefix}{pid}` for the recovery window.
//!
//! Every server, this one included, delivers the stream's broadcasts to its sockets in stream order, as
//! its reader reads them; restoring a session runs in that order too, so a recovered socket gets each
//! missed event once, then the rest live. Operations that only change rooms act locally at once.

mod link;

use crate::requests::{self, AckRequests, Requests};
use crate::wire::{self, Decoded};
use crate::{parse_opts, raw_opts, room_name, rooms_json, take_event};
use base64::Engine as _;
use bytes::Bytes;
use ferrio::adapter::{
    AckCollector, Adapter, AdapterError, AdapterFactory, BoxFuture, BroadcastOptions,
    BroadcastPacket, BroadcastReport, LocalNamespace, MemoryAdapter, RemoteSocketData,
    RestoredSession, ResumeSession, Room, ServerSideAck, ServerSideEvent, Session, SessionStore,
};
use ferrio::{ConfigError, Payload, Sid};
use link::{Entry, Link, LinkSettings, RestoreTurn, StreamId, Write};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// socket.io-adapter's cluster message types.
mod kind {
    pub const BROADCAST: u64 = 3;
    pub const SOCKETS_JOIN: u64 = 4;
    pub const SOCKETS_LEAVE: u64 = 5;
    pub const DISCONNECT_SOCKETS: u64 = 6;
    pub const FETCH_SOCKETS: u64 = 7;
    pub const FETCH_SOCKETS_RESPONSE: u64 = 8;
    pub const SERVER_SIDE_EMIT: u64 = 9;
    pub const SERVER_SIDE_EMIT_RESPONSE: u64 = 10;
    pub const BROADCAST_CLIENT_COUNT: u64 = 11;
    pub const BROADCAST_ACK: u64 = 12;
}

/// How to reach Redis and name the stream, keys and channels (the npm adapter's option names in
/// brackets; the defaults are its defaults, so servers of both kinds share a cluster unchanged).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RedisStreamsAdapterConfig {
    /// `redis://[user:password@]host:port[/db]`.
    pub url: String,
    /// The stream's name (`streamName`, default `socket.io`).
    pub stream_name: String,
    /// The stream's approximate length cap (`maxLen`, default 10 000): older entries are trimmed, and
    /// a client whose offset was trimmed gets a fresh socket.
    pub max_len: usize,
    /// Entries read per `XREAD` (`readCount`, default 100).
    pub read_count: usize,
    /// The prefix of the keys sessions are kept under (`sessionKeyPrefix`, default `sio:session:`).
    pub session_key_prefix: String,
    /// The prefix of the pub/sub channels (`channelPrefix`, default `socket.io`).
    pub channel_prefix: String,
    /// How long a request to the other servers waits for their answers (default 5 s).
    pub request_timeout: Duration,
}

impl RedisStreamsAdapterConfig {
    /// The defaults for a Redis URL.
    pub fn new(url: impl Into<String>) -> RedisStreamsAdapterConfig {
        RedisStreamsAdapterConfig {
            url: url.into(),
            stream_name: "socket.io".into(),
            max_len: 10_000,
            read_count: 100,
            session_key_prefix: "sio:session:".into(),
            channel_prefix: "socket.io".into(),
            request_timeout: Duration::from_secs(5),
        }
    }

    /// Sets the stream's name.
    pub fn stream_name(mut self, name: impl Into<String>) -> Self {
        self.stream_name = name.into();
        self
    }

    /// Sets the stream's length cap.
    pub fn max_len(mut self, max_len: usize) -> Self {
        self.max_len = max_len;
        self
    }

    /// Sets how many entries one read takes.
    pub fn read_count(mut self, count: usize) -> Self {
        self.read_count = count;
        self
    }

    /// Sets the session keys' prefix.
    pub fn session_key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.session_key_prefix = prefix.into();
        self
    }

    /// Sets the channels' prefix.
    pub fn channel_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.channel_prefix = prefix.into();
        self
    }

    /// Sets the request timeout.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Checks every option without connecting; the one place these rules live.
    pub fn validate(&self) -> Result<(), ConfigError> {
        ::redis::Client::open(self.url.as_str())
            .map_err(|e| ConfigError::new("url", format!("is an invalid Redis URL: {e}")))?;
        for (option, value) in [
            ("stream_name", &self.stream_name),
            ("channel_prefix", &self.channel_prefix),
        ] {
            if value.is_empty() {
                return Err(ConfigError::new(option, "must not be empty"));
            }
        }
        if self.max_len == 0 {
            return Err(ConfigError::new("max_len", "must be at least 1"));
        }
        if self.read_count == 0 {
            return Err(ConfigError::new("read_count", "must be at least 1"));
        }
        if self.request_timeout.is_zero() {
            return Err(ConfigError::new("request_timeout", "must be positive"));
        }
        Ok(())
    }
}

/// Makes a [`StreamsAdapter`] per namespace over one set of Redis connections. Give it to
/// [`ferrio::ServerBuilder::adapter`]; turn on `connection_state_recovery` on the server for clients
/// to recover on any server of the cluster.
#[derive(Clone)]
pub struct RedisStreamsAdapterFactory {
    link: Arc<Link>,
    config: Arc<RedisStreamsAdapterConfig>,
}

impl std::fmt::Debug for RedisStreamsAdapterFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStreamsAdapterFactory")
            .field("uid", &self.link.uid)
            .field("stream", &self.config.stream_name)
            .field("connected", &self.link.is_up())
            .finish()
    }
}

impl RedisStreamsAdapterFactory {
    /// Starts connecting (on the current tokio runtime) without waiting: the connections retry until
    /// Redis answers, and after every loss. Fails only for invalid options or outside a runtime.
    pub fn new(config: RedisStreamsAdapterConfig) -> Result<Self, AdapterError> {
        config
            .validate()
            .map_err(|e| AdapterError::Unavailable(e.to_string()))?;
        let settings = LinkSettings {
            stream: config.stream_name.clone(),
            max_len: config.max_len,
            read_count: config.read_count,
            request_timeout: config.request_timeout,
        };
        let link = Link::start(&config.url, random_hex(16), settings)?;
        Ok(RedisStreamsAdapterFactory {
            link,
            config: Arc::new(config),
        })
    }

    /// Starts connecting and waits until every connection is up, or fails after `timeout`.
    pub async fn connect(
        config: RedisStreamsAdapterConfig,
        timeout: Duration,
    ) -> Result<Self, AdapterError> {
        let url = config.url.clone();
        let factory = RedisStreamsAdapterFactory::new(config)?;
        if factory.link.wait_up(timeout).await {
            Ok(factory)
        } else {
            Err(AdapterError::Unavailable(format!(
                "cannot reach Redis at {url}"
            )))
        }
    }

    /// Whether every Redis connection is up.
    pub fn is_connected(&self) -> bool {
        self.link.is_up()
    }

    /// Waits until every connection is up; false after `timeout`.
    pub async fn wait_connected(&self, timeout: Duration) -> bool {
        self.link.wait_up(timeout).await
    }

    /// This server's id in the cluster's messages.
    pub fn uid(&self) -> &str {
        &self.link.uid
    }
}

impl AdapterFactory for RedisStreamsAdapterFactory {
    fn create(&self, nsp: LocalNamespace) -> Arc<dyn Adapter> {
        let name = nsp.name().to_owned();
        let prefix = &self.config.channel_prefix;
        let public_channel = format!("{prefix}#{name}#");
        let private_channel = format!("{public_channel}{}#", self.link.uid);
        let adapter = Arc::new_cyclic(|this| StreamsAdapter {
            local: MemoryAdapter::new(nsp.clone()),
            nsp,
            session_key_prefix: self.config.session_key_prefix.clone(),
            public_channel: public_channel.clone(),
            private_channel: private_channel.clone(),
            link: self.link.clone(),
            requests: Requests::default(),
            ack_requests: Arc::default(),
            this: this.clone(),
        });
        self.link
            .register(&name, &adapter, vec![public_channel, private_channel]);
        adapter
    }
}

/// One namespace's adapter on the Redis stream.
pub struct StreamsAdapter {
    local: MemoryAdapter,
    nsp: LocalNamespace,
    session_key_prefix: String,
    public_channel: String,
    private_channel: String,
    link: Arc<Link>,
    requests: Requests,
    ack_requests: Arc<AckRequests>,
    this: Weak<StreamsAdapter>,
}

impl std::fmt::Debug for StreamsAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamsAdapter")
            .field("nsp", &self.nsp.name())
            .field("uid", &self.link.uid)
            .finish()
    }
}

fn random_hex(len: usize) -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from_digit(rng.random_range(0..16), 16).unwrap_or('0'))
        .collect()
}

/// A message's `data` as a stream entry carries it: JSON, or base64 MessagePack when it holds binary
/// (placeholders in `value` point into `attachments`).
fn entry_data(value: &Value, attachments: &[Bytes]) -> String {
    if attachments.is_empty() {
        value.to_string()
    } else {
        base64::engine::general_purpose::STANDARD.encode(wire::encode_pack(value, attachments))
    }
}

/// Decodes an entry's `data` field.
fn decode_entry_data(data: &str) -> Option<Decoded> {
    if data.starts_with('{') {
        return Some(Decoded {
            value: serde_json::from_str(data).ok()?,
            attachments: Vec::new(),
        });
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data)
        .ok()?;
    wire::decode(&bytes)
}

/// socket.io's `shouldIncludePacket`: whether a broadcast with these options reached a socket in `rooms`.
fn addressed_to(rooms: &[Room], opts: &BroadcastOptions) -> bool {
    let included = opts.rooms.is_empty() || rooms.iter().any(|r| opts.rooms.contains(r));
    included && !rooms.iter().any(|r| opts.except.contains(r))
}

/// A broadcast read from the stream or a channel: its event, arguments and options.
struct Broadcast {
    event: String,
    payload: Payload,
    opts: BroadcastOptions,
    /// Kept for recovery: no ack, not volatile.
    recoverable: bool,
}

impl StreamsAdapter {
    fn name(&self) -> &str {
        self.nsp.name()
    }

    fn packet_json(&self, packet: &BroadcastPacket) -> Value {
        let mut data = vec![Value::String(packet.event.clone())];
        data.extend(wire::payload_values(&packet.payload));
        let mut json = json!({"type": wire::EVENT, "data": data, "nsp": self.name()});
        if let Some(id) = packet.ack_id {
            json["id"] = json!(id);
        }
        json
    }

    /// Adds a message to the stream.
    fn append(&self, kind: u64, data: &Value, attachments: &[Bytes]) -> Result<(), AdapterError> {
        self.link.write(Write::Entry(vec![
            ("uid", self.link.uid.clone()),
            ("nsp", self.name().to_owned()),
            ("type", kind.to_string()),
            ("data", entry_data(data, attachments)),
        ]))
    }

    /// Publishes a whole message (MessagePack) on `channel`.
    fn publish(&self, channel: &str, kind: u64, data: Value, attachments: &[Bytes]) {
        let message = json!({"uid": self.link.uid, "nsp": self.name(), "type": kind, "data": data});
        let sent = self.link.write(Write::Publish(
            channel.to_owned(),
            wire::encode_pack(&message, attachments),
        ));
        if let Err(error) = sent {
            tracing::debug!(%error, "cannot publish to the cluster");
        }
    }

    /// The channel a server's answers go to.
    fn answer_channel(&self, uid: &str) -> String {
        format!("{}{uid}#", self.public_channel)
    }

    fn broadcast_of(&self, data: &mut Decoded) -> Option<Broadcast> {
        let value = &mut data.value;
        let opts = parse_opts(&value["opts"]);
        let packet = value.get_mut("packet")?;
        let ours = packet["nsp"].as_str().unwrap_or("/") == self.name()
            && matches!(
                packet["type"].as_u64(),
                Some(wire::EVENT | wire::BINARY_EVENT)
            );
        if !ours {
            return None;
        }
        let with_ack = !packet["id"].is_null();
        let (event, args) = take_event(packet.get_mut("data"))?;
        Some(Broadcast {
            event,
            payload: wire::payload_from_values(args, &data.attachments),
            recoverable: !with_ack && !opts.volatile,
            opts,
        })
    }

    // ---- Messages from the stream and the channels. -------------------------------------------------

    /// Handles an entry of the stream for this namespace (the reader calls it in stream order).
    fn on_entry(&self, entry: &Entry) {
        let field = |name: &str| entry.fields.get(name).map(String::as_str);
        let Some(kind) = field("type").and_then(|t| t.parse::<u64>().ok()) else {
            return;
        };
        let Some(mut data) = field("data").and_then(decode_entry_data) else {
            return;
        };
        let uid = field("uid").unwrap_or_default();
        self.on_message(kind, &mut data, uid, Some(&entry.id));
    }

    /// Handles a message from a channel, if it is one of this namespace's.
    fn accepts(&self, channel: &str, payload: &[u8]) -> bool {
        if channel != self.public_channel && channel != self.private_channel {
            return false;
        }
        let Some(message) = wire::decode(payload) else {
            tracing::debug!("ignoring a malformed message from Redis");
            return true;
        };
        let Decoded {
            value: mut message,
            attachments,
        } = message;
        if message["nsp"]
            .as_str()
            .is_some_and(|nsp| nsp != self.name())
        {
            return true;
        }
        let from_self = message["uid"].as_str() == Some(self.link.uid.as_str());
        let Some(kind) = message["type"].as_u64() else {
            return true;
        };
        let uid = message["uid"].as_str().unwrap_or_default().to_owned();
        let mut data = Decoded {
            value: message["data"].take(),
            attachments,
        };
        if !from_self {
            self.on_ephemeral(kind, &mut data, &uid);
        }
        true
    }

    /// A message from the stream: broadcasts from every server (this one's too: delivering them here,
    /// in stream order, is what makes recovery exact), room operations from the others.
    fn on_message(&self, kind: u64, data: &mut Decoded, uid: &str, offset: Option<&str>) {
        let from_self = uid == self.link.uid;
        match kind {
            kind::BROADCAST if data.value["requestId"].is_null() => {
                let Some(broadcast) = self.broadcast_of(data) else {
                    return;
                };
                let Some(emitter) = self.nsp.emitter() else {
                    return;
                };
                let packet = match offset {
                    Some(offset) if broadcast.recoverable => {
                        emitter.recoverable_packet(&broadcast.event, broadcast.payload, offset)
                    }
                    _ => emitter.packet(&broadcast.event, broadcast.payload, None),
                };
                let _ = self.local.broadcast(&packet, &broadcast.opts);
            }
            _ if from_self => {}
            kind::SOCKETS_JOIN | kind::SOCKETS_LEAVE | kind::DISCONNECT_SOCKETS => {
                let opts = parse_opts(&data.value["opts"]);
                let rooms: Vec<Room> = data.value["rooms"]
                    .as_array()
                    .map(|r| r.iter().filter_map(room_name).collect())
                    .unwrap_or_default();
                let _ = match kind {
                    kind::SOCKETS_JOIN => self.local.add_sockets(&opts, &rooms),
                    kind::SOCKETS_LEAVE => self.local.del_sockets(&opts, &rooms),
                    _ => self
                        .local
                        .disconnect_sockets(&opts, data.value["close"].as_bool().unwrap_or(false)),
                };
            }
            // Older adapters put the other messages in the stream too.
            _ => self.on_ephemeral(kind, data, uid),
        }
    }

    /// Requests and answers on the channels (from other servers).
    fn on_ephemeral(&self, kind: u64, data: &mut Decoded, uid: &str) {
        match kind {
            kind::BROADCAST if !data.value["requestId"].is_null() => {
                self.on_broadcast_with_ack(data, uid)
            }
            kind::BROADCAST => self.on_message(kind, data, uid, None),
            kind::FETCH_SOCKETS => {
                let opts = parse_opts(&data.value["opts"]);
                let sockets: Vec<Value> = self
                    .local
                    .fetch_local(&opts)
                    .into_iter()
                    .map(|s| {
                        json!({"id": s.id.as_str(), "handshake": s.handshake,
                            "rooms": rooms_json(&s.rooms), "data": s.data})
                    })
                    .collect();
                let body = json!({"requestId": data.value["requestId"], "sockets": sockets});
                self.publish(
                    &self.answer_channel(uid),
                    kind::FETCH_SOCKETS_RESPONSE,
                    body,
                    &[],
                );
            }
            kind::SERVER_SIDE_EMIT => self.on_server_side_emit(data, uid),
            kind::BROADCAST_CLIENT_COUNT | kind::BROADCAST_ACK => self.on_ack_answer(kind, data),
            kind::FETCH_SOCKETS_RESPONSE | kind::SERVER_SIDE_EMIT_RESPONSE => {
                self.on_answer(std::mem::take(data))
            }
            _ => tracing::debug!(kind, "ignoring a cluster message of an unknown type"),
        }
    }

    fn on_server_side_emit(&self, data: &mut Decoded, uid: &str) {
        let Some((event, args)) = take_event(data.value.get_mut("packet")) else {
            return;
        };
        let payload = wire::payload_from_values(args, &data.attachments);
        let ack = match &data.value["requestId"] {
            Value::Null => None,
            request_id => {
                let request_id = request_id.clone();
                let this = self.this.clone();
                let channel = self.answer_channel(uid);
                Some(ServerSideAck::new(move |answer: Payload| {
                    let Some(this) = this.upgrade() else { return };
                    // socket.io relays one argument.
                    let first = wire::payload_values(&answer)
                        .into_iter()
                        .next()
                        .unwrap_or(Value::Null);
                    let body = json!({"requestId": request_id, "packet": first});
                    this.publish(
                        &channel,
                        kind::SERVER_SIDE_EMIT_RESPONSE,
                        body,
                        answer.attachments(),
                    );
                }))
            }
        };
        self.nsp.server_side_event(ServerSideEvent {
            event,
            payload,
            ack,
        });
    }

    fn on_broadcast_with_ack(&self, data: &mut Decoded, uid: &str) {
        let request_id = data.value["requestId"].clone();
        let Some(emitter) = self.nsp.emitter() else {
            return;
        };
        let Some(broadcast) = self.broadcast_of(data) else {
            return;
        };
        let ack_id = emitter.next_ack_id();
        let packet = emitter.packet(&broadcast.event, broadcast.payload, Some(ack_id));
        let (collector, rx) = AckCollector::channel();
        let count = self
            .local
            .broadcast_with_ack_local(&packet, &broadcast.opts, collector);
        let channel = self.answer_channel(uid);
        self.publish(
            &channel,
            kind::BROADCAST_CLIENT_COUNT,
            json!({"requestId": request_id, "clientCount": count}),
            &[],
        );
        let timeout = broadcast
            .opts
            .timeout
            .unwrap_or(self.link.settings.request_timeout);
        let this = self.this.clone();
        requests::relay_answers(emitter, ack_id, count, rx, timeout, move |answer| {
            let Some(this) = this.upgrade() else { return };
            let first = wire::payload_values(&answer)
                .into_iter()
                .next()
                .unwrap_or(Value::Null);
            this.publish(
                &channel,
                kind::BROADCAST_ACK,
                json!({"requestId": request_id, "packet": first}),
                answer.attachments(),
            );
        });
    }

    fn on_ack_answer(&self, kind: u64, data: &Decoded) {
        let Some(request_id) = data.value["requestId"].as_str() else {
            return;
        };
        if kind == kind::BROADCAST_CLIENT_COUNT {
            let n = data.value["clientCount"].as_u64().unwrap_or(0);
            self.ack_requests.count(request_id, n as usize);
        } else {
            let answer =
                wire::payload_from_values(vec![data.value["packet"].clone()], &data.attachments);
            self.ack_requests.answer(request_id, answer);
        }
    }

    fn on_answer(&self, answer: Decoded) {
        if let Some(request_id) = answer.value["requestId"].as_str().map(str::to_owned) {
            self.requests.answer(&request_id, answer);
        }
    }

    // ---- Requests to other servers. ------------------------------------------------------------------

    fn server_count_now(&self) -> BoxFuture<'static, Result<usize, AdapterError>> {
        let link = self.link.clone();
        let channel = self.public_channel.clone();
        Box::pin(async move { link.subscriber_count(&channel).await })
    }

    /// Sends a request of `kind` to every other server and gathers one answer from each (none when
    /// this server is alone); fails when some did not answer before the request timeout.
    fn ask_others(
        &self,
        kind: u64,
        mut data: Value,
        attachments: Vec<Bytes>,
    ) -> BoxFuture<'static, Result<Vec<Decoded>, AdapterError>> {
        let Some(this) = self.this.upgrade() else {
            return Box::pin(async { Ok(Vec::new()) });
        };
        Box::pin(async move {
            let expected = this.server_count_now().await?.saturating_sub(1);
            if expected == 0 {
                return Ok(Vec::new());
            }
            let request_id = random_hex(16);
            let awaited = this.requests.open(request_id.clone(), expected);
            data["requestId"] = json!(request_id);
            this.publish(&this.public_channel, kind, data, &attachments);
            this.requests
                .wait(awaited, this.link.settings.request_timeout)
                .await
        })
    }

    fn fetch_remote(
        &self,
        opts: &BroadcastOptions,
        local: Vec<RemoteSocketData>,
    ) -> BoxFuture<'static, Result<Vec<RemoteSocketData>, AdapterError>> {
        let ask = self.ask_others(
            kind::FETCH_SOCKETS,
            json!({"opts": raw_opts(opts)}),
            Vec::new(),
        );
        Box::pin(async move { Ok(requests::remote_sockets(local, ask.await?)) })
    }

    /// Sends a room operation to the other servers through the stream (none when `opts.local`).
    fn room_operation(
        &self,
        opts: &BroadcastOptions,
        kind: u64,
        mut body: Value,
    ) -> Result<(), AdapterError> {
        if opts.local {
            return Ok(());
        }
        body["opts"] = raw_opts(opts);
        self.append(kind, &body, &[])
    }

    /// Adds a broadcast to the stream; the reader delivers it here too. When the stream cannot take it,
    /// it is delivered here at once (without an offset) and the error says the others missed it.
    fn stream_broadcast(
        &self,
        packet: BroadcastPacket,
        opts: &BroadcastOptions,
    ) -> Result<BroadcastReport, AdapterError> {
        let body = json!({"packet": self.packet_json(&packet), "opts": raw_opts(opts)});
        let attachments = packet.payload.attachments().to_vec();
        match self.append(kind::BROADCAST, &body, &attachments) {
            Ok(()) => Ok(BroadcastReport::default()),
            Err(error) => {
                let packet = match self.nsp.emitter() {
                    Some(emitter) => emitter.packet(&packet.event, packet.payload, None),
                    None => return Err(error),
                };
                self.local.broadcast(&packet, opts)?;
                Err(error)
            }
        }
    }

    fn session_key(&self, pid: &str) -> String {
        format!("{}{pid}", self.session_key_prefix)
    }
}

/// A kept session as the npm adapter writes it: base64 MessagePack of `{sid, pid, rooms, data}`.
fn encode_session(session: &Session) -> String {
    let value = json!({"sid": session.sid.as_str(), "pid": session.pid.as_str(),
        "rooms": rooms_json(&session.rooms), "data": session.data});
    base64::engine::general_purpose::STANDARD.encode(wire::encode_pack(&value, &[]))
}

fn decode_session(text: &str) -> Option<Session> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()?;
    let value = wire::decode(&bytes)?.value;
    let sid = value["sid"].as_str().and_then(Sid::parse)?;
    let pid = value["pid"].as_str().and_then(Sid::parse)?;
    let rooms = value["rooms"]
        .as_array()
        .map(|r| r.iter().filter_map(room_name).collect())
        .unwrap_or_default();
    Some(Session::new(sid, pid, rooms, value["data"].clone()))
}

impl SessionStore for StreamsAdapter {
    fn broadcast_recoverable(
        &self,
        event: &str,
        payload: Payload,
        opts: &BroadcastOptions,
    ) -> Result<(), AdapterError> {
        let Some(emitter) = self.nsp.emitter() else {
            return Ok(());
        };
        self.stream_broadcast(emitter.packet(event, payload, None), opts)
            .map(|_| ())
    }

    fn persist_session(&self, session: Session, window: Duration) {
        let key = self.session_key(session.pid.as_str());
        let ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX).max(1);
        if let Err(error) = self
            .link
            .write(Write::Session(key, encode_session(&session), ms))
        {
            tracing::debug!(%error, "cannot keep a session for recovery");
        }
    }

    fn restore_session(&self, pid: &str, offset: &str, max_missed: usize, resume: ResumeSession) {
        let (Some(offset), Some(this)) = (StreamId::parse(offset), self.this.upgrade()) else {
            return resume(None);
        };
        let key = self.session_key(pid);
        tokio::spawn(async move {
            let session = match this.link.take_session(&key, offset).await {
                Ok((Some(session), true)) => decode_session(&session),
                Ok(_) => None,
                Err(error) => {
                    tracing::debug!(%error, "cannot restore a session");
                    None
                }
            };
            let Some(session) = session else {
                return resume(None);
            };
            let adapter = this.clone();
            this.link.restore_in_turn(RestoreTurn {
                offset,
                deadline: tokio::time::Instant::now() + this.link.settings.request_timeout,
                run: Box::new(move |entries| {
                    let restored =
                        entries.and_then(|entries| adapter.missed(session, &entries, max_missed));
                    resume(restored)
                }),
            });
        });
    }
}

impl StreamsAdapter {
    /// The events of `entries` a socket in the session's rooms missed, encoded with their offsets;
    /// `None` beyond `max_missed`.
    fn missed(
        &self,
        session: Session,
        entries: &[Entry],
        max_missed: usize,
    ) -> Option<RestoredSession> {
        let emitter = self.nsp.emitter()?;
        let mut missed = Vec::new();
        for entry in entries {
            let field = |name: &str| entry.fields.get(name).map(String::as_str);
            let is_broadcast =
                field("type").and_then(|t| t.parse::<u64>().ok()) == Some(kind::BROADCAST);
            if field("nsp") != Some(self.name()) || !is_broadcast {
                continue;
            }
            let Some(mut data) = field("data").and_then(decode_entry_data) else {
                continue;
            };
            if !data.value["requestId"].is_null() {
                continue;
            }
            let Some(broadcast) = self.broadcast_of(&mut data) else {
                continue;
            };
            if !broadcast.recoverable || !addressed_to(&session.rooms, &broadcast.opts) {
                continue;
            }
            if missed.len() == max_missed {
                return None;
            }
            missed.push(emitter.recoverable_packet(&broadcast.event, broadcast.payload, &entry.id));
        }
        Some(RestoredSession { session, missed })
    }
}

impl Adapter for StreamsAdapter {
    fn add_all(&self, sid: Sid, rooms: &[Room]) {
        self.local.add_all(sid, rooms)
    }

    fn del(&self, sid: Sid, room: &str) {
        self.local.del(sid, room)
    }

    fn del_all(&self, sid: Sid) {
        self.local.del_all(sid)
    }

    fn socket_rooms(&self, sid: Sid) -> Vec<Room> {
        self.local.socket_rooms(sid)
    }

    fn local_rooms(&self) -> Vec<(Room, usize)> {
        self.local.local_rooms()
    }

    fn local_sockets(&self, opts: &BroadcastOptions) -> Vec<Sid> {
        self.local.socket_ids(opts)
    }

    fn broadcast(
        &self,
        packet: &BroadcastPacket,
        opts: &BroadcastOptions,
    ) -> Result<BroadcastReport, AdapterError> {
        if opts.local {
            return self.local.broadcast(packet, opts);
        }
        self.stream_broadcast(packet.clone(), opts)
    }

    fn broadcast_with_ack(
        &self,
        packet: &BroadcastPacket,
        opts: &BroadcastOptions,
        collector: AckCollector,
    ) -> BoxFuture<'static, Result<usize, AdapterError>> {
        if opts.local {
            let count = self.local.broadcast_with_ack_local(packet, opts, collector);
            return Box::pin(async move { Ok(count) });
        }
        let request_id = random_hex(16);
        let timeout = opts.timeout.unwrap_or(self.link.settings.request_timeout);
        let mut counts = self
            .ack_requests
            .open(request_id.clone(), collector.clone(), timeout);
        let body = json!({"packet": self.packet_json(packet), "requestId": request_id,
            "opts": raw_opts(opts)});
        self.publish(
            &self.public_channel,
            kind::BROADCAST,
            body,
            packet.payload.attachments(),
        );
        let up = self.link.writes();
        let local = self.local.broadcast_with_ack_local(packet, opts, collector);
        let servers = self.server_count_now();
        Box::pin(async move {
            if !up {
                return Err(Link::unavailable());
            }
            let servers = servers.await?;
            Ok(requests::total_count(local, servers, &mut counts, timeout).await)
        })
    }

    fn sockets(
        &self,
        opts: &BroadcastOptions,
    ) -> BoxFuture<'static, Result<HashSet<Sid>, AdapterError>> {
        let mut ids: HashSet<Sid> = self.local.socket_ids(opts).into_iter().collect();
        if opts.local {
            return Box::pin(async move { Ok(ids) });
        }
        let fetch = self.fetch_remote(opts, Vec::new());
        Box::pin(async move {
            ids.extend(fetch.await?.into_iter().map(|s| s.id));
            Ok(ids)
        })
    }

    fn fetch_sockets(
        &self,
        opts: &BroadcastOptions,
    ) -> BoxFuture<'static, Result<Vec<RemoteSocketData>, AdapterError>> {
        let local = self.local.fetch_local(opts);
        if opts.local {
            return Box::pin(async move { Ok(local) });
        }
        self.fetch_remote(opts, local)
    }

    fn add_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) -> Result<(), AdapterError> {
        let remote = self.room_operation(
            opts,
            kind::SOCKETS_JOIN,
            json!({"rooms": rooms_json(rooms)}),
        );
        self.local.add_sockets(opts, rooms)?;
        remote
    }

    fn del_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) -> Result<(), AdapterError> {
        let remote = self.room_operation(
            opts,
            kind::SOCKETS_LEAVE,
            json!({"rooms": rooms_json(rooms)}),
        );
        self.local.del_sockets(opts, rooms)?;
        remote
    }

    fn disconnect_sockets(&self, opts: &BroadcastOptions, close: bool) -> Result<(), AdapterError> {
        let remote = self.room_operation(opts, kind::DISCONNECT_SOCKETS, json!({"close": close}));
        self.local.disconnect_sockets(opts, close)?;
        remote
    }

    fn server_side_emit(&self, event: &str, payload: &Payload) -> Result<(), AdapterError> {
        let mut packet = vec![Value::String(event.to_owned())];
        packet.extend(wire::payload_values(payload));
        if !self.link.writes() {
            return Err(Link::unavailable());
        }
        self.publish(
            &self.public_channel,
            kind::SERVER_SIDE_EMIT,
            json!({ "packet": packet }),
            payload.attachments(),
        );
        Ok(())
    }

    fn server_count(&self) -> BoxFuture<'static, Result<usize, AdapterError>> {
        self.server_count_now()
    }

    fn server_side_emit_with_ack(
        &self,
        event: &str,
        payload: &Payload,
    ) -> BoxFuture<'static, Result<Vec<Payload>, AdapterError>> {
        let mut packet = vec![Value::String(event.to_owned())];
        packet.extend(wire::payload_values(payload));
        let ask = self.ask_others(
            kind::SERVER_SIDE_EMIT,
            json!({ "packet": packet }),
            payload.attachments().to_vec(),
        );
        Box::pin(async move {
            Ok(ask
                .await?
                .into_iter()
                .map(|a| wire::payload_from_values(vec![a.value["packet"].clone()], &a.attachments))
                .collect())
        })
    }

    fn all_rooms(&self) -> BoxFuture<'static, Result<HashSet<Room>, AdapterError>> {
        // The cluster protocol has no room listing: the rooms of every socket, which every server
        // (Node's included) answers with.
        let local: HashSet<Room> = self
            .local
            .local_rooms()
            .into_iter()
            .map(|(room, _)| room)
            .collect();
        let fetch = self.fetch_remote(&BroadcastOptions::default(), Vec::new());
        Box::pin(async move {
            let mut rooms = local;
            for socket in fetch.await? {
                rooms.extend(socket.rooms);
            }
            Ok(rooms)
        })
    }

    fn session_store(&self) -> Option<&dyn SessionStore> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_option_is_checked_in_one_place_and_names_itself() {
        let good = RedisStreamsAdapterConfig::new("redis://127.0.0.1:6379/0");
        assert_eq!(good.validate(), Ok(()));
        let url = RedisStreamsAdapterConfig::new("nope")
            .validate()
            .unwrap_err();
        assert_eq!(url.option, "url");
        let cases = [
            (
                good.clone().stream_name(""),
                "stream_name must not be empty",
            ),
            (
                good.clone().channel_prefix(""),
                "channel_prefix must not be empty",
            ),
            (good.clone().max_len(0), "max_len must be at least 1"),
            (good.clone().read_count(0), "read_count must be at least 1"),
            (
                good.clone().request_timeout(Duration::ZERO),
                "request_timeout must be positive",
            ),
        ];
        for (config, message) in cases {
            assert_eq!(config.validate().unwrap_err().to_string(), message);
        }
    }

    #[test]
    fn entry_data_is_json_or_base64_messagepack_when_binary() {
        let value = json!({"packet": {"data": ["e", 1, {"_placeholder": true, "num": 0}]}});
        let plain = entry_data(&json!({"a": 1}), &[]);
        assert_eq!(plain, r#"{"a":1}"#);
        let binary = entry_data(&value, &[Bytes::from_static(b"\x01\x02")]);
        assert!(!binary.starts_with('{'));
        let decoded = decode_entry_data(&binary).expect("decodes");
        assert_eq!(decoded.attachments, vec![Bytes::from_static(b"\x01\x02")]);
        assert_eq!(decoded.value["packet"]["data"][1], json!(1));
        assert_eq!(
            decode_entry_data(r#"{"a":1}"#).unwrap().value,
            json!({"a": 1})
        );
        assert!(decode_entry_data("!!not base64").is_none());
    }

    #[test]
    fn sessions_round_trip_in_the_npm_adapters_encoding() {
        let session = Session::new(
            Sid::generate(),
            Sid::generate(),
            vec![Room::from("a"), Room::from("b")],
            json!({"n": 1}),
        );
        let decoded = decode_session(&encode_session(&session)).expect("decodes");
        assert_eq!(decoded, session);
        assert!(decode_session("AAAA").is_none());
    }

    #[test]
    fn a_packet_reaches_a_session_as_socket_io_decides() {
        let rooms = [Room::from("sid"), Room::from("r")];
        let opts = |to: &[&str], except: &[&str]| {
            let mut opts = BroadcastOptions::default();
            opts.rooms = to.iter().map(|r| Room::from(*r)).collect();
            opts.except = except.iter().map(|r| Room::from(*r)).collect();
            opts
        };
        assert!(addressed_to(&rooms, &opts(&[], &[])));
        assert!(addressed_to(&rooms, &opts(&["r", "x"], &[])));
        assert!(!addressed_to(&rooms, &opts(&["x"], &[])));
        assert!(!addressed_to(&rooms, &opts(&[], &["sid"])));
        assert!(!addressed_to(&rooms, &opts(&["r"], &["r"])));
    }
}
