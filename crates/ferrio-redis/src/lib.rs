//! # ferrio-redis
//!
//! The Redis adapter of [ferrio]: many ferrio processes — and official Node socket.io servers running
//! @socket.io/redis-adapter's classic `createAdapter` — act as one. It speaks that adapter's protocol on the
//! same channels (per namespace: `{prefix}#{nsp}#` for broadcasts, `{prefix}#{nsp}#{room}#` for a broadcast
//! to one room, `{prefix}-request#{nsp}#` and `{prefix}-response#{nsp}#` for requests and their answers),
//! broadcasts in MessagePack as notepack.io encodes them, requests in JSON, and counts servers with
//! `PUBSUB NUMSUB` on the request channel. @socket.io/redis-emitter's messages are broadcasts like any other.
//!
//! Every operation acts locally first through a [`MemoryAdapter`], then reaches the other servers. When Redis
//! is down, local delivery goes on and the remote part fails at once with [`AdapterError::Unavailable`]; the
//! connections come back by themselves. A request that fewer servers answer than were counted ends at the
//! request timeout with an error, never hangs.
//!
//! [`RedisStreamsAdapterFactory`] is the other adapter of this crate: it speaks
//! @socket.io/redis-streams-adapter's protocol over one Redis stream and keeps connection state
//! recovery for the whole cluster, so a client may recover on any server.

mod link;
mod requests;
mod streams;
mod wire;

pub use streams::{RedisStreamsAdapterConfig, RedisStreamsAdapterFactory, StreamsAdapter};

use bytes::Bytes;
use ferrio::adapter::{
    AckCollector, Adapter, AdapterError, AdapterFactory, BoxFuture, BroadcastOptions,
    BroadcastPacket, BroadcastReport, LocalNamespace, MemoryAdapter, RemoteSocketData, Room,
    ServerSideAck, ServerSideEvent,
};
use ferrio::{ConfigError, Payload, Sid};
use link::Link;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::sync::{Arc, Weak};
use std::time::Duration;
use wire::kind;

/// How to reach Redis and name the channels.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RedisAdapterConfig {
    /// `redis://[user:password@]host:port[/db]`.
    pub url: String,
    /// The channels' prefix; the same on every server of the cluster (default `socket.io`, the Node
    /// adapter's `key`).
    pub prefix: String,
    /// How long a request to the other servers waits for their answers (default 5 s, the Node adapter's
    /// `requestsTimeout`).
    pub request_timeout: Duration,
}

impl RedisAdapterConfig {
    /// The defaults for a Redis URL.
    pub fn new(url: impl Into<String>) -> RedisAdapterConfig {
        RedisAdapterConfig {
            url: url.into(),
            prefix: "socket.io".into(),
            request_timeout: Duration::from_secs(5),
        }
    }

    /// Sets the channels' prefix.
    pub fn prefix(mut self, prefix: impl Into<String>) -> RedisAdapterConfig {
        self.prefix = prefix.into();
        self
    }

    /// Sets the request timeout.
    pub fn request_timeout(mut self, timeout: Duration) -> RedisAdapterConfig {
        self.request_timeout = timeout;
        self
    }

    /// Checks every option without connecting: the URL parses, the prefix is not empty (every server
    /// of a cluster must name the same channels), the request timeout is positive. The one place these
    /// rules live: each binding maps the error, none checks them itself.
    pub fn validate(&self) -> Result<(), ConfigError> {
        ::redis::Client::open(self.url.as_str())
            .map_err(|e| ConfigError::new("url", format!("is an invalid Redis URL: {e}")))?;
        if self.prefix.is_empty() {
            return Err(ConfigError::new("prefix", "must not be empty"));
        }
        if self.request_timeout.is_zero() {
            return Err(ConfigError::new("request_timeout", "must be positive"));
        }
        Ok(())
    }
}

/// Makes a [`RedisAdapter`] per namespace over one pair of Redis connections. Give it to
/// [`ferrio::ServerBuilder::adapter`].
#[derive(Clone)]
pub struct RedisAdapterFactory {
    link: Arc<Link>,
}

impl std::fmt::Debug for RedisAdapterFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisAdapterFactory")
            .field("uid", &self.link.uid)
            .field("connected", &self.link.is_up())
            .finish()
    }
}

impl RedisAdapterFactory {
    /// Starts connecting (on the current tokio runtime) without waiting: the connections retry until Redis
    /// answers, and after every loss. Fails only for an invalid URL or outside a runtime.
    pub fn new(config: RedisAdapterConfig) -> Result<RedisAdapterFactory, AdapterError> {
        config
            .validate()
            .map_err(|e| AdapterError::Unavailable(e.to_string()))?;
        let link = Link::start(&config.url, config.prefix, config.request_timeout)?;
        Ok(RedisAdapterFactory { link })
    }

    /// Starts connecting and waits until both connections are up, or fails after `timeout`.
    pub async fn connect(
        config: RedisAdapterConfig,
        timeout: Duration,
    ) -> Result<RedisAdapterFactory, AdapterError> {
        let url = config.url.clone();
        let factory = RedisAdapterFactory::new(config)?;
        if factory.link.wait_up(timeout).await {
            Ok(factory)
        } else {
            Err(AdapterError::Unavailable(format!(
                "cannot reach Redis at {url}"
            )))
        }
    }

    /// Whether both Redis connections are up.
    pub fn is_connected(&self) -> bool {
        self.link.is_up()
    }

    /// Waits until both connections are up; false after `timeout`.
    pub async fn wait_connected(&self, timeout: Duration) -> bool {
        self.link.wait_up(timeout).await
    }

    /// This server's id in the cluster's messages.
    pub fn uid(&self) -> &str {
        &self.link.uid
    }
}

impl AdapterFactory for RedisAdapterFactory {
    fn create(&self, nsp: LocalNamespace) -> Arc<dyn Adapter> {
        let adapter =
            Arc::new_cyclic(|this| RedisAdapter::new(nsp, self.link.clone(), this.clone()));
        self.link.register(&adapter);
        adapter
    }
}

/// One namespace's adapter in a Redis cluster.
pub struct RedisAdapter {
    local: MemoryAdapter,
    nsp: LocalNamespace,
    nsp_name: String,
    link: Arc<Link>,
    broadcast_channel: String,
    request_channel: String,
    response_channel: String,
    own_response_channel: String,
    requests: requests::Requests,
    ack_requests: Arc<requests::AckRequests>,
    this: Weak<RedisAdapter>,
}

impl std::fmt::Debug for RedisAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisAdapter")
            .field("nsp", &self.nsp_name)
            .field("uid", &self.link.uid)
            .finish()
    }
}

/// The `opts` object of the Node adapter's messages.
pub(crate) fn raw_opts(opts: &BroadcastOptions) -> Value {
    let mut flags = serde_json::Map::new();
    if opts.volatile {
        flags.insert("volatile".into(), Value::Bool(true));
    }
    if let Some(timeout) = opts.timeout {
        flags.insert("timeout".into(), json!(timeout.as_millis() as u64));
    }
    json!({"rooms": opts.rooms.iter().map(|r| &**r).collect::<Vec<_>>(),
        "except": opts.except.iter().map(|r| &**r).collect::<Vec<_>>(),
        "flags": flags})
}

/// Options from a message's `opts` (rooms, except and flags).
pub(crate) fn parse_opts(value: &Value) -> BroadcastOptions {
    let rooms = |key: &str| -> Vec<Room> {
        value[key]
            .as_array()
            .map(|items| items.iter().filter_map(room_name).collect())
            .unwrap_or_default()
    };
    let mut opts = BroadcastOptions::default();
    opts.rooms = rooms("rooms");
    opts.except = rooms("except");
    opts.local = true;
    opts.volatile = value["flags"]["volatile"].as_bool().unwrap_or(false);
    opts.timeout = value["flags"]["timeout"]
        .as_u64()
        .map(Duration::from_millis);
    opts
}

/// A room name as JavaScript would key it (socket.io allows numbers as room names).
pub(crate) fn room_name(value: &Value) -> Option<Room> {
    match value {
        Value::String(s) => Some(Room::from(s.as_str())),
        Value::Number(n) => Some(Room::from(n.to_string())),
        _ => None,
    }
}

impl RedisAdapter {
    fn new(nsp: LocalNamespace, link: Arc<Link>, this: Weak<RedisAdapter>) -> RedisAdapter {
        let nsp_name = nsp.name().to_owned();
        let prefix = &link.prefix;
        let response_channel = format!("{prefix}-response#{nsp_name}#");
        RedisAdapter {
            local: MemoryAdapter::new(nsp.clone()),
            broadcast_channel: format!("{prefix}#{nsp_name}#"),
            request_channel: format!("{prefix}-request#{nsp_name}#"),
            own_response_channel: format!("{response_channel}{}#", link.uid),
            response_channel,
            nsp,
            nsp_name,
            link,
            requests: requests::Requests::default(),
            ack_requests: Arc::default(),
            this,
        }
    }

    /// The plain channels this adapter subscribes to (its broadcast pattern aside).
    fn listened_channels(&self) -> Vec<String> {
        vec![
            self.request_channel.clone(),
            self.response_channel.clone(),
            self.own_response_channel.clone(),
        ]
    }

    /// Handles a message if it is on one of this namespace's channels.
    fn accepts(&self, channel: &str, payload: &[u8]) -> bool {
        if channel == self.request_channel {
            self.on_request(payload);
        } else if channel == self.response_channel || channel == self.own_response_channel {
            self.on_response(payload);
        } else if let Some(rest) = channel.strip_prefix(self.broadcast_channel.as_str()) {
            self.on_broadcast(rest, payload);
        } else {
            return false;
        }
        true
    }

    fn publish_json(&self, channel: &str, value: &Value) -> Result<(), AdapterError> {
        self.link
            .publish(channel.to_owned(), value.to_string().into_bytes())
    }

    fn new_request_id(&self) -> String {
        link::random_id(12)
    }

    // ---- Messages from other servers. ----------------------------------------------------------------

    fn on_broadcast(&self, room_suffix: &str, payload: &[u8]) {
        let Some(emitter) = self.nsp.emitter() else {
            return;
        };
        // A broadcast to one room travels on that room's channel: skip it unless the room is here (or
        // the namespace keeps events for sockets that may come back).
        if let Some(room) = room_suffix.strip_suffix('#') {
            if !room.is_empty()
                && self.local.socket_count_in(room) == 0
                && !emitter.keeps_remote_events()
            {
                return;
            }
        }
        let Some(mut decoded) = wire::decode(payload) else {
            tracing::debug!("ignoring a malformed broadcast from Redis");
            return;
        };
        let Some([uid, packet, opts]) = decoded
            .value
            .as_array_mut()
            .map(Vec::as_mut_slice)
            .and_then(|a| <&mut [Value; 3]>::try_from(a).ok())
        else {
            return;
        };
        if uid.as_str() == Some(&self.link.uid) {
            return;
        }
        let Some((event, payload)) = self.event_of(packet, &decoded.attachments) else {
            return;
        };
        let opts = parse_opts(opts);
        emitter.remote_event(&event, payload, &opts, &mut |packet| {
            let _ = self.local.broadcast(packet, &opts);
        });
    }

    /// The event name and arguments of a socket.io packet object, if it is an event of this namespace
    /// (its data is taken out of `packet`).
    fn event_of(&self, packet: &mut Value, attachments: &[Bytes]) -> Option<(String, Payload)> {
        let ours = packet["nsp"].as_str().unwrap_or("/") == self.nsp_name
            && matches!(
                packet["type"].as_u64(),
                Some(wire::EVENT | wire::BINARY_EVENT)
            );
        if !ours {
            return None;
        }
        let (event, args) = take_event(packet.get_mut("data"))?;
        Some((event, wire::payload_from_values(args, attachments)))
    }

    fn on_request(&self, payload: &[u8]) {
        let Some(mut request) = wire::decode(payload) else {
            tracing::debug!("ignoring a malformed request from Redis");
            return;
        };
        let msg = &request.value;
        if msg["uid"].as_str() == Some(&self.link.uid) {
            return;
        }
        let request_id = msg["requestId"].clone();
        let reply = |mut body: Value| {
            body["requestId"] = request_id.clone();
            if let Err(error) = self.publish_json(&self.response_channel, &body) {
                tracing::debug!(%error, "cannot answer a request from Redis");
            }
        };
        match msg["type"].as_u64() {
            Some(kind::SOCKETS) => {
                let mut opts = BroadcastOptions::default();
                opts.rooms = msg["rooms"]
                    .as_array()
                    .map(|r| r.iter().filter_map(room_name).collect())
                    .unwrap_or_default();
                let ids: Vec<String> = self
                    .local
                    .socket_ids(&opts)
                    .iter()
                    .map(Sid::to_string)
                    .collect();
                reply(json!({ "sockets": ids }));
            }
            Some(kind::ALL_ROOMS) => {
                let rooms: Vec<String> = self
                    .local
                    .local_rooms()
                    .into_iter()
                    .map(|(room, _)| room.to_string())
                    .collect();
                reply(json!({ "rooms": rooms }));
            }
            Some(kind @ (kind::REMOTE_JOIN | kind::REMOTE_LEAVE | kind::REMOTE_DISCONNECT)) => {
                let opts = if msg["opts"].is_object() {
                    parse_opts(&msg["opts"])
                } else {
                    // The older form names one socket and answers when done.
                    let Some(sid) = msg["sid"].as_str() else {
                        return;
                    };
                    let mut opts = BroadcastOptions::default();
                    opts.rooms = vec![Room::from(sid)];
                    opts.local = true;
                    opts
                };
                let rooms: Vec<Room> = match msg["rooms"].as_array() {
                    Some(rooms) => rooms.iter().filter_map(room_name).collect(),
                    None => room_name(&msg["room"]).into_iter().collect(),
                };
                let _ = match kind {
                    kind::REMOTE_JOIN => self.local.add_sockets(&opts, &rooms),
                    kind::REMOTE_LEAVE => self.local.del_sockets(&opts, &rooms),
                    _ => self
                        .local
                        .disconnect_sockets(&opts, msg["close"].as_bool().unwrap_or(false)),
                };
                if !msg["opts"].is_object() {
                    reply(json!({}));
                }
            }
            Some(kind::REMOTE_FETCH) => {
                let opts = parse_opts(&msg["opts"]);
                let sockets: Vec<Value> = self
                    .local
                    .fetch_local(&opts)
                    .into_iter()
                    .map(|s| {
                        json!({"id": s.id.as_str(), "handshake": s.handshake,
                            "rooms": rooms_json(&s.rooms), "data": s.data})
                    })
                    .collect();
                reply(json!({ "sockets": sockets }));
            }
            Some(kind::SERVER_SIDE_EMIT) => self.on_server_side_emit(&mut request),
            Some(kind::BROADCAST) => self.on_broadcast_with_ack(&mut request),
            _ => tracing::debug!("ignoring an unknown request from Redis"),
        }
    }

    fn on_server_side_emit(&self, request: &mut wire::Decoded) {
        let Some((event, args)) = take_event(request.value.get_mut("data")) else {
            return;
        };
        let payload = wire::payload_from_values(args, &request.attachments);
        let ack = match &request.value["requestId"] {
            Value::Null => None,
            request_id => {
                let request_id = request_id.clone();
                let link = self.link.clone();
                let channel = self.response_channel.clone();
                Some(ServerSideAck::new(move |answer: Payload| {
                    // socket.io relays one argument.
                    let first = wire::payload_values(&answer).into_iter().next();
                    let first = first.map(|v| {
                        wire::json_with_buffers(vec![v], answer.attachments())
                            .pop()
                            .unwrap_or(Value::Null)
                    });
                    let body = json!({"type": kind::SERVER_SIDE_EMIT, "requestId": request_id,
                        "data": first});
                    let _ = link.publish(channel, body.to_string().into_bytes());
                }))
            }
        };
        self.nsp.server_side_event(ServerSideEvent {
            event,
            payload,
            ack,
        });
    }

    fn on_broadcast_with_ack(&self, request: &mut wire::Decoded) {
        let request_id = request.value["requestId"].clone();
        if let Some(id) = request_id.as_str() {
            if self.ack_requests.contains(id) {
                return;
            }
        }
        let Some(emitter) = self.nsp.emitter() else {
            return;
        };
        let Some(packet) = request.value.get_mut("packet") else {
            return;
        };
        let Some((event, payload)) = self.event_of(packet, &request.attachments) else {
            return;
        };
        let opts = parse_opts(&request.value["opts"]);
        let ack_id = emitter.next_ack_id();
        let packet = emitter.packet(&event, payload, Some(ack_id));
        let (collector, rx) = AckCollector::channel();
        let count = self
            .local
            .broadcast_with_ack_local(&packet, &opts, collector);
        let link = self.link.clone();
        let channel = self.response_channel.clone();
        let count_body = json!({"type": kind::BROADCAST_CLIENT_COUNT, "requestId": request_id,
            "clientCount": count});
        let _ = link.publish(channel.clone(), count_body.to_string().into_bytes());
        let timeout = opts.timeout.unwrap_or(self.link.request_timeout);
        requests::relay_answers(emitter, ack_id, count, rx, timeout, move |answer| {
            let first = wire::payload_values(&answer)
                .into_iter()
                .next()
                .unwrap_or(Value::Null);
            let body = json!({"type": kind::BROADCAST_ACK, "requestId": request_id,
                "packet": first});
            let _ = link.publish(
                channel.clone(),
                wire::encode_pack(&body, answer.attachments()),
            );
        });
    }

    fn on_response(&self, payload: &[u8]) {
        let Some(response) = wire::decode(payload) else {
            return;
        };
        let Some(request_id) = response.value["requestId"].as_str().map(str::to_owned) else {
            return;
        };
        if self.ack_requests.contains(&request_id) {
            match response.value["type"].as_u64() {
                Some(kind::BROADCAST_CLIENT_COUNT) => {
                    let n = response.value["clientCount"].as_u64().unwrap_or(0);
                    self.ack_requests.count(&request_id, n as usize);
                }
                Some(kind::BROADCAST_ACK) => {
                    let answer = wire::payload_from_values(
                        vec![response.value["packet"].clone()],
                        &response.attachments,
                    );
                    self.ack_requests.answer(&request_id, answer);
                }
                _ => {}
            }
            return;
        }
        self.requests.answer(&request_id, response);
    }

    // ---- Requests to other servers. ------------------------------------------------------------------

    /// Publishes a request expecting `expected` answers and waits for them until the request timeout.
    fn request(
        self: &Arc<Self>,
        request_id: String,
        body: Value,
        expected: usize,
    ) -> BoxFuture<'static, Result<Vec<wire::Decoded>, AdapterError>> {
        let awaited = self.requests.open(request_id, expected);
        let this = self.clone();
        Box::pin(async move {
            if let Err(error) = this.publish_json(&this.request_channel, &body) {
                this.requests.cancel(&awaited);
                return Err(error);
            }
            this.requests.wait(awaited, this.link.request_timeout).await
        })
    }

    fn server_count_now(&self) -> BoxFuture<'static, Result<usize, AdapterError>> {
        let link = self.link.clone();
        let channel = self.request_channel.clone();
        Box::pin(async move { link.subscriber_count(&channel).await })
    }

    /// Sends a request of `kind` (with the fields of `fields`) to every other server and gathers one answer
    /// from each; no answers when this server is alone.
    async fn ask_others(
        self: Arc<Self>,
        kind: u64,
        fields: Value,
    ) -> Result<Vec<wire::Decoded>, AdapterError> {
        let others = self.server_count_now().await?.saturating_sub(1);
        if others == 0 {
            return Ok(Vec::new());
        }
        let request_id = self.new_request_id();
        let mut body = fields;
        body["uid"] = json!(self.link.uid);
        body["requestId"] = json!(request_id);
        body["type"] = json!(kind);
        self.request(request_id, body, others).await
    }

    /// The self handle for futures that outlive the call.
    fn shared(&self) -> Option<Arc<RedisAdapter>> {
        self.this.upgrade()
    }

    fn fetch_remote(
        &self,
        opts: &BroadcastOptions,
        local: Vec<RemoteSocketData>,
    ) -> BoxFuture<'static, Result<Vec<RemoteSocketData>, AdapterError>> {
        let Some(this) = self.shared() else {
            return Box::pin(async move { Ok(local) });
        };
        let raw = raw_opts(opts);
        Box::pin(async move {
            let fields = json!({"opts": {"rooms": raw["rooms"], "except": raw["except"]}});
            let answers = this.ask_others(kind::REMOTE_FETCH, fields).await?;
            Ok(requests::remote_sockets(local, answers))
        })
    }
}

impl Adapter for RedisAdapter {
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
        let remote = if opts.local {
            Ok(())
        } else {
            let message = json!([self.link.uid,
                {"type": wire::EVENT, "data": event_data(packet), "nsp": self.nsp_name},
                raw_opts(opts)]);
            let mut channel = self.broadcast_channel.clone();
            if let [room] = opts.rooms.as_slice() {
                channel.push_str(room);
                channel.push('#');
            }
            self.link.publish(
                channel,
                wire::encode_pack(&message, packet.payload.attachments()),
            )
        };
        let report = self.local.broadcast(packet, opts)?;
        remote.map(|()| report)
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
        let request_id = self.new_request_id();
        let timeout = opts.timeout.unwrap_or(self.link.request_timeout);
        // Answers may come until the broadcast's own deadline; then the request is forgotten.
        let mut counts = self
            .ack_requests
            .open(request_id.clone(), collector.clone(), timeout);
        let body = json!({"uid": self.link.uid, "requestId": request_id, "type": kind::BROADCAST,
            "packet": {"type": wire::EVENT, "data": event_data(packet), "nsp": self.nsp_name,
                "id": packet.ack_id.unwrap_or_default()},
            "opts": raw_opts(opts)});
        let published = self.link.publish(
            self.request_channel.clone(),
            wire::encode_pack(&body, packet.payload.attachments()),
        );
        let local = self.local.broadcast_with_ack_local(packet, opts, collector);
        let servers = self.server_count_now();
        Box::pin(async move {
            published?;
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
        self.remote_operation(opts, kind::REMOTE_JOIN, json!({"rooms": rooms_json(rooms)}))?;
        self.local.add_sockets(opts, rooms)
    }

    fn del_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) -> Result<(), AdapterError> {
        self.remote_operation(
            opts,
            kind::REMOTE_LEAVE,
            json!({"rooms": rooms_json(rooms)}),
        )?;
        self.local.del_sockets(opts, rooms)
    }

    fn disconnect_sockets(&self, opts: &BroadcastOptions, close: bool) -> Result<(), AdapterError> {
        let remote = self.remote_operation(opts, kind::REMOTE_DISCONNECT, json!({"close": close}));
        self.local.disconnect_sockets(opts, close)?;
        remote
    }

    fn server_side_emit(&self, event: &str, payload: &Payload) -> Result<(), AdapterError> {
        let body = json!({"uid": self.link.uid, "type": kind::SERVER_SIDE_EMIT,
            "data": server_side_data(event, payload)});
        self.publish_json(&self.request_channel, &body)
    }

    fn server_count(&self) -> BoxFuture<'static, Result<usize, AdapterError>> {
        self.server_count_now()
    }

    fn server_side_emit_with_ack(
        &self,
        event: &str,
        payload: &Payload,
    ) -> BoxFuture<'static, Result<Vec<Payload>, AdapterError>> {
        let Some(this) = self.shared() else {
            return Box::pin(async { Ok(Vec::new()) });
        };
        let data = server_side_data(event, payload);
        Box::pin(async move {
            let answers = this
                .ask_others(kind::SERVER_SIDE_EMIT, json!({ "data": data }))
                .await?;
            Ok(answers
                .into_iter()
                .map(|a| wire::payload_from_values(vec![a.value["data"].clone()], &a.attachments))
                .collect())
        })
    }

    fn all_rooms(&self) -> BoxFuture<'static, Result<HashSet<Room>, AdapterError>> {
        let local: HashSet<Room> = self
            .local
            .local_rooms()
            .into_iter()
            .map(|(room, _)| room)
            .collect();
        let Some(this) = self.shared() else {
            return Box::pin(async move { Ok(local) });
        };
        Box::pin(async move {
            let answers = this.ask_others(kind::ALL_ROOMS, json!({})).await?;
            let mut rooms = local;
            for answer in answers {
                rooms.extend(
                    answer.value["rooms"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(room_name),
                );
            }
            Ok(rooms)
        })
    }
}

impl RedisAdapter {
    /// Publishes a join/leave/disconnect for the other servers (none when `opts.local`).
    fn remote_operation(
        &self,
        opts: &BroadcastOptions,
        kind: u64,
        mut body: Value,
    ) -> Result<(), AdapterError> {
        if opts.local {
            return Ok(());
        }
        let raw = raw_opts(opts);
        body["uid"] = json!(self.link.uid);
        body["type"] = json!(kind);
        body["opts"] = json!({"rooms": raw["rooms"], "except": raw["except"]});
        self.publish_json(&self.request_channel, &body)
    }
}

pub(crate) fn rooms_json(rooms: &[Room]) -> Vec<&str> {
    rooms.iter().map(|r| &**r).collect()
}

/// `[event, ...args]` taken out of a message's `data` (left null): the name and the arguments.
pub(crate) fn take_event(data: Option<&mut Value>) -> Option<(String, Vec<Value>)> {
    let Value::Array(mut data) = data?.take() else {
        return None;
    };
    if data.is_empty() {
        return None;
    }
    let Value::String(event) = data.remove(0) else {
        return None;
    };
    Some((event, data))
}

/// `[event, ...args]` of a broadcast, its binary parts as placeholders (MessagePack turns them to binary).
fn event_data(packet: &BroadcastPacket) -> Vec<Value> {
    let mut data = vec![Value::String(packet.event.clone())];
    data.extend(wire::payload_values(&packet.payload));
    data
}

/// `[event, ...args]` as a server-side emit carries it (JSON; buffers as Node writes them).
fn server_side_data(event: &str, payload: &Payload) -> Vec<Value> {
    let mut data = vec![Value::String(event.to_owned())];
    data.extend(wire::json_with_buffers(
        wire::payload_values(payload),
        payload.attachments(),
    ));
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_option_is_checked_in_one_place_and_names_itself() {
        let good = RedisAdapterConfig::new("redis://127.0.0.1:6379/0");
        assert_eq!(good.validate(), Ok(()));
        let url = RedisAdapterConfig::new("not a url").validate().unwrap_err();
        assert_eq!(url.option, "url");
        assert!(url.to_string().contains("invalid Redis URL"), "{url}");
        let prefix = good.clone().prefix("").validate().unwrap_err();
        assert_eq!(prefix.to_string(), "prefix must not be empty");
        let timeout = good.request_timeout(Duration::ZERO).validate().unwrap_err();
        assert_eq!(timeout.to_string(), "request_timeout must be positive");
        let refused =
            RedisAdapterFactory::new(RedisAdapterConfig::new("x").prefix("")).unwrap_err();
        assert!(matches!(refused, AdapterError::Unavailable(_)), "{refused}");
    }
}
