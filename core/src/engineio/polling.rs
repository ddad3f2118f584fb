//! HTTP long-polling: a GET waits for queued packets and returns them as one payload; a POST delivers a
//! payload of packets from the client. One GET and one POST at a time per session: an overlapping request
//! closes the session, as the official server does. Once the client's `5` moved the session to its
//! WebSocket, both are refused (400), also a request that raced the `5`.
//!
//! The engine decides and the HTTP front renders: every request ends in a [`Reply`], and a POST's body is
//! read by the front (its limits are HTTP's) between [`begin_post`] and [`finish_post`].

use super::packet::{decode_payload, encode_binary_for_polling, SEPARATOR};
use super::{
    CloseReason, Engine, EngineErrorCode, EngineHandler, Frame, Outgoing, RequestInfo, Session,
    TransportKind,
};
use bytes::Bytes;
use std::sync::Arc;

/// The engine's answer to a polling request, for the HTTP front to write.
#[derive(Debug)]
pub(crate) enum Reply {
    /// 200, `text/plain`: a payload of packets.
    Payload(String),
    /// 200, `text/html`: `ok` (a POST was delivered).
    Ok,
    /// The official error answer of this code.
    Error(EngineErrorCode),
    /// 413, `{"code":3,"message":"Payload too large"}`.
    PayloadTooLarge,
}

/// How reading a POST's body ended (the HTTP front reads it, within `max_payload` bytes and the header
/// read timeout).
#[derive(Debug)]
pub(crate) enum PostBody {
    /// The whole body.
    Read(Bytes),
    /// It did not come in time.
    TooSlow,
    /// It is (or declared to be) over `max_payload`.
    TooLarge,
    /// The connection failed while reading it.
    Failed,
}

/// A POST in progress: holds the session's POST lock, so an overlapping POST is noticed.
pub(crate) struct PostGuard<'a>(tokio::sync::MutexGuard<'a, ()>);

/// Opens a session over polling and answers the handshake GET with the open packet.
pub(crate) async fn handshake<H: EngineHandler>(
    engine: &Arc<Engine<H>>,
    request: RequestInfo,
    slot: super::Slot,
) -> Reply {
    let session = engine.open_session(request, TransportKind::Polling, slot);
    engine
        .tasks
        .spawn(engine.clone().polling_heartbeat(session.clone()));
    poll(engine, &session).await
}

fn append(payload: &mut String, item: Outgoing) {
    let mut push = |frame: &Frame| {
        if !payload.is_empty() {
            payload.push(SEPARATOR);
        }
        match frame {
            Frame::Text(text) => payload.push_str(text.as_str()),
            Frame::Binary(data) => encode_binary_for_polling(payload, data),
        }
    };
    match item {
        Outgoing::One(frame) => push(&frame),
        Outgoing::Many(frames) => frames.iter().for_each(push),
    }
}

/// Whether the client's `5` moved the session to its WebSocket: polling requests are refused from then on.
fn upgraded<H: EngineHandler>(session: &Session<H>) -> bool {
    session.transport() == TransportKind::WebSocket
}

/// A GET: waits until something is queued (or the session closes, or an upgrade needs the request
/// released), then flushes the queue as one payload.
pub(crate) async fn poll<H: EngineHandler>(engine: &Engine<H>, session: &Session<H>) -> Reply {
    let Ok(mut batch) = session.consumer.try_lock() else {
        if upgraded(session) {
            // The upgrade's WebSocket holds the queue: a GET after the `5`, not an overlapping one.
            return Reply::Error(EngineErrorCode::BadRequest);
        }
        tracing::debug!(sid = %session.sid, "overlapping polling GET");
        session.close(CloseReason::TransportError);
        return Reply::Error(EngineErrorCode::BadRequest);
    };
    loop {
        session.queue.take_all(&mut batch);
        // Looked at after taking, with the queue held: a `5` read before this point owns what was
        // taken (it goes back, to leave over the WebSocket) and this GET is refused; a `5` read after it
        // comes after this GET, whose answer is then settled. The WebSocket task wakes a pending GET
        // through the queue's signal once it has moved the session, so a GET racing the `5` is never
        // served after it. One atomic load per turn.
        if upgraded(session) {
            session.queue.put_back(&mut batch);
            return Reply::Error(EngineErrorCode::BadRequest);
        }
        if !batch.is_empty() || session.is_closed() {
            break;
        }
        tokio::select! {
            biased;
            // May be a stale wake-up for entries an earlier request took: look again.
            _ = session.queue.ready() => {}
            _ = session.cancel.cancelled() => break,
            // The probe was answered: the client waits for this GET before it sends `5`. Once only (a
            // stored permit releases the GET that was in flight at the probe); a later GET during the
            // upgrade waits as any other does, until the `5` refuses it.
            _ = session.upgrade_started.notified() => break,
        }
    }
    if session.closed_by_client() {
        // The client's close packet ends the transport under this GET: engine.io releases it with a
        // noop (the close is the client's own, it needs no close packet back).
        batch.clear();
        drop(batch);
        return Reply::Payload("6".to_owned());
    }
    let mut payload = String::new();
    while let Some(item) = batch.pop_front() {
        append(&mut payload, item);
        if payload.len() >= engine.config.max_payload {
            break;
        }
    }
    // What did not fit goes back to the head of the queue for the next GET.
    session.queue.put_back(&mut batch);
    if session.is_closed() && payload.is_empty() {
        // The close packet travels alone, after the last packets: the official client handles a close
        // before the messages of the same payload, which would turn "io server disconnect" into
        // "transport close".
        payload.push('1');
        session.final_flush.notify_one();
    } else if payload.is_empty() {
        // Released for an upgrade: the client expects a noop.
        payload.push('6');
    }
    drop(batch);
    Reply::Payload(payload)
}

/// Starts a POST: refused after the upgrade, and an overlapping POST closes the session, as engine.io does.
pub(crate) fn begin_post<H: EngineHandler>(session: &Session<H>) -> Result<PostGuard<'_>, Reply> {
    let Ok(guard) = session.post_lock.try_lock() else {
        if upgraded(session) {
            // The upgrade's WebSocket is waiting for an earlier POST: this one comes after the `5`.
            return Err(Reply::Error(EngineErrorCode::BadRequest));
        }
        tracing::debug!(sid = %session.sid, "overlapping polling POST");
        session.close(CloseReason::TransportError);
        return Err(Reply::Error(EngineErrorCode::BadRequest));
    };
    // Looked at with the lock held: once the client's `5` is read, the WebSocket task takes this lock
    // before it reads anything more, so a POST is either delivered before what follows the `5` or
    // refused.
    if upgraded(session) {
        return Err(Reply::Error(EngineErrorCode::BadRequest));
    }
    Ok(PostGuard(guard))
}

/// Ends a POST begun with [`begin_post`]: delivers the payload's packets in order.
pub(crate) fn finish_post<H: EngineHandler>(
    engine: &Engine<H>,
    session: &Arc<Session<H>>,
    guard: PostGuard<'_>,
    body: PostBody,
) -> Reply {
    let body = match body {
        PostBody::Read(body) => body,
        PostBody::TooSlow => {
            tracing::debug!(sid = %session.sid, "polling POST body too slow");
            session.close(CloseReason::TransportError);
            return Reply::Error(EngineErrorCode::BadRequest);
        }
        PostBody::TooLarge => {
            session.close(CloseReason::TransportError);
            return Reply::PayloadTooLarge;
        }
        PostBody::Failed => {
            session.close(CloseReason::TransportError);
            return Reply::Error(EngineErrorCode::BadRequest);
        }
    };
    let Ok(text) = std::str::from_utf8(&body) else {
        session.close(CloseReason::ParseError);
        return Reply::Error(EngineErrorCode::BadRequest);
    };
    if session.is_closed() {
        // Closed while its client still polls for the close packet: as engine.io, packets that arrive
        // now are not delivered.
        return Reply::Ok;
    }
    for packet in decode_payload(text) {
        match packet {
            Ok(packet) => {
                if !engine.on_packet(session, packet) {
                    break;
                }
            }
            Err(error) => {
                tracing::debug!(sid = %session.sid, %error, "bad polling payload");
                session.close(CloseReason::ParseError);
                return Reply::Error(EngineErrorCode::BadRequest);
            }
        }
    }
    // Held until every packet is delivered: the upgrade waits for it before reading its WebSocket.
    drop(guard.0);
    Reply::Ok
}
