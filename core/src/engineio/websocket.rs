//! The WebSocket transport: one task per connection reads frames, drains the session's queue (batching
//! every ready entry into one flush) and, for sessions opened over WebSocket, keeps the heartbeat itself
//! so a connection costs one task and no extra timer task.

use super::packet::Packet;
use super::{
    CloseReason, Engine, EngineHandler, Frame, Outgoing, RequestInfo, Session, TransportKind,
    TRANSPORT_UPGRADING, TRANSPORT_WEBSOCKET,
};
use futures_util::{SinkExt, StreamExt};
use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;
use tokio::time::{sleep_until, Instant};
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

/// The byte stream under a WebSocket: whatever connection the HTTP front upgraded. The engine knows no
/// HTTP server's types; each stream type gets its own copy of the transport (no dynamic dispatch per frame).
pub(crate) trait Io:
    tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static
{
}

impl<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static> Io for S {}

type Ws<S> = WebSocketStream<S>;

/// Buffers sized for many idle connections: tungstenite's 128 KiB default read buffer is allocated
/// eagerly, per connection.
pub(crate) fn ws_config(max_payload: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(2 * 1024)
        .write_buffer_size(16 * 1024)
        .max_write_buffer_size(max_payload.saturating_mul(4).max(1 << 20))
        .max_message_size(Some(max_payload))
        .max_frame_size(Some(max_payload))
}

pub(crate) async fn accept<S: Io>(io: S, max_payload: usize) -> Ws<S> {
    WebSocketStream::from_raw_socket(io, Role::Server, Some(ws_config(max_payload))).await
}

/// A session opened directly over WebSocket.
pub(crate) async fn serve_new<H: EngineHandler, S: Io>(
    engine: Arc<Engine<H>>,
    request: RequestInfo,
    slot: super::Slot,
    io: S,
) {
    let ws = accept(io, engine.config.max_payload).await;
    let session = engine.open_session(request, TransportKind::WebSocket, slot);
    let mut batch = session.consumer.lock().await;
    run(&engine, &session, ws, &mut batch, true).await;
    drop(batch);
    engine.finish(&session);
}

/// One WebSocket's claim on a polling session's upgrade (see [`Session::claim_upgrade`]): while it
/// lives no other WebSocket can upgrade the session; dropped before the upgrade completed (the probe
/// failed or timed out, or the HTTP upgrade never happened), the session is plain polling again.
pub(crate) struct UpgradeClaim<H: EngineHandler>(Arc<Session<H>>);

impl<H: EngineHandler> UpgradeClaim<H> {
    pub(super) fn new(session: Arc<Session<H>>) -> UpgradeClaim<H> {
        UpgradeClaim(session)
    }
}

impl<H: EngineHandler> Drop for UpgradeClaim<H> {
    fn drop(&mut self) {
        self.0.release_upgrade();
    }
}

/// A polling session upgrading to WebSocket: the probe exchange, then the switch.
pub(crate) async fn serve_upgrade<H: EngineHandler, S: Io>(
    engine: Arc<Engine<H>>,
    claim: UpgradeClaim<H>,
    io: S,
) {
    let session = claim.0.clone();
    let mut ws = accept(io, engine.config.max_payload).await;
    let deadline = Instant::now() + engine.config.upgrade_timeout;
    let upgraded = tokio::select! {
        done = probe(&session, &mut ws) => done,
        _ = sleep_until(deadline) => false,
        _ = session.cancel.cancelled() => false,
    };
    if !upgraded {
        tracing::debug!(sid = %session.sid, "upgrade failed or timed out");
        drop(claim);
        let _ = ws.close(None).await;
        return;
    }
    // The client sent `5`. The switch happens here, at once: polling requests look at this state once
    // they hold the queue (GET) or the POST lock, so none is served after the `5` (see `polling`). The
    // queue's signal wakes a GET still pending so it answers 400 and lets go.
    session.set_transport(TRANSPORT_WEBSOCKET);
    session.queue.wake_consumer();
    drop(claim);
    // A POST read before the `5` is delivered before anything that follows it on the WebSocket; then the
    // queue is ours once the GET lets go of it.
    let handover = async {
        drop(session.post_lock.lock().await);
        session.consumer.lock().await
    };
    let mut batch = tokio::select! {
        batch = handover => batch,
        _ = sleep_until(deadline) => {
            session.close(CloseReason::TransportError);
            return;
        }
    };
    tracing::debug!(sid = %session.sid, "upgraded to websocket");
    engine.handler().on_upgrade(&session);
    // The polling heartbeat task keeps running and owns the session's end.
    run(&engine, &session, ws, &mut batch, false).await;
}

/// A WebSocket for a session that cannot upgrade: it already did, another WebSocket is upgrading it, it
/// was opened over WebSocket, or upgrades are off. Accepted and closed at once, as engine.io does: an
/// HTTP error would be reported by the client as a failure, while a closed probe is only a failed
/// upgrade, and the session goes on. The close handshake gets at most `bound`.
pub(crate) async fn refuse<S: Io>(io: S, max_payload: usize, bound: Duration) {
    let mut ws = accept(io, max_payload).await;
    let _ = tokio::time::timeout(bound, async {
        if ws.close(None).await.is_ok() {
            // Read up to the client's close frame, which ends the stream.
            while let Some(Ok(_)) = ws.next().await {}
        }
    })
    .await;
}

/// `2probe` → `3probe`, noop to the pending GET, then wait for `5`.
async fn probe<H: EngineHandler, S: Io>(session: &Session<H>, ws: &mut Ws<S>) -> bool {
    let mut probed = false;
    while let Some(Ok(message)) = ws.next().await {
        let WsMessage::Text(text) = message else {
            continue;
        };
        match Packet::decode(text.as_str()) {
            Ok(Packet::Ping("probe")) if !probed => {
                probed = true;
                // Before the answer, so a client that has read `3probe` finds its GET released.
                session.set_transport(TRANSPORT_UPGRADING);
                session.upgrade_started.notify_one();
                if ws
                    .send(WsMessage::Text(Utf8Bytes::from_static("3probe")))
                    .await
                    .is_err()
                {
                    return false;
                }
            }
            Ok(Packet::Upgrade) if probed => return true,
            Ok(Packet::Noop) => {}
            _ => return false,
        }
    }
    false
}

fn to_ws(frame: &Frame) -> WsMessage {
    match frame {
        Frame::Text(text) => WsMessage::Text(text.clone()),
        Frame::Binary(data) => WsMessage::Binary(data.clone()),
    }
}

async fn feed<S: Io>(ws: &mut Ws<S>, item: Outgoing) -> Result<(), WsError> {
    match item {
        Outgoing::One(Frame::Text(text)) => ws.feed(WsMessage::Text(text)).await,
        Outgoing::One(Frame::Binary(data)) => ws.feed(WsMessage::Binary(data)).await,
        Outgoing::Many(frames) => {
            for frame in frames.iter() {
                ws.feed(to_ws(frame)).await?;
            }
            Ok(())
        }
    }
}

/// The heartbeat of a session opened over WebSocket: ping every interval, expect the pong in time.
struct Heartbeat {
    awaiting_pong: bool,
    deadline: Instant,
    /// The deadline moved: the timer must be reset.
    reset: bool,
}

/// How many already-received messages are handled in one turn before writing.
const READ_BATCH: usize = 64;

/// What to do after an incoming message.
enum Incoming {
    Continue,
    /// Close the session, sending this close frame if any.
    Stop(Option<CloseFrame>),
}

/// Handles one message (or error) from the client's websocket.
fn on_incoming<H: EngineHandler>(
    engine: &Engine<H>,
    session: &Arc<Session<H>>,
    heartbeat: &mut Heartbeat,
    own_heartbeat: bool,
    message: Option<Result<WsMessage, WsError>>,
) -> Incoming {
    let stop = |reason: CloseReason, frame: Option<CloseFrame>| {
        session.close(reason);
        Incoming::Stop(frame)
    };
    match message {
        Some(Ok(WsMessage::Text(text))) => match Packet::decode(text.as_str()) {
            Ok(Packet::Pong(_)) => {
                if own_heartbeat && heartbeat.awaiting_pong {
                    heartbeat.awaiting_pong = false;
                    heartbeat.deadline = Instant::now() + engine.config.ping_interval;
                    heartbeat.reset = true;
                }
                session.pong.notify_one();
                Incoming::Continue
            }
            Ok(packet) => {
                if engine.on_packet(session, packet) {
                    Incoming::Continue
                } else {
                    Incoming::Stop(None)
                }
            }
            Err(error) => {
                tracing::debug!(sid = %session.sid, %error, "bad websocket frame");
                stop(CloseReason::ParseError, None)
            }
        },
        Some(Ok(WsMessage::Binary(data))) => {
            if engine.on_packet(session, Packet::Binary(data)) {
                Incoming::Continue
            } else {
                Incoming::Stop(None)
            }
        }
        Some(Ok(WsMessage::Close(_))) | None => stop(CloseReason::TransportClose, None),
        Some(Ok(_)) => Incoming::Continue,
        Some(Err(WsError::Capacity(error))) => {
            tracing::debug!(sid = %session.sid, %error, "websocket message too large");
            stop(
                CloseReason::TransportError,
                Some(CloseFrame {
                    code: CloseCode::Size,
                    reason: "Max payload size exceeded".into(),
                }),
            )
        }
        Some(Err(WsError::Utf8(_))) => stop(
            CloseReason::TransportError,
            Some(CloseFrame {
                code: CloseCode::Invalid,
                reason: "invalid UTF-8".into(),
            }),
        ),
        // A connection dropped without a closing handshake is a close, as in socket.io.
        Some(Err(
            WsError::Io(_)
            | WsError::ConnectionClosed
            | WsError::AlreadyClosed
            | WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake),
        )) => stop(CloseReason::TransportClose, None),
        Some(Err(WsError::Protocol(_))) => stop(
            CloseReason::TransportError,
            Some(CloseFrame {
                code: CloseCode::Protocol,
                reason: "protocol error".into(),
            }),
        ),
        Some(Err(_)) => stop(CloseReason::TransportError, None),
    }
}

/// Writes every queued entry of `batch`, then flushes once.
async fn write_batch<S: Io>(ws: &mut Ws<S>, batch: &mut VecDeque<Outgoing>) -> Result<(), WsError> {
    while let Some(item) = batch.pop_front() {
        if let Err(error) = feed(ws, item).await {
            batch.clear();
            return Err(error);
        }
    }
    ws.flush().await
}

/// Reads, writes and (optionally) pings until the session closes.
async fn run<H: EngineHandler, S: Io>(
    engine: &Arc<Engine<H>>,
    session: &Arc<Session<H>>,
    mut ws: Ws<S>,
    batch: &mut VecDeque<Outgoing>,
    own_heartbeat: bool,
) {
    let config = &engine.config;
    let mut heartbeat = Heartbeat {
        awaiting_pong: false,
        deadline: Instant::now() + config.ping_interval,
        reset: false,
    };
    let timer = sleep_until(heartbeat.deadline);
    tokio::pin!(timer);
    let mut close_frame: Option<CloseFrame> = None;
    'session: loop {
        // Closing wakes this task through the queue's signal.
        if session.is_closed() {
            break;
        }
        // Everything queued so far leaves in one flush. A client that stops reading blocks the write, so
        // the write races the session's end: a slow consumer's close must not wait for it.
        session.queue.take_all(batch);
        if !batch.is_empty() {
            let mut signal_taken = false;
            let written = {
                let write = write_batch(&mut ws, batch);
                tokio::pin!(write);
                loop {
                    tokio::select! {
                        biased;
                        result = &mut write => break Some(result),
                        _ = session.queue.ready() => {
                            if session.is_closed() {
                                break None;
                            }
                            signal_taken = true;
                        }
                    }
                }
            };
            if signal_taken {
                // The wait above consumed the signal of entries queued meanwhile: raise it again.
                session.queue.wake_consumer();
            }
            match written {
                Some(Ok(())) => {}
                Some(Err(_)) => {
                    session.close(CloseReason::TransportError);
                    break;
                }
                None => {
                    batch.clear();
                    break;
                }
            }
        }
        tokio::select! {
            biased;
            _ = &mut timer, if own_heartbeat => {
                if heartbeat.awaiting_pong {
                    session.close(CloseReason::PingTimeout);
                    break;
                }
                heartbeat.awaiting_pong = true;
                heartbeat.deadline = Instant::now() + config.ping_timeout;
                timer.as_mut().reset(heartbeat.deadline);
                if ws.send(WsMessage::Text(Utf8Bytes::from_static("2"))).await.is_err() {
                    session.close(CloseReason::TransportError);
                    break;
                }
            }
            incoming = ws.next() => {
                // Every message already received is handled before the replies are written, so a client
                // that pipelines gets its answers in one flush rather than one write each.
                let mut incoming = Some(incoming);
                let mut budget = READ_BATCH;
                while let Some(message) = incoming.take() {
                    match on_incoming(engine, session, &mut heartbeat, own_heartbeat, message) {
                        Incoming::Continue => {}
                        Incoming::Stop(frame) => {
                            close_frame = frame;
                            break 'session;
                        }
                    }
                    if heartbeat.reset {
                        heartbeat.reset = false;
                        timer.as_mut().reset(heartbeat.deadline);
                    }
                    budget -= 1;
                    if budget > 0 {
                        if let Poll::Ready(next) = poll_fn(|cx| Poll::Ready(ws.poll_next_unpin(cx))).await {
                            incoming = Some(next);
                        }
                    }
                }
            }
            // Polled after the socket, so a stream of outgoing packets cannot starve reading (and the
            // pongs in it); the queue itself is drained at the top of every turn.
            _ = session.queue.ready() => {}
        }
    }
    // Flush what was queued before the close (a DISCONNECT packet, say), then close the socket when the
    // server ended the session; a client that went away gets nothing more. Bounded: a client that does not
    // read must not hold the task.
    let reason = session
        .close_reason
        .lock()
        .unwrap_or(CloseReason::TransportClose);
    if reason == CloseReason::SendBufferFull {
        // It does not read: nothing more can reach it, so the connection is simply dropped.
        batch.clear();
        return;
    }
    let bound = config.ping_timeout.min(std::time::Duration::from_secs(5));
    let _ = tokio::time::timeout(bound, async {
        if matches!(
            reason,
            CloseReason::ForcedClose
                | CloseReason::ForcedServerClose
                | CloseReason::ServerShuttingDown
                | CloseReason::PingTimeout
                | CloseReason::ParseError
                | CloseReason::RateLimitExceeded
        ) {
            session.queue.take_all(batch);
            let _ = write_batch(&mut ws, batch).await;
        }
        let _ = ws.close(close_frame).await;
    })
    .await;
    batch.clear();
}
