//! Minimal Engine.IO v4 / Socket.IO v5 client over a raw WebSocket.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

/// A connected WebSocket carrying Engine.IO packets.
pub type Ws = WebSocketStream<TcpStream>;

/// The Engine.IO pong packet.
pub fn pong() -> Message {
    Message::Text(Utf8Bytes::from_static("3"))
}

/// Nanoseconds elapsed since the first call (process-local monotonic clock).
pub fn now_ns() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    let epoch = *EPOCH.get_or_init(Instant::now);
    Instant::now().duration_since(epoch).as_nanos() as u64
}

/// Host:port and request URL extracted from a `ws://host:port/path` URL.
#[derive(Clone, Debug)]
pub struct Target {
    /// `host:port` to open the TCP connection to.
    pub addr: String,
    /// The full URL for the WebSocket upgrade request.
    pub url: String,
}

impl Target {
    /// Parses `ws://host:port/...`; only plain `ws://` is supported.
    pub fn parse(url: &str) -> Result<Target, String> {
        let rest = url
            .strip_prefix("ws://")
            .ok_or_else(|| format!("only ws:// URLs are supported: {url}"))?;
        let hostport = rest.split('/').next().unwrap_or(rest);
        if hostport.is_empty() {
            return Err(format!("no host in {url}"));
        }
        let addr = if hostport.contains(':') {
            hostport.to_string()
        } else {
            format!("{hostport}:80")
        };
        Ok(Target {
            addr,
            url: url.to_string(),
        })
    }
}

/// What a received frame means for the benchmark.
pub enum Incoming {
    /// A Socket.IO EVENT packet; the payload after `42`.
    Event(Utf8Bytes),
    /// An Engine.IO ping that has already been answered (pong queued).
    Ping,
    /// Anything else that can be ignored (pong, noop, non-event packets).
    Other,
    /// The server closed the session or the transport.
    Closed,
}

/// Classifies a WebSocket message; for an Engine.IO ping, returns `Ping` and
/// the caller must send [`pong`].
pub fn classify(msg: Message) -> Incoming {
    match msg {
        Message::Text(t) => {
            let b = t.as_bytes();
            match b.first() {
                Some(b'4') if b.get(1) == Some(&b'2') => Incoming::Event(t),
                Some(b'2') => Incoming::Ping,
                Some(b'1') => Incoming::Closed,
                _ => Incoming::Other,
            }
        }
        Message::Close(_) => Incoming::Closed,
        _ => Incoming::Other,
    }
}

/// Opens a WebSocket, performs the Engine.IO open and Socket.IO CONNECT
/// handshake on the main namespace, and returns the connected socket.
pub async fn connect(target: &Target, timeout: Duration) -> Result<Ws, String> {
    tokio::time::timeout(timeout, connect_inner(target))
        .await
        .map_err(|_| "handshake timed out".to_string())?
}

async fn connect_inner(target: &Target) -> Result<Ws, String> {
    let tcp = TcpStream::connect(&target.addr)
        .await
        .map_err(|e| format!("tcp connect {}: {e}", target.addr))?;
    tcp.set_nodelay(true).map_err(|e| e.to_string())?;
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(16 * 1024);
    let (mut ws, _resp) =
        tokio_tungstenite::client_async_with_config(target.url.as_str(), tcp, Some(config))
            .await
            .map_err(|e| format!("websocket upgrade: {e}"))?;
    // Engine.IO open packet.
    loop {
        let msg = next_text(&mut ws).await?;
        if msg.starts_with('0') {
            break;
        }
        if msg.starts_with('2') {
            ws.send(pong()).await.map_err(|e| e.to_string())?;
        }
    }
    ws.send(Message::Text(Utf8Bytes::from_static("40")))
        .await
        .map_err(|e| format!("send CONNECT: {e}"))?;
    loop {
        let msg = next_text(&mut ws).await?;
        if msg.starts_with("40") {
            return Ok(ws);
        }
        if msg.starts_with("44") {
            return Err(format!("CONNECT refused: {msg}"));
        }
        if msg.starts_with('2') {
            ws.send(pong()).await.map_err(|e| e.to_string())?;
        }
    }
}

async fn next_text(ws: &mut Ws) -> Result<String, String> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => return Ok(t.as_str().to_string()),
            Some(Ok(Message::Close(_))) | None => return Err("closed during handshake".into()),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(format!("read during handshake: {e}")),
        }
    }
}

/// Parses the payload of `42["<name>",<u64>,<u64>]` into the two integers.
/// `payload` is the full packet text including the leading `42`. A trailing
/// string argument (connection state recovery's offset) is accepted.
pub fn parse_two_ints(payload: &str, name: &str) -> Option<(u64, u64)> {
    parse_event(payload, name).map(|(a, b, _)| (a, b))
}

/// Parses `42["<name>",<u64>,<u64>]` or, with connection state recovery on
/// the server, `42["<name>",<u64>,<u64>,"<offset>"]` (socket.io appends the
/// offset of every broadcast it keeps as the event's last argument). Returns
/// the two integers and whether an offset was there. Anything else (another
/// event, a missing or non-integer argument, a fourth argument that is not a
/// string, a fifth argument) is `None`.
pub fn parse_event(payload: &str, name: &str) -> Option<(u64, u64, bool)> {
    let rest = payload.strip_prefix("42")?;
    // Fast path: exactly the compact form the servers produce.
    if let Some(args) = rest
        .strip_prefix("[\"")
        .and_then(|r| r.strip_prefix(name))
        .and_then(|r| r.strip_prefix("\","))
        .and_then(|r| r.strip_suffix(']'))
    {
        let mut it = args.splitn(3, ',');
        if let (Some(a), Some(b)) = (it.next(), it.next()) {
            if let (Ok(a), Ok(b)) = (a.parse(), b.parse()) {
                match it.next() {
                    None => return Some((a, b, false)),
                    // A plain JSON string: quotes at both ends, none (and no escape) inside.
                    Some(o)
                        if o.len() >= 2
                            && o.starts_with('"')
                            && o.ends_with('"')
                            && !o[1..o.len() - 1].contains(['"', '\\']) =>
                    {
                        return Some((a, b, true))
                    }
                    Some(_) => {}
                }
            }
        }
    }
    // Slow path: any valid JSON spelling (whitespace, namespace prefix, ack id, escapes).
    let start = rest.find('[')?;
    let v: serde_json::Value = serde_json::from_str(&rest[start..]).ok()?;
    let arr = v.as_array()?;
    let offset = match arr.len() {
        3 => false,
        4 if arr[3].is_string() => true,
        _ => return None,
    };
    if arr[0].as_str()? != name {
        return None;
    }
    Some((arr[1].as_u64()?, arr[2].as_u64()?, offset))
}

/// Builds the text of `42["<name>",a,b]`.
pub fn event_two_ints(name: &str, a: u64, b: u64) -> Message {
    Message::Text(format!("42[\"{name}\",{a},{b}]").into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fast_and_slow() {
        assert_eq!(parse_two_ints("42[\"echo\",1,2]", "echo"), Some((1, 2)));
        assert_eq!(parse_two_ints("42[\"echo\", 3, 4]", "echo"), Some((3, 4)));
        assert_eq!(parse_two_ints("42[\"bcast\",3,4]", "echo"), None);
        assert_eq!(parse_two_ints("42[\"echo\",3]", "echo"), None);
    }

    #[test]
    fn accepts_a_trailing_offset() {
        // ferrio's and socket.io's in-memory offsets, a Redis stream id.
        for offset in ["f3a1c2-17", "OqHn3TQ", "1733412345678-0"] {
            let text = format!("42[\"bcast\",5,6,\"{offset}\"]");
            assert_eq!(parse_event(&text, "bcast"), Some((5, 6, true)), "{text}");
            assert_eq!(parse_two_ints(&text, "bcast"), Some((5, 6)), "{text}");
        }
        assert_eq!(
            parse_event("42[\"bcast\",5,6]", "bcast"),
            Some((5, 6, false))
        );
        // The slow path: spacing, escapes.
        assert_eq!(
            parse_event("42[\"bcast\", 5, 6, \"a\\\"b\"]", "bcast"),
            Some((5, 6, true))
        );
        assert_eq!(
            parse_event("42[\"bcast\",5,6,\"a,b\"]", "bcast"),
            Some((5, 6, true))
        );
    }

    #[test]
    fn rejects_what_is_not_an_offset() {
        for text in [
            "42[\"bcast\",5,6,7]",
            "42[\"bcast\",5,6,\"o\",\"p\"]",
            "42[\"bcast\",5,6,null]",
            "42[\"bcast\",5,6,\"o]",
            "42[\"bcast\",5,\"o\"]",
            "42[\"bcast\",5,6,{\"o\":1}]",
            "42[\"echo\",5,6,\"o\"]",
        ] {
            assert_eq!(parse_event(text, "bcast"), None, "{text}");
        }
    }

    #[test]
    fn parses_target() {
        let t = Target::parse("ws://127.0.0.1:3000/socket.io/?EIO=4&transport=websocket").unwrap();
        assert_eq!(t.addr, "127.0.0.1:3000");
    }
}
