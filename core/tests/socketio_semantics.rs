//! Socket.IO semantics that need the server's view: wire order into handlers, emit order out, slow
//! consumers (bounded queues, volatile drops, never a silent loss), graceful shutdown, room events and the
//! room list.

mod common;

use common::*;
use ferrio::adapter::RoomEvent;
use ferrio::{DisconnectReason, Payload, Server};
use futures_util::SinkExt;
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

/// Connects a raw websocket client to `/` and returns it with its socket id.
async fn sio_connect(addr: std::net::SocketAddr) -> (Ws, String) {
    let (mut ws, _) = ws_handshake(addr).await;
    ws_send_text(&mut ws, "40").await;
    let connect = ws_recv_text_skip_pings(&mut ws).await;
    let sid = connect
        .strip_prefix("40")
        .and_then(|json| serde_json::from_str::<serde_json::Value>(json).ok())
        .and_then(|v| v["sid"].as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("not a CONNECT answer: {connect}"));
    (ws, sid)
}

#[tokio::test]
async fn pipelined_events_reach_handlers_in_wire_order_and_replies_leave_in_emit_order() {
    let io = Server::builder().build().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    io.on_connection(move |socket| {
        let record = record.clone();
        socket.on("seq", move |socket, event| {
            let record = record.clone();
            async move {
                let n: u64 = event.payload.first().unwrap();
                // What runs before the first await runs in wire order…
                record.lock().push(n);
                let _ = socket.emit("seq", event.payload);
                // …and a handler that then waits does not hold up the next event.
                tokio::time::sleep(Duration::from_millis(if n.is_multiple_of(2) {
                    20
                } else {
                    1
                }))
                .await;
            }
        });
    });
    let handle = io.listen("127.0.0.1:0").await.unwrap();
    let (mut ws, _) = sio_connect(handle.local_addr()).await;
    const N: u64 = 500;
    for n in 0..N {
        ws.feed(Message::text(format!("42[\"seq\",{n}]")))
            .await
            .unwrap();
    }
    ws.flush().await.unwrap();
    for expected in 0..N {
        let text = ws_recv_text_skip_pings(&mut ws).await;
        assert_eq!(text, format!("42[\"seq\",{expected}]"));
    }
    assert_eq!(*seen.lock(), (0..N).collect::<Vec<_>>());
    stop(handle).await;
}

#[tokio::test]
async fn a_client_that_does_not_read_is_disconnected_with_a_reason_not_silently_dropped() {
    let io = Server::builder().max_queued_packets(16).build().unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    io.on_connection(move |socket| {
        let tx = tx.clone();
        socket.on_disconnect(move |_, reason| {
            let _ = tx.send(reason);
        });
        socket.on("flood", |socket, _| async move {
            let big = "x".repeat(64 * 1024);
            let mut errors = 0;
            // 64 MiB: far more than the kernel's socket buffers and the 16-entry queue hold.
            for _ in 0..1024 {
                if socket.emit("big", Payload::one(&big).unwrap()).is_err() {
                    errors += 1;
                }
                tokio::task::yield_now().await;
            }
            assert!(errors > 0, "a full queue must be reported to the emitter");
        });
    });
    let handle = io.listen("127.0.0.1:0").await.unwrap();
    let (mut ws, _) = sio_connect(handle.local_addr()).await;
    ws_send_text(&mut ws, "42[\"flood\"]").await;
    // Never read again: the server must give up on this client with a clear reason.
    let reason = tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("the slow client is disconnected in time")
        .unwrap();
    assert_eq!(reason.as_str(), "send buffer full");
    drop(ws);
    stop(handle).await;
}

#[tokio::test]
async fn volatile_packets_are_dropped_for_a_slow_client_which_stays_connected() {
    let io = Server::builder().max_queued_packets(16).build().unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel::<&'static str>();
    let disconnects = Arc::new(Mutex::new(Vec::<DisconnectReason>::new()));
    let record = disconnects.clone();
    io.on_connection(move |socket| {
        let tx = tx.clone();
        let record = record.clone();
        socket.on_disconnect(move |_, reason| record.lock().push(reason));
        socket.on("flood", move |socket, _| {
            let tx = tx.clone();
            async move {
                let big = "v".repeat(64 * 1024);
                for _ in 0..1024 {
                    socket
                        .emit_volatile("big", Payload::one(&big).unwrap())
                        .expect("volatile emits never fail for a full queue");
                    tokio::task::yield_now().await;
                }
                let _ = tx.send("done");
            }
        });
        socket.on("still-there", |_, event| async move {
            if let Some(ack) = event.ack {
                let _ = ack.send(Payload::one(&true).unwrap());
            }
        });
    });
    let handle = io.listen("127.0.0.1:0").await.unwrap();
    let (mut ws, _) = sio_connect(handle.local_addr()).await;
    ws_send_text(&mut ws, "42[\"flood\"]").await;
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("the flood finishes")
        .unwrap();
    assert!(
        disconnects.lock().is_empty(),
        "volatile drops do not disconnect"
    );
    // The client is still served: drain what was kept (until the line goes quiet), then a normal event
    // gets its answer.
    let mut received = 0;
    while let Ok(Some(message)) = tokio::time::timeout(
        Duration::from_millis(500),
        futures_util::StreamExt::next(&mut ws),
    )
    .await
    {
        if let Ok(Message::Text(text)) = message {
            if text.starts_with("42[\"big\"") {
                received += 1;
            }
        }
    }
    assert!(received > 0, "what fitted was delivered");
    assert!(
        received < 1024,
        "some volatile packets were dropped ({received} kept)"
    );
    ws_send_text(&mut ws, "421[\"still-there\"]").await;
    assert_eq!(ws_recv_text_skip_pings(&mut ws).await, "431[true]");
    assert!(disconnects.lock().is_empty());
    stop(handle).await;
}

#[tokio::test]
async fn graceful_shutdown_disconnects_every_socket_with_server_shutting_down() {
    let io = Server::builder().build().unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    io.on_connection(move |socket| {
        let tx = tx.clone();
        socket.on_disconnect(move |_, reason| {
            let _ = tx.send(reason.as_str());
        });
    });
    let handle = io.listen("127.0.0.1:0").await.unwrap();
    let addr = handle.local_addr();
    let (mut ws, _) = sio_connect(addr).await;
    let polling_sid = polling_connect(addr).await;
    assert!(!polling_sid.is_empty());
    tokio::time::timeout(
        Duration::from_secs(5),
        handle.shutdown(Duration::from_secs(3)),
    )
    .await
    .expect("shutdown completes within its grace period");
    for _ in 0..2 {
        let reason = tokio::time::timeout(WAIT, rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(reason, "server shutting down");
    }
    // The websocket is closed by the server.
    let end = tokio::time::timeout(WAIT, async {
        loop {
            match ws_next(&mut ws).await {
                None | Some(Message::Close(_)) => break,
                Some(_) => {}
            }
        }
    })
    .await;
    assert!(end.is_ok(), "the websocket closes");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no longer accepting"
    );
}

#[tokio::test]
async fn room_events_and_the_room_list() {
    let io = Server::builder().build().unwrap();
    let events = Arc::new(Mutex::new(Vec::new()));
    let record = events.clone();
    io.of("/")
        .on_room_event(move |event| record.lock().push(event.clone()));
    io.on_connection(|socket| {
        socket.on("join", |socket, event| async move {
            socket.join(event.payload.first::<String>().unwrap());
            if let Some(ack) = event.ack {
                let _ = ack.send(Payload::empty());
            }
        });
        socket.on("leave", |socket, event| async move {
            socket.leave(event.payload.first::<String>().unwrap());
            if let Some(ack) = event.ack {
                let _ = ack.send(Payload::empty());
            }
        });
    });
    let handle = io.listen("127.0.0.1:0").await.unwrap();
    let (mut a, a_id) = sio_connect(handle.local_addr()).await;
    let (mut b, _) = sio_connect(handle.local_addr()).await;
    ws_send_text(&mut a, "421[\"join\",\"lobby\"]").await;
    assert_eq!(ws_recv_text_skip_pings(&mut a).await, "431[]");
    ws_send_text(&mut b, "421[\"join\",\"lobby\"]").await;
    assert_eq!(ws_recv_text_skip_pings(&mut b).await, "431[]");

    let nsp = io.of("/");
    assert_eq!(nsp.rooms(false), vec![("lobby".into(), 2)]);
    assert_eq!(nsp.rooms(true).len(), 3, "lobby and the two id rooms");
    assert_eq!(nsp.room_size("lobby").await.unwrap(), 2);

    ws_send_text(&mut a, "422[\"leave\",\"lobby\"]").await;
    assert_eq!(ws_recv_text_skip_pings(&mut a).await, "432[]");
    ws_send_text(&mut b, "422[\"leave\",\"lobby\"]").await;
    assert_eq!(ws_recv_text_skip_pings(&mut b).await, "432[]");
    assert!(nsp.rooms(false).is_empty());

    let lobby: Vec<RoomEvent> = events
        .lock()
        .iter()
        .filter(|e| {
            matches!(e, RoomEvent::CreateRoom(r) | RoomEvent::DeleteRoom(r)
                | RoomEvent::JoinRoom(r, _) | RoomEvent::LeaveRoom(r, _) if &**r == "lobby")
        })
        .cloned()
        .collect();
    assert_eq!(
        lobby.len(),
        6,
        "create, join, join, leave, leave, delete: {lobby:?}"
    );
    assert!(matches!(&lobby[0], RoomEvent::CreateRoom(_)));
    assert!(matches!(&lobby[1], RoomEvent::JoinRoom(_, sid) if sid.as_str() == a_id));
    assert!(matches!(&lobby[5], RoomEvent::DeleteRoom(_)));
    stop(handle).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_steady_stream_of_emits_does_not_starve_the_heartbeat() {
    let io = Server::builder()
        .ping_interval(Duration::from_millis(100))
        // Tolerant of a slow test client on a busy machine, still far shorter than the stream: a server
        // that stopped reading for the stream's length would time this client out.
        .ping_timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let disconnects = Arc::new(Mutex::new(Vec::<DisconnectReason>::new()));
    let record = disconnects.clone();
    io.on_connection(move |socket| {
        let record = record.clone();
        socket.on_disconnect(move |_, reason| record.lock().push(reason));
        socket.on("stream", |socket, _| async move {
            // Packets for two seconds, several per millisecond: the outgoing side is never idle.
            let until = tokio::time::Instant::now() + Duration::from_millis(2000);
            let mut n = 0u64;
            while tokio::time::Instant::now() < until {
                if socket.emit("tick", Payload::one(&n).unwrap()).is_err() {
                    break;
                }
                n += 1;
                if n.is_multiple_of(64) {
                    // Stay under the queue bound: this test is about reading, not slow consumers.
                    tokio::time::sleep(Duration::from_micros(200)).await;
                }
            }
            let _ = socket.emit("end", Payload::empty());
        });
    });
    let handle = io.listen("127.0.0.1:0").await.unwrap();
    let (mut ws, _) = sio_connect(handle.local_addr()).await;
    ws_send_text(&mut ws, "42[\"stream\"]").await;
    let mut pings = 0;
    let ended = tokio::time::timeout(WAIT, async {
        loop {
            match ws_next(&mut ws).await {
                Some(Message::Text(text)) if text.as_str() == "2" => {
                    pings += 1;
                    ws.send(Message::text("3")).await.unwrap();
                }
                Some(Message::Text(text)) if text.starts_with("42[\"end\"") => return true,
                Some(Message::Text(_)) => {}
                _ => return false,
            }
        }
    })
    .await
    .expect("the stream ends in time");
    assert!(ended, "the connection survived the stream");
    assert!(pings >= 3, "pings kept flowing during the stream ({pings})");
    assert!(disconnects.lock().is_empty(), "{:?}", disconnects.lock());
    stop(handle).await;
}

#[tokio::test]
async fn middlewares_may_join_rooms_and_emit_and_a_refusal_leaves_nothing_behind() {
    let io = Server::builder().build().unwrap();
    io.of("/").use_middleware(|socket| async move {
        socket.join("from-middleware");
        socket
            .emit("early", Payload::one(&"hello").unwrap())
            .expect("a connecting socket can emit");
        if socket.auth().get("refuse").is_some() {
            return Err(ferrio::ConnectError::new("refused"));
        }
        Ok(())
    });
    let handle = io.listen("127.0.0.1:0").await.unwrap();
    let addr = handle.local_addr();

    // Refused: its room does not outlive it, and what it was sent is never sent.
    let (mut refused, _) = ws_handshake(addr).await;
    ws_send_text(&mut refused, "40{\"refuse\":true}").await;
    assert_eq!(
        ws_recv_text_skip_pings(&mut refused).await,
        "44{\"message\":\"refused\"}"
    );
    assert!(
        io.of("/").rooms(true).is_empty(),
        "{:?}",
        io.of("/").rooms(true)
    );
    assert_eq!(io.of("/").socket_count(), 0);

    // Accepted: the CONNECT answer, then the early packet; the room is there.
    let (mut accepted, _) = ws_handshake(addr).await;
    ws_send_text(&mut accepted, "40").await;
    let first = ws_recv_text_skip_pings(&mut accepted).await;
    let second = ws_recv_text_skip_pings(&mut accepted).await;
    assert!(first.starts_with("40{\"sid\":"), "{first}");
    assert_eq!(second, "42[\"early\",\"hello\"]");
    assert_eq!(io.of("/").rooms(false), vec![("from-middleware".into(), 1)]);
    stop(handle).await;
}

/// python-socketio's `connect` handler (a middleware here) sees a socket that exists: the rooms it joins
/// are visible to every query and to broadcasts at once; what is sent to it arrives after its CONNECT
/// answer, in emit order; a refusal undoes it all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connecting_socket_belongs_to_its_namespace_and_a_refusal_undoes_it() {
    let io = Server::builder().build().unwrap();
    let nsp = io.of("/");
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let report = tx.clone();
    nsp.use_middleware(move |socket| {
        let report = report.clone();
        async move {
            let nsp = socket.namespace();
            if socket.auth().get("first").is_some() {
                socket.join("lobby");
                return Ok(());
            }
            socket.join(vec!["lobby", "user:alice"]);
            let mut rooms: Vec<String> = socket.rooms().iter().map(|r| r.to_string()).collect();
            rooms.sort();
            let own = socket.id().to_string();
            rooms.retain(|r| *r != own);
            let lobby_size = nsp.room_size("lobby").await.unwrap();
            let local = nsp.local_sockets_in(Some("lobby")).len();
            let fetched = nsp
                .to("user:alice")
                .fetch_sockets()
                .await
                .unwrap()
                .iter()
                .map(|s| s.id.to_string())
                .collect::<Vec<_>>();
            let _ = report.send(format!(
                "rooms={rooms:?} lobby={lobby_size} local={local} fetched_self={}",
                fetched == vec![own.clone()]
            ));
            socket
                .emit("welcome", Payload::one(&rooms).unwrap())
                .unwrap();
            nsp.to(socket.id())
                .emit("to-sid", Payload::one(&1).unwrap())
                .unwrap();
            socket
                .to("lobby")
                .emit("user:joined", Payload::one(&"alice").unwrap())
                .unwrap();
            nsp.to("lobby")
                .emit("lobby", Payload::one(&2).unwrap())
                .unwrap();
            let ack = socket.emit_with_ack("ask", Payload::one(&3).unwrap(), WAIT);
            if socket.auth().get("refuse").is_some() {
                tokio::spawn(async move {
                    let _ = report.send(format!("ack after refusal: {:?}", ack.await.is_err()));
                });
                return Err(ferrio::ConnectError::new("no"));
            }
            tokio::spawn(async move {
                let answer: i64 = ack.await.unwrap().first().unwrap();
                let _ = report.send(format!("ack={answer}"));
            });
            Ok(())
        }
    });
    let handle = io.listen("127.0.0.1:0").await.unwrap();
    let addr = handle.local_addr();

    // A socket already in the lobby sees the newcomer's broadcasts.
    let (mut first, _) = ws_handshake(addr).await;
    ws_send_text(&mut first, "40{\"first\":1}").await;
    assert!(ws_recv_text_skip_pings(&mut first).await.starts_with("40{"));

    let (mut ws, _) = ws_handshake(addr).await;
    ws_send_text(&mut ws, "40").await;
    let seen = tokio::time::timeout(WAIT, rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        seen,
        "rooms=[\"lobby\", \"user:alice\"] lobby=2 local=2 fetched_self=true"
    );
    let connect = ws_recv_text_skip_pings(&mut ws).await;
    assert!(connect.starts_with("40{\"sid\":"), "{connect}");
    assert_eq!(
        ws_recv_text_skip_pings(&mut ws).await,
        "42[\"welcome\",[\"lobby\",\"user:alice\"]]"
    );
    assert_eq!(ws_recv_text_skip_pings(&mut ws).await, "42[\"to-sid\",1]");
    assert_eq!(ws_recv_text_skip_pings(&mut ws).await, "42[\"lobby\",2]");
    let ask = ws_recv_text_skip_pings(&mut ws).await;
    let id = ask
        .strip_prefix("42")
        .and_then(|rest| rest.strip_suffix("[\"ask\",3]"))
        .unwrap_or_else(|| panic!("{ask}"));
    ws_send_text(&mut ws, &format!("43{id}[7]")).await;
    let acked = tokio::time::timeout(WAIT, rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(acked, "ack=7");
    assert_eq!(
        ws_recv_text_skip_pings(&mut first).await,
        "42[\"user:joined\",\"alice\"]"
    );
    assert_eq!(ws_recv_text_skip_pings(&mut first).await, "42[\"lobby\",2]");

    // Refused after the same steps: the client gets only the refusal, the rooms and the namespace are
    // as before, and the ack it was asked for fails.
    let (mut refused, _) = ws_handshake(addr).await;
    ws_send_text(&mut refused, "40{\"refuse\":1}").await;
    let seen = tokio::time::timeout(WAIT, rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        seen,
        "rooms=[\"lobby\", \"user:alice\"] lobby=3 local=3 fetched_self=false"
    );
    assert_eq!(
        ws_recv_text_skip_pings(&mut refused).await,
        "44{\"message\":\"no\"}"
    );
    let after = tokio::time::timeout(WAIT, rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after, "ack after refusal: true");
    assert_eq!(nsp.room_size("lobby").await.unwrap(), 2);
    assert_eq!(nsp.room_size("user:alice").await.unwrap(), 1);
    assert_eq!(nsp.socket_count(), 2);
    // The refused socket's broadcasts reached the others (as python-socketio's do), nothing else did.
    assert_eq!(
        ws_recv_text_skip_pings(&mut first).await,
        "42[\"user:joined\",\"alice\"]"
    );
    assert_eq!(ws_recv_text_skip_pings(&mut first).await, "42[\"lobby\",2]");
    assert_eq!(
        ws_recv_text_skip_pings(&mut ws).await,
        "42[\"user:joined\",\"alice\"]"
    );
    assert_eq!(ws_recv_text_skip_pings(&mut ws).await, "42[\"lobby\",2]");
    stop(handle).await;
}

#[tokio::test]
async fn a_disconnect_asked_while_connecting_follows_the_connect_answer() {
    let io = Server::builder().build().unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    io.of("/").use_middleware(move |socket| {
        let tx = tx.clone();
        async move {
            socket.on_disconnect(move |_, reason| {
                let _ = tx.send(reason.as_str());
            });
            socket.emit("bye", Payload::one(&1).unwrap()).unwrap();
            socket.disconnect(false);
            Ok(())
        }
    });
    let handle = io.listen("127.0.0.1:0").await.unwrap();
    let (mut ws, _) = ws_handshake(handle.local_addr()).await;
    ws_send_text(&mut ws, "40").await;
    assert!(ws_recv_text_skip_pings(&mut ws).await.starts_with("40{"));
    assert_eq!(ws_recv_text_skip_pings(&mut ws).await, "42[\"bye\",1]");
    assert_eq!(ws_recv_text_skip_pings(&mut ws).await, "41");
    let reason = tokio::time::timeout(WAIT, rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(reason, "server namespace disconnect");
    assert_eq!(io.of("/").socket_count(), 0);
    stop(handle).await;
}

#[tokio::test]
async fn what_is_held_for_a_connecting_socket_is_bounded() {
    let io = Server::builder().max_queued_packets(16).build().unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    io.of("/").use_middleware(move |socket| {
        let tx = tx.clone();
        async move {
            let sent = (0..100)
                .take_while(|n| socket.emit("n", Payload::one(n).unwrap()).is_ok())
                .count();
            let _ = tx.send(sent);
            Ok(())
        }
    });
    let handle = io.listen("127.0.0.1:0").await.unwrap();
    let (mut ws, _) = ws_handshake(handle.local_addr()).await;
    ws_send_text(&mut ws, "40").await;
    let sent = tokio::time::timeout(WAIT, rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        sent, 16,
        "the 17th emit fails: the connection is a slow consumer"
    );
    // The connection is closed: it never gets a CONNECT answer.
    let ended = tokio::time::timeout(WAIT, async {
        loop {
            match ws_next(&mut ws).await {
                None | Some(Message::Close(_)) => return true,
                Some(Message::Text(t)) if t.starts_with("40") => return false,
                Some(_) => {}
            }
        }
    })
    .await
    .unwrap();
    assert!(ended);
    assert_eq!(io.of("/").socket_count(), 0);
    stop(handle).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_disconnect_keeps_its_reason_when_the_client_closes_at_once() {
    let io = Server::builder().build().unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    io.on_connection(move |socket| {
        let tx = tx.clone();
        socket.on_disconnect(move |_, reason| {
            let _ = tx.send(reason.as_str());
        });
        socket.on("disconnect-me", |socket, _| async move {
            socket.disconnect(false);
        });
    });
    let handle = io.listen("127.0.0.1:0").await.unwrap();
    // The official clients close their transport as soon as the DISCONNECT of their last namespace
    // arrives; that close races the server's own bookkeeping, and must never rewrite the reason.
    for _ in 0..50 {
        let (mut ws, _) = sio_connect(handle.local_addr()).await;
        ws_send_text(&mut ws, "42[\"disconnect-me\"]").await;
        assert_eq!(ws_recv_text_skip_pings(&mut ws).await, "41");
        ws.close(None).await.unwrap();
        let reason = tokio::time::timeout(WAIT, rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(reason, "server namespace disconnect");
    }
    stop(handle).await;
}

#[tokio::test]
async fn an_upgrade_from_polling_is_reported_for_each_socket_of_the_connection() {
    let io = Server::builder().build().unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    io.of("/chat");
    io.on_upgrade(move |socket| {
        let _ = tx.send((
            socket.nsp().to_owned(),
            socket.id().to_string(),
            socket.transport().as_str(),
        ));
    });
    let handle = io.listen("127.0.0.1:0").await.unwrap();
    let addr = handle.local_addr();
    let sid = polling_connect(addr).await;
    assert_eq!(post(addr, &polling(&sid), "40/chat,").await.status, 200);
    let joined = get(addr, &polling(&sid)).await.text();
    assert!(joined.starts_with("40/chat,{"), "{joined}");
    assert!(rx.try_recv().is_err(), "nothing before the upgrade");

    let mut ws = ws_connect(addr, &format!("EIO=4&transport=websocket&sid={sid}")).await;
    let pending = tokio::spawn({
        let sid = sid.clone();
        async move { get(addr, &polling(&sid)).await }
    });
    ws_send_text(&mut ws, "2probe").await;
    assert_eq!(ws_recv_text(&mut ws).await, "3probe");
    assert_eq!(pending.await.unwrap().text(), "6");
    ws_send_text(&mut ws, "5").await;
    let mut seen = Vec::new();
    for _ in 0..2 {
        let (nsp, _, transport) = tokio::time::timeout(WAIT, rx.recv())
            .await
            .expect("an upgrade report in time")
            .unwrap();
        assert_eq!(transport, "websocket");
        seen.push(nsp);
    }
    seen.sort();
    assert_eq!(seen, ["/", "/chat"]);
    let _ = ws.close(None).await;
    stop(handle).await;
}

/// The connection handlers run before the CONNECT answer leaves, so an event the client sends the moment
/// it has the answer always finds the handlers they registered (and what they emit follows the answer).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_event_sent_at_once_after_the_connect_answer_finds_its_handler() {
    let io = Server::builder().build().unwrap();
    // A middleware that waits: the answer is sent from another task than the connection's reader.
    io.of("/").use_middleware(|_| async {
        tokio::task::yield_now().await;
        Ok(())
    });
    io.on_connection(|socket| {
        socket
            .emit("hello", Payload::one(&"first").unwrap())
            .unwrap();
        socket.on("ping", |socket, _| async move {
            let _ = socket.emit("pong", Payload::one(&1).unwrap());
        });
    });
    let handle = io.listen("127.0.0.1:0").await.unwrap();
    const ROUNDS: usize = 200;
    for round in 0..ROUNDS {
        let (mut ws, _) = ws_handshake(handle.local_addr()).await;
        ws_send_text(&mut ws, "40").await;
        let connect = ws_recv_text_skip_pings(&mut ws).await;
        assert!(connect.starts_with("40{"), "round {round}: {connect}");
        ws_send_text(&mut ws, "42[\"ping\"]").await;
        assert_eq!(
            ws_recv_text_skip_pings(&mut ws).await,
            "42[\"hello\",\"first\"]",
            "round {round}"
        );
        assert_eq!(
            ws_recv_text_skip_pings(&mut ws).await,
            "42[\"pong\",1]",
            "round {round}: the event was lost"
        );
    }
    println!("{ROUNDS} connections answered an event sent at once after CONNECT");
    stop(handle).await;
}
