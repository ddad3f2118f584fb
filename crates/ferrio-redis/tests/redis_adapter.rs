//! The Redis adapter between two ferrio servers, over a `redis-server` this test starts on a free port:
//! broadcasts (all, one room, except), fetch_sockets and its remote handles, sockets_join, disconnect,
//! room sizes and lists, server-side emits with acks, broadcasts with acks, and Redis going away and coming
//! back. (The suite mixing ferrio with official Node socket.io servers is bindings/node/test/redis.test.mjs.)

// The core's raw-protocol test helpers, shared rather than copied.
#[path = "../../../core/tests/common/mod.rs"]
mod common;
mod support;

use common::*;
use ferrio::{Payload, Server};
use ferrio_redis::{RedisAdapterConfig, RedisAdapterFactory};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use support::Redis;
use tokio::time::timeout;

/// A ferrio server on the Redis adapter whose sockets join the rooms named in their `auth.rooms` and
/// answer `ask` acks with their id.
async fn node(redis: &Redis) -> (ferrio::ServerHandle, Arc<RedisAdapterFactory>) {
    let config = RedisAdapterConfig::new(redis.url()).request_timeout(Duration::from_secs(2));
    let factory = Arc::new(
        RedisAdapterFactory::connect(config, WAIT)
            .await
            .expect("redis reachable"),
    );
    let io = Server::builder().adapter(factory.clone()).build().unwrap();
    io.on_connection(|socket| {
        let auth = socket.handshake()["auth"].clone();
        for room in auth["rooms"].as_array().into_iter().flatten() {
            socket.join(room.as_str().unwrap_or_default());
        }
    });
    let io_for_events = io.of("/");
    io_for_events.on_server_side_emit(|event| {
        if let Some(ack) = event.ack {
            let arg: i64 = event.payload.first().unwrap_or(0);
            ack.send(Payload::one(&(arg * 2)).unwrap());
        }
    });
    let handle = io.listen("127.0.0.1:0").await.expect("listen");
    (handle, factory)
}

/// A client socket on `/`, in `rooms`; returns it with its socket id.
async fn client(addr: SocketAddr, rooms: &[&str]) -> (Ws, String) {
    let (mut ws, _) = ws_handshake(addr).await;
    ws_send_text(
        &mut ws,
        &format!("40{}", serde_json::json!({ "rooms": rooms })),
    )
    .await;
    let answer = ws_recv_text_skip_pings(&mut ws).await;
    let sid = serde_json::from_str::<serde_json::Value>(answer.strip_prefix("40").unwrap())
        .unwrap()["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    (ws, sid)
}

/// The next event packet's text, or None when nothing comes within `wait`.
async fn next_event(ws: &mut Ws, wait: Duration) -> Option<String> {
    timeout(wait, ws_recv_text_skip_pings(ws)).await.ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_ferrio_servers_act_as_one_through_redis() {
    let redis = Redis::start();
    let (a, fa) = node(&redis).await;
    let (b, fb) = node(&redis).await;
    assert_ne!(fa.uid(), fb.uid());
    let (mut on_a, a_id) = client(a.local_addr(), &["red"]).await;
    let (mut on_b, b_id) = client(b.local_addr(), &["red", "blue"]).await;
    let (mut on_b2, _) = client(b.local_addr(), &[]).await;
    let io_a = a.server().of("/");
    let io_b = b.server().of("/");

    assert_eq!(io_a.server_count().await.unwrap(), 2);

    // A broadcast from A reaches B's sockets, in order.
    for i in 0..20 {
        io_a.emit("n", Payload::one(&i).unwrap()).unwrap();
    }
    for ws in [&mut on_a, &mut on_b, &mut on_b2] {
        for i in 0..20 {
            assert_eq!(ws_recv_text_skip_pings(ws).await, format!("42[\"n\",{i}]"));
        }
    }

    // One room, with binary; except a room; one socket by id.
    let payload = Payload::builder()
        .arg(&"x")
        .unwrap()
        .binary(vec![1u8, 2, 3])
        .build();
    io_a.to("blue").emit("bin", payload).unwrap();
    assert_eq!(
        ws_recv_text_skip_pings(&mut on_b).await,
        "451-[\"bin\",\"x\",{\"_placeholder\":true,\"num\":0}]"
    );
    match ws_next(&mut on_b).await {
        Some(tokio_tungstenite::tungstenite::Message::Binary(b)) => assert_eq!(&b[..], [1, 2, 3]),
        other => panic!("expected the attachment, got {other:?}"),
    }
    io_b.except("blue")
        .emit("not-blue", Payload::empty())
        .unwrap();
    assert_eq!(ws_recv_text_skip_pings(&mut on_a).await, "42[\"not-blue\"]");
    assert_eq!(
        ws_recv_text_skip_pings(&mut on_b2).await,
        "42[\"not-blue\"]"
    );
    assert_eq!(
        next_event(&mut on_b, Duration::from_millis(300)).await,
        None
    );
    io_b.to(a_id.as_str())
        .emit("to-a", Payload::empty())
        .unwrap();
    assert_eq!(ws_recv_text_skip_pings(&mut on_a).await, "42[\"to-a\"]");

    // fetch_sockets across servers, and a remote handle that emits to the remote socket.
    let red = io_a.to("red").fetch_sockets().await.unwrap();
    let mut ids: Vec<String> = red.iter().map(|s| s.id.to_string()).collect();
    ids.sort();
    let mut expected = vec![a_id.clone(), b_id.clone()];
    expected.sort();
    assert_eq!(ids, expected);
    let remote_b = red.iter().find(|s| s.id.as_str() == b_id).unwrap();
    assert!(remote_b.rooms.iter().any(|r| &**r == "blue"));
    remote_b.emit("hello", Payload::empty()).unwrap();
    assert_eq!(ws_recv_text_skip_pings(&mut on_b).await, "42[\"hello\"]");

    // sockets_join from A, room sizes and room lists cluster-wide.
    io_a.broadcast_operator().sockets_join("all");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(io_a.room_size("all").await.unwrap(), 3);
    assert_eq!(io_b.room_size("red").await.unwrap(), 2);
    let rooms: Vec<String> = io_a
        .all_rooms()
        .await
        .unwrap()
        .iter()
        .map(|r| r.to_string())
        .collect();
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
            let text = ws_recv_text_skip_pings(ws).await;
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
    assert!(acks.answers.iter().any(|(sid, _)| sid.is_none()));

    // A namespace made later, from a thread outside the runtime, subscribes too.
    let (server_a, server_b) = (a.server().clone(), b.server().clone());
    let (late_a, _late_b) =
        std::thread::spawn(move || (server_a.of("/late"), server_b.of("/late")))
            .join()
            .unwrap();
    let (mut on_late, _) = ws_handshake(b.local_addr()).await;
    ws_send_text(&mut on_late, "40/late,").await;
    assert!(ws_recv_text_skip_pings(&mut on_late)
        .await
        .starts_with("40/late,"));
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        late_a.emit("late", Payload::empty()).unwrap();
        if let Some(text) = next_event(&mut on_late, Duration::from_millis(200)).await {
            assert_eq!(text, "42/late,[\"late\"]");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the late namespace never subscribed"
        );
    }

    // disconnect_sockets from A disconnects B's blue socket.
    io_a.to("blue").disconnect_sockets(false);
    assert_eq!(ws_recv_text_skip_pings(&mut on_b).await, "41");

    stop(a).await;
    stop(b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_going_away_keeps_local_delivery_and_the_cluster_recovers() {
    let mut redis = Redis::start();
    let port = redis.port;
    let (a, fa) = node(&redis).await;
    let (b, fb) = node(&redis).await;
    let (mut on_a, _) = client(a.local_addr(), &[]).await;
    let (mut on_b, _) = client(b.local_addr(), &[]).await;
    let io_a = a.server().of("/");

    redis.kill();
    let deadline = tokio::time::Instant::now() + WAIT;
    while fa.is_connected() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!fa.is_connected());

    // Local delivery goes on; the remote part fails with a clear error.
    let error = io_a
        .emit("local", Payload::empty())
        .expect_err("the remote part fails");
    assert!(error.to_string().contains("Redis"), "{error}");
    assert_eq!(ws_recv_text_skip_pings(&mut on_a).await, "42[\"local\"]");
    assert_eq!(
        next_event(&mut on_b, Duration::from_millis(300)).await,
        None
    );
    let fetch = timeout(WAIT, io_a.broadcast_operator().fetch_sockets())
        .await
        .expect("fails fast, never hangs");
    assert!(fetch.is_err());

    // Redis back on the same port: both servers reconnect by themselves.
    let _redis = Redis::start_on(port);
    assert!(fa.wait_connected(WAIT).await);
    assert!(fb.wait_connected(WAIT).await);
    io_a.emit("again", Payload::empty()).unwrap();
    assert_eq!(ws_recv_text_skip_pings(&mut on_a).await, "42[\"again\"]");
    assert_eq!(ws_recv_text_skip_pings(&mut on_b).await, "42[\"again\"]");
    let everyone = io_a.broadcast_operator().fetch_sockets().await.unwrap();
    assert_eq!(everyone.len(), 2);

    stop(a).await;
    stop(b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_a_server_never_answers_ends_at_the_timeout_with_an_error() {
    let redis = Redis::start();
    let (a, _fa) = node(&redis).await;
    // A bare subscriber on the request channel counts as a server but never answers.
    let client = redis::Client::open(redis.url()).unwrap();
    let mut silent = client.get_async_pubsub().await.unwrap();
    silent.subscribe("socket.io-request#/#").await.unwrap();
    let io_a = a.server().of("/");
    let started = std::time::Instant::now();
    let result = io_a.broadcast_operator().fetch_sockets().await;
    let error = result.expect_err("one server never answered");
    assert!(
        error
            .to_string()
            .contains("only 0 responses received out of 1"),
        "{error}"
    );
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert!(started.elapsed() < Duration::from_secs(5));
    stop(a).await;
}

/// With connection state recovery (kept in memory by each server) on the pub/sub adapter, a socket
/// recovering on its server gets the events the *other* servers sent its rooms meanwhile — even to a
/// room of which it was the last local member — each once, in order, with this server's offsets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovery_in_memory_keeps_what_other_servers_broadcast_meanwhile() {
    let redis = Redis::start();
    let mut servers = Vec::new();
    for _ in 0..2 {
        let factory = Arc::new(
            RedisAdapterFactory::connect(RedisAdapterConfig::new(redis.url()), WAIT)
                .await
                .expect("redis reachable"),
        );
        let io = Server::builder()
            .adapter(factory)
            .connection_state_recovery(ferrio::ConnectionStateRecovery::new())
            .build()
            .unwrap();
        io.on_connection(|socket| {
            if !socket.recovered() {
                socket.join("solo");
            }
        });
        servers.push(io.listen("127.0.0.1:0").await.expect("listen"));
    }
    let (b, a) = (servers.pop().unwrap(), servers.pop().unwrap());
    let io_a = a.server().of("/");
    let io_b = b.server().of("/");

    let (mut ws, _) = ws_handshake(b.local_addr()).await;
    ws_send_text(&mut ws, "40").await;
    let answer: serde_json::Value = serde_json::from_str(
        ws_recv_text_skip_pings(&mut ws)
            .await
            .strip_prefix("40")
            .unwrap(),
    )
    .unwrap();
    let (sid, pid) = (answer["sid"].clone(), answer["pid"].clone());
    io_b.emit("first", Payload::empty()).unwrap();
    let first: Vec<serde_json::Value> = serde_json::from_str(
        ws_recv_text_skip_pings(&mut ws)
            .await
            .strip_prefix("42")
            .unwrap(),
    )
    .unwrap();
    let offset = first.last().unwrap().clone();
    drop(ws);
    let deadline = tokio::time::Instant::now() + WAIT;
    while !io_b.sockets().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "B never noticed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // From A, while it is away: to its (now locally empty) room, to everyone, and not to it.
    for i in 0..3 {
        io_a.to("solo")
            .emit("solo", Payload::one(&i).unwrap())
            .unwrap();
        io_a.emit("all", Payload::one(&i).unwrap()).unwrap();
    }
    io_a.to("elsewhere")
        .emit("not-it", Payload::empty())
        .unwrap();
    io_a.broadcast_operator()
        .volatile()
        .emit("volatile", Payload::empty())
        .unwrap();
    // A probe on B receives the last of them: everything before it has reached B.
    let (mut probe, _) = client(b.local_addr(), &[]).await;
    io_a.emit("probe", Payload::empty()).unwrap();
    while !ws_recv_text_skip_pings(&mut probe)
        .await
        .starts_with("42[\"probe\"")
    {}

    let (mut ws, _) = ws_handshake(b.local_addr()).await;
    ws_send_text(
        &mut ws,
        &format!("40{}", serde_json::json!({"pid": pid, "offset": offset})),
    )
    .await;
    let mut missed = Vec::new();
    let answer = loop {
        let text = ws_recv_text_skip_pings(&mut ws).await;
        match text.strip_prefix("40") {
            Some(answer) => break serde_json::from_str::<serde_json::Value>(answer).unwrap(),
            None => {
                let mut args: Vec<serde_json::Value> =
                    serde_json::from_str(text.strip_prefix("42").unwrap()).unwrap();
                assert!(args.pop().unwrap().is_string(), "an offset: {text}");
                missed.push(serde_json::Value::Array(args));
            }
        }
    };
    assert_eq!(answer["sid"], sid, "recovered");
    let expected: Vec<serde_json::Value> = (0..3)
        .flat_map(|i| {
            [
                serde_json::json!(["solo", i]),
                serde_json::json!(["all", i]),
            ]
        })
        .chain([serde_json::json!(["probe"])])
        .collect();
    assert_eq!(missed, expected);
    stop(a).await;
    stop(b).await;
}
