//! Drives the chat example with raw WebSocket clients speaking Engine.IO v4 / Socket.IO v5 text frames.

use ferrio_example_chat::{
    build_server, default_admin_ui_dir, default_client_dir, default_static_dir, instrument_admin,
};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout, Instant};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

const WAIT: Duration = Duration::from_secs(5);

/// A minimal Socket.IO client on the main namespace.
struct Client {
    ws: WebSocketStream<TcpStream>,
    id: String,
    next_ack: u64,
    /// Events read while waiting for something else: `(name, args)`.
    events: VecDeque<(String, Vec<Value>)>,
}

impl Client {
    async fn connect(addr: SocketAddr) -> Client {
        let tcp = TcpStream::connect(addr).await.expect("tcp connect");
        let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
        let (ws, _) = timeout(WAIT, tokio_tungstenite::client_async(url, tcp))
            .await
            .expect("handshake in time")
            .expect("websocket handshake");
        let mut client = Client {
            ws,
            id: String::new(),
            next_ack: 1,
            events: VecDeque::new(),
        };
        let open = client.read_frame().await;
        assert!(open.starts_with("0{"), "open packet: {open}");
        client.send("40").await;
        loop {
            let frame = client.read_frame().await;
            if let Some(body) = frame.strip_prefix("40") {
                let body: Value = serde_json::from_str(body).expect("connect body");
                client.id = body["sid"].as_str().expect("sid").to_owned();
                break;
            }
            client.buffer(&frame);
        }
        client
    }

    async fn send(&mut self, text: &str) {
        self.ws
            .send(Message::Text(text.into()))
            .await
            .expect("send frame");
    }

    /// The next Engine.IO text frame, answering pings on the way.
    async fn read_frame(&mut self) -> String {
        loop {
            let message = timeout(WAIT, self.ws.next())
                .await
                .expect("a frame in time")
                .expect("connection open")
                .expect("valid frame");
            if let Message::Text(text) = message {
                if text.as_str() == "2" {
                    self.send("3").await;
                    continue;
                }
                return text.as_str().to_owned();
            }
        }
    }

    /// Keeps an event frame (`42[...]`) for later.
    fn buffer(&mut self, frame: &str) {
        if let Some(body) = frame.strip_prefix("42") {
            let mut args: Vec<Value> = serde_json::from_str(body).expect("event array");
            let name = args.remove(0).as_str().expect("event name").to_owned();
            self.events.push_back((name, args));
        }
    }

    async fn emit(&mut self, name: &str, arg: Value) {
        let frame = format!("42{}", json!([name, arg]));
        self.send(&frame).await;
    }

    /// Emits with an ack and returns the ack's first argument.
    async fn call(&mut self, name: &str, arg: Value) -> Value {
        let id = self.next_ack;
        self.next_ack += 1;
        let frame = format!("42{id}{}", json!([name, arg]));
        self.send(&frame).await;
        self.wait_for_ack(id).await
    }

    /// The first argument of ack `id`.
    async fn wait_for_ack(&mut self, id: u64) -> Value {
        let prefix = format!("43{id}");
        loop {
            let frame = self.read_frame().await;
            if let Some(body) = frame.strip_prefix(&prefix) {
                if body.starts_with('[') {
                    let args: Vec<Value> = serde_json::from_str(body).expect("ack array");
                    return args.into_iter().next().unwrap_or(Value::Null);
                }
            }
            self.buffer(&frame);
        }
    }

    /// The first event `name` whose first argument satisfies `pred` (earlier ones are dropped).
    async fn wait_for(&mut self, name: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            while let Some((event, mut args)) = self.events.pop_front() {
                if event == name && args.first().is_some_and(&pred) {
                    return args.remove(0);
                }
            }
            let frame = tokio::time::timeout_at(deadline, self.read_frame())
                .await
                .unwrap_or_else(|_| panic!("no matching \"{name}\" event in time"));
            self.buffer(&frame);
        }
    }

    /// Asserts that no event `name` arrives within `within`.
    async fn expect_none(&mut self, name: &str, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            if let Some((_, args)) = self.events.iter().find(|(event, _)| event == name) {
                panic!("unexpected \"{name}\" event: {args:?}");
            }
            match tokio::time::timeout_at(deadline, self.read_frame()).await {
                Ok(frame) => self.buffer(&frame),
                Err(_) => return,
            }
        }
    }
}

fn is_ok(ack: &Value) -> bool {
    ack["ok"] == json!(true)
}

fn is_error(ack: &Value) -> bool {
    ack["error"].is_string() && ack.get("ok").is_none()
}

async fn http_get(addr: SocketAddr, path: &str) -> String {
    let mut tcp = TcpStream::connect(addr).await.expect("tcp connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    tcp.write_all(request.as_bytes()).await.expect("request");
    let mut response = Vec::new();
    timeout(WAIT, tcp.read_to_end(&mut response))
        .await
        .expect("response in time")
        .expect("response");
    String::from_utf8_lossy(&response).into_owned()
}

#[tokio::test]
async fn chat_end_to_end() {
    let client_dir = default_client_dir();
    let has_client = client_dir.join("socket.io.js").is_file();
    let io = build_server(Some(default_static_dir()), has_client.then_some(client_dir));
    let handle = io.listen(("127.0.0.1", 0)).await.expect("listen");
    let addr = handle.local_addr();

    // The page, and the browser client when `npm install` has run.
    let page = http_get(addr, "/").await;
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("/socket.io/socket.io.js"));
    if has_client {
        let bundle = http_get(addr, "/socket.io/socket.io.js").await;
        assert!(bundle.starts_with("HTTP/1.1 200"));
    }

    let mut alice = Client::connect(addr).await;
    let mut bob = Client::connect(addr).await;
    let mut carol = Client::connect(addr).await;

    // Nothing before a nickname.
    assert!(is_error(&alice.call("join", json!("lobby")).await));
    assert!(is_error(
        &alice
            .call("message", json!({"room": "lobby", "text": "hi"}))
            .await
    ));

    // Nicknames: validated and unique (case-insensitively).
    let ack = alice.call("nick", json!("alice")).await;
    assert!(is_ok(&ack), "{ack}");
    assert_eq!(ack["id"], json!(alice.id));
    assert!(is_error(&bob.call("nick", json!("alice")).await));
    assert!(is_error(&bob.call("nick", json!(" ALICE ")).await));
    assert!(is_error(&bob.call("nick", json!("")).await));
    assert!(is_error(&bob.call("nick", json!(42)).await));
    assert!(is_error(&bob.call("nick", json!("x".repeat(33))).await));
    assert!(is_ok(&bob.call("nick", json!("bob")).await));
    assert!(is_ok(&carol.call("nick", json!("carol")).await));
    let users = carol
        .wait_for("users", |u| u.as_array().is_some_and(|a| a.len() == 3))
        .await;
    assert_eq!(users[0], json!({"id": alice.id, "nick": "alice"}));
    assert_eq!(users[1], json!({"id": bob.id, "nick": "bob"}));

    // Rooms: wrong types and socket-id names are refused.
    assert!(is_error(&alice.call("join", json!(["lobby"])).await));
    assert!(is_error(&alice.call("join", json!(bob.id.clone())).await));
    assert!(is_error(&alice.call("leave", json!("lobby")).await));
    assert!(is_ok(&alice.call("join", json!("lobby")).await));
    assert!(is_ok(&bob.call("join", json!("lobby")).await));
    alice
        .wait_for("notice", |n| {
            n["room"] == "lobby" && n["text"] == "bob joined"
        })
        .await;

    // Everybody sees the room with its two members, and no socket-id room.
    let rooms = carol
        .wait_for("rooms", |r| {
            r.as_array()
                .is_some_and(|a| !a.is_empty() && a[0]["count"] == 2)
        })
        .await;
    assert_eq!(rooms, json!([{"name": "lobby", "count": 2}]));

    // A message reaches the room, sender included; not-members cannot post.
    let ack = alice
        .call("message", json!({"room": "lobby", "text": " hello "}))
        .await;
    assert!(is_ok(&ack), "{ack}");
    for client in [&mut alice, &mut bob] {
        let message = client.wait_for("message", |_| true).await;
        assert_eq!(message["room"], "lobby");
        assert_eq!(message["from"], "alice");
        assert_eq!(message["text"], "hello");
        assert!(message["time"].is_u64());
    }
    assert!(is_error(
        &carol
            .call("message", json!({"room": "lobby", "text": "hi"}))
            .await
    ));
    assert!(is_error(
        &alice
            .call("message", json!({"room": "lobby", "text": 7}))
            .await
    ));
    assert!(is_error(&alice.call("message", json!("lobby")).await));
    assert!(is_error(
        &alice
            .call("message", json!({"room": "lobby", "text": "   "}))
            .await
    ));

    // A private message reaches its target and is echoed to the sender, nobody else.
    assert!(is_error(
        &alice
            .call("private", json!({"to": "nobody", "text": "hi"}))
            .await
    ));
    assert!(is_error(
        &alice
            .call("private", json!({"to": bob.id, "text": null}))
            .await
    ));
    let ack = alice
        .call("private", json!({"to": bob.id, "text": "psst"}))
        .await;
    assert!(is_ok(&ack), "{ack}");
    let from = json!({"id": alice.id, "nick": "alice"});
    let to = json!({"id": bob.id, "nick": "bob"});
    for client in [&mut bob, &mut alice] {
        let private = client.wait_for("private", |_| true).await;
        assert_eq!(private["from"], from);
        assert_eq!(private["to"], to);
        assert_eq!(private["text"], "psst");
    }
    carol
        .expect_none("private", Duration::from_millis(300))
        .await;
    alice
        .expect_none("message", Duration::from_millis(50))
        .await;

    // Bob leaves: the room hears it, and the lists shrink.
    bob.ws.close(None).await.expect("close");
    let notice = alice
        .wait_for("notice", |n| n["text"] == "bob is leaving")
        .await;
    assert_eq!(notice["room"], "lobby");
    // Once, not once per handler.
    alice
        .expect_none("notice", Duration::from_millis(300))
        .await;
    carol
        .wait_for("rooms", |r| *r == json!([{"name": "lobby", "count": 1}]))
        .await;
    carol
        .wait_for("users", |u| u.as_array().is_some_and(|a| a.len() == 2))
        .await;

    // Events without an ack, or with no argument at all, are ignored without harm.
    carol.emit("join", json!({"room": "lobby"})).await;
    carol.send(r#"42["message"]"#).await;
    carol.send(r#"4299["private"]"#).await;
    let ack = carol.wait_for_ack(99).await;
    assert!(is_error(&ack), "{ack}");

    // Leaving the last member's room removes it from the list.
    assert!(is_ok(&alice.call("leave", json!("lobby")).await));
    carol.wait_for("rooms", |r| *r == json!([])).await;

    handle.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn the_admin_ui_is_offered_with_a_login() {
    let io = build_server(Some(default_static_dir()), None);
    let ui_dir = default_admin_ui_dir();
    let has_ui = ui_dir.join("index.html").is_file();
    instrument_admin(&io, "demo-password", has_ui.then_some(ui_dir)).expect("instrument");
    let handle = io.listen(("127.0.0.1", 0)).await.expect("listen");
    let addr = handle.local_addr();
    if has_ui {
        let page = http_get(addr, "/admin/").await;
        assert!(page.starts_with("HTTP/1.1 200"), "{page}");
        assert!(page.contains("Socket.IO Admin UI"));
    }
    for (password, accepted) in [("wrong", false), ("demo-password", true)] {
        let tcp = TcpStream::connect(addr).await.expect("tcp connect");
        let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
        let (mut ws, _) = timeout(WAIT, tokio_tungstenite::client_async(url, tcp))
            .await
            .expect("handshake in time")
            .expect("websocket handshake");
        let auth = json!({"username": "admin", "password": password});
        ws.send(Message::text(format!("40/admin,{auth}")))
            .await
            .expect("send");
        let answer = timeout(WAIT, async {
            loop {
                match ws.next().await {
                    Some(Ok(Message::Text(text)))
                        if text.starts_with("40/admin,") || text.starts_with("44/admin,") =>
                    {
                        return text.as_str().to_owned()
                    }
                    Some(Ok(_)) => {}
                    other => panic!("connection ended: {other:?}"),
                }
            }
        })
        .await
        .expect("an answer in time");
        if accepted {
            assert!(answer.starts_with("40/admin,"), "{answer}");
        } else {
            assert!(answer.contains("invalid credentials"), "{answer}");
        }
    }
    handle.shutdown(Duration::from_millis(500)).await;
}
