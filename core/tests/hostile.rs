//! Hostile input and faults: every case attacks a running server over raw TCP, HTTP or WebSocket, checks
//! the protocol-correct answer where there is one, and then the server must still accept a new client and
//! answer its echo. Limits are set low here so that each case stays fast.

mod common;

use common::*;
use ferrio::Server;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

async fn server() -> ferrio::ServerHandle {
    echo_server(
        Server::builder()
            .max_payload(64 * 1024)
            .max_headers(40)
            .max_header_bytes(8 * 1024)
            .header_read_timeout(Duration::from_millis(400))
            .ping_interval(Duration::from_millis(300))
            .ping_timeout(Duration::from_millis(300))
            .max_queued_packets(64),
    )
    .await
}

/// Writes raw bytes and reads what comes back until the server closes or `wait` passes.
async fn raw(addr: SocketAddr, bytes: &[u8], wait: Duration) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let _ = stream.write_all(bytes).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(wait, stream.read_to_end(&mut answer)).await;
    answer
}

fn status_of(answer: &[u8]) -> u16 {
    let text = String::from_utf8_lossy(answer);
    text.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// A raw WebSocket (no library between the test and the wire) on a Socket.IO connection to `/`.
async fn raw_ws(addr: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"));
    stream
}

/// Sends frames on a raw WebSocket and returns the close code the server answers with (None if the
/// connection just ended, or nothing came within the wait).
async fn ws_close_code_after(addr: SocketAddr, frames: &[Vec<u8>]) -> Option<u16> {
    let mut stream = raw_ws(addr).await;
    for f in frames {
        if stream.write_all(f).await.is_err() {
            break;
        }
    }
    let mut data = Vec::new();
    let _ = tokio::time::timeout(WAIT, stream.read_to_end(&mut data)).await;
    // Find a close frame (opcode 8) among the server's frames.
    let mut i = 0;
    while i + 2 <= data.len() {
        let opcode = data[i] & 0x0F;
        let mut len = (data[i + 1] & 0x7F) as usize;
        let mut at = i + 2;
        if len == 126 {
            len = u16::from_be_bytes([data[at], data[at + 1]]) as usize;
            at += 2;
        } else if len == 127 {
            len = u64::from_be_bytes(data[at..at + 8].try_into().unwrap()) as usize;
            at += 8;
        }
        if opcode == 8 && len >= 2 && at + 2 <= data.len() {
            return Some(u16::from_be_bytes([data[at], data[at + 1]]));
        }
        i = at + len;
    }
    None
}

/// Sends Socket.IO packets on a connected raw client and says whether the server then closed the
/// connection (true) or kept it (false, checked with an echo on the same connection).
async fn sio_closed_after(addr: SocketAddr, packets: &[&str]) -> bool {
    let (mut ws, _) = ws_handshake(addr).await;
    ws_send_text(&mut ws, "40").await;
    assert!(ws_recv_text_skip_pings(&mut ws).await.starts_with("40{"));
    for p in packets {
        if futures_util::SinkExt::send(&mut ws, Message::text(*p))
            .await
            .is_err()
        {
            return true;
        }
    }
    if futures_util::SinkExt::send(&mut ws, Message::text("42[\"echo\",\"probe\"]"))
        .await
        .is_err()
    {
        return true;
    }
    loop {
        match tokio::time::timeout(WAIT, futures_util::StreamExt::next(&mut ws)).await {
            Ok(Some(Ok(Message::Text(t)))) if t.as_str() == "42[\"echo\",\"probe\"]" => {
                return false
            }
            Ok(Some(Ok(Message::Text(t)))) if t.as_str() == "2" => {
                let _ = futures_util::SinkExt::send(&mut ws, Message::text("3")).await;
            }
            Ok(Some(Ok(Message::Close(_)))) | Ok(None) | Ok(Some(Err(_))) => return true,
            Ok(Some(Ok(_))) => {}
            Err(_) => panic!("neither an echo nor a close"),
        }
    }
}

macro_rules! case {
    ($name:ident, |$addr:ident| $body:block) => {
        #[tokio::test]
        async fn $name() {
            let handle = server().await;
            let $addr = handle.local_addr();
            $body
            healthy($addr).await;
            stop(handle).await;
        }
    };
}

// ---- HTTP ----

case!(garbage_instead_of_http, |addr| {
    let answer = raw(addr, b"\x00\x01\x02 not http at all\r\n\r\n", WAIT).await;
    assert_eq!(status_of(&answer), 400);
});
case!(an_unknown_method, |addr| {
    let answer = raw(addr, b"BREW /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", WAIT).await;
    assert_eq!(status_of(&answer), 400);
});
case!(too_many_headers, |addr| {
    let mut request = b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n".to_vec();
    for i in 0..200 {
        request.extend_from_slice(format!("X-H{i}: v\r\n").as_bytes());
    }
    request.extend_from_slice(b"\r\n");
    assert_eq!(status_of(&raw(addr, &request, WAIT).await), 431);
});
case!(headers_too_large, |addr| {
    let request = format!(
        "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nCookie: {}\r\n\r\n",
        "a".repeat(64 * 1024)
    );
    assert_eq!(status_of(&raw(addr, request.as_bytes(), WAIT).await), 431);
});
case!(a_slowloris_is_cut_off, |addr| {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut sink = Vec::new();
    let ended = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut sink)).await;
    assert!(
        ended.is_ok(),
        "the server closes a connection that never finishes its headers"
    );
});
case!(a_reset_in_the_middle_of_a_request, |addr| {
    let stream = TcpStream::connect(addr).await.unwrap();
    let mut stream = stream;
    stream.write_all(b"POST /socket.io/?EIO=4&transport=polling&sid=x HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n4hel").await.unwrap();
    #[allow(deprecated)] // a reset is the point here; the blocking close is instant
    stream.set_linger(Some(Duration::ZERO)).unwrap();
    drop(stream); // RST
});
case!(a_reset_while_a_long_poll_waits, |addr| {
    let (sid, _) = polling_handshake(addr).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(format!("GET {} HTTP/1.1\r\nHost: x\r\n\r\n", polling(&sid)).as_bytes())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    #[allow(deprecated)] // a reset is the point here; the blocking close is instant
    stream.set_linger(Some(Duration::ZERO)).unwrap();
    drop(stream);
});
case!(a_content_length_beyond_the_limit, |addr| {
    let (sid, _) = polling_handshake(addr).await;
    let request = format!(
        "POST {} HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n4x",
        polling(&sid)
    );
    assert_eq!(status_of(&raw(addr, request.as_bytes(), WAIT).await), 413);
});
case!(a_chunked_body_beyond_the_limit, |addr| {
    let (sid, _) = polling_handshake(addr).await;
    let mut request = format!(
        "POST {} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
        polling(&sid)
    )
    .into_bytes();
    for _ in 0..20 {
        request.extend_from_slice(format!("1000\r\n{}\r\n", "4".repeat(0x1000)).as_bytes());
    }
    request.extend_from_slice(b"0\r\n\r\n");
    assert_eq!(status_of(&raw(addr, &request, WAIT).await), 413);
});
case!(a_broken_chunked_body, |addr| {
    let (sid, _) = polling_handshake(addr).await;
    let request = format!(
        "POST {} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
        polling(&sid)
    );
    let answer = raw(addr, request.as_bytes(), WAIT).await;
    assert!(
        matches!(status_of(&answer), 0 | 400),
        "{}",
        String::from_utf8_lossy(&answer)
    );
});
case!(a_polling_body_that_is_not_utf8, |addr| {
    let (sid, _) = polling_handshake(addr).await;
    let response = post(addr, &polling(&sid), b"4\xff\xfe\xfd".as_slice()).await;
    assert_engine_error(&response, 400, 3, "Bad request");
});
case!(a_polling_payload_with_garbage_packets, |addr| {
    let sid = polling_connect(addr).await;
    let response = post(addr, &polling(&sid), "4\u{1e}x\u{1e}b!!!\u{1e}").await;
    assert!(response.status == 200 || response.status == 400);
});
case!(an_unknown_sid, |addr| {
    assert_engine_error(
        &get(addr, "/socket.io/?EIO=4&transport=polling&sid=nope").await,
        400,
        1,
        "Session ID unknown",
    );
});
case!(a_huge_query_string, |addr| {
    let target = format!(
        "/socket.io/?EIO=4&transport=polling&{}",
        "a=b&".repeat(3000)
    );
    let answer = raw(
        addr,
        format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
        WAIT,
    )
    .await;
    assert!(
        matches!(status_of(&answer), 414 | 431 | 400),
        "{}",
        status_of(&answer)
    );
});
case!(percent_encoding_garbage_in_the_query, |addr| {
    let response = get(addr, "/socket.io/?EIO=%ff%fe&transport=%zz&sid=%").await;
    assert_eq!(response.status, 400);
});
case!(the_wrong_protocol_version, |addr| {
    assert_engine_error(
        &get(addr, "/socket.io/?EIO=3&transport=polling").await,
        400,
        5,
        "Unsupported protocol version",
    );
});
case!(a_path_traversal_under_the_engine_path, |addr| {
    let response = get(addr, "/socket.io/../../etc/passwd").await;
    assert!(response.status == 400 || response.status == 404);
});

// ---- WebSocket frames ----

case!(an_unknown_opcode, |addr| {
    assert_eq!(
        ws_close_code_after(addr, &[frame(3, true, b"x", true)]).await,
        Some(1002)
    );
});
case!(an_unmasked_client_frame, |addr| {
    assert_eq!(
        ws_close_code_after(addr, &[frame(1, true, b"40", false)]).await,
        Some(1002)
    );
});
case!(text_that_is_not_utf8, |addr| {
    assert_eq!(
        ws_close_code_after(addr, &[frame(1, true, b"4\xff\xfe", true)]).await,
        Some(1007)
    );
});
case!(a_message_over_the_limit, |addr| {
    let big = "4".repeat(70 * 1024);
    assert_eq!(ws_close_code_after(addr, &[text(&big)]).await, Some(1009));
});
case!(a_fragmented_message_over_the_limit, |addr| {
    let chunk = vec![b'4'; 16 * 1024];
    let mut frames = vec![frame(1, false, &chunk, true)];
    for _ in 0..6 {
        frames.push(frame(0, false, &chunk, true));
    }
    assert_eq!(ws_close_code_after(addr, &frames).await, Some(1009));
});
case!(a_continuation_without_a_start, |addr| {
    assert_eq!(
        ws_close_code_after(addr, &[frame(0, true, b"4", true)]).await,
        Some(1002)
    );
});
case!(a_control_frame_too_long, |addr| {
    assert_eq!(
        ws_close_code_after(addr, &[frame(9, true, &[0u8; 200], true)]).await,
        Some(1002)
    );
});
case!(a_frame_length_of_2_to_the_63, |addr| {
    let mut f = vec![0x81, 0x80 | 127];
    f.extend_from_slice(&(1u64 << 62).to_be_bytes());
    f.extend_from_slice(&[1, 2, 3, 4]);
    let code = ws_close_code_after(addr, &[f]).await;
    assert!(matches!(code, Some(1009) | Some(1002)), "{code:?}");
});
case!(a_websocket_upgrade_without_a_key, |addr| {
    let request = format!("GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n");
    assert_eq!(status_of(&raw(addr, request.as_bytes(), WAIT).await), 400);
});
case!(a_websocket_upgrade_of_the_wrong_version, |addr| {
    let request = format!("GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n");
    assert_eq!(status_of(&raw(addr, request.as_bytes(), WAIT).await), 400);
});
case!(a_ping_flood, |addr| {
    let mut frames = Vec::new();
    for _ in 0..2000 {
        frames.push(frame(9, true, b"p", true));
    }
    let mut stream = raw_ws(addr).await;
    for f in &frames {
        if stream.write_all(f).await.is_err() {
            break;
        }
    }
});
case!(an_engineio_ping_flood, |addr| {
    let (mut ws, _) = ws_handshake(addr).await;
    for _ in 0..2000 {
        if futures_util::SinkExt::feed(&mut ws, Message::text("2"))
            .await
            .is_err()
        {
            break;
        }
    }
    let _ = futures_util::SinkExt::flush(&mut ws).await;
});
case!(a_client_that_never_reads, |addr| {
    // It floods echo requests and never reads a reply: the server must give up on it, bounded.
    let mut stream = raw_ws(addr).await;
    let connect = text("40");
    stream.write_all(&connect).await.unwrap();
    let event = text(&format!("42[\"echo\",\"{}\"]", "x".repeat(30_000)));
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_secs(5) {
        match tokio::time::timeout(Duration::from_millis(200), stream.write_all(&event)).await {
            Ok(Ok(())) => {}
            _ => break, // the server stopped reading or closed: bounded
        }
    }
});
case!(a_client_that_stops_answering_pings, |addr| {
    let (mut ws, _) = ws_handshake(addr).await;
    // Never answer: the heartbeat closes the session within ping interval + timeout.
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match futures_util::StreamExt::next(&mut ws).await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(ended.is_ok());
});

// ---- Engine.IO and Socket.IO packets ----

case!(an_empty_engineio_packet, |addr| {
    assert!(sio_closed_after(addr, &[""]).await);
});
case!(an_unknown_engineio_packet_type, |addr| {
    assert!(sio_closed_after(addr, &["9hello"]).await);
});
case!(an_unknown_socketio_packet_type, |addr| {
    assert!(sio_closed_after(addr, &["49[\"x\"]"]).await);
});
case!(an_event_that_is_not_an_array, |addr| {
    assert!(sio_closed_after(addr, &["42{\"a\":1}"]).await);
});
case!(an_event_without_a_name, |addr| {
    assert!(sio_closed_after(addr, &["42[]"]).await);
});
case!(an_event_name_that_is_an_object, |addr| {
    assert!(sio_closed_after(addr, &["42[{\"a\":1},2]"]).await);
});
case!(json_nested_ten_thousand_deep, |addr| {
    let deep = format!("42[\"echo\",{}1{}]", "[".repeat(10_000), "]".repeat(10_000));
    assert!(sio_closed_after(addr, &[&deep]).await);
});
case!(objects_nested_ten_thousand_deep, |addr| {
    let deep = format!(
        "42[\"echo\",{}1{}]",
        "{\"a\":".repeat(10_000),
        "}".repeat(10_000)
    );
    assert!(sio_closed_after(addr, &[&deep]).await);
});
case!(more_attachments_than_allowed, |addr| {
    assert!(sio_closed_after(addr, &["4511-[\"echo\"]"]).await);
});
case!(an_attachment_count_with_too_many_digits, |addr| {
    assert!(sio_closed_after(addr, &["459999999999-[\"echo\"]"]).await);
});
case!(a_text_packet_while_attachments_are_expected, |addr| {
    assert!(
        sio_closed_after(
            addr,
            &[
                "451-[\"echo\",{\"_placeholder\":true,\"num\":0}]",
                "42[\"echo\",1]"
            ]
        )
        .await
    );
});
case!(a_placeholder_pointing_nowhere, |addr| {
    // One attachment announced, the placeholder names the tenth: the binary frame completes a packet
    // whose placeholder cannot be filled.
    let (mut ws, _) = ws_handshake(addr).await;
    ws_send_text(&mut ws, "40").await;
    let _ = ws_recv_text_skip_pings(&mut ws).await;
    ws_send_text(&mut ws, "451-[\"echo\",{\"_placeholder\":true,\"num\":9}]").await;
    let _ = futures_util::SinkExt::send(&mut ws, Message::binary(vec![1u8, 2, 3])).await;
});
case!(an_ack_for_an_id_never_sent, |addr| {
    assert!(!sio_closed_after(addr, &["43999[\"unsolicited\"]", "431[1]", "431[1]"]).await);
});
case!(an_ack_id_beyond_u64, |addr| {
    assert!(sio_closed_after(addr, &["4399999999999999999999999[1]"]).await);
});
case!(a_connect_to_an_unknown_namespace, |addr| {
    let (mut ws, _) = ws_handshake(addr).await;
    ws_send_text(&mut ws, "40/nowhere,").await;
    assert_eq!(
        ws_recv_text_skip_pings(&mut ws).await,
        "44/nowhere,{\"message\":\"Invalid namespace\"}"
    );
});
case!(a_connect_with_auth_that_is_not_an_object, |addr| {
    let (mut ws, _) = ws_handshake(addr).await;
    ws_send_text(&mut ws, "40[1,2,3]").await;
    let answer = tokio::time::timeout(WAIT, futures_util::StreamExt::next(&mut ws))
        .await
        .unwrap();
    assert!(
        !matches!(answer, Some(Ok(Message::Text(ref t))) if t.as_str().starts_with("40{")),
        "{answer:?}"
    );
});
case!(an_event_flood, |addr| {
    let (mut ws, _) = ws_handshake(addr).await;
    ws_send_text(&mut ws, "40").await;
    let _ = ws_recv_text_skip_pings(&mut ws).await;
    for i in 0..20_000 {
        if futures_util::SinkExt::feed(&mut ws, Message::text(format!("42[\"echo\",{i}]")))
            .await
            .is_err()
        {
            break;
        }
    }
    let _ = futures_util::SinkExt::flush(&mut ws).await;
});
case!(lone_surrogates_and_huge_numbers_in_arguments, |addr| {
    assert!(!sio_closed_after(addr, &["42[\"echo\",\"\\ud800\"]", "42[\"echo\",1e999999]"]).await);
});
case!(many_namespaces_on_one_connection, |addr| {
    let (mut ws, _) = ws_handshake(addr).await;
    for i in 0..500 {
        if futures_util::SinkExt::feed(&mut ws, Message::text(format!("40/ns{i},")))
            .await
            .is_err()
        {
            break;
        }
    }
    let _ = futures_util::SinkExt::flush(&mut ws).await;
});

// ---- Limits, reaping and CORS (each case has a server of its own, configured for it) ----

/// A case whose server is built from `$builder` (an echo server, with the hostile suite's short
/// timeouts); `$handle` is the running server.
macro_rules! case_with {
    ($name:ident, $builder:expr, |$addr:ident, $handle:ident| $body:block) => {
        #[tokio::test]
        async fn $name() {
            let $handle = echo_server($builder).await;
            let $addr = $handle.local_addr();
            $body
            healthy($addr).await;
            stop($handle).await;
        }
    };
}

/// The hostile suite's short timeouts.
fn quick() -> ferrio::ServerBuilder {
    Server::builder()
        .max_payload(64 * 1024)
        .header_read_timeout(Duration::from_millis(400))
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(300))
        .upgrade_timeout(Duration::from_millis(500))
}

/// Waits until the server has no connection left (or fails after `within`).
async fn reaped(handle: &ferrio::ServerHandle, within: Duration) -> Duration {
    let started = std::time::Instant::now();
    while handle.server().connection_count() > 0 {
        assert!(
            started.elapsed() < within,
            "{} connections still open after {within:?}",
            handle.server().connection_count()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    started.elapsed()
}

/// Whether the peer closed `stream` within `within` (reads and drops anything it sends first).
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut sink = Vec::new();
    tokio::time::timeout(within, stream.read_to_end(&mut sink))
        .await
        .is_ok()
}

case_with!(
    a_connection_flood_beyond_max_connections,
    quick().max_connections(20),
    |addr, handle| {
        let mut held = Vec::new();
        for _ in 0..20 {
            held.push(ws_handshake(addr).await.0);
        }
        assert_engine_error(
            &get(addr, &eio("EIO=4&transport=polling")).await,
            503,
            3,
            "Too many connections",
        );
        // A WebSocket handshake is refused the same way, before the upgrade.
        let request = format!("GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
        let answer = raw(addr, request.as_bytes(), WAIT).await;
        assert_eq!(status_of(&answer), 503);
        assert!(String::from_utf8_lossy(&answer)
            .ends_with("{\"code\":3,\"message\":\"Too many connections\"}"));
        assert_eq!(handle.server().connection_count(), 20);
        drop(held);
        reaped(&handle, WAIT).await;
    }
);
case_with!(
    connections_per_ip_beyond_the_limit,
    quick().max_connections_per_ip(3),
    |addr, handle| {
        let mut held = Vec::new();
        for _ in 0..3 {
            held.push(ws_handshake(addr).await.0);
        }
        assert_engine_error(
            &get(addr, &eio("EIO=4&transport=polling")).await,
            503,
            3,
            "Too many connections from this address",
        );
        // A place given back is a place for somebody else.
        drop(held.pop());
        tokio::time::timeout(WAIT, async {
            while handle.server().connection_count() > 2 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .unwrap();
        held.push(ws_handshake(addr).await.0);
        drop(held);
        reaped(&handle, WAIT).await;
    }
);
case_with!(
    a_failed_websocket_upgrade_gives_its_place_back,
    quick().max_connections(1),
    |addr, handle| {
        // Admitted, then the upgrade never happens (no key): the place must not leak.
        for _ in 0..5 {
            let request = format!("GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n");
            assert_eq!(status_of(&raw(addr, request.as_bytes(), WAIT).await), 400);
        }
        let _ = &handle;
    }
);

/// A server whose every namespace exists (dynamic), with a middleware that takes `delay`.
async fn namespaces_server(max: usize, delay: Duration) -> ferrio::ServerHandle {
    let io = quick().max_namespaces_per_connection(max).build().unwrap();
    let parent = io.of_dynamic(|_, _| true);
    parent.use_middleware(move |_| async move {
        tokio::time::sleep(delay).await;
        Ok(())
    });
    io.on_connection(|socket| {
        socket.on("echo", |socket, event| async move {
            let _ = socket.emit("echo", event.payload);
        });
    });
    io.listen("127.0.0.1:0").await.unwrap()
}

async fn connect_answers(ws: &mut common::Ws, count: usize) -> Vec<String> {
    let mut answers = Vec::new();
    while answers.len() < count {
        let text = ws_recv_text_skip_pings(ws).await;
        if text.starts_with("40/") || text.starts_with("44/") {
            answers.push(text);
        }
    }
    answers
}

#[tokio::test]
async fn namespaces_beyond_the_limit_get_connect_error() {
    let handle = namespaces_server(3, Duration::ZERO).await;
    let addr = handle.local_addr();
    let (mut ws, _) = ws_handshake(addr).await;
    for i in 0..6 {
        ws_send_text(&mut ws, &format!("40/ns{i},")).await;
    }
    let answers = connect_answers(&mut ws, 6).await;
    assert_eq!(answers.iter().filter(|a| a.starts_with("40/")).count(), 3);
    for i in 3..6 {
        assert!(
            answers.contains(&format!("44/ns{i},{{\"message\":\"Too many namespaces\"}}")),
            "{answers:?}"
        );
    }
    drop(ws);
    healthy(addr).await;
    stop(handle).await;
}

#[tokio::test]
async fn namespaces_waiting_in_slow_middlewares_count_against_the_limit() {
    let handle = namespaces_server(3, Duration::from_millis(500)).await;
    let addr = handle.local_addr();
    let (mut ws, _) = ws_handshake(addr).await;
    for i in 0..50 {
        ws_send_text(&mut ws, &format!("40/slow{i},")).await;
    }
    let answers = connect_answers(&mut ws, 50).await;
    assert_eq!(
        answers.iter().filter(|a| a.starts_with("40/")).count(),
        3,
        "{answers:?}"
    );
    assert_eq!(
        answers
            .iter()
            .filter(|a| a.contains("Too many namespaces"))
            .count(),
        47
    );
    drop(ws);
    stop(handle).await;
    // healthy() needs "/" without the slow middleware: a fresh default server.
    let handle = server().await;
    healthy(handle.local_addr()).await;
    stop(handle).await;
}

#[tokio::test]
async fn an_event_flood_over_the_rate_limit_is_disconnected() {
    let io = quick()
        .rate_limit(ferrio::RateLimit::new(50.0, 10).unwrap())
        .build()
        .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    io.on_connection(move |socket| {
        let tx = tx.clone();
        socket.on_disconnect(move |_, reason| {
            let _ = tx.send(reason.to_string());
        });
        socket.on("echo", |socket, event| async move {
            let _ = socket.emit("echo", event.payload);
        });
    });
    let handle = io.listen("127.0.0.1:0").await.unwrap();
    let addr = handle.local_addr();
    // Within the limit: served.
    healthy(addr).await;
    assert_eq!(
        tokio::time::timeout(WAIT, rx.recv())
            .await
            .unwrap()
            .unwrap(),
        "transport close"
    );
    // A flood: closed, and the disconnect handler says why.
    let (mut ws, _) = ws_handshake(addr).await;
    ws_send_text(&mut ws, "40").await;
    let _ = ws_recv_text_skip_pings(&mut ws).await;
    for i in 0..10_000 {
        if futures_util::SinkExt::feed(&mut ws, Message::text(format!("42[\"echo\",{i}]")))
            .await
            .is_err()
        {
            break;
        }
    }
    let _ = futures_util::SinkExt::flush(&mut ws).await;
    assert_eq!(
        tokio::time::timeout(WAIT, rx.recv())
            .await
            .unwrap()
            .unwrap(),
        "rate limit exceeded"
    );
    reaped(&handle, WAIT).await;
    healthy(addr).await;
    stop(handle).await;
}

#[tokio::test]
async fn duplicate_unsolicited_and_excess_acks() {
    let io = quick().max_pending_acks(2).build().unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let first = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    io.on_connection(move |socket| {
        let tx = tx.clone();
        socket.on("echo", |socket, event| async move {
            let _ = socket.emit("echo", event.payload);
        });
        // Only the first client is asked (the health check's client is not).
        if !first.swap(false, std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        tokio::spawn(async move {
            let first = socket.emit_with_ack("ask", ferrio::Payload::empty(), WAIT);
            let second = socket.emit_with_ack("ask", ferrio::Payload::empty(), WAIT);
            // Two awaited already: the third is refused rather than queued.
            let third = socket
                .emit_with_ack("ask", ferrio::Payload::empty(), WAIT)
                .await;
            let _ = tx.send(format!("{third:?}"));
            let (first, second) = tokio::join!(first, second);
            let _ = tx.send(first.unwrap().args_json().to_string());
            let _ = tx.send(second.unwrap().args_json().to_string());
        });
    });
    let handle = io.listen("127.0.0.1:0").await.unwrap();
    let addr = handle.local_addr();
    let (mut ws, _) = ws_handshake(addr).await;
    ws_send_text(&mut ws, "40").await;
    let _ = ws_recv_text_skip_pings(&mut ws).await;
    assert!(tokio::time::timeout(WAIT, rx.recv())
        .await
        .unwrap()
        .unwrap()
        .contains("TooManyPendingAcks"));
    let asks = [
        ws_recv_text_skip_pings(&mut ws).await,
        ws_recv_text_skip_pings(&mut ws).await,
    ];
    assert_eq!(asks, ["420[\"ask\"]", "421[\"ask\"]"]);
    // Unsolicited ids, then the first answer twice: only the first of each id counts.
    for packet in [
        "43999[\"stray\"]",
        "430[\"one\"]",
        "430[\"dup\"]",
        "431[\"two\"]",
        "431[\"dup\"]",
    ] {
        ws_send_text(&mut ws, packet).await;
    }
    assert_eq!(
        tokio::time::timeout(WAIT, rx.recv())
            .await
            .unwrap()
            .unwrap(),
        "[\"one\"]"
    );
    assert_eq!(
        tokio::time::timeout(WAIT, rx.recv())
            .await
            .unwrap()
            .unwrap(),
        "[\"two\"]"
    );
    // Still connected and served.
    ws_send_text(&mut ws, "42[\"echo\",1]").await;
    assert_eq!(ws_recv_text_skip_pings(&mut ws).await, "42[\"echo\",1]");
    healthy(addr).await;
    stop(handle).await;
}

#[tokio::test]
async fn an_emit_nested_deeper_than_the_limit_is_refused() {
    let io = quick().max_json_depth(16).build().unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    io.on_connection(move |socket| {
        let deep = format!("[{}1{}]", "[".repeat(100_000), "]".repeat(100_000));
        let payload = ferrio::Payload::from_json(deep.clone(), Vec::new());
        // The payload may be refused as early as its construction (serde_json's own limit) ...
        let refused = match payload {
            Ok(payload) => format!("{:?}", socket.emit("deep", payload)),
            Err(_) => "TooDeep".to_owned(),
        };
        // ... and a payload built without parsing is refused by the emit.
        let nested: serde_json::Value =
            (0..20).fold(serde_json::json!(1), |v, _| serde_json::json!([v]));
        let emitted = socket.emit("deep", ferrio::Payload::one(&nested).unwrap());
        let broadcast = socket
            .broadcast()
            .emit("deep", ferrio::Payload::one(&nested).unwrap());
        let _ = tx.send(format!("{refused} {emitted:?} {broadcast:?}"));
        socket.on("echo", |socket, event| async move {
            let _ = socket.emit("echo", event.payload);
        });
    });
    let handle = io.listen("127.0.0.1:0").await.unwrap();
    let addr = handle.local_addr();
    healthy(addr).await;
    let outcome = tokio::time::timeout(WAIT, rx.recv())
        .await
        .unwrap()
        .unwrap();
    // serde_json may refuse the first payload as it is built; if not, the emit refuses it.
    assert!(
        outcome == "TooDeep Err(TooDeep) Err(TooDeep)"
            || outcome == "Err(TooDeep) Err(TooDeep) Err(TooDeep)",
        "{outcome}"
    );
    stop(handle).await;
}

case_with!(
    a_half_open_tcp_connection_is_reaped,
    quick(),
    |addr, handle| {
        // Connected, never sends a byte.
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let started = std::time::Instant::now();
        assert!(closed_within(&mut stream, Duration::from_secs(5)).await);
        eprintln!("half-open connection closed after {:?}", started.elapsed());
        let _ = &handle;
    }
);
case_with!(
    an_idle_keep_alive_connection_is_reaped,
    quick(),
    |addr, handle| {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        // The 404 comes, then the connection idles: it is closed after the header read timeout.
        assert!(closed_within(&mut stream, Duration::from_secs(5)).await);
        let _ = &handle;
    }
);
case_with!(
    a_slow_websocket_sender_is_reaped,
    quick(),
    |addr, handle| {
        let mut stream = raw_ws(addr).await;
        // A frame announcing 1000 bytes, then one byte every 100 ms: no pong can come through.
        let mut head = vec![0x81, 0x80 | 126];
        head.extend_from_slice(&1000u16.to_be_bytes());
        head.extend_from_slice(&[1, 2, 3, 4]);
        stream.write_all(&head).await.unwrap();
        let started = std::time::Instant::now();
        let reaped_in = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                if stream.write_all(b"x").await.is_err() {
                    break;
                }
                if handle.server().connection_count() == 0
                    && started.elapsed() > Duration::from_millis(100)
                {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await;
        assert!(reaped_in.is_ok(), "still open after 5 s");
        reaped(&handle, WAIT).await;
        eprintln!("slow WebSocket sender reaped after {:?}", started.elapsed());
    }
);
case_with!(
    a_slow_polling_post_body_is_reaped,
    quick(),
    |addr, handle| {
        let (sid, _) = polling_handshake(addr).await;
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(
                format!(
                    "POST {} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n4hel",
                    polling(&sid)
                )
                .as_bytes(),
            )
            .await
            .unwrap();
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
        assert_eq!(status_of(&answer), 400);
        let took = reaped(&handle, Duration::from_secs(5)).await;
        eprintln!("slow polling body answered 400, session reaped {took:?} later");
    }
);
case_with!(an_abandoned_upgrade_is_reaped, quick(), |addr, handle| {
    let sid = polling_connect(addr).await;
    let mut ws = ws_connect(addr, &format!("EIO=4&transport=websocket&sid={sid}")).await;
    ws_send_text(&mut ws, "2probe").await;
    assert_eq!(ws_recv_text(&mut ws).await, "3probe");
    // Never sends "5", never polls again: the upgrade times out and the heartbeat ends the session.
    let started = std::time::Instant::now();
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(message)) = futures_util::StreamExt::next(&mut ws).await {
            if let Message::Close(_) = message {
                break;
            }
        }
    })
    .await;
    assert!(
        ended.is_ok(),
        "the upgrade's WebSocket is closed after the upgrade timeout"
    );
    assert!(started.elapsed() >= Duration::from_millis(400));
    eprintln!(
        "abandoned upgrade's WebSocket closed after {:?}",
        started.elapsed()
    );
    reaped(&handle, Duration::from_secs(5)).await;
    eprintln!(
        "abandoned upgrade's session reaped after {:?}",
        started.elapsed()
    );
});
case_with!(
    an_upgrade_that_never_probes_is_reaped,
    quick(),
    |addr, handle| {
        let (sid, _) = polling_handshake(addr).await;
        let mut ws = ws_connect(addr, &format!("EIO=4&transport=websocket&sid={sid}")).await;
        let ended = tokio::time::timeout(Duration::from_secs(5), async {
            while let Some(Ok(message)) = futures_util::StreamExt::next(&mut ws).await {
                if let Message::Close(_) = message {
                    break;
                }
            }
        })
        .await;
        assert!(ended.is_ok());
        reaped(&handle, Duration::from_secs(5)).await;
    }
);
case_with!(
    an_abandoned_polling_session_is_reaped,
    quick(),
    |addr, handle| {
        let _sid = polling_connect(addr).await;
        assert_eq!(handle.server().connection_count(), 1);
        // The client stops polling: ping interval + ping timeout later the session is gone.
        let took = reaped(&handle, Duration::from_secs(5)).await;
        eprintln!("abandoned polling session reaped after {took:?}");
    }
);

/// Origins a restricted list must never echo.
const UNLISTED: &[&str] = &[
    "https://evil.example",
    "https://allowed.example.evil.example",
    "https://allowed.example:8443",
    "http://allowed.example",
    "HTTPS://ALLOWED.EXAMPLE",
    "null",
    "*",
    "https://allowed.example/",
    "https://allowed.example\t.evil",
];

fn assert_not_echoed(response: &HttpResponse, origin: &str) {
    let echoed = response.header("access-control-allow-origin");
    assert!(echoed.is_none(), "{origin:?} was answered with {echoed:?}");
    assert!(response
        .header("access-control-allow-credentials")
        .is_none());
}

case_with!(
    cors_with_a_restricted_list_never_echoes_an_unlisted_origin,
    quick().cors(
        ferrio::Cors::new(ferrio::CorsOrigins::List(vec![
            "https://allowed.example".to_owned()
        ]))
        .credentials(true),
    ),
    |addr, handle| {
        let (sid, _) = polling_handshake(addr).await;
        for origin in UNLISTED {
            let h = [("Origin", *origin)];
            assert_not_echoed(
                &request(addr, "GET", &eio("EIO=4&transport=polling"), &h, None).await,
                origin,
            );
            assert_not_echoed(
                &request(addr, "POST", &polling(&sid), &h, Some(b"40")).await,
                origin,
            );
            let preflight = [
                ("Origin", *origin),
                ("Access-Control-Request-Method", "POST"),
                ("Access-Control-Request-Headers", "content-type"),
            ];
            assert_not_echoed(
                &request(
                    addr,
                    "OPTIONS",
                    &eio("EIO=4&transport=polling"),
                    &preflight,
                    None,
                )
                .await,
                origin,
            );
            assert_not_echoed(
                &request(addr, "GET", &polling("nope"), &h, None).await,
                origin,
            );
        }
        // The listed origin is answered, with credentials.
        let h = [("Origin", "https://allowed.example")];
        let response = request(addr, "GET", &eio("EIO=4&transport=polling"), &h, None).await;
        assert_eq!(
            response.header("access-control-allow-origin"),
            Some("https://allowed.example")
        );
        assert_eq!(
            response.header("access-control-allow-credentials"),
            Some("true")
        );
        let _ = &handle;
    }
);
