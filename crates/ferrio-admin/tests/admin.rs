//! The admin UI instrumentation (`ferrio-admin`) over real WebSockets: login (bcrypt, plain, custom,
//! sessions, refusal), the events the UI is sent and their fields, its commands, read-only and production
//! modes, and the UI's files served on the server's own port.

// The core's raw-protocol test helpers, shared rather than copied.
#[path = "../../../core/tests/common/mod.rs"]
mod common;

use common::*;
use ferrio::{Server, ServerHandle};
use ferrio_admin::{AdminAuth, AdminError, AdminMode, AdminOptions, Instrument};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::timeout;

/// A raw Socket.IO client over one WebSocket, joined to one namespace.
struct Client {
    ws: Ws,
    nsp: String,
    sid: String,
    /// Events received but not yet waited for.
    log: Vec<Received>,
}

/// One event packet received: its name and arguments.
#[derive(Debug, Clone)]
struct Received {
    name: String,
    args: Vec<Value>,
}

fn prefix(nsp: &str) -> String {
    if nsp == "/" {
        String::new()
    } else {
        format!("{nsp},")
    }
}

/// Connects to `nsp` with `auth`; returns the client and what came before the CONNECT answer, or the
/// CONNECT_ERROR's JSON.
async fn connect(
    addr: std::net::SocketAddr,
    nsp: &str,
    auth: Value,
) -> Result<(Client, Vec<Received>), Value> {
    let (mut ws, _) = ws_handshake(addr).await;
    ws_send_text(&mut ws, &format!("40{}{}", prefix(nsp), auth)).await;
    let mut early = Vec::new();
    loop {
        let text = ws_recv_text_skip_pings(&mut ws).await;
        let body = text.strip_prefix('4').expect("a message packet");
        let (kind, rest) = body.split_at(1);
        let rest = rest.strip_prefix(&prefix(nsp)).unwrap_or(rest);
        match kind {
            "0" => {
                let sid = serde_json::from_str::<Value>(rest).unwrap()["sid"]
                    .as_str()
                    .unwrap()
                    .to_owned();
                let client = Client {
                    ws,
                    nsp: nsp.to_owned(),
                    sid,
                    log: Vec::new(),
                };
                return Ok((client, early));
            }
            "4" => return Err(serde_json::from_str(rest).unwrap()),
            "2" => early.push(parse_event(rest)),
            other => panic!("unexpected packet type {other}: {text}"),
        }
    }
}

fn parse_event(text: &str) -> Received {
    // An ack id may precede the array.
    let start = text.find('[').expect("event array");
    let mut array: Vec<Value> = serde_json::from_str(&text[start..]).expect("event JSON");
    let name = array.remove(0).as_str().unwrap().to_owned();
    Received { name, args: array }
}

impl Client {
    async fn emit(&mut self, event: &str, args: Value) {
        let mut array = vec![Value::from(event)];
        array.extend(args.as_array().cloned().unwrap_or_default());
        ws_send_text(
            &mut self.ws,
            &format!("42{}{}", prefix(&self.nsp), Value::Array(array)),
        )
        .await;
    }

    /// The next event packet of this namespace (other packets are skipped); `None` on a DISCONNECT.
    async fn next(&mut self) -> Option<Received> {
        loop {
            let text = ws_recv_text_skip_pings(&mut self.ws).await;
            let Some(body) = text.strip_prefix('4') else {
                continue;
            };
            let (kind, rest) = body.split_at(1);
            let Some(rest) = (if self.nsp == "/" {
                Some(rest)
            } else {
                rest.strip_prefix(&prefix(&self.nsp))
            }) else {
                continue;
            };
            match kind {
                "2" => return Some(parse_event(rest)),
                "1" => return None,
                _ => {}
            }
        }
    }

    /// Waits for an event named `name` satisfying `pred` (maybe one received earlier); the others are
    /// kept for later waits.
    async fn wait(&mut self, name: &str, pred: impl Fn(&[Value]) -> bool) -> Received {
        if let Some(i) = self
            .log
            .iter()
            .position(|e| e.name == name && pred(&e.args))
        {
            return self.log.remove(i);
        }
        let deadline = Duration::from_secs(5);
        timeout(deadline, async {
            loop {
                match self.next().await {
                    Some(event) if event.name == name && pred(&event.args) => return event,
                    Some(event) => self.log.push(event),
                    None => panic!("disconnected while waiting for {name}"),
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no {name} in time"))
    }
}

/// A bcrypt hash of "secret" at the lowest cost, so the tests stay fast.
fn hash() -> String {
    bcrypt::hash("secret", 4).unwrap()
}

async fn instrumented(options: AdminOptions) -> (Server, ServerHandle) {
    let io = Server::builder().build().unwrap();
    io.on_connection(|socket| {
        socket.on("hello", |socket, event| async move {
            let _ = socket.emit("hi", event.payload);
        });
    });
    io.instrument(options).expect("instrument");
    let handle = io.listen("127.0.0.1:0").await.unwrap();
    (io, handle)
}

fn basic() -> AdminOptions {
    AdminOptions::new(AdminAuth::basic("admin", hash()))
}

async fn login(addr: std::net::SocketAddr) -> (Client, Vec<Received>) {
    connect(
        addr,
        "/admin",
        json!({"username": "admin", "password": "secret"}),
    )
    .await
    .expect("login accepted")
}

#[tokio::test]
async fn wrong_credentials_are_refused_with_invalid_credentials() {
    let (_io, handle) = instrumented(basic()).await;
    let addr = handle.local_addr();
    for auth in [
        json!({"username": "admin", "password": "wrong"}),
        json!({"username": "root", "password": "secret"}),
        json!({}),
        json!({"sessionId": "not-a-session"}),
    ] {
        let error = connect(addr, "/admin", auth).await.err().expect("refused");
        assert_eq!(error["message"], "invalid credentials");
    }
    stop(handle).await;
}

#[tokio::test]
async fn login_sends_session_config_stats_and_all_sockets() {
    let (_io, handle) = instrumented(basic()).await;
    let addr = handle.local_addr();
    let (user, _) = connect(addr, "/", json!({})).await.unwrap();
    let (mut admin, early) = login(addr).await;
    // The session id comes after the CONNECT answer (the UI listens from then on), before the config.
    assert!(!early.iter().any(|e| e.name == "session"), "{early:?}");
    let first = admin.wait("session", |_| true).await;
    assert!(!admin.log.iter().any(|e| e.name == "config"));
    let session = first.args[0].as_str().unwrap().to_owned();
    assert_eq!(session.len(), 16);

    let config = admin.wait("config", |_| true).await;
    let features: Vec<&str> = config.args[0]["supportedFeatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert_eq!(
        features,
        [
            "EMIT",
            "JOIN",
            "LEAVE",
            "DISCONNECT",
            "MJOIN",
            "MLEAVE",
            "MDISCONNECT",
            "AGGREGATED_EVENTS",
            "ALL_EVENTS"
        ]
    );

    let stats = admin.wait("server_stats", |_| true).await.args[0].clone();
    for field in [
        "serverId",
        "hostname",
        "pid",
        "uptime",
        "clientsCount",
        "pollingClientsCount",
        "aggregatedEvents",
        "namespaces",
    ] {
        assert!(
            stats.get(field).is_some(),
            "server_stats lacks {field}: {stats}"
        );
    }
    assert_eq!(stats["pid"], std::process::id());
    assert_eq!(stats["clientsCount"], 2);
    assert_eq!(stats["pollingClientsCount"], 0);
    let namespaces = stats["namespaces"].as_array().unwrap();
    assert!(
        namespaces.contains(&json!({"name": "/", "socketsCount": 1})),
        "{stats}"
    );
    assert!(
        namespaces.contains(&json!({"name": "/admin", "socketsCount": 1})),
        "{stats}"
    );

    let all = admin.wait("all_sockets", |_| true).await.args[0].clone();
    let listed = all
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == user.sid.as_str())
        .unwrap_or_else(|| panic!("user socket not listed: {all}"))
        .clone();
    assert_eq!(listed["nsp"], "/");
    assert_eq!(listed["transport"], "websocket");
    assert_eq!(listed["clientId"].as_str().unwrap().len(), 12);
    assert_eq!(listed["rooms"], json!([user.sid]));
    assert_eq!(listed["data"], json!({}));
    assert_eq!(listed["handshake"]["address"], "127.0.0.1");
    assert!(
        listed["handshake"].get("auth").is_none(),
        "the auth payload is never shown"
    );
    for field in [
        "headers", "query", "issued", "secure", "time", "url", "xdomain",
    ] {
        assert!(
            listed["handshake"].get(field).is_some(),
            "handshake lacks {field}"
        );
    }

    // The periodic stats carry the aggregated counts of the last interval.
    let periodic = admin
        .wait("server_stats", |args| {
            !args[0]["aggregatedEvents"].as_array().unwrap().is_empty()
        })
        .await;
    let kinds: Vec<String> = periodic.args[0]["aggregatedEvents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect();
    assert!(kinds.iter().any(|k| k == "rawConnection"), "{kinds:?}");
    assert!(kinds.iter().any(|k| k == "packetsIn"), "{kinds:?}");

    // The session id logs in without the password.
    let (mut again, _) = connect(addr, "/admin", json!({"sessionId": session}))
        .await
        .expect("session accepted");
    again.wait("config", |_| true).await;
    assert!(
        !again.log.iter().any(|e| e.name == "session"),
        "no new session for a session login"
    );
    stop(handle).await;
}

#[tokio::test]
async fn sockets_rooms_and_events_are_reported_live() {
    let (_io, handle) = instrumented(basic()).await;
    let addr = handle.local_addr();
    let (mut admin, _) = login(addr).await;
    admin.wait("all_sockets", |_| true).await;

    let (mut user, _) = connect(addr, "/", json!({"token": "t"})).await.unwrap();
    let sid = user.sid.clone();
    let connected = admin.wait("socket_connected", |a| a[0]["nsp"] == "/").await;
    assert_eq!(connected.args[0]["id"], sid.as_str());
    assert!(
        connected.args[1].as_str().unwrap().ends_with('Z'),
        "an ISO date"
    );
    admin
        .wait("room_joined", |a| {
            a[0] == "/" && a[1] == sid.as_str() && a[2] == sid.as_str()
        })
        .await;

    user.emit("hello", json!([1, {"x": true}])).await;
    let received = admin.wait("event_received", |a| a[0] == "/").await;
    assert_eq!(received.args[1], sid.as_str());
    assert_eq!(received.args[2], json!(["hello", 1, {"x": true}]));
    let sent = admin.wait("event_sent", |a| a[0] == "/").await;
    assert_eq!(sent.args[1], sid.as_str());
    assert_eq!(sent.args[2], json!(["hi", 1, {"x": true}]));

    // Commands: join by socket id, leave, emit to a room, disconnect.
    admin.emit("join", json!(["/", "lobby", sid])).await;
    admin
        .wait("room_joined", |a| a[1] == "lobby" && a[2] == sid.as_str())
        .await;
    admin
        .emit("emit", json!(["/", "lobby", "news", "extra", 2]))
        .await;
    let news = user.wait("news", |_| true).await;
    assert_eq!(news.args, vec![json!("extra"), json!(2)]);
    let broadcast = admin.wait("event_sent", |a| a[2][0] == "news").await;
    assert_eq!(broadcast.args[1], sid.as_str());
    admin.emit("leave", json!(["/", "lobby", sid])).await;
    admin
        .wait("room_left", |a| a[1] == "lobby" && a[2] == sid.as_str())
        .await;
    admin.emit("_disconnect", json!(["/", false, sid])).await;
    assert!(
        timeout(Duration::from_secs(5), user.next())
            .await
            .expect("in time")
            .is_none(),
        "the user socket is disconnected"
    );
    let gone = admin.wait("socket_disconnected", |a| a[0] == "/").await;
    assert_eq!(gone.args[1], sid.as_str());
    assert_eq!(gone.args[2], "server namespace disconnect");
    stop(handle).await;
}

#[tokio::test]
async fn read_only_mode_offers_and_obeys_no_commands() {
    let mut options = basic();
    options.read_only = true;
    let (io, handle) = instrumented(options).await;
    let addr = handle.local_addr();
    let (user, _) = connect(addr, "/", json!({})).await.unwrap();
    let (mut admin, _) = login(addr).await;
    let config = admin.wait("config", |_| true).await;
    assert_eq!(
        config.args[0]["supportedFeatures"],
        json!(["AGGREGATED_EVENTS", "ALL_EVENTS"])
    );
    admin.emit("join", json!(["/", "lobby", user.sid])).await;
    admin
        .emit("_disconnect", json!(["/", false, user.sid]))
        .await;
    // A round trip through the same connection orders the check after the commands.
    admin.emit("ping-me", json!([])).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let socket = io
        .of("/")
        .sockets()
        .into_iter()
        .next()
        .expect("still connected");
    assert_eq!(socket.rooms(), vec![ferrio::Room::from(user.sid.as_str())]);
    stop(handle).await;
}

#[tokio::test]
async fn production_mode_sends_stats_but_no_sockets_or_events() {
    let mut options = basic();
    options.mode = AdminMode::Production;
    options.stats_interval = Duration::from_millis(200);
    let (_io, handle) = instrumented(options).await;
    let addr = handle.local_addr();
    let (mut admin, _) = login(addr).await;
    let config = admin.wait("config", |_| true).await;
    let features = config.args[0]["supportedFeatures"]
        .as_array()
        .unwrap()
        .clone();
    assert!(features.contains(&json!("AGGREGATED_EVENTS")));
    assert!(!features.contains(&json!("ALL_EVENTS")));
    let (mut user, _) = connect(addr, "/", json!({})).await.unwrap();
    user.emit("hello", json!([1])).await;
    // Two periodic stats pass with nothing else in between.
    for _ in 0..2 {
        let next = timeout(Duration::from_secs(5), admin.next())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(next.name, "server_stats", "production mode sent {next:?}");
    }
    stop(handle).await;
}

#[tokio::test]
async fn auth_variants_plain_custom_and_disabled() {
    let (_io, handle) = instrumented(AdminOptions::new(AdminAuth::plain("u", "p"))).await;
    let addr = handle.local_addr();
    assert!(
        connect(addr, "/admin", json!({"username": "u", "password": "p"}))
            .await
            .is_ok()
    );
    assert!(
        connect(addr, "/admin", json!({"username": "u", "password": "x"}))
            .await
            .is_err()
    );
    stop(handle).await;

    let check: ferrio_admin::AuthCheck =
        Arc::new(|auth: Value| Box::pin(async move { auth["token"] == "open sesame" }));
    let (_io, handle) = instrumented(AdminOptions::new(AdminAuth::Custom(check))).await;
    let addr = handle.local_addr();
    assert!(connect(addr, "/admin", json!({"token": "open sesame"}))
        .await
        .is_ok());
    let refused = connect(addr, "/admin", json!({"token": "nope"}))
        .await
        .err()
        .unwrap();
    assert_eq!(refused["message"], "invalid credentials");
    stop(handle).await;

    let mut options = AdminOptions::new(AdminAuth::Disabled);
    options.namespace = "/custom-admin".into();
    let (_io, handle) = instrumented(options).await;
    let (mut admin, _) = connect(handle.local_addr(), "/custom-admin", json!({}))
        .await
        .unwrap();
    admin.wait("config", |_| true).await;
    assert!(
        !admin.log.iter().any(|e| e.name == "session"),
        "no session without a login"
    );
    stop(handle).await;
}

#[tokio::test]
async fn options_are_checked() {
    let io = Server::builder().build().unwrap();
    let bad = AdminOptions::new(AdminAuth::basic("admin", "not a hash"));
    assert!(matches!(io.instrument(bad), Err(AdminError::InvalidHash)));
    let mut missing = basic();
    missing.ui_dir = Some("/nonexistent/ui".into());
    assert!(matches!(
        io.instrument(missing),
        Err(AdminError::MissingUi(_))
    ));
    io.instrument(basic()).unwrap();
    assert!(matches!(
        io.instrument(basic()),
        Err(AdminError::AlreadyInstrumented)
    ));
    assert!("production".parse::<AdminMode>().is_ok());
    assert!("staging".parse::<AdminMode>().is_err());
    assert!(ferrio_admin::is_bcrypt_hash(
        &ferrio_admin::hash_password("x").unwrap()
    ));
}

#[tokio::test]
async fn the_ui_is_served_under_admin_on_the_same_port() {
    let dir = std::env::temp_dir().join(format!("ferrio-admin-ui-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("js")).unwrap();
    std::fs::write(dir.join("index.html"), "<html>admin</html>").unwrap();
    std::fs::write(dir.join("js/app.js"), "console.log(1)").unwrap();
    let mut options = basic();
    options.ui_dir = Some(dir.clone());
    let (_io, handle) = instrumented(options).await;
    let addr = handle.local_addr();
    let index = get(addr, "/admin/").await;
    assert_eq!(index.status, 200);
    assert_eq!(index.text(), "<html>admin</html>");
    assert_eq!(
        index.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let script = get(addr, "/admin/js/app.js").await;
    assert_eq!(script.status, 200);
    assert_eq!(
        script.header("content-type"),
        Some("application/javascript; charset=utf-8")
    );
    let redirect = get(addr, "/admin").await;
    assert_eq!(redirect.status, 301);
    assert_eq!(redirect.header("location"), Some("/admin/"));
    assert_eq!(get(addr, "/admin/../Cargo.toml").await.status, 404);
    assert_eq!(get(addr, "/admin/missing.js").await.status, 404);
    stop(handle).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn an_uninstrumented_server_has_no_admin_namespace() {
    let io = Server::builder().build().unwrap();
    let handle = io.listen("127.0.0.1:0").await.unwrap();
    let refused = connect(handle.local_addr(), "/admin", json!({}))
        .await
        .err()
        .unwrap();
    assert_eq!(refused["message"], "Invalid namespace");
    stop(handle).await;
}

/// The core's observer hooks on their own (what the admin UI is built on).
#[tokio::test]
async fn an_observer_sees_connections_sockets_rooms_and_events() {
    use ferrio::socketio::{Observer, Socket};
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(Default)]
    struct Counts {
        opened: AtomicUsize,
        connected: AtomicUsize,
        joins: AtomicUsize,
        received: AtomicUsize,
        sent: AtomicUsize,
        broadcasts: AtomicUsize,
        bytes_in: AtomicUsize,
        disconnected: AtomicUsize,
    }
    impl Observer for Counts {
        fn connection_opened(&self, _: ferrio::TransportKind) {
            self.opened.fetch_add(1, Ordering::SeqCst);
        }
        fn message_received(&self, bytes: usize) {
            self.bytes_in.fetch_add(bytes, Ordering::SeqCst);
        }
        fn socket_connected(&self, _: &Socket) {
            self.connected.fetch_add(1, Ordering::SeqCst);
        }
        fn socket_disconnected(&self, _: &Socket, _: ferrio::DisconnectReason) {
            self.disconnected.fetch_add(1, Ordering::SeqCst);
        }
        fn room_event(&self, _: &str, event: &ferrio::adapter::RoomEvent) {
            if matches!(event, ferrio::adapter::RoomEvent::JoinRoom(..)) {
                self.joins.fetch_add(1, Ordering::SeqCst);
            }
        }
        fn event_received(&self, _: &Socket, _: &str, _: &ferrio::Payload) {
            self.received.fetch_add(1, Ordering::SeqCst);
        }
        fn event_sent(&self, _: &Socket, _: &str, _: &ferrio::Payload) {
            self.sent.fetch_add(1, Ordering::SeqCst);
        }
        fn event_broadcast(
            &self,
            _: &ferrio::Namespace,
            _: &ferrio::adapter::BroadcastOptions,
            _: &str,
            _: &ferrio::Payload,
        ) {
            self.broadcasts.fetch_add(1, Ordering::SeqCst);
        }
    }

    let io = Server::builder().build().unwrap();
    let counts = Arc::new(Counts::default());
    assert!(io.set_observer(counts.clone()).is_ok(), "first observer");
    assert!(
        io.set_observer(counts.clone()).is_err(),
        "one observer per server"
    );
    io.on_connection(|socket| {
        socket.on("hello", |socket, event| async move {
            socket.join("lobby");
            let _ = socket.emit("hi", event.payload.clone());
            let _ = socket.namespace().emit("all", event.payload);
        });
    });
    let handle = io.listen("127.0.0.1:0").await.unwrap();
    let (mut client, _) = connect(handle.local_addr(), "/", json!({})).await.unwrap();
    client.emit("hello", json!([1])).await;
    client.wait("all", |_| true).await;
    ws_send_text(&mut client.ws, "41").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while counts.disconnected.load(Ordering::SeqCst) == 0 && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(counts.opened.load(Ordering::SeqCst), 1);
    assert_eq!(counts.connected.load(Ordering::SeqCst), 1);
    assert_eq!(
        counts.joins.load(Ordering::SeqCst),
        2,
        "its own room, then lobby"
    );
    assert_eq!(counts.received.load(Ordering::SeqCst), 1);
    assert_eq!(counts.sent.load(Ordering::SeqCst), 1);
    assert_eq!(counts.broadcasts.load(Ordering::SeqCst), 1);
    assert!(counts.bytes_in.load(Ordering::SeqCst) > 0);
    assert_eq!(counts.disconnected.load(Ordering::SeqCst), 1);
    stop(handle).await;
}
