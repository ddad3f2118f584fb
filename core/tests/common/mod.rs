//! Shared helpers of the raw-protocol tests: a tiny HTTP/1.1 client over `TcpStream` (one request per
//! connection, `Connection: close`), raw WebSocket clients, and an echoing Socket.IO server.

#![allow(dead_code)]

use futures_util::{SinkExt, StreamExt};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// The upper bound of every single wait in the tests.
pub const WAIT: Duration = Duration::from_secs(10);

/// The Engine.IO record separator of polling payloads.
pub const SEP: char = '\x1e';

/// A raw WebSocket client connection.
pub type Ws = WebSocketStream<TcpStream>;

/// A parsed HTTP response.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The headers, names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    /// The body (as many bytes as `Content-Length` said, or up to EOF).
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as UTF-8 text.
    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("the body is UTF-8")
    }

    /// The body parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.text()))
    }
}

/// Sends one HTTP/1.1 request on a fresh connection and reads the whole response. The body is written
/// concurrently with reading, so a server answering early (413) is still read.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> HttpResponse {
    timeout(WAIT, request_inner(addr, method, target, headers, body))
        .await
        .unwrap_or_else(|_| panic!("{method} {target}: no response in time"))
}

async fn request_inner(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> HttpResponse {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut reader, mut writer) = stream.into_split();
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(body) = body {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    if let Some(body) = body {
        out.extend_from_slice(body);
    }
    let write = tokio::spawn(async move {
        // The server may answer and close before reading everything (413): ignore write errors.
        let _ = writer.write_all(&out).await;
        let _ = writer.flush().await;
        writer
    });

    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let header_end = loop {
        if let Some(pos) = find(&buf, b"\r\n\r\n") {
            break pos;
        }
        let n = reader.read(&mut chunk).await.expect("read response head");
        assert!(
            n > 0,
            "connection closed before the response head: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buf[..header_end].to_vec()).expect("ASCII head");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("status line");
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = buf[header_end + 4..].to_vec();
    let length = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .map(|(_, v)| v.parse::<usize>().expect("numeric Content-Length"));
    assert!(
        !headers
            .iter()
            .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked")),
        "chunked responses are not supported by this helper"
    );
    match length {
        Some(length) => {
            while body.len() < length {
                let n = reader.read(&mut chunk).await.expect("read response body");
                assert!(n > 0, "connection closed in the middle of the body");
                body.extend_from_slice(&chunk[..n]);
            }
            body.truncate(length);
        }
        None if status == 204 || status == 304 || status == 101 => {}
        None => loop {
            match reader.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => body.extend_from_slice(&chunk[..n]),
            }
        },
    }
    write.abort();
    HttpResponse {
        status,
        headers,
        body,
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A GET.
pub async fn get(addr: SocketAddr, target: &str) -> HttpResponse {
    request(addr, "GET", target, &[], None).await
}

/// A POST with a body.
pub async fn post(addr: SocketAddr, target: &str, body: impl AsRef<[u8]>) -> HttpResponse {
    request(
        addr,
        "POST",
        target,
        &[("Content-Type", "text/plain;charset=UTF-8")],
        Some(body.as_ref()),
    )
    .await
}

/// The engine path with a query.
pub fn eio(query: &str) -> String {
    format!("/socket.io/?{query}")
}

/// The polling URL of a session.
pub fn polling(sid: &str) -> String {
    eio(&format!("EIO=4&transport=polling&sid={sid}"))
}

/// Asserts an official Engine.IO error answer: status, JSON content type and `{"code","message"}` body.
pub fn assert_engine_error(response: &HttpResponse, status: u16, code: u64, message: &str) {
    assert_eq!(
        response.status,
        status,
        "status; body {:?}",
        String::from_utf8_lossy(&response.body)
    );
    assert_eq!(
        response.header("content-type"),
        Some("application/json"),
        "content type"
    );
    assert_eq!(
        response.json(),
        serde_json::json!({ "code": code, "message": message })
    );
}

/// Parses an open packet (`0{...}`).
pub fn parse_open(packet: &str) -> serde_json::Value {
    let json = packet
        .strip_prefix('0')
        .unwrap_or_else(|| panic!("not an open packet: {packet:?}"));
    serde_json::from_str(json).expect("open packet JSON")
}

/// A polling handshake: returns the session id and the open packet's JSON.
pub async fn polling_handshake(addr: SocketAddr) -> (String, serde_json::Value) {
    let response = get(addr, &eio("EIO=4&transport=polling")).await;
    assert_eq!(response.status, 200, "handshake: {:?}", response.text());
    let open = parse_open(&response.text());
    let sid = open["sid"].as_str().expect("sid").to_owned();
    (sid, open)
}

/// A polling handshake followed by the Socket.IO CONNECT to the main namespace; returns the Engine.IO
/// session id.
pub async fn polling_connect(addr: SocketAddr) -> String {
    let (sid, _) = polling_handshake(addr).await;
    let response = post(addr, &polling(&sid), "40").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), "ok");
    let response = get(addr, &polling(&sid)).await;
    assert_eq!(response.status, 200);
    let text = response.text();
    assert!(text.starts_with("40{"), "CONNECT answer: {text:?}");
    sid
}

/// GETs until `count` packets arrived (a payload may hold several); returns them in order.
pub async fn poll_packets(addr: SocketAddr, sid: &str, count: usize) -> Vec<String> {
    let mut packets = Vec::new();
    while packets.len() < count {
        let response = get(addr, &polling(sid)).await;
        assert_eq!(response.status, 200, "poll: {:?}", response.text());
        packets.extend(response.text().split(SEP).map(str::to_owned));
    }
    packets
}

/// Opens a raw WebSocket to the engine path with this query.
pub async fn ws_connect(addr: SocketAddr, query: &str) -> Ws {
    let stream = timeout(WAIT, TcpStream::connect(addr))
        .await
        .expect("connect in time")
        .expect("connect");
    let url = format!("ws://{addr}{}", eio(query));
    let (ws, _) = timeout(WAIT, tokio_tungstenite::client_async(url, stream))
        .await
        .expect("websocket handshake in time")
        .expect("websocket handshake");
    ws
}

/// Opens a WebSocket session directly (`transport=websocket`); returns it with the open packet's JSON.
pub async fn ws_handshake(addr: SocketAddr) -> (Ws, serde_json::Value) {
    let mut ws = ws_connect(addr, "EIO=4&transport=websocket").await;
    let open = parse_open(&ws_recv_text(&mut ws).await);
    (ws, open)
}

/// The next message, whatever it is (`None` when the stream ended or failed).
pub async fn ws_next(ws: &mut Ws) -> Option<Message> {
    match timeout(WAIT, ws.next())
        .await
        .expect("a websocket message in time")
    {
        Some(Ok(message)) => Some(message),
        _ => None,
    }
}

/// The next text message; panics on anything else.
pub async fn ws_recv_text(ws: &mut Ws) -> String {
    match ws_next(ws).await {
        Some(Message::Text(text)) => text.as_str().to_owned(),
        other => panic!("expected a text message, got {other:?}"),
    }
}

/// The next text message that is not a ping (`2`).
pub async fn ws_recv_text_skip_pings(ws: &mut Ws) -> String {
    loop {
        let text = ws_recv_text(ws).await;
        if text != "2" {
            return text;
        }
    }
}

/// Sends a text message.
pub async fn ws_send_text(ws: &mut Ws, text: &str) {
    timeout(WAIT, ws.send(Message::text(text)))
        .await
        .expect("send in time")
        .expect("send");
}

/// Starts a Socket.IO server whose main namespace answers every `echo` event with the same arguments.
pub async fn echo_server(builder: ferrio::ServerBuilder) -> ferrio::ServerHandle {
    let io = builder.build().expect("valid options");
    io.on_connection(|socket| {
        socket.on("echo", |socket, event| async move {
            let _ = socket.emit("echo", event.payload);
        });
    });
    io.listen("127.0.0.1:0").await.expect("listen")
}

/// Shuts a server down quickly.
pub async fn stop(handle: ferrio::ServerHandle) {
    handle.shutdown(Duration::from_millis(500)).await;
}

/// The server still serves: a new client connects over WebSocket and gets its echo.
pub async fn healthy(addr: SocketAddr) {
    let (mut ws, _) = ws_handshake(addr).await;
    ws_send_text(&mut ws, "40").await;
    assert!(ws_recv_text_skip_pings(&mut ws).await.starts_with("40{"));
    ws_send_text(&mut ws, "42[\"echo\",\"still here\"]").await;
    assert_eq!(
        ws_recv_text_skip_pings(&mut ws).await,
        "42[\"echo\",\"still here\"]"
    );
    let _ = ws.close(None).await;
}

/// One client frame, masked as clients must (unless `masked` is false).
pub fn frame(opcode: u8, fin: bool, payload: &[u8], masked: bool) -> Vec<u8> {
    let mut out = vec![(if fin { 0x80 } else { 0 }) | opcode];
    let mask_bit = if masked { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => out.push(mask_bit | n as u8),
        n if n <= 0xFFFF => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    let key = [0x12, 0x34, 0x56, 0x78];
    if masked {
        out.extend_from_slice(&key);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    } else {
        out.extend_from_slice(payload);
    }
    out
}

/// A masked client text frame.
pub fn text(payload: &str) -> Vec<u8> {
    frame(1, true, payload.as_bytes(), true)
}
