//! [`NativeNamespace`]: the operations of one namespace and of its sockets, which the facade's
//! `Namespace`, `Socket` and `BroadcastOperator` call. Hot calls (emits, joins) are synchronous and throw
//! only on the caller's errors (see `errors.rs`); calls that wait (acks, fetching sockets) return promises.

use crate::dispatch::Shared;
use crate::errors::{ack_js_error, code_error, emitted, js_error, server_closed};
use crate::runtime;
use bytes::Bytes;
use ferrio::{AckError, BroadcastOperator, ErrorCode, Namespace, Payload, Sid, Socket};
use ferrio_host::attach;
use napi::bindgen_prelude::{Buffer, PromiseRaw};
use napi::Env;
use napi_derive::napi;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// Builds a payload from the facade's JSON text and buffers.
pub(crate) fn payload(json: String, buffers: Option<Vec<Buffer>>) -> napi::Result<Payload> {
    let attachments = buffers
        .unwrap_or_default()
        .iter()
        .map(|b| Bytes::copy_from_slice(b))
        .collect();
    Payload::from_json(json, attachments).map_err(|e| js_error(&e))
}

/// One acknowledgement's arguments.
#[napi(object)]
pub struct AckReply {
    /// The JSON array of the arguments (placeholders kept).
    pub json: String,
    /// The binary attachments.
    pub buffers: Vec<Buffer>,
}

impl From<Payload> for AckReply {
    fn from(payload: Payload) -> AckReply {
        let (json, attachments) = payload.into_parts();
        AckReply {
            json,
            buffers: attachments
                .into_iter()
                .map(|b| Buffer::from(b.to_vec()))
                .collect(),
        }
    }
}

/// The answers of a broadcast with acks.
#[napi(object)]
pub struct BroadcastAckResult {
    /// One per socket that answered.
    pub replies: Vec<AckReply>,
    /// Whether some socket did not answer in time.
    pub timed_out: bool,
}

/// A namespace of a native server.
#[napi]
pub struct NativeNamespace {
    nsp: Namespace,
    shared: Arc<Shared>,
    watching_server_side: std::sync::atomic::AtomicBool,
}

impl NativeNamespace {
    pub(crate) fn new(nsp: Namespace, shared: Arc<Shared>) -> NativeNamespace {
        NativeNamespace {
            nsp,
            shared,
            watching_server_side: Default::default(),
        }
    }

    fn socket(&self, sid: &str) -> Option<Socket> {
        self.nsp.socket(&Sid::parse(sid)?)
    }

    fn closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }

    fn operator(&self, rooms: Vec<String>, except: Vec<String>, flags: u32) -> BroadcastOperator {
        let mut op = self.nsp.broadcast_operator().to(rooms).except(except);
        if flags & 1 != 0 {
            op = op.volatile();
        }
        if flags & 2 != 0 {
            op = op.local();
        }
        op
    }
}

fn timeout(ms: f64) -> Duration {
    if ms.is_finite() && ms >= 0.0 {
        Duration::from_millis(ms as u64)
    } else {
        Duration::MAX
    }
}

#[napi]
impl NativeNamespace {
    /// The namespace name.
    #[napi(getter)]
    pub fn name(&self) -> String {
        self.nsp.name().to_owned()
    }

    /// Emits to one socket (`volatile`: may be dropped when its queue is full).
    #[napi]
    pub fn emit(
        &self,
        sid: String,
        event: String,
        json: String,
        buffers: Option<Vec<Buffer>>,
        volatile: bool,
    ) -> napi::Result<()> {
        if self.closed() {
            return Err(server_closed());
        }
        // socket.io ignores emits to a socket that is gone.
        let Some(socket) = self.socket(&sid) else {
            return Ok(());
        };
        let payload = payload(json, buffers)?;
        let _rt = runtime().enter();
        emitted(if volatile {
            socket.emit_volatile(&event, payload)
        } else {
            socket.emit(&event, payload)
        })
    }

    /// Emits to one socket and resolves with its acknowledgement (rejects on timeout or disconnect;
    /// a negative `timeout_ms` waits for as long as the socket stays connected).
    #[napi(ts_return_type = "Promise<AckReply>")]
    pub fn emit_with_ack<'env>(
        &self,
        env: &'env Env,
        sid: String,
        event: String,
        json: String,
        buffers: Option<Vec<Buffer>>,
        timeout_ms: f64,
    ) -> napi::Result<PromiseRaw<'env, AckReply>> {
        // The packet leaves now, in call order with the other emits; only the answer is awaited.
        let started = (|| {
            if self.closed() {
                return Err(server_closed());
            }
            let socket = self
                .socket(&sid)
                .ok_or_else(|| code_error(ErrorCode::SocketClosed, "the socket is disconnected"))?;
            let payload = payload(json, buffers)?;
            let _rt = runtime().enter();
            Ok(socket.emit_with_ack(&event, payload, timeout(timeout_ms)))
        })();
        match started {
            Ok(wait) => env.spawn_future(async move {
                wait.await.map(AckReply::from).map_err(|e| ack_js_error(&e))
            }),
            Err(error) => env.spawn_future(async move { Err::<AckReply, _>(error) }),
        }
    }

    /// Emits to the targeted sockets: `flags` bit 0 volatile, bit 1 local.
    #[napi]
    pub fn broadcast(
        &self,
        rooms: Vec<String>,
        except: Vec<String>,
        flags: u32,
        event: String,
        json: String,
        buffers: Option<Vec<Buffer>>,
    ) -> napi::Result<()> {
        if self.closed() {
            return Err(server_closed());
        }
        let payload = payload(json, buffers)?;
        let _rt = runtime().enter();
        emitted(self.operator(rooms, except, flags).emit(&event, payload))
    }

    /// Emits to the targeted sockets and gathers one answer per socket until `timeout_ms`.
    #[napi(ts_return_type = "Promise<BroadcastAckResult>")]
    #[allow(clippy::too_many_arguments)]
    pub fn broadcast_with_ack<'env>(
        &self,
        env: &'env Env,
        rooms: Vec<String>,
        except: Vec<String>,
        flags: u32,
        timeout_ms: f64,
        event: String,
        json: String,
        buffers: Option<Vec<Buffer>>,
    ) -> napi::Result<PromiseRaw<'env, BroadcastAckResult>> {
        if self.closed() {
            let error = server_closed();
            return env.spawn_future(async move { Err::<BroadcastAckResult, _>(error) });
        }
        let payload = match payload(json, buffers) {
            Ok(payload) => payload,
            Err(error) => {
                return env.spawn_future(async move { Err::<BroadcastAckResult, _>(error) });
            }
        };
        let op = self
            .operator(rooms, except, flags)
            .timeout(timeout(timeout_ms));
        // The packet leaves now, in call order with the other emits; only the answers are awaited.
        let waiting = {
            let _rt = runtime().enter();
            op.emit_with_ack(&event, payload)
        };
        env.spawn_future(async move { broadcast_answers(waiting.await) })
    }

    /// Makes a socket join rooms (nothing when it is gone).
    #[napi]
    pub fn join(&self, sid: String, rooms: Vec<String>) {
        if let Some(socket) = self.socket(&sid) {
            let _rt = runtime().enter();
            socket.join(rooms);
        }
    }

    /// Makes a socket leave a room (nothing when it is gone).
    #[napi]
    pub fn leave(&self, sid: String, room: String) {
        if let Some(socket) = self.socket(&sid) {
            let _rt = runtime().enter();
            socket.leave(room);
        }
    }

    /// The rooms of a socket (empty once it left).
    #[napi]
    pub fn socket_rooms(&self, sid: String) -> Vec<String> {
        self.socket(&sid)
            .map(|s| s.rooms().iter().map(|r| r.to_string()).collect())
            .unwrap_or_default()
    }

    /// The transport a socket's connection uses now.
    #[napi]
    pub fn transport(&self, sid: String) -> Option<String> {
        self.socket(&sid).map(|s| s.transport().as_str().to_owned())
    }

    /// Whether a socket is connected.
    #[napi]
    pub fn connected(&self, sid: String) -> bool {
        self.socket(&sid).is_some_and(|s| s.connected())
    }

    /// Disconnects a socket from the namespace, or closes its whole connection.
    #[napi]
    pub fn disconnect(&self, sid: String, close: bool) {
        if let Some(socket) = self.socket(&sid) {
            let _rt = runtime().enter();
            socket.disconnect(close);
        }
    }

    /// The local rooms and their members, socket-id rooms included: JSON `[[room, [ids…]], …]`.
    #[napi]
    pub fn rooms(&self) -> String {
        let mut rooms: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for socket in self.nsp.sockets() {
            let id = socket.id().as_str().to_owned();
            for room in socket.rooms() {
                rooms.entry(room.to_string()).or_default().push(id.clone());
            }
        }
        serde_json::to_string(&rooms.into_iter().collect::<Vec<_>>()).unwrap_or_default()
    }

    /// How many sockets are connected to the namespace here.
    #[napi]
    pub fn socket_count(&self) -> u32 {
        self.nsp.socket_count() as u32
    }

    /// The targeted sockets: JSON `[{id, handshake, rooms, data}]`.
    #[napi]
    pub async fn fetch_sockets(
        &self,
        rooms: Vec<String>,
        except: Vec<String>,
        flags: u32,
    ) -> napi::Result<String> {
        let op = self.operator(rooms, except, flags);
        let sockets = runtime()
            .spawn(async move { op.fetch_sockets().await })
            .await
            .map_err(|e| code_error(ErrorCode::Panic, e))?
            .map_err(|e| js_error(&e))?;
        let list: Vec<serde_json::Value> = sockets
            .into_iter()
            .map(|s| {
                serde_json::json!({
                    "id": s.id.as_str(),
                    "handshake": s.handshake,
                    "rooms": s.rooms.iter().map(|r| &**r).collect::<Vec<_>>(),
                    "data": s.data,
                })
            })
            .collect();
        Ok(serde_json::Value::Array(list).to_string())
    }

    /// The ids of the targeted sockets.
    #[napi]
    pub async fn socket_ids(
        &self,
        rooms: Vec<String>,
        except: Vec<String>,
        flags: u32,
    ) -> napi::Result<Vec<String>> {
        let op = self.operator(rooms, except, flags);
        let ids = runtime()
            .spawn(async move { op.socket_ids().await })
            .await
            .map_err(|e| code_error(ErrorCode::Panic, e))?
            .map_err(|e| js_error(&e))?;
        Ok(ids.into_iter().map(|s| s.as_str().to_owned()).collect())
    }

    /// Makes the targeted sockets join `targets`.
    #[napi]
    pub fn sockets_join(
        &self,
        rooms: Vec<String>,
        except: Vec<String>,
        flags: u32,
        targets: Vec<String>,
    ) {
        let _rt = runtime().enter();
        self.operator(rooms, except, flags).sockets_join(targets);
    }

    /// Makes the targeted sockets leave `targets`.
    #[napi]
    pub fn sockets_leave(
        &self,
        rooms: Vec<String>,
        except: Vec<String>,
        flags: u32,
        targets: Vec<String>,
    ) {
        let _rt = runtime().enter();
        self.operator(rooms, except, flags).sockets_leave(targets);
    }

    /// Sets a socket's `data` (JSON), which other servers of a cluster see through `fetchSockets`.
    #[napi]
    pub fn set_data(&self, sid: String, json: String) {
        if let (Some(socket), Ok(value)) = (self.socket(&sid), serde_json::from_str(&json)) {
            socket.set_data(value);
        }
    }

    /// Delivers the events other servers send with `serverSideEmit` to the dispatcher (once per namespace).
    #[napi]
    pub fn watch_server_side(&self) {
        if self.watching_server_side.swap(true, Ordering::AcqRel) {
            return;
        }
        self.nsp.on_server_side_emit(attach::server_side_events(
            self.shared.clone(),
            self.nsp.name().to_owned(),
        ));
    }

    /// Sends an event to the other servers of the cluster.
    #[napi]
    pub fn server_side_emit(
        &self,
        event: String,
        json: String,
        buffers: Option<Vec<Buffer>>,
    ) -> napi::Result<()> {
        if self.closed() {
            return Err(server_closed());
        }
        let payload = payload(json, buffers)?;
        self.nsp
            .server_side_emit(&event, payload)
            .map_err(|e| js_error(&e))
    }

    /// Sends an event to the other servers and resolves with one answer from each.
    #[napi]
    pub async fn server_side_emit_with_ack(
        &self,
        event: String,
        json: String,
        buffers: Option<Vec<Buffer>>,
    ) -> napi::Result<Vec<AckReply>> {
        let payload = payload(json, buffers)?;
        let nsp = self.nsp.clone();
        let answers = runtime()
            .spawn(async move { nsp.server_side_emit_with_ack(&event, payload).await })
            .await
            .map_err(|e| code_error(ErrorCode::Panic, e))?
            .map_err(|e| js_error(&e))?;
        Ok(answers.into_iter().map(AckReply::from).collect())
    }

    /// Every room across the cluster (socket-id rooms excluded).
    #[napi]
    pub async fn all_rooms(&self) -> napi::Result<Vec<String>> {
        let nsp = self.nsp.clone();
        let rooms = runtime()
            .spawn(async move { nsp.all_rooms().await })
            .await
            .map_err(|e| code_error(ErrorCode::Panic, e))?
            .map_err(|e| js_error(&e))?;
        Ok(rooms.iter().map(|r| r.to_string()).collect())
    }

    /// How many servers the cluster has.
    #[napi]
    pub async fn server_count(&self) -> napi::Result<u32> {
        let nsp = self.nsp.clone();
        let count = runtime()
            .spawn(async move { nsp.server_count().await })
            .await
            .map_err(|e| code_error(ErrorCode::Panic, e))?
            .map_err(|e| js_error(&e))?;
        Ok(count as u32)
    }

    /// Disconnects the targeted sockets (their connections too when `close`).
    #[napi]
    pub fn disconnect_sockets(
        &self,
        rooms: Vec<String>,
        except: Vec<String>,
        flags: u32,
        close: bool,
    ) {
        let _rt = runtime().enter();
        self.operator(rooms, except, flags)
            .disconnect_sockets(close);
    }
}

/// The answers of a broadcast with acks, as the facade takes them (a timeout keeps those that came).
fn broadcast_answers(
    result: Result<ferrio::socketio::AckResponses, AckError>,
) -> napi::Result<BroadcastAckResult> {
    let to_replies = |answers: Vec<(Option<Sid>, Payload)>| {
        answers
            .into_iter()
            .map(|(_, p)| AckReply::from(p))
            .collect()
    };
    match result {
        Ok(responses) => Ok(BroadcastAckResult {
            replies: to_replies(responses.answers),
            timed_out: false,
        }),
        Err(AckError::Timeout { answers }) => Ok(BroadcastAckResult {
            replies: to_replies(answers),
            timed_out: true,
        }),
        Err(other) => Err(ack_js_error(&other)),
    }
}
