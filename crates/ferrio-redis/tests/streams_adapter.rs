//! The Redis Streams adapter between two ferrio servers, over a `redis-server` this test starts on a free
//! port: broadcasts (all, room, except, binary, one socket), room operations and requests across servers,
//! connection state recovery on the *other* server (every missed event once, in order, before the
//! CONNECT answer), and Redis restarted mid-traffic. (The suite mixing ferrio with official Node
//! socket.io servers on @socket.io/redis-streams-adapter is tests/e2e/js/redis-streams-cluster.test.mjs.)

#[path = "../../../core/tests/common/mod.rs"]
mod common;
mod support;

use common::*;
use ferrio::{ConnectionStateRecovery, Payload, Server};
use ferrio_redis::{RedisStreamsAdapterConfig, RedisStreamsAdapterFactory};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use support::Redis;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(10);

/// A ferrio server on the streams adapter with connection state recovery (a window of `window`),
/// whose sockets join the rooms named in their `auth.rooms`.
async fn node(
    redis: &Redis,
    window: Duration,
) -> (ferrio::ServerHandle, Arc<RedisStreamsAdapterFactory>) {
    let config =
        RedisStreamsAdapterConfig::new(redis.url()).request_timeout(Duration::from_secs(2));
    let factory = Arc::new(
        RedisStreamsAdapterFactory::connect(config, WAIT)
            .await
            .expect("redis reachable"),
    );
    let io = Server::builder()
        .adapter(factory.clone())
        .connection_state_recovery(
            ConnectionStateRecovery::new().max_disconnection_duration(window),
        )
        .build()
        .unwrap();
    io.on_connection(|socket| {
        if socket.recovered() {
            return;
        }
        let auth = socket.handshake()["auth"].clone();
        for room in auth["rooms"].as_array().into_iter().flatten() {
            socket.join(room.as_str().unwrap_or_default());
        }
    });
    io.of("/").on_server_side_emit(|event| {
        if let Some(ack) = event.ack {
            let arg: i64 = event.payload.first().unwrap_or(0);
            ack.send(Payload::one(&(arg * 2)).unwrap());
        }
    });
    let handle = io.listen("127.0.0.1:0").await.expect("listen");
    (handle, factory)
}

/// A client socket on `/` with `auth`; returns it with the CONNECT answer's `{sid, pid}` and the
/// packets that came before it.
async fn connect(addr: SocketAddr, auth: Value) -> (Ws, Value, Vec<String>) {
    let (mut ws, _) = ws_handshake(addr).await;
    ws_send_text(&mut ws, &format!("40{auth}")).await;
    let mut before = Vec::new();
    loop {
        let text = timeout(WAIT, ws_recv_text_skip_pings(&mut ws))
            .await
            .expect("the CONNECT answer");
        if let Some(answer) = text.strip_prefix("40") {
            return (ws, serde_json::from_str(answer).unwrap(), before);
        }
        before.push(text);
    }
}

async fn client(addr: SocketAddr, rooms: &[&str]) -> (Ws, String) {
    let (ws, answer, _) = connect(addr, json!({ "rooms": rooms })).await;
    (ws, answer["sid"].as_str().unwrap().to_owned())
}

/// The next event packet's text, or None when nothing comes within `wait`.
async fn next_event(ws: &mut Ws, wait: Duration) -> Option<String> {
    timeout(wait, ws_recv_text_skip_pings(ws)).await.ok()
}

async fn recv(ws: &mut Ws) -> String {
    timeout(WAIT, ws_recv_text_skip_pings(ws))
        .await
        .expect("an event in time")
}

/// An event's name and arguments, its offset (the last argument) split off.
fn event_with_offset(text: &str) -> (Value, String) {
    let mut args: Vec<Value> = serde_json::from_str(text.strip_prefix("42").unwrap()).unwrap();
    let offset = args.pop().and_then(|o| o.as_str().map(str::to_owned));
    (Value::Array(args), offset.expect("an offset"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_ferrio_servers_act_as_one_over_the_stream() {
    let redis = Redis::start();
    let (a, fa) = node(&redis, Duration::from_secs(30)).await;
    let (b, fb) = node(&redis, Duration::from_secs(30)).await;
    assert_ne!(fa.uid(), fb.uid());
    let (mut on_a, a_id) = client(a.local_addr(), &["red"]).await;
    let (mut on_b, b_id) = client(b.local_addr(), &["red", "blue"]).await;
    let (mut on_b2, _) = client(b.local_addr(), &[]).await;
    let io_a = a.server().of("/");
    let io_b = b.server().of("/");
    assert_eq!(io_a.server_count().await.unwrap(), 2);

    // Broadcasts from A reach every socket of both servers once, in order, with one offset each, the
    // same on both servers (the stream entry's id).
    for i in 0..20 {
        io_a.emit("n", Payload::one(&i).unwrap()).unwrap();
    }
    let mut offsets: Vec<Vec<String>> = Vec::new();
    for ws in [&mut on_a, &mut on_b, &mut on_b2] {
        let mut seen = Vec::new();
        for i in 0..20 {
            let (event, offset) = event_with_offset(&recv(ws).await);
            assert_eq!(event, json!(["n", i]));
            seen.push(offset);
        }
        offsets.push(seen);
    }
    assert_eq!(offsets[0], offsets[1]);
    assert_eq!(offsets[1], offsets[2]);

    // One room with binary; except a room; one socket by id; volatile ones carry no offset.
    let payload = Payload::builder()
        .arg(&"x")
        .unwrap()
        .binary(vec![1u8, 2, 3])
        .build();
    io_a.to("blue").emit("bin", payload).unwrap();
    let text = recv(&mut on_b).await;
    assert!(
        text.starts_with("451-[\"bin\",\"x\",{\"_placeholder\":true,\"num\":0},\""),
        "{text}"
    );
    match ws_next(&mut on_b).await {
        Some(tokio_tungstenite::tungstenite::Message::Binary(b)) => assert_eq!(&b[..], [1, 2, 3]),
        other => panic!("expected the attachment, got {other:?}"),
    }
    io_b.except("blue")
        .emit("not-blue", Payload::empty())
        .unwrap();
    assert_eq!(
        event_with_offset(&recv(&mut on_a).await).0,
        json!(["not-blue"])
    );
    assert_eq!(
        event_with_offset(&recv(&mut on_b2).await).0,
        json!(["not-blue"])
    );
    assert_eq!(
        next_event(&mut on_b, Duration::from_millis(300)).await,
        None
    );
    io_b.to(a_id.as_str())
        .emit("to-a", Payload::empty())
        .unwrap();
    assert_eq!(event_with_offset(&recv(&mut on_a).await).0, json!(["to-a"]));
    io_b.to(a_id.as_str())
        .volatile()
        .emit("volatile", Payload::empty())
        .unwrap();
    assert_eq!(recv(&mut on_a).await, "42[\"volatile\"]");

    // fetch_sockets, sockets_join, room sizes and lists across servers.
    let red = io_a.to("red").fetch_sockets().await.unwrap();
    let mut ids: Vec<String> = red.iter().map(|s| s.id.to_string()).collect();
    ids.sort();
    let mut expected = vec![a_id.clone(), b_id.clone()];
    expected.sort();
    assert_eq!(ids, expected);
    io_a.broadcast_operator().sockets_join("all");
    let deadline = tokio::time::Instant::now() + WAIT;
    while io_b.room_size("all").await.unwrap() < 3 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "sockets_join never crossed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(io_a.room_size("all").await.unwrap(), 3);
    let mut rooms: Vec<String> = io_a
        .all_rooms()
        .await
        .unwrap()
        .iter()
        .map(|r| r.to_string())
        .filter(|r| !ids.contains(r) && r.len() < 10)
        .collect();
    rooms.sort();
    assert_eq!(rooms, ["all", "blue", "red"]);

    // Server-side emit with acks: B answers A.
    let answers = io_a
        .server_side_emit_with_ack("double", Payload::one(&21).unwrap())
        .await
        .unwrap();
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].first::<i64>().unwrap(), 42);

    // A broadcast with acks from A gathers the answers of B's sockets too.
    let red_operator = io_a.to("red").timeout(Duration::from_secs(3));
    let acks = red_operator.emit_with_ack("ask", Payload::empty());
    let (acks, ()) = tokio::join!(acks, async {
        for ws in [&mut on_a, &mut on_b] {
            let text = recv(ws).await;
            let id = text
                .strip_prefix("42")
                .and_then(|t| t.split('[').next())
                .unwrap()
                .to_owned();
            ws_send_text(ws, &format!("43{id}[\"yes\"]")).await;
        }
    });
    let acks = acks.expect("every socket answered");
    assert_eq!(acks.expected, 2);
    assert_eq!(acks.answers.len(), 2);

    // sockets_leave from A: B's blue socket leaves red.
    io_a.to("blue").sockets_leave("red");
    let deadline = tokio::time::Instant::now() + WAIT;
    while io_a.room_size("red").await.unwrap() != 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "sockets_leave never crossed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let red = io_b.to("red").fetch_sockets().await.unwrap();
    assert_eq!(red.len(), 1);
    assert_eq!(red[0].id.as_str(), a_id);

    // disconnect_sockets from A disconnects B's blue socket.
    io_a.to("blue").disconnect_sockets(false);
    assert_eq!(recv(&mut on_b).await, "41");

    stop(a).await;
    stop(b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_recovers_on_the_other_server_with_every_missed_event_once_in_order() {
    let redis = Redis::start();
    let (a, _fa) = node(&redis, Duration::from_secs(30)).await;
    let (b, _fb) = node(&redis, Duration::from_secs(30)).await;
    let io_a = a.server().of("/");
    let io_b = b.server().of("/");
    let (mut ws, answer, _) = connect(a.local_addr(), json!({"rooms": ["red"]})).await;
    let sid = answer["sid"].as_str().unwrap().to_owned();
    let pid = answer["pid"].as_str().expect("a pid").to_owned();
    // One event, so the client has an offset.
    io_a.to("red").emit("first", Payload::empty()).unwrap();
    let (_, offset) = event_with_offset(&recv(&mut ws).await);
    // Its transport is cut; A keeps the session once it notices.
    drop(ws);
    let deadline = tokio::time::Instant::now() + WAIT;
    while !io_a.sockets().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "A never noticed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Meanwhile: to its room from B, to everyone from A, to it by id from B, and what it must not get.
    for i in 0..5 {
        io_b.to("red")
            .emit("room", Payload::one(&i).unwrap())
            .unwrap();
        io_a.emit("all", Payload::one(&i).unwrap()).unwrap();
    }
    io_b.to(sid.as_str())
        .emit("direct", Payload::empty())
        .unwrap();
    io_a.to("blue")
        .emit("other-room", Payload::empty())
        .unwrap();
    io_a.except("red")
        .emit("except-red", Payload::empty())
        .unwrap();
    io_a.broadcast_operator()
        .volatile()
        .emit("volatile", Payload::empty())
        .unwrap();
    // All in the stream before the client comes back: a probe on B sees the last one (and, as it
    // joined meanwhile, maybe some of the others before it).
    let (mut probe, _) = client(b.local_addr(), &[]).await;
    io_a.emit("probe", Payload::empty()).unwrap();
    loop {
        let text = recv(&mut probe).await;
        if text.starts_with("42[\"probe\"") {
            break;
        }
    }

    // It comes back on B.
    let (mut ws, answer, missed) =
        connect(b.local_addr(), json!({"pid": pid, "offset": offset})).await;
    assert_eq!(answer["sid"], json!(sid), "the same socket");
    assert_eq!(answer["pid"], json!(pid), "it keeps its pid");
    // In stream order (offsets rising): each server's events in the order it emitted them, each once.
    let offsets: Vec<(u64, u64)> = missed
        .iter()
        .map(|t| {
            let offset = event_with_offset(t).1;
            let (ms, seq) = offset.split_once('-').unwrap();
            (ms.parse().unwrap(), seq.parse().unwrap())
        })
        .collect();
    assert!(offsets.windows(2).all(|w| w[0] < w[1]), "{missed:?}");
    let missed: Vec<Value> = missed.iter().map(|t| event_with_offset(t).0).collect();
    let named =
        |name: &str| -> Vec<Value> { missed.iter().filter(|e| e[0] == name).cloned().collect() };
    let numbered = |name: &str| -> Vec<Value> { (0..5).map(|i| json!([name, i])).collect() };
    assert_eq!(named("room"), numbered("room"));
    assert_eq!(named("all"), numbered("all"));
    assert_eq!(named("direct"), [json!(["direct"])]);
    assert_eq!(missed.last(), Some(&json!(["probe"])), "{missed:?}");
    assert_eq!(missed.len(), 12, "nothing else: {missed:?}");
    let restored = io_b.sockets();
    let socket = restored
        .iter()
        .find(|s| s.id().as_str() == sid)
        .expect("on B");
    assert!(socket.recovered());
    assert!(socket.rooms().iter().any(|r| &**r == "red"));
    // Then live, exactly once.
    io_a.to("red").emit("live", Payload::empty()).unwrap();
    assert_eq!(event_with_offset(&recv(&mut ws).await).0, json!(["live"]));
    assert_eq!(next_event(&mut ws, Duration::from_millis(300)).await, None);

    // The session was taken: the same pid again gets a fresh socket.
    let (_again, answer, before) =
        connect(a.local_addr(), json!({"pid": pid, "offset": offset})).await;
    assert_ne!(answer["sid"], json!(sid));
    assert!(before.is_empty());

    stop(a).await;
    stop(b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_window_or_with_a_bad_offset_the_client_gets_a_fresh_socket() {
    let redis = Redis::start();
    let (a, _fa) = node(&redis, Duration::from_millis(300)).await;
    let io_a = a.server().of("/");
    for bad in ["nope", "1-2-3", ""] {
        let (mut ws, answer, _) = connect(a.local_addr(), json!({"rooms": []})).await;
        let pid = answer["pid"].as_str().unwrap().to_owned();
        io_a.emit("e", Payload::empty()).unwrap();
        let (_, offset) = event_with_offset(&recv(&mut ws).await);
        drop(ws);
        tokio::time::sleep(Duration::from_millis(100)).await;
        let offset = if bad.is_empty() {
            offset
        } else {
            bad.to_owned()
        };
        if bad.is_empty() {
            tokio::time::sleep(Duration::from_millis(500)).await; // past the window
        }
        let (_ws, again, before) =
            connect(a.local_addr(), json!({"pid": pid, "offset": offset})).await;
        assert_ne!(again["sid"], answer["sid"], "{bad:?}");
        assert!(before.is_empty());
        assert!(!io_a.sockets().iter().any(|s| s.recovered()));
    }
    stop(a).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restarted_mid_traffic_loses_no_broadcast_once_it_is_back() {
    let mut redis = Redis::start();
    let port = redis.port;
    let (a, fa) = node(&redis, Duration::from_secs(30)).await;
    let (b, fb) = node(&redis, Duration::from_secs(30)).await;
    let (mut on_a, _) = client(a.local_addr(), &[]).await;
    let (mut on_b, _) = client(b.local_addr(), &[]).await;
    let io_a = a.server().of("/");
    io_a.emit("before", Payload::empty()).unwrap();
    assert_eq!(
        event_with_offset(&recv(&mut on_b).await).0,
        json!(["before"])
    );
    assert_eq!(
        event_with_offset(&recv(&mut on_a).await).0,
        json!(["before"])
    );

    redis.kill();
    let deadline = tokio::time::Instant::now() + WAIT;
    while fa.is_connected() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!fa.is_connected());
    // While Redis is away, local delivery goes on and the error says the others missed it.
    let error = io_a
        .emit("local", Payload::empty())
        .expect_err("the stream is away");
    assert!(error.to_string().contains("Redis"), "{error}");
    assert_eq!(recv(&mut on_a).await, "42[\"local\"]");
    assert_eq!(
        next_event(&mut on_b, Duration::from_millis(300)).await,
        None
    );

    // Back on the same port (empty: no persistence): both resume by themselves, and every broadcast
    // from then on crosses, in order.
    let _redis = Redis::start_on(port);
    assert!(fa.wait_connected(WAIT).await);
    assert!(fb.wait_connected(WAIT).await);
    for i in 0..50 {
        io_a.emit("after", Payload::one(&i).unwrap()).unwrap();
    }
    for ws in [&mut on_a, &mut on_b] {
        for i in 0..50 {
            assert_eq!(event_with_offset(&recv(ws).await).0, json!(["after", i]));
        }
        assert_eq!(next_event(ws, Duration::from_millis(200)).await, None);
    }
    stop(a).await;
    stop(b).await;
}
