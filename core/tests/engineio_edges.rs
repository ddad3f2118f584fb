//! Raw-protocol tests of the Engine.IO edges where the official `engine.io` server has a settled answer:
//! the `Sec-WebSocket-Key` check.

mod common;

use common::*;
use ferrio::Server;
use std::net::SocketAddr;

/// A server with the default options and the echo handler.
async fn default_server() -> ferrio::ServerHandle {
    echo_server(Server::builder()).await
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
