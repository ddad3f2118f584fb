//! HTTP long-polling: a GET waits for queued packets and returns them as one payload; a POST delivers a
//! payload of packets from the client. One GET and one POST at a time per session: an overlapping request
//! closes the session, as the official server does. Once the client's `5` moved the session to its
//! WebSocket, both are refused (400), also a request that raced the `5`.

use super::packet::{decode_payload, encode_binary_for_polling, SEPARATOR};
use super::{
    CloseReason, Engine, EngineHandler, Frame, Outgoing, RequestInfo, Session, TransportKind,
};
use crate::http::{engine_error, EngineErrorCode, Response};
use bytes::Bytes;
use http_body_util::BodyExt;
use std::sync::Arc;

/// Opens a session over polling and answers the handshake GET with the open packet.
pub(crate) async fn handshake<H: EngineHandler>(
    engine: &Arc<Engine<H>>,
    request: RequestInfo,
    slot: super::Slot,
) -> Response {
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
pub(crate) async fn poll<H: EngineHandler>(engine: &Engine<H>, session: &Session<H>) -> Response {
    let Ok(mut batch) = session.consumer.try_lock() else {
        if upgraded(session) {
            // The upgrade's WebSocket holds the queue: a GET after the `5`, not an overlapping one.
            return engine_error(EngineErrorCode::BadRequest);
        }
        tracing::debug!(sid = %session.sid, "overlapping polling GET");
        session.close(CloseReason::TransportError);
        return engine_error(EngineErrorCode::BadRequest);
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
            return engine_error(EngineErrorCode::BadRequest);
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
        return payload_response("6".to_owned());
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
    payload_response(payload)
}

fn payload_response(payload: String) -> Response {
    http::Response::builder()
        .status(200)
        .header(http::header::CONTENT_TYPE, "text/plain; charset=UTF-8")
        .header(http::header::CACHE_CONTROL, "no-store")
        .body(payload.into())
        .unwrap_or_else(|_| engine_error(EngineErrorCode::BadRequest))
}

/// A POST: reads the payload (up to `max_payload` bytes) and delivers its packets in order.
pub(crate) async fn post<H: EngineHandler, B>(
    engine: &Engine<H>,
    session: &Arc<Session<H>>,
    body: B,
) -> Response
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let Ok(_guard) = session.post_lock.try_lock() else {
        if upgraded(session) {
            // The upgrade's WebSocket is waiting for an earlier POST: this one comes after the `5`.
            return engine_error(EngineErrorCode::BadRequest);
        }
        tracing::debug!(sid = %session.sid, "overlapping polling POST");
        session.close(CloseReason::TransportError);
        return engine_error(EngineErrorCode::BadRequest);
    };
    // Looked at with the lock held: once the client's `5` is read, the WebSocket task takes this lock
    // before it reads anything more, so a POST is either delivered before what follows the `5` or
    // refused.
    if upgraded(session) {
        return engine_error(EngineErrorCode::BadRequest);
    }
    // A declared length over the limit is refused before reading anything.
    let declared_too_large = body.size_hint().lower() > engine.config.max_payload as u64;
    // A slow sender may not hold the session: the body has as long as the headers had.
    let collected = tokio::time::timeout(
        engine.config.header_read_timeout,
        http_body_util::Limited::new(body, engine.config.max_payload).collect(),
    );
    let outcome = if declared_too_large {
        Err(None)
    } else {
        match collected.await {
            Ok(Ok(collected)) => Ok(collected.to_bytes()),
            Ok(Err(error)) => Err(Some(error)),
            Err(_elapsed) => {
                tracing::debug!(sid = %session.sid, "polling POST body too slow");
                session.close(CloseReason::TransportError);
                return engine_error(EngineErrorCode::BadRequest);
            }
        }
    };
    let body: Bytes = match outcome {
        Ok(body) => body,
        Err(error) => {
            let too_large = error.as_ref().is_none_or(|error| {
                error
                    .downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some()
            });
            session.close(CloseReason::TransportError);
            if too_large {
                return http::Response::builder()
                    .status(413)
                    .header(http::header::CONTENT_TYPE, "application/json")
                    .body(
                        Bytes::from_static(b"{\"code\":3,\"message\":\"Payload too large\"}")
                            .into(),
                    )
                    .unwrap_or_else(|_| engine_error(EngineErrorCode::BadRequest));
            }
            return engine_error(EngineErrorCode::BadRequest);
        }
    };
    let Ok(text) = std::str::from_utf8(&body) else {
        session.close(CloseReason::ParseError);
        return engine_error(EngineErrorCode::BadRequest);
    };
    if session.is_closed() {
        // Closed while its client still polls for the close packet: as engine.io, packets that arrive
        // now are not delivered.
        return ok_response();
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
                return engine_error(EngineErrorCode::BadRequest);
            }
        }
    }
    ok_response()
}

fn ok_response() -> Response {
    http::Response::builder()
        .status(200)
        .header(http::header::CONTENT_TYPE, "text/html")
        .header(http::header::CACHE_CONTROL, "no-store")
        .body(Bytes::from_static(b"ok").into())
        .unwrap_or_else(|_| engine_error(EngineErrorCode::BadRequest))
}
