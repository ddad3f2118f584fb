//! The raw Engine.IO API (no Socket.IO): the handler of `examples/engineio_echo.rs`, driven over
//! WebSocket and HTTP long-polling with text and binary messages.

mod common;

use common::*;
use ferrio::engineio::{Engine, EngineConfig};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// The example itself, so the test exercises exactly the handler it ships.
#[path = "../examples/engineio_echo.rs"]
#[allow(dead_code)]
mod example;

use example::Echo;

async fn start() -> ferrio::http::EngineListener<Echo> {
    let engine = Engine::new(EngineConfig::default(), Echo).expect("valid options");
    ferrio::http::listen(engine, "127.0.0.1:0")
        .await
        .expect("listen")
}

async fn stop_engine(listener: ferrio::http::EngineListener<Echo>) {
    listener.shutdown(Duration::from_millis(500)).await;
}

#[tokio::test]
async fn websocket_text_echo() {
    let listener = start().await;
    let (mut ws, open) = ws_handshake(listener.local_addr()).await;
    assert_eq!(open["upgrades"], serde_json::json!([]));
    ws_send_text(&mut ws, "4hello").await;
    assert_eq!(ws_recv_text_skip_pings(&mut ws).await, "4hello");
    ws_send_text(&mut ws, "4héllo ✓").await;
    assert_eq!(ws_recv_text_skip_pings(&mut ws).await, "4héllo ✓");
    let _ = ws.close(None).await;
    stop_engine(listener).await;
}

#[tokio::test]
async fn websocket_binary_echo() {
    let listener = start().await;
    let (mut ws, _) = ws_handshake(listener.local_addr()).await;
    let data = vec![0u8, 1, 2, 3, 254, 255];
    timeout_send(&mut ws, WsMessage::binary(data.clone())).await;
    match ws_next(&mut ws).await {
        Some(WsMessage::Binary(echo)) => assert_eq!(echo.as_ref(), data.as_slice()),
        other => panic!("expected a binary message, got {other:?}"),
    }
    let _ = ws.close(None).await;
    stop_engine(listener).await;
}

async fn timeout_send(ws: &mut Ws, message: WsMessage) {
    use futures_util::SinkExt;
    tokio::time::timeout(WAIT, ws.send(message))
        .await
        .expect("send in time")
        .expect("send");
}

#[tokio::test]
async fn polling_text_echo() {
    let listener = start().await;
    let addr = listener.local_addr();
    let (sid, open) = polling_handshake(addr).await;
    assert_eq!(open["upgrades"], serde_json::json!(["websocket"]));
    let response = post(addr, &polling(&sid), "4hello").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), "ok");
    assert_eq!(poll_packets(addr, &sid, 1).await, vec!["4hello".to_owned()]);
    stop_engine(listener).await;
}

#[tokio::test]
async fn polling_binary_echo() {
    let listener = start().await;
    let addr = listener.local_addr();
    let (sid, _) = polling_handshake(addr).await;
    // [0, 1, 2, 3, 254, 255] in base64.
    let response = post(addr, &polling(&sid), "bAAECA/7/").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), "ok");
    assert_eq!(
        poll_packets(addr, &sid, 1).await,
        vec!["bAAECA/7/".to_owned()]
    );
    stop_engine(listener).await;
}

#[tokio::test]
async fn polling_mixed_payload_echo_in_order() {
    let listener = start().await;
    let addr = listener.local_addr();
    let (sid, _) = polling_handshake(addr).await;
    let body = format!("4one{SEP}bAQID{SEP}4three");
    let response = post(addr, &polling(&sid), body).await;
    assert_eq!(response.text(), "ok");
    assert_eq!(
        poll_packets(addr, &sid, 3).await,
        vec!["4one".to_owned(), "bAQID".to_owned(), "4three".to_owned()]
    );
    stop_engine(listener).await;
}
