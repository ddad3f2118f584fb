//! Raw-protocol black-box tests of the Engine.IO front: the official server's error answers, the
//! handshake, polling, the payload limit, overlapping requests, the WebSocket upgrade, heartbeats, the
//! connect timeout and CORS. Everything goes over plain TCP (HTTP/1.1 by hand) or a raw WebSocket.

mod common;

use common::*;
use ferrio::{Cors, CorsOrigins, Server};
use std::time::Duration;
use tokio::time::{timeout, Instant};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

/// A server with the default options and the echo handler.
async fn default_server() -> ferrio::ServerHandle {
    echo_server(Server::builder()).await
}

/// A Socket.IO `echo` event whose whole text packet (`42[...]`) is exactly `len` bytes.
fn echo_event_of_len(len: usize) -> String {
    let prefix = "42[\"echo\",\"";
    let suffix = "\"]";
    let filler = len - prefix.len() - suffix.len();
    let packet = format!("{prefix}{}{suffix}", "a".repeat(filler));
    assert_eq!(packet.len(), len);
    packet
}

/// GETs until the session is unknown (400 code 1), for at most `within`.
async fn assert_sid_becomes_unknown(addr: std::net::SocketAddr, sid: &str, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let response = get(addr, &polling(sid)).await;
        if response.status == 400 {
            assert_engine_error(&response, 400, 1, "Session ID unknown");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "session {sid} still answers {} {:?}",
            response.status,
            response.text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Reads until the socket ends (close frame, EOF or error); returns how long it took and what arrived.
async fn ws_wait_end(ws: &mut Ws, within: Duration) -> Result<Duration, Vec<Message>> {
    let start = Instant::now();
    let mut seen = Vec::new();
    let ended = timeout(within, async {
        loop {
            match futures_util::StreamExt::next(ws).await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(message)) => seen.push(message),
            }
        }
    })
    .await;
    match ended {
        Ok(()) => Ok(start.elapsed()),
        Err(_) => Err(seen),
    }
}

// ---- The official error answers ----

#[tokio::test]
async fn unknown_transport_is_code_0() {
    let handle = default_server().await;
    let response = get(handle.local_addr(), &eio("EIO=4&transport=foo")).await;
    assert_engine_error(&response, 400, 0, "Transport unknown");
    stop(handle).await;
}

#[tokio::test]
async fn missing_transport_is_code_0() {
    let handle = default_server().await;
    let response = get(handle.local_addr(), &eio("EIO=4")).await;
    assert_engine_error(&response, 400, 0, "Transport unknown");
    stop(handle).await;
}

#[tokio::test]
async fn unknown_sid_is_code_1() {
    let handle = default_server().await;
    let addr = handle.local_addr();
    let response = get(addr, &polling("AAAAAAAAAAAAAAAAAAAA")).await;
    assert_engine_error(&response, 400, 1, "Session ID unknown");
    let response = get(addr, &polling("not-a-sid")).await;
    assert_engine_error(&response, 400, 1, "Session ID unknown");
    let response = post(addr, &polling("AAAAAAAAAAAAAAAAAAAA"), "40").await;
    assert_engine_error(&response, 400, 1, "Session ID unknown");
    stop(handle).await;
}

#[tokio::test]
async fn handshake_with_post_is_code_2() {
    let handle = default_server().await;
    let response = post(handle.local_addr(), &eio("EIO=4&transport=polling"), "40").await;
    assert_engine_error(&response, 400, 2, "Bad handshake method");
    stop(handle).await;
}

#[tokio::test]
async fn eio_3_is_code_5() {
    let handle = default_server().await;
    let response = get(handle.local_addr(), &eio("EIO=3&transport=polling")).await;
    assert_engine_error(&response, 400, 5, "Unsupported protocol version");
    stop(handle).await;
}

#[tokio::test]
async fn missing_eio_is_code_5() {
    let handle = default_server().await;
    let response = get(handle.local_addr(), &eio("transport=polling")).await;
    assert_engine_error(&response, 400, 5, "Unsupported protocol version");
    stop(handle).await;
}

#[tokio::test]
async fn websocket_without_upgrade_headers_is_code_3() {
    let handle = default_server().await;
    let response = get(handle.local_addr(), &eio("EIO=4&transport=websocket")).await;
    assert_engine_error(&response, 400, 3, "Bad request");
    stop(handle).await;
}

#[tokio::test]
async fn allow_request_refusal_is_403_code_4_with_the_hooks_message() {
    let builder = Server::builder().allow_request(|info| {
        if info.query_param("token").as_deref() == Some("good") {
            Ok(())
        } else {
            Err("no valid token".to_owned())
        }
    });
    let handle = echo_server(builder).await;
    let addr = handle.local_addr();
    let response = get(addr, &eio("EIO=4&transport=polling&token=bad")).await;
    assert_engine_error(&response, 403, 4, "no valid token");
    let response = get(addr, &eio("EIO=4&transport=polling&token=good")).await;
    assert_eq!(response.status, 200);
    assert!(response.text().starts_with("0{"), "{:?}", response.text());
    stop(handle).await;
}

#[tokio::test]
async fn polling_on_a_websocket_session_is_code_3() {
    let handle = default_server().await;
    let addr = handle.local_addr();
    let (mut ws, open) = ws_handshake(addr).await;
    let sid = open["sid"].as_str().expect("sid");
    let response = get(addr, &polling(sid)).await;
    assert_engine_error(&response, 400, 3, "Bad request");
    let response = post(addr, &polling(sid), "40").await;
    assert_engine_error(&response, 400, 3, "Bad request");
    let _ = ws.close(None).await;
    stop(handle).await;
}

#[tokio::test]
async fn put_on_a_polling_session_is_400_json() {
    let handle = default_server().await;
    let addr = handle.local_addr();
    let (sid, _) = polling_handshake(addr).await;
    let response = request(addr, "PUT", &polling(&sid), &[], Some(b"40")).await;
    assert_eq!(response.status, 400, "{:?}", response.text());
    assert_eq!(response.header("content-type"), Some("application/json"));
    let json = response.json();
    assert!(json["code"].is_u64(), "{json}");
    assert!(json["message"].is_string(), "{json}");
    stop(handle).await;
}

// ---- The handshake ----

#[tokio::test]
async fn polling_handshake_open_packet() {
    let handle = default_server().await;
    let response = get(handle.local_addr(), &eio("EIO=4&transport=polling")).await;
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("content-type"),
        Some("text/plain; charset=UTF-8")
    );
    let open = parse_open(&response.text());
    let sid = open["sid"].as_str().expect("sid is a string");
    assert_eq!(sid.len(), 20, "sid {sid:?}");
    assert_eq!(open["upgrades"], serde_json::json!(["websocket"]));
    assert_eq!(open["pingInterval"], 25000);
    assert_eq!(open["pingTimeout"], 20000);
    assert_eq!(open["maxPayload"], 1_000_000);
    stop(handle).await;
}

#[tokio::test]
async fn websocket_handshake_open_packet() {
    let handle = default_server().await;
    let (mut ws, open) = ws_handshake(handle.local_addr()).await;
    let sid = open["sid"].as_str().expect("sid is a string");
    assert_eq!(sid.len(), 20, "sid {sid:?}");
    assert_eq!(open["upgrades"], serde_json::json!([]));
    assert_eq!(open["pingInterval"], 25000);
    assert_eq!(open["pingTimeout"], 20000);
    assert_eq!(open["maxPayload"], 1_000_000);
    let _ = ws.close(None).await;
    stop(handle).await;
}

// ---- Polling ----

#[tokio::test]
async fn polling_connect_answers_ok_then_connect_packet() {
    let handle = default_server().await;
    let addr = handle.local_addr();
    let (sid, _) = polling_handshake(addr).await;
    let response = post(addr, &polling(&sid), "40").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), "ok");
    let response = get(addr, &polling(&sid)).await;
    assert_eq!(response.status, 200);
    let text = response.text();
    let json: serde_json::Value =
        serde_json::from_str(text.strip_prefix("40").expect("a CONNECT packet")).expect("JSON");
    assert_eq!(json["sid"].as_str().map(str::len), Some(20), "{text:?}");
    stop(handle).await;
}

#[tokio::test]
async fn polling_payload_of_two_packets_is_delivered_in_order() {
    let handle = default_server().await;
    let addr = handle.local_addr();
    let sid = polling_connect(addr).await;
    let body = format!("42[\"echo\",\"first\"]{SEP}42[\"echo\",\"second\"]");
    let response = post(addr, &polling(&sid), body).await;
    assert_eq!(response.text(), "ok");
    let packets = poll_packets(addr, &sid, 2).await;
    assert_eq!(
        packets,
        vec![
            "42[\"echo\",\"first\"]".to_owned(),
            "42[\"echo\",\"second\"]".to_owned()
        ]
    );
    stop(handle).await;
}

#[tokio::test]
async fn polling_binary_attachment_comes_back_as_base64() {
    let handle = default_server().await;
    let addr = handle.local_addr();
    let sid = polling_connect(addr).await;
    // [1, 2, 3, 255] in base64.
    let body = format!("451-[\"echo\",{{\"_placeholder\":true,\"num\":0}}]{SEP}bAQID/w==");
    let response = post(addr, &polling(&sid), body).await;
    assert_eq!(response.text(), "ok");
    let packets = poll_packets(addr, &sid, 2).await;
    assert_eq!(
        packets,
        vec![
            "451-[\"echo\",{\"_placeholder\":true,\"num\":0}]".to_owned(),
            "bAQID/w==".to_owned()
        ]
    );
    stop(handle).await;
}

// ---- The 1e6 payload limit ----

#[tokio::test]
async fn polling_post_over_the_limit_is_413_and_ends_the_session() {
    let handle = default_server().await;
    let addr = handle.local_addr();
    let sid = polling_connect(addr).await;
    let response = post(addr, &polling(&sid), echo_event_of_len(1_000_001)).await;
    assert_eq!(response.status, 413, "{:?}", response.text());
    assert_sid_becomes_unknown(addr, &sid, Duration::from_secs(2)).await;
    stop(handle).await;
}

#[tokio::test]
async fn polling_post_just_under_the_limit_is_accepted() {
    let handle = default_server().await;
    let addr = handle.local_addr();
    let sid = polling_connect(addr).await;
    let event = echo_event_of_len(999_990);
    let response = post(addr, &polling(&sid), &event).await;
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), "ok");
    let packets = poll_packets(addr, &sid, 1).await;
    assert_eq!(packets.len(), 1);
    assert!(packets[0] == event, "the echo differs from the event");
    stop(handle).await;
}

#[tokio::test]
async fn polling_post_of_exactly_the_limit_is_accepted() {
    let handle = default_server().await;
    let addr = handle.local_addr();
    let sid = polling_connect(addr).await;
    let event = echo_event_of_len(1_000_000);
    let response = post(addr, &polling(&sid), &event).await;
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), "ok");
    stop(handle).await;
}

#[tokio::test]
async fn websocket_message_over_the_limit_is_closed_with_1009() {
    let handle = default_server().await;
    let (mut ws, _) = ws_handshake(handle.local_addr()).await;
    ws_send_text(&mut ws, "40").await;
    assert!(ws_recv_text(&mut ws).await.starts_with("40{"));
    ws_send_text(&mut ws, &echo_event_of_len(1_000_001)).await;
    let close = timeout(WAIT, async {
        loop {
            match ws_next(&mut ws).await {
                Some(Message::Close(frame)) => return frame,
                Some(_) => continue,
                None => panic!("the socket ended without a close frame"),
            }
        }
    })
    .await
    .expect("a close frame in time");
    let frame = close.expect("the close frame carries a code");
    assert_eq!(frame.code, CloseCode::Size, "close code {:?}", frame.code);
    assert_eq!(u16::from(frame.code), 1009);
    stop(handle).await;
}

#[tokio::test]
async fn websocket_message_just_under_the_limit_passes() {
    let handle = default_server().await;
    let (mut ws, _) = ws_handshake(handle.local_addr()).await;
    ws_send_text(&mut ws, "40").await;
    assert!(ws_recv_text(&mut ws).await.starts_with("40{"));
    let event = echo_event_of_len(999_990);
    ws_send_text(&mut ws, &event).await;
    let echo = ws_recv_text_skip_pings(&mut ws).await;
    assert!(echo == event, "the echo differs from the event");
    let _ = ws.close(None).await;
    stop(handle).await;
}

// ---- Overlapping requests ----

#[tokio::test]
async fn concurrent_gets_close_the_session() {
    let handle = default_server().await;
    let addr = handle.local_addr();
    let sid = polling_connect(addr).await;
    let first = tokio::spawn({
        let sid = sid.clone();
        async move { get(addr, &polling(&sid)).await }
    });
    // Let the first GET become pending.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let second = get(addr, &polling(&sid)).await;
    assert_eq!(second.status, 400, "{:?}", second.text());
    let first = timeout(WAIT, first)
        .await
        .expect("the first GET completes")
        .expect("the first GET task");
    assert_eq!(first.status, 200);
    let text = first.text();
    assert!(
        text.split(SEP).any(|p| p == "1"),
        "the first GET carries the close packet: {text:?}"
    );
    assert_sid_becomes_unknown(addr, &sid, Duration::from_secs(2)).await;
    stop(handle).await;
}

// ---- The upgrade ----

#[tokio::test]
async fn upgrade_from_polling_to_websocket() {
    let handle = default_server().await;
    let addr = handle.local_addr();
    let sid = polling_connect(addr).await;
    let mut ws = ws_connect(addr, &format!("EIO=4&transport=websocket&sid={sid}")).await;
    let pending = tokio::spawn({
        let sid = sid.clone();
        async move { get(addr, &polling(&sid)).await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    ws_send_text(&mut ws, "2probe").await;
    assert_eq!(ws_recv_text(&mut ws).await, "3probe");
    let released = timeout(WAIT, pending)
        .await
        .expect("the pending GET is released")
        .expect("the GET task");
    assert_eq!(released.status, 200);
    assert_eq!(released.text(), "6");
    ws_send_text(&mut ws, "5").await;
    ws_send_text(&mut ws, "42[\"echo\",\"over websocket\"]").await;
    assert_eq!(
        ws_recv_text_skip_pings(&mut ws).await,
        "42[\"echo\",\"over websocket\"]"
    );
    let response = get(addr, &polling(&sid)).await;
    assert_engine_error(&response, 400, 3, "Bad request");
    let _ = ws.close(None).await;
    stop(handle).await;
}

// ---- Heartbeat ----

#[tokio::test]
async fn websocket_client_that_never_pongs_is_closed() {
    let builder = Server::builder()
        .ping_interval(Duration::from_millis(200))
        .ping_timeout(Duration::from_millis(150));
    let handle = echo_server(builder).await;
    let (mut ws, open) = ws_handshake(handle.local_addr()).await;
    assert_eq!(open["pingInterval"], 200);
    assert_eq!(open["pingTimeout"], 150);
    match ws_wait_end(&mut ws, Duration::from_millis(1500)).await {
        Ok(elapsed) => assert!(
            elapsed >= Duration::from_millis(300),
            "closed after {elapsed:?}"
        ),
        Err(seen) => panic!("still open after 1.5 s; received {seen:?}"),
    }
    stop(handle).await;
}

#[tokio::test]
async fn websocket_client_that_pongs_stays_open() {
    let builder = Server::builder()
        .ping_interval(Duration::from_millis(200))
        .ping_timeout(Duration::from_millis(150));
    let handle = echo_server(builder).await;
    let (mut ws, _) = ws_handshake(handle.local_addr()).await;
    ws_send_text(&mut ws, "40").await;
    assert!(ws_recv_text(&mut ws).await.starts_with("40{"));
    let deadline = Instant::now() + Duration::from_millis(1200);
    let mut pings = 0;
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            break;
        }
        match timeout(remaining, futures_util::StreamExt::next(&mut ws)).await {
            Err(_) => break,
            Ok(Some(Ok(Message::Text(text)))) if text.as_str() == "2" => {
                pings += 1;
                ws_send_text(&mut ws, "3").await;
            }
            Ok(Some(Ok(Message::Text(text)))) => panic!("unexpected message {text:?}"),
            Ok(other) => panic!("the socket ended while answering pings: {other:?}"),
        }
    }
    assert!(pings >= 3, "only {pings} pings in 1.2 s");
    // Still usable.
    ws_send_text(&mut ws, "42[\"echo\",1]").await;
    assert_eq!(ws_recv_text_skip_pings(&mut ws).await, "42[\"echo\",1]");
    let _ = ws.close(None).await;
    stop(handle).await;
}

// ---- Connect timeout ----

#[tokio::test]
async fn websocket_client_that_never_connects_is_closed() {
    let builder = Server::builder().connect_timeout(Duration::from_millis(300));
    let handle = echo_server(builder).await;
    let (mut ws, _) = ws_handshake(handle.local_addr()).await;
    match ws_wait_end(&mut ws, Duration::from_millis(1500)).await {
        Ok(elapsed) => assert!(
            elapsed >= Duration::from_millis(200),
            "closed after {elapsed:?}"
        ),
        Err(seen) => panic!("still open after 1.5 s; received {seen:?}"),
    }
    stop(handle).await;
}

// ---- CORS ----

fn cors_builder() -> ferrio::ServerBuilder {
    Server::builder()
        .cors(Cors::new(CorsOrigins::List(vec!["http://a.example".into()])).credentials(true))
}

#[tokio::test]
async fn cors_allowed_origin_gets_the_headers() {
    let handle = echo_server(cors_builder()).await;
    let response = request(
        handle.local_addr(),
        "GET",
        &eio("EIO=4&transport=polling"),
        &[("Origin", "http://a.example")],
        None,
    )
    .await;
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("access-control-allow-origin"),
        Some("http://a.example")
    );
    assert_eq!(
        response.header("access-control-allow-credentials"),
        Some("true")
    );
    stop(handle).await;
}

#[tokio::test]
async fn cors_preflight_is_204() {
    let handle = echo_server(cors_builder()).await;
    let response = request(
        handle.local_addr(),
        "OPTIONS",
        &eio("EIO=4&transport=polling"),
        &[
            ("Origin", "http://a.example"),
            ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Headers", "content-type"),
        ],
        None,
    )
    .await;
    assert_eq!(response.status, 204);
    assert_eq!(
        response.header("access-control-allow-origin"),
        Some("http://a.example")
    );
    let methods = response
        .header("access-control-allow-methods")
        .expect("allow-methods");
    assert!(methods.contains("POST"), "{methods}");
    stop(handle).await;
}

#[tokio::test]
async fn cors_other_origin_gets_no_allow_origin() {
    let handle = echo_server(cors_builder()).await;
    let response = request(
        handle.local_addr(),
        "GET",
        &eio("EIO=4&transport=polling"),
        &[("Origin", "http://b.example")],
        None,
    )
    .await;
    assert_eq!(response.header("access-control-allow-origin"), None);
    assert_eq!(response.header("access-control-allow-credentials"), None);
    stop(handle).await;
}

// ---- A few more official answers ----

/// The headers of a WebSocket upgrade request, for the raw HTTP helper.
const UPGRADE_HEADERS: &[(&str, &str)] = &[
    ("Connection", "Upgrade"),
    ("Upgrade", "websocket"),
    ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ("Sec-WebSocket-Version", "13"),
];

#[tokio::test]
async fn websocket_upgrade_with_unknown_sid_is_code_1() {
    let handle = default_server().await;
    let response = request(
        handle.local_addr(),
        "GET",
        &eio("EIO=4&transport=websocket&sid=AAAAAAAAAAAAAAAAAAAA"),
        UPGRADE_HEADERS,
        None,
    )
    .await;
    assert_engine_error(&response, 400, 1, "Session ID unknown");
    stop(handle).await;
}

#[tokio::test]
async fn websocket_handshake_with_eio_3_is_code_5() {
    let handle = default_server().await;
    let response = request(
        handle.local_addr(),
        "GET",
        &eio("EIO=3&transport=websocket"),
        UPGRADE_HEADERS,
        None,
    )
    .await;
    assert_engine_error(&response, 400, 5, "Unsupported protocol version");
    stop(handle).await;
}

#[tokio::test]
async fn polling_client_that_never_pongs_is_closed() {
    let builder = Server::builder()
        .ping_interval(Duration::from_millis(200))
        .ping_timeout(Duration::from_millis(150));
    let handle = echo_server(builder).await;
    let addr = handle.local_addr();
    let sid = polling_connect(addr).await;
    let response = get(addr, &polling(&sid)).await;
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), "2", "the server pings");
    // No pong: the session ends after the ping timeout.
    assert_sid_becomes_unknown(addr, &sid, Duration::from_secs(1)).await;
    stop(handle).await;
}

#[tokio::test]
async fn polling_client_that_never_connects_gets_the_close_packet() {
    let builder = Server::builder().connect_timeout(Duration::from_millis(300));
    let handle = echo_server(builder).await;
    let addr = handle.local_addr();
    let (sid, _) = polling_handshake(addr).await;
    let start = Instant::now();
    let response = get(addr, &polling(&sid)).await;
    assert_eq!(response.status, 200);
    assert_eq!(
        response.text(),
        "1",
        "the pending GET carries the close packet"
    );
    assert!(
        start.elapsed() < Duration::from_millis(1500),
        "{:?}",
        start.elapsed()
    );
    assert_sid_becomes_unknown(addr, &sid, Duration::from_secs(1)).await;
    stop(handle).await;
}

#[tokio::test]
async fn an_upgrade_that_never_probes_times_out_and_polling_goes_on() {
    let builder = Server::builder().upgrade_timeout(Duration::from_millis(300));
    let handle = echo_server(builder).await;
    let addr = handle.local_addr();
    let sid = polling_connect(addr).await;
    let mut ws = ws_connect(addr, &format!("EIO=4&transport=websocket&sid={sid}")).await;
    // No `2probe`: the server gives up on the upgrade and closes this websocket…
    let start = Instant::now();
    let closed = tokio::time::timeout(Duration::from_secs(3), async {
        loop {
            match ws_next(&mut ws).await {
                None | Some(tokio_tungstenite::tungstenite::Message::Close(_)) => break,
                Some(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the abandoned upgrade is closed");
    assert!(start.elapsed() >= Duration::from_millis(250));
    // …and the session carries on over polling.
    let response = post(addr, &polling(&sid), "42[\"echo\",\"still polling\"]").await;
    assert_eq!(response.status, 200);
    let response = get(addr, &polling(&sid)).await;
    assert_eq!(response.text(), "42[\"echo\",\"still polling\"]");
    stop(handle).await;
}

#[tokio::test]
async fn a_custom_path_is_served_and_the_default_one_is_not() {
    let handle = echo_server(Server::builder().path("/realtime")).await;
    let addr = handle.local_addr();
    let response = get(addr, "/realtime/?EIO=4&transport=polling").await;
    assert_eq!(response.status, 200);
    assert!(response.text().starts_with("0{"), "{}", response.text());
    let response = get(addr, "/socket.io/?EIO=4&transport=polling").await;
    assert_eq!(response.status, 404);
    stop(handle).await;
}
