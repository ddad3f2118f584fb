//! Raw-protocol tests of the Engine.IO edges where the official `engine.io` server has a settled answer:
//! the client's close packet while a GET is pending, a WebSocket for a session that cannot upgrade (any
//! more), polling after the upgrade packet (also racing it on a multi-thread runtime), the
//! `Sec-WebSocket-Key` check, and a polling client that stops polling (also after the connect timeout).

mod common;

use common::*;
use ferrio::engineio::{CloseReason, Engine, EngineConfig, EngineHandler, Message, Session};
use ferrio::Server;
use parking_lot::Mutex;
use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::{timeout, Instant};
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// A server with the default options and the echo handler.
async fn default_server() -> ferrio::ServerHandle {
    echo_server(Server::builder()).await
}

/// Reads until the socket ends; `Ok` with what arrived before the end, `Err` when it is still open
/// after `within`.
async fn ws_end(ws: &mut Ws, within: Duration) -> Result<Vec<WsMessage>, Vec<WsMessage>> {
    let mut seen = Vec::new();
    let ended = timeout(within, async {
        loop {
            match futures_util::StreamExt::next(ws).await {
                None | Some(Err(_)) => return,
                Some(Ok(WsMessage::Close(_))) => return,
                Some(Ok(message)) => seen.push(message),
            }
        }
    })
    .await;
    match ended {
        Ok(()) => Ok(seen),
        Err(_) => Err(seen),
    }
}

/// The WebSocket query of an upgrade for `sid`.
fn ws_query(sid: &str) -> String {
    format!("EIO=4&transport=websocket&sid={sid}")
}

/// Sends an `echo` over `ws` and expects it back.
async fn ws_echo(ws: &mut Ws, text: &str) {
    let packet = format!("42[\"echo\",\"{text}\"]");
    ws_send_text(ws, &packet).await;
    assert_eq!(ws_recv_text_skip_pings(ws).await, packet);
}

/// The whole upgrade of a connected polling session: probe, noop to the client's GET, `5`.
async fn upgrade(addr: SocketAddr, sid: &str) -> Ws {
    let mut ws = ws_connect(addr, &ws_query(sid)).await;
    ws_send_text(&mut ws, "2probe").await;
    assert_eq!(ws_recv_text(&mut ws).await, "3probe");
    // The GET the client has in flight at the probe (here: sent after it) is released with a noop.
    let released = get(addr, &polling(sid)).await;
    assert_eq!(released.status, 200);
    assert_eq!(released.text(), "6");
    ws_send_text(&mut ws, "5").await;
    ws_echo(&mut ws, "upgraded").await;
    ws
}

// ---- 1. The client's close packet while a GET is pending ----

#[tokio::test]
async fn a_close_packet_answers_the_pending_get_with_a_noop_and_ends_the_session() {
    let io = Server::builder().build().unwrap();
    let (tx, mut reasons) = mpsc::unbounded_channel();
    io.on_connection(move |socket| {
        let tx = tx.clone();
        socket.on_disconnect(move |_, reason| {
            let _ = tx.send(reason.as_str());
        });
    });
    let handle = io.listen("127.0.0.1:0").await.expect("listen");
    let addr = handle.local_addr();
    let sid = polling_connect(addr).await;
    let pending = tokio::spawn({
        let sid = sid.clone();
        async move { get(addr, &polling(&sid)).await }
    });
    // Let the GET become pending.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let response = post(addr, &polling(&sid), "1").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), "ok");
    let released = timeout(WAIT, pending)
        .await
        .expect("the pending GET is answered")
        .expect("the GET task");
    assert_eq!(released.status, 200);
    assert_eq!(
        released.text(),
        "6",
        "the pending GET gets a noop, not a close"
    );
    eprintln!("pending GET answered {:?}", released.text());
    // The session is gone at once: no retry loop.
    let response = get(addr, &polling(&sid)).await;
    assert_engine_error(&response, 400, 1, "Session ID unknown");
    let response = post(addr, &polling(&sid), "42[\"echo\",1]").await;
    assert_engine_error(&response, 400, 1, "Session ID unknown");
    let reason = timeout(WAIT, reasons.recv()).await.expect("a disconnect");
    assert_eq!(reason, Some("transport close"));
    reaped(&handle, Duration::from_secs(2)).await;
    stop(handle).await;
}

#[tokio::test]
async fn a_close_packet_without_a_pending_get_ends_the_session_at_once() {
    let handle = default_server().await;
    let addr = handle.local_addr();
    let sid = polling_connect(addr).await;
    let response = post(addr, &polling(&sid), "1").await;
    assert_eq!(response.text(), "ok");
    let response = get(addr, &polling(&sid)).await;
    assert_engine_error(&response, 400, 1, "Session ID unknown");
    // Nor can the closed session be upgraded.
    let response = request(
        addr,
        "GET",
        &eio(&ws_query(&sid)),
        &upgrade_headers(Some(KEY)),
        None,
    )
    .await;
    assert_engine_error(&response, 400, 1, "Session ID unknown");
    reaped(&handle, Duration::from_secs(2)).await;
    stop(handle).await;
}

// ---- 2. A WebSocket for a session that cannot upgrade (any more) ----

/// Opens a WebSocket for `sid` and expects the server to accept it (101) and close it at once, sending
/// nothing else.
async fn accepted_and_closed(addr: SocketAddr, sid: &str) {
    let start = Instant::now();
    let mut ws = ws_connect(addr, &ws_query(sid)).await;
    match ws_end(&mut ws, Duration::from_secs(2)).await {
        Ok(seen) => assert!(seen.is_empty(), "sent before closing: {seen:?}"),
        Err(seen) => panic!("the extra WebSocket is still open; received {seen:?}"),
    }
    eprintln!(
        "extra WebSocket accepted and closed in {:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn a_second_websocket_after_the_upgrade_is_accepted_and_closed() {
    let handle = default_server().await;
    let addr = handle.local_addr();
    let sid = polling_connect(addr).await;
    let mut ws = upgrade(addr, &sid).await;
    // As raw HTTP: 101, never 400.
    let response = request(
        addr,
        "GET",
        &eio(&ws_query(&sid)),
        &upgrade_headers(Some(KEY)),
        None,
    )
    .await;
    assert_eq!(response.status, 101, "{:?}", response.text());
    accepted_and_closed(addr, &sid).await;
    accepted_and_closed(addr, &sid).await;
    // The upgraded session is untouched.
    ws_echo(&mut ws, "still upgraded").await;
    assert_eq!(handle.server().connection_count(), 1);
    let _ = ws.close(None).await;
    stop(handle).await;
}

#[tokio::test]
async fn a_second_websocket_during_the_upgrade_is_accepted_and_closed() {
    let handle = default_server().await;
    let addr = handle.local_addr();
    let sid = polling_connect(addr).await;
    let mut ws = ws_connect(addr, &ws_query(&sid)).await;
    // Before the probe: the first WebSocket already claims the upgrade.
    accepted_and_closed(addr, &sid).await;
    ws_send_text(&mut ws, "2probe").await;
    assert_eq!(ws_recv_text(&mut ws).await, "3probe");
    // After the probe, before `5`.
    accepted_and_closed(addr, &sid).await;
    assert_eq!(get(addr, &polling(&sid)).await.text(), "6");
    ws_send_text(&mut ws, "5").await;
    ws_echo(&mut ws, "the first upgrade went through").await;
    let _ = ws.close(None).await;
    stop(handle).await;
}

#[tokio::test]
async fn a_websocket_for_a_websocket_session_is_accepted_and_closed() {
    let handle = default_server().await;
    let addr = handle.local_addr();
    let (mut ws, open) = ws_handshake(addr).await;
    let sid = open["sid"].as_str().expect("sid").to_owned();
    ws_send_text(&mut ws, "40").await;
    assert!(ws_recv_text(&mut ws).await.starts_with("40{"));
    accepted_and_closed(addr, &sid).await;
    ws_echo(&mut ws, "still here").await;
    let _ = ws.close(None).await;
    stop(handle).await;
}

#[tokio::test]
async fn a_failed_upgrade_can_be_tried_again() {
    let handle = echo_server(Server::builder().upgrade_timeout(Duration::from_millis(300))).await;
    let addr = handle.local_addr();
    let sid = polling_connect(addr).await;
    // The first attempt goes away before probing: the claim on the upgrade is given back.
    let ws = ws_connect(addr, &ws_query(&sid)).await;
    drop(ws);
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut ws = loop {
        let mut ws = ws_connect(addr, &ws_query(&sid)).await;
        ws_send_text(&mut ws, "2probe").await;
        match ws_next(&mut ws).await {
            Some(WsMessage::Text(text)) if text.as_str() == "3probe" => break ws,
            other => {
                assert!(Instant::now() < deadline, "no probe answer: {other:?}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    assert_eq!(get(addr, &polling(&sid)).await.text(), "6");
    ws_send_text(&mut ws, "5").await;
    ws_echo(&mut ws, "second attempt").await;
    let _ = ws.close(None).await;
    stop(handle).await;
}

// ---- 3. Polling after the upgrade packet, racing it on a multi-thread runtime ----

/// How many upgrades race polling requests against their `5`.
const RACES: usize = 60;

/// What races the `5` in one round.
#[derive(Debug, Clone, Copy)]
enum Racer {
    Get,
    Post,
    Both,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn polling_racing_the_upgrade_packet_is_refused_and_loses_nothing() {
    let handle = default_server().await;
    let addr = handle.local_addr();
    let start = Instant::now();
    let mut refused_gets = 0;
    let mut posts = [0usize; 2];
    for round in 0..RACES {
        let racer = [Racer::Get, Racer::Post, Racer::Both][round % 3];
        let sid = polling_connect(addr).await;
        let mut ws = ws_connect(addr, &ws_query(&sid)).await;
        // The client's GET in flight at the probe: sent before or after it, released with a noop.
        let in_flight = tokio::spawn({
            let sid = sid.clone();
            async move { get(addr, &polling(&sid)).await }
        });
        ws_send_text(&mut ws, "2probe").await;
        assert_eq!(ws_recv_text(&mut ws).await, "3probe");
        let in_flight = timeout(WAIT, in_flight).await.expect("released").unwrap();
        assert_eq!((in_flight.status, in_flight.text()), (200, "6".to_owned()));
        // Polling requests race the `5`, sent at once from other connections.
        let racing_get = matches!(racer, Racer::Get | Racer::Both).then(|| {
            let sid = sid.clone();
            tokio::spawn(async move { get(addr, &polling(&sid)).await })
        });
        let racing_post = matches!(racer, Racer::Post | Racer::Both).then(|| {
            let sid = sid.clone();
            tokio::spawn(async move { post(addr, &polling(&sid), "42[\"echo\",\"posted\"]").await })
        });
        if round % 2 == 0 {
            tokio::task::yield_now().await;
        }
        ws_send_text(&mut ws, "5").await;
        // A POST the server read before the `5` is delivered (200); one read after it is refused.
        let posted = match racing_post {
            Some(task) => {
                let response = timeout(WAIT, task).await.expect("answered").unwrap();
                if response.status == 200 {
                    assert_eq!(response.text(), "ok");
                    posts[0] += 1;
                    true
                } else {
                    assert_engine_error(&response, 400, 3, "Bad request");
                    posts[1] += 1;
                    false
                }
            }
            None => false,
        };
        // The GET waits while the upgrade is under way: the `5` refuses it, unless the echo of a POST
        // delivered before the `5` reached it first (then it was served before the `5`, and carries it).
        let mut echoes_polled = 0;
        if let Some(task) = racing_get {
            let response = timeout(WAIT, task).await.expect("answered").unwrap();
            if response.status == 200 {
                assert!(
                    posted,
                    "a GET was served although nothing was queued for it"
                );
                assert_eq!(response.text(), "42[\"echo\",\"posted\"]");
                echoes_polled = 1;
            } else {
                assert_engine_error(&response, 400, 3, "Bad request");
                refused_gets += 1;
            }
        }
        // After the `5`, polling is refused; the session lives on over the WebSocket, and every echo
        // arrives exactly once, over one transport or the other.
        assert_engine_error(&get(addr, &polling(&sid)).await, 400, 3, "Bad request");
        assert_engine_error(
            &post(addr, &polling(&sid), "42[\"echo\",1]").await,
            400,
            3,
            "Bad request",
        );
        let marker = format!("42[\"echo\",\"round {round}\"]");
        ws_send_text(&mut ws, &marker).await;
        let mut before_marker = Vec::new();
        loop {
            let text = ws_recv_text_skip_pings(&mut ws).await;
            if text == marker {
                break;
            }
            before_marker.push(text);
        }
        let expected = if posted && echoes_polled == 0 {
            vec!["42[\"echo\",\"posted\"]".to_owned()]
        } else {
            Vec::new()
        };
        assert_eq!(before_marker, expected, "round {round} ({racer:?})");
        let _ = ws.close(None).await;
    }
    eprintln!(
        "{RACES} upgrades raced polling against their `5` in {:?}: {refused_gets} racing GETs refused \
         with 400, none served after the `5`; racing POSTs delivered before it {}, refused {}",
        start.elapsed(),
        posts[0],
        posts[1]
    );
    assert!(
        refused_gets >= RACES / 3,
        "every GET-only round ends in 400"
    );
    reaped(&handle, Duration::from_secs(5)).await;
    stop(handle).await;
}

// ---- 4. Sec-WebSocket-Key ----

/// The upgrade headers with this key (none when `None`).
fn upgrade_headers(key: Option<&str>) -> Vec<(&str, &str)> {
    let mut headers = vec![
        ("Connection", "Upgrade"),
        ("Upgrade", "websocket"),
        ("Sec-WebSocket-Version", "13"),
    ];
    if let Some(key) = key {
        headers.push(("Sec-WebSocket-Key", key));
    }
    headers
}

/// A good key (RFC 6455's example).
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// Keys that are not the base64 of 16 bytes.
const BAD_KEYS: &[Option<&str>] = &[
    None,
    Some(""),
    // 15 bytes.
    Some("AAAAAAAAAAAAAAAAAAAA"),
    // 17 bytes.
    Some("AAAAAAAAAAAAAAAAAAAAAAA="),
    // 18 bytes: 24 characters, but no padding.
    Some("AAAAAAAAAAAAAAAAAAAAAAAA"),
    // 16 bytes without the padding.
    Some("dGhlIHNhbXBsZSBub25jZQ"),
    Some("dGhlIHNhbXBsZSBub25jZQ="),
    Some("dGhlIHNhbXBsZSBub25jZQ==="),
    // Not base64.
    Some("dGhlIHNhbXBsZSBub25j!Q=="),
    Some("dGhlIHNhbXBsZSBub25j-Q=="),
    Some("dGhlIHNhbXBsZSBub25jZ=Q="),
    Some("dGhlIHNhbXBsZSBub25j ZQ=="),
    Some("not a websocket key at all"),
];

#[tokio::test]
async fn a_handshake_with_a_bad_websocket_key_is_400_never_101() {
    let handle = default_server().await;
    let addr = handle.local_addr();
    for key in BAD_KEYS {
        let response = request(
            addr,
            "GET",
            &eio("EIO=4&transport=websocket"),
            &upgrade_headers(*key),
            None,
        )
        .await;
        assert_engine_error(&response, 400, 3, "Bad request");
    }
    eprintln!("{} bad keys refused with 400 + JSON", BAD_KEYS.len());
    // Nothing was opened for them, and a good key still works.
    assert_eq!(handle.server().connection_count(), 0);
    let response = request(
        addr,
        "GET",
        &eio("EIO=4&transport=websocket"),
        &upgrade_headers(Some(KEY)),
        None,
    )
    .await;
    assert_eq!(response.status, 101);
    assert_eq!(
        response.header("sec-websocket-accept"),
        Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    );
    healthy(addr).await;
    stop(handle).await;
}

#[tokio::test]
async fn an_upgrade_with_a_bad_websocket_key_is_400_and_polling_goes_on() {
    let handle = default_server().await;
    let addr = handle.local_addr();
    let sid = polling_connect(addr).await;
    for key in BAD_KEYS {
        let response = request(
            addr,
            "GET",
            &eio(&ws_query(&sid)),
            &upgrade_headers(*key),
            None,
        )
        .await;
        assert_engine_error(&response, 400, 3, "Bad request");
    }
    // The session still polls, and can still upgrade with a good key.
    let response = post(addr, &polling(&sid), "42[\"echo\",\"polling\"]").await;
    assert_eq!(response.text(), "ok");
    assert_eq!(
        get(addr, &polling(&sid)).await.text(),
        "42[\"echo\",\"polling\"]"
    );
    let mut ws = upgrade(addr, &sid).await;
    let _ = ws.close(None).await;
    stop(handle).await;
}

// ---- 5. A polling client that stops polling ----

/// Waits until the server has no connection left; returns when (fails after `within`).
async fn reaped(handle: &ferrio::ServerHandle, within: Duration) -> Instant {
    let deadline = Instant::now() + within;
    while handle.server().connection_count() > 0 {
        assert!(
            Instant::now() < deadline,
            "{} connections still open after {within:?}",
            handle.server().connection_count()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Instant::now()
}

const PING_INTERVAL: Duration = Duration::from_millis(300);
const PING_TIMEOUT: Duration = Duration::from_millis(200);
/// Timers and scheduling on a busy machine.
const SLACK: Duration = Duration::from_millis(400);

#[tokio::test]
async fn a_polling_client_that_stops_polling_ends_at_its_ping_timeout() {
    let io = Server::builder()
        .ping_interval(PING_INTERVAL)
        .ping_timeout(PING_TIMEOUT)
        .build()
        .unwrap();
    let (tx, mut reasons) = mpsc::unbounded_channel();
    io.on_connection(move |socket| {
        let tx = tx.clone();
        socket.on_disconnect(move |_, reason| {
            let _ = tx.send(reason.as_str());
        });
    });
    let handle = io.listen("127.0.0.1:0").await.expect("listen");
    let opened = Instant::now();
    let _sid = polling_connect(handle.local_addr()).await;
    // Never polls again: the ping is never collected, so no pong.
    let gone = reaped(&handle, PING_INTERVAL + PING_TIMEOUT + SLACK * 2).await - opened;
    eprintln!("the session ended {gone:?} after the handshake");
    assert!(gone >= PING_INTERVAL + PING_TIMEOUT - Duration::from_millis(50));
    let reason = timeout(WAIT, reasons.recv()).await.expect("a disconnect");
    assert_eq!(reason, Some("ping timeout"));
    stop(handle).await;
}

#[tokio::test]
async fn a_polling_client_closed_by_the_connect_timeout_ends_at_its_ping_timeout() {
    let handle = echo_server(
        Server::builder()
            .ping_interval(PING_INTERVAL)
            .ping_timeout(PING_TIMEOUT)
            .connect_timeout(Duration::from_millis(100)),
    )
    .await;
    let addr = handle.local_addr();
    let opened = Instant::now();
    let (sid, _) = polling_handshake(addr).await;
    // Closed by the connect timeout at 100 ms, the session waits for the client's next GET to hand it
    // the close packet, as engine.io's polling transport does…
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(handle.server().connection_count(), 1);
    // …but the client never polls again: the heartbeat ends it as it would have without the close.
    let gone = reaped(&handle, PING_INTERVAL + PING_TIMEOUT + SLACK * 2).await - opened;
    eprintln!("the session closed by the connect timeout ended {gone:?} after the handshake");
    assert!(gone >= PING_INTERVAL + PING_TIMEOUT - Duration::from_millis(50));
    assert_engine_error(
        &get(addr, &polling(&sid)).await,
        400,
        1,
        "Session ID unknown",
    );
    stop(handle).await;
}

/// Records each session's end and keeps only a weak reference to it, so a test can tell that the
/// session's memory was freed. Closes every session `close_after` its opening, as the Socket.IO
/// connect timeout does.
#[derive(Default)]
struct Watch {
    sessions: Mutex<Vec<Weak<Session<Watch>>>>,
    closed: Mutex<Vec<(CloseReason, Instant)>>,
    close_after: Option<Duration>,
}

impl EngineHandler for Watch {
    type Data = ();

    fn on_open(&self, session: &Arc<Session<Self>>) {
        self.sessions.lock().push(Arc::downgrade(session));
        if let Some(after) = self.close_after {
            let session = Arc::downgrade(session);
            tokio::spawn(async move {
                tokio::time::sleep(after).await;
                if let Some(session) = session.upgrade() {
                    session.close(CloseReason::ForcedServerClose);
                }
            });
        }
    }

    fn on_message(&self, session: &Arc<Session<Self>>, message: Message<'_>) {
        if let Message::Text(text) = message {
            let _ = session.send_text(text);
        }
    }

    fn on_close(&self, _session: &Arc<Session<Self>>, reason: CloseReason) {
        self.closed.lock().push((reason, Instant::now()));
    }
}

#[tokio::test]
async fn an_abandoned_polling_session_is_freed() {
    let mut config = EngineConfig::default();
    config.ping_interval = PING_INTERVAL;
    config.ping_timeout = PING_TIMEOUT;
    let engine = Engine::new(
        config,
        Watch {
            close_after: Some(Duration::from_millis(100)),
            ..Watch::default()
        },
    )
    .expect("valid options");
    let listener = ferrio::http::listen(engine.clone(), "127.0.0.1:0")
        .await
        .expect("listen");
    let addr = listener.local_addr();
    let opened = Instant::now();
    // Closed by the server at 100 ms (as the connect timeout does) and never polled again; a few echoes
    // wait in its queue, so there is memory to free.
    let (closed_sid, _) = polling_handshake(addr).await;
    let response = post(addr, &polling(&closed_sid), "4a\x1e4b\x1e4c").await;
    assert_eq!(response.text(), "ok");
    let deadline = opened + PING_INTERVAL + PING_TIMEOUT + SLACK * 2;
    loop {
        let live = engine
            .handler()
            .sessions
            .lock()
            .iter()
            .filter(|s| s.strong_count() > 0)
            .count();
        if live == 0 && engine.session_count() == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{live} sessions still in memory, {} in the table",
            engine.session_count()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let closed = engine.handler().closed.lock().clone();
    assert_eq!(closed.len(), 1);
    let (reason, at) = closed[0];
    assert_eq!(reason, CloseReason::ForcedServerClose);
    eprintln!(
        "the session closed by the server at 100 ms was freed {:?} after the handshake",
        at - opened
    );
    assert!(at - opened >= PING_INTERVAL + PING_TIMEOUT - Duration::from_millis(50));
    listener.shutdown(Duration::from_millis(500)).await;
}
