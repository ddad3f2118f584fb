//! Connection state recovery on the wire, as socket.io 4.8 does it: the private session id in the
//! CONNECT answer, offsets as the last argument of every event that may be recovered (none on acks or
//! volatile events), and a CONNECT with `{pid, offset}` restoring the socket — same id, rooms and data,
//! the missed events first — within the window only; the cap on stored events; the options' checks.

mod common;

use common::*;
use ferrio::{ConfigError, ConnectionStateRecovery, DisconnectReason, Payload, Server, Socket};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// A server with recovery on, reporting each socket that connects and each disconnect reason.
struct Harness {
    io: Server,
    handle: ferrio::ServerHandle,
    connected: mpsc::UnboundedReceiver<Socket>,
    left: mpsc::UnboundedReceiver<DisconnectReason>,
    middleware_runs: Arc<AtomicUsize>,
}

impl Harness {
    async fn start(recovery: Option<ConnectionStateRecovery>) -> Harness {
        let mut builder = Server::builder();
        if let Some(recovery) = recovery {
            builder = builder.connection_state_recovery(recovery);
        }
        let io = builder.build().expect("valid options");
        let (connected_tx, connected) = mpsc::unbounded_channel();
        let (left_tx, left) = mpsc::unbounded_channel();
        let middleware_runs = Arc::new(AtomicUsize::new(0));
        let runs = middleware_runs.clone();
        io.of("/").use_middleware(move |_| {
            runs.fetch_add(1, Ordering::SeqCst);
            async { Ok(()) }
        });
        io.on_connection(move |socket| {
            let left_tx = left_tx.clone();
            socket.on_disconnect(move |_, reason| {
                let _ = left_tx.send(reason);
            });
            socket.on("join", |socket, event| async move {
                socket.join(event.payload.first::<String>().unwrap());
                if let Some(ack) = event.ack {
                    let _ = ack.send(Payload::empty());
                }
            });
            socket.on("set", |socket, event| async move {
                socket.set_data(event.payload.first::<Value>().unwrap());
                if let Some(ack) = event.ack {
                    let _ = ack.send(Payload::one(&"done").unwrap());
                }
            });
            let _ = connected_tx.send(socket);
        });
        let handle = io.listen("127.0.0.1:0").await.expect("listen");
        Harness {
            io,
            handle,
            connected,
            left,
            middleware_runs,
        }
    }

    fn addr(&self) -> std::net::SocketAddr {
        self.handle.local_addr()
    }

    async fn next_socket(&mut self) -> Socket {
        tokio::time::timeout(WAIT, self.connected.recv())
            .await
            .expect("a connection in time")
            .expect("the server is alive")
    }

    async fn next_disconnect(&mut self) -> DisconnectReason {
        tokio::time::timeout(WAIT, self.left.recv())
            .await
            .expect("a disconnect in time")
            .expect("the server is alive")
    }

    /// Connects a client and has it receive one broadcast: what it needs to come back (its session, its
    /// socket's id, its private id, and the offset of the last event it saw).
    async fn connect_and_see_one_event(&mut self) -> Seen {
        let (mut ws, _, answer) = connect(self.addr(), None).await;
        let sid = str_of(&answer, "sid").to_owned();
        let pid = str_of(&answer, "pid").to_owned();
        let _ = self.next_socket().await;
        self.io.of("/").emit("seen", Payload::empty()).unwrap();
        let last = offset(&ws_recv_text_skip_pings(&mut ws).await);
        Seen { ws, sid, pid, last }
    }
}

/// A connected client that saw one event (see `Harness::connect_and_see_one_event`).
struct Seen {
    ws: Ws,
    sid: String,
    pid: String,
    last: String,
}

/// Opens a WebSocket session and sends CONNECT with `auth`; returns the socket, the frames received
/// before the CONNECT answer, and the answer's JSON.
async fn connect(addr: std::net::SocketAddr, auth: Option<Value>) -> (Ws, Vec<String>, Value) {
    let (mut ws, _) = ws_handshake(addr).await;
    let packet = match auth {
        Some(auth) => format!("40{auth}"),
        None => "40".to_owned(),
    };
    ws_send_text(&mut ws, &packet).await;
    let mut before = Vec::new();
    loop {
        let text = ws_recv_text_skip_pings(&mut ws).await;
        if let Some(json) = text.strip_prefix("40") {
            let answer = serde_json::from_str(json).expect("CONNECT answer JSON");
            return (ws, before, answer);
        }
        before.push(text);
    }
}

/// The arguments of an event of the main namespace (`42[…]`), the event name first.
fn event(frame: &str) -> Vec<Value> {
    let json = frame
        .strip_prefix("42")
        .unwrap_or_else(|| panic!("not an event: {frame:?}"));
    serde_json::from_str(json).expect("event JSON")
}

/// The offset an event carries as its last argument.
fn offset(frame: &str) -> String {
    event(frame)
        .last()
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no offset in {frame:?}"))
        .to_owned()
}

/// The event's name and arguments without its offset.
fn without_offset(frame: &str) -> Vec<Value> {
    let mut args = event(frame);
    assert!(args.len() >= 2, "no offset in {frame:?}");
    args.pop();
    args
}

fn str_of<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("no {key} in {value}"))
}

fn recovery() -> ConnectionStateRecovery {
    ConnectionStateRecovery::new().max_disconnection_duration(Duration::from_secs(5))
}

#[tokio::test]
async fn the_connect_answer_carries_a_private_session_id_only_with_recovery_on() {
    let on = Harness::start(Some(recovery())).await;
    let (_ws, before, answer) = connect(on.addr(), None).await;
    assert!(before.is_empty());
    let sid = str_of(&answer, "sid");
    let pid = str_of(&answer, "pid");
    assert_eq!(pid.len(), 20);
    assert_ne!(pid, sid);
    stop(on.handle).await;

    let off = Harness::start(None).await;
    let (_ws, _, answer) = connect(off.addr(), None).await;
    assert!(answer.get("pid").is_none(), "{answer}");
    assert_eq!(answer.as_object().map(|o| o.len()), Some(1), "{answer}");
    stop(off.handle).await;
}

#[tokio::test]
async fn recoverable_events_carry_an_offset_and_acks_and_volatile_events_do_not() {
    let mut h = Harness::start(Some(recovery())).await;
    let (mut ws, _, _) = connect(h.addr(), None).await;
    let socket = h.next_socket().await;
    let nsp = h.io.of("/");

    socket.emit("plain", Payload::one(&1).unwrap()).unwrap();
    socket
        .emit_volatile("volatile", Payload::one(&2).unwrap())
        .unwrap();
    let asked = socket.emit_with_ack("asked", Payload::one(&3).unwrap(), WAIT);
    nsp.emit("all", Payload::one(&4).unwrap()).unwrap();
    nsp.to(socket.id())
        .emit("to-it", Payload::one(&5).unwrap())
        .unwrap();
    nsp.broadcast_operator()
        .volatile()
        .emit("all-volatile", Payload::one(&6).unwrap())
        .unwrap();
    socket
        .emit("binary", Payload::builder().binary(vec![1u8, 2, 3]).build())
        .unwrap();
    let empty_args = Payload::empty();
    nsp.emit("no-args", empty_args).unwrap();

    let plain = ws_recv_text_skip_pings(&mut ws).await;
    assert_eq!(without_offset(&plain), vec![json!("plain"), json!(1)]);
    assert_eq!(ws_recv_text_skip_pings(&mut ws).await, "42[\"volatile\",2]");
    let asked_frame = ws_recv_text_skip_pings(&mut ws).await;
    let (id, rest) = asked_frame
        .strip_prefix("42")
        .and_then(|t| t.split_once('['))
        .expect("an event with an ack id");
    assert_eq!(
        rest, "\"asked\",3]",
        "no offset on an event awaiting an ack"
    );
    let all = ws_recv_text_skip_pings(&mut ws).await;
    assert_eq!(without_offset(&all), vec![json!("all"), json!(4)]);
    let to_it = ws_recv_text_skip_pings(&mut ws).await;
    assert_eq!(without_offset(&to_it), vec![json!("to-it"), json!(5)]);
    assert_eq!(
        ws_recv_text_skip_pings(&mut ws).await,
        "42[\"all-volatile\",6]"
    );
    let binary = ws_recv_text_skip_pings(&mut ws).await;
    let binary_json = binary.strip_prefix("451-").expect("a binary event");
    let binary_args: Vec<Value> = serde_json::from_str(binary_json).unwrap();
    assert_eq!(binary_args[0], "binary");
    assert_eq!(binary_args[1], json!({"_placeholder": true, "num": 0}));
    assert!(binary_args[2].is_string(), "{binary}");
    assert!(matches!(
        ws_next(&mut ws).await,
        Some(tokio_tungstenite::tungstenite::Message::Binary(_))
    ));
    let no_args = ws_recv_text_skip_pings(&mut ws).await;
    assert_eq!(without_offset(&no_args), vec![json!("no-args")]);

    // Offsets are distinct and in order of emission.
    let offsets = [
        offset(&plain),
        offset(&all),
        offset(&to_it),
        binary_args[2].as_str().unwrap().to_owned(),
        offset(&no_args),
    ];
    let unique: std::collections::HashSet<&String> = offsets.iter().collect();
    assert_eq!(unique.len(), offsets.len(), "{offsets:?}");

    // The client's ack answer and the server's ack to a client event carry none either.
    ws_send_text(&mut ws, &format!("43{id}[\"answer\"]")).await;
    let answer = asked.await.expect("the client's answer");
    assert_eq!(answer.args_json(), "[\"answer\"]");
    ws_send_text(&mut ws, "427[\"set\",{\"a\":1}]").await;
    assert_eq!(ws_recv_text_skip_pings(&mut ws).await, "437[\"done\"]");
    stop(h.handle).await;
}

#[tokio::test]
async fn a_lost_connection_is_recovered_with_its_id_rooms_data_and_missed_events_before_the_answer()
{
    let mut h = Harness::start(Some(recovery())).await;
    let (mut ws, _, answer) = connect(h.addr(), None).await;
    let sid = str_of(&answer, "sid").to_owned();
    let pid = str_of(&answer, "pid").to_owned();
    let first = h.next_socket().await;
    assert!(!first.recovered());
    ws_send_text(&mut ws, "421[\"join\",\"room1\"]").await;
    assert_eq!(ws_recv_text_skip_pings(&mut ws).await, "431[]");
    ws_send_text(&mut ws, "422[\"set\",{\"name\":\"ann\"}]").await;
    assert_eq!(ws_recv_text_skip_pings(&mut ws).await, "432[\"done\"]");
    let nsp = h.io.of("/");
    nsp.emit("seen", Payload::one(&0).unwrap()).unwrap();
    let last = offset(&ws_recv_text_skip_pings(&mut ws).await);

    // Cut the transport without a close packet.
    drop(ws);
    let reason = h.next_disconnect().await;
    assert!(reason.is_recoverable(), "{reason}");

    // Meanwhile: to its room, to it, to everybody; and events it must not get.
    nsp.to("room1")
        .emit("room", Payload::one(&1).unwrap())
        .unwrap();
    nsp.except("room1")
        .emit("not-room1", Payload::one(&0).unwrap())
        .unwrap();
    nsp.to(sid.as_str())
        .emit("private", Payload::one(&2).unwrap())
        .unwrap();
    nsp.to("elsewhere")
        .emit("elsewhere", Payload::one(&0).unwrap())
        .unwrap();
    nsp.broadcast_operator()
        .volatile()
        .emit("volatile", Payload::one(&0).unwrap())
        .unwrap();
    nsp.emit("all", Payload::one(&3).unwrap()).unwrap();

    let (mut ws, before, answer) = connect(
        h.addr(),
        Some(json!({"pid": pid, "offset": last, "token": "x"})),
    )
    .await;
    let missed: Vec<Vec<Value>> = before.iter().map(|f| without_offset(f)).collect();
    assert_eq!(
        missed,
        vec![
            vec![json!("room"), json!(1)],
            vec![json!("private"), json!(2)],
            vec![json!("all"), json!(3)],
        ]
    );
    assert_eq!(str_of(&answer, "sid"), sid, "same id");
    assert_eq!(
        str_of(&answer, "pid"),
        pid,
        "the restored socket keeps its pid"
    );
    let socket = h.next_socket().await;
    assert!(socket.recovered());
    assert_eq!(socket.id().as_str(), sid);
    assert_eq!(socket.data(), json!({"name": "ann"}));
    let mut rooms: Vec<String> = socket.rooms().iter().map(|r| r.to_string()).collect();
    rooms.sort();
    let mut expected = vec![sid.clone(), "room1".to_owned()];
    expected.sort();
    assert_eq!(rooms, expected);
    assert_eq!(
        h.middleware_runs.load(Ordering::SeqCst),
        1,
        "the middlewares are skipped on recovery"
    );
    // Live again: an event to its room arrives once, after the answer.
    nsp.to("room1")
        .emit("room", Payload::one(&4).unwrap())
        .unwrap();
    let live = ws_recv_text_skip_pings(&mut ws).await;
    assert_eq!(without_offset(&live), vec![json!("room"), json!(4)]);
    assert!(!before.iter().any(|f| offset(f) == offset(&live)));
    stop(h.handle).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_emitted_while_the_session_is_restored_arrive_exactly_once_in_order() {
    let mut h = Harness::start(Some(recovery())).await;
    let (mut ws, _, answer) = connect(h.addr(), None).await;
    let pid = str_of(&answer, "pid").to_owned();
    let _ = h.next_socket().await;
    ws_send_text(&mut ws, "421[\"join\",\"room1\"]").await;
    assert_eq!(ws_recv_text_skip_pings(&mut ws).await, "431[]");
    let nsp = h.io.of("/");
    nsp.to("room1")
        .emit("n", Payload::one(&0).unwrap())
        .unwrap();
    let last = offset(&ws_recv_text_skip_pings(&mut ws).await);

    // Another task emits to the room all along the cut and the restore, until told to stop.
    let stop_emitting = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stopped = stop_emitting.clone();
    let emitter = tokio::spawn(async move {
        let mut n = 0u64;
        while !stopped.load(Ordering::SeqCst) {
            n += 1;
            nsp.to("room1")
                .emit("n", Payload::one(&n).unwrap())
                .unwrap();
            tokio::time::sleep(Duration::from_micros(300)).await;
        }
        n
    });
    tokio::time::sleep(Duration::from_millis(5)).await;
    drop(ws);
    h.next_disconnect().await;
    let (mut ws, before, _) = connect(h.addr(), Some(json!({"pid": pid, "offset": last}))).await;
    assert!(h.next_socket().await.recovered());
    let number = |frame: &str| without_offset(frame)[1].as_u64().unwrap();
    let mut seen: Vec<u64> = before.iter().map(|f| number(f)).collect();
    // Some live ones too, so that the restore happened while events kept coming.
    for _ in 0..20 {
        seen.push(number(&ws_recv_text_skip_pings(&mut ws).await));
    }
    stop_emitting.store(true, Ordering::SeqCst);
    let last_emitted = emitter.await.unwrap();
    while seen.last() != Some(&last_emitted) {
        seen.push(number(&ws_recv_text_skip_pings(&mut ws).await));
    }
    assert!(!before.is_empty(), "the client missed events");
    assert_eq!(
        seen,
        (1..=last_emitted).collect::<Vec<_>>(),
        "{} missed, then live",
        before.len()
    );
    stop(h.handle).await;
}

#[tokio::test]
async fn middlewares_run_on_recovery_when_skip_middlewares_is_off() {
    let mut h = Harness::start(Some(recovery().skip_middlewares(false))).await;
    let Seen { ws, pid, last, .. } = h.connect_and_see_one_event().await;
    drop(ws);
    h.next_disconnect().await;
    let (_ws, _, _) = connect(h.addr(), Some(json!({"pid": pid, "offset": last}))).await;
    assert!(h.next_socket().await.recovered());
    assert_eq!(h.middleware_runs.load(Ordering::SeqCst), 2);
    stop(h.handle).await;
}

#[tokio::test]
async fn after_the_window_the_client_gets_a_fresh_socket() {
    let mut h = Harness::start(Some(
        ConnectionStateRecovery::new().max_disconnection_duration(Duration::from_millis(200)),
    ))
    .await;
    let Seen { ws, sid, pid, last } = h.connect_and_see_one_event().await;
    drop(ws);
    h.next_disconnect().await;
    h.io.of("/").emit("missed", Payload::empty()).unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;

    let (_ws, before, answer) = connect(h.addr(), Some(json!({"pid": pid, "offset": last}))).await;
    assert!(before.is_empty(), "{before:?}");
    assert_ne!(str_of(&answer, "sid"), sid);
    assert_ne!(str_of(&answer, "pid"), pid);
    assert!(!h.next_socket().await.recovered());
    stop(h.handle).await;
}

#[tokio::test]
async fn an_unknown_pid_or_offset_gives_a_fresh_socket() {
    let mut h = Harness::start(Some(recovery())).await;
    let Seen { ws, sid, pid, last } = h.connect_and_see_one_event().await;
    drop(ws);
    h.next_disconnect().await;

    for auth in [
        json!({"pid": "AAAAAAAAAAAAAAAAAAAA", "offset": last}),
        json!({"pid": pid, "offset": "nope"}),
        json!({"pid": pid, "offset": format!("{last}9")}),
        json!({"pid": pid}),
        json!({"pid": 12, "offset": last}),
    ] {
        let (_ws, before, answer) = connect(h.addr(), Some(auth.clone())).await;
        assert!(before.is_empty(), "{auth}: {before:?}");
        assert_ne!(str_of(&answer, "sid"), sid, "{auth}");
        assert!(!h.next_socket().await.recovered(), "{auth}");
    }
    // The session was left alone by the failed attempts.
    let (_ws, _, answer) = connect(h.addr(), Some(json!({"pid": pid, "offset": last}))).await;
    assert_eq!(str_of(&answer, "sid"), sid);
    assert!(h.next_socket().await.recovered());
    stop(h.handle).await;
}

#[tokio::test]
async fn a_namespace_disconnect_leaves_no_session() {
    let mut h = Harness::start(Some(recovery())).await;
    let Seen {
        mut ws,
        sid,
        pid,
        last,
    } = h.connect_and_see_one_event().await;
    ws_send_text(&mut ws, "41").await;
    let reason = h.next_disconnect().await;
    assert_eq!(reason, DisconnectReason::ClientNamespaceDisconnect);
    assert!(!reason.is_recoverable());
    let (_ws, _, answer) = connect(h.addr(), Some(json!({"pid": pid, "offset": last}))).await;
    assert_ne!(str_of(&answer, "sid"), sid);
    assert!(!h.next_socket().await.recovered());
    stop(h.handle).await;
}

#[tokio::test]
async fn at_the_cap_the_oldest_events_are_dropped_and_a_session_that_missed_one_starts_afresh() {
    let mut h = Harness::start(Some(recovery().max_stored_packets(3))).await;
    let nsp = h.io.of("/");
    let (mut ws, _, answer) = connect(h.addr(), None).await;
    let sid = str_of(&answer, "sid").to_owned();
    let pid = str_of(&answer, "pid").to_owned();
    let _ = h.next_socket().await;
    nsp.emit("e", Payload::one(&0).unwrap()).unwrap();
    let last = offset(&ws_recv_text_skip_pings(&mut ws).await);
    drop(ws);
    h.next_disconnect().await;
    // Three more: the cap drops the client's own last event, not one it missed.
    for n in 1..=3 {
        nsp.emit("e", Payload::one(&n).unwrap()).unwrap();
    }
    let (ws, before, answer) = connect(h.addr(), Some(json!({"pid": pid, "offset": last}))).await;
    assert_eq!(str_of(&answer, "sid"), sid);
    let missed: Vec<Vec<Value>> = before.iter().map(|f| without_offset(f)).collect();
    assert_eq!(
        missed,
        vec![
            vec![json!("e"), json!(1)],
            vec![json!("e"), json!(2)],
            vec![json!("e"), json!(3)],
        ]
    );
    assert!(h.next_socket().await.recovered());
    let last = offset(before.last().unwrap());

    // Cut again and miss four: the first of them is dropped, so no recovery (never one with a gap).
    drop(ws);
    h.next_disconnect().await;
    for n in 4..=7 {
        nsp.emit("e", Payload::one(&n).unwrap()).unwrap();
    }
    let (_ws, before, answer) = connect(h.addr(), Some(json!({"pid": pid, "offset": last}))).await;
    assert!(before.is_empty(), "{before:?}");
    assert_ne!(str_of(&answer, "sid"), sid);
    assert!(!h.next_socket().await.recovered());
    stop(h.handle).await;
}

#[tokio::test]
async fn recovery_works_over_polling_too() {
    let mut h = Harness::start(Some(recovery())).await;
    let addr = h.addr();
    let (eio_sid, _) = polling_handshake(addr).await;
    assert_eq!(post(addr, &polling(&eio_sid), "40").await.text(), "ok");
    let answer = poll_packets(addr, &eio_sid, 1).await;
    let answer: Value = serde_json::from_str(answer[0].strip_prefix("40").unwrap()).unwrap();
    let sid = str_of(&answer, "sid").to_owned();
    let pid = str_of(&answer, "pid").to_owned();
    let _ = h.next_socket().await;
    h.io.of("/").emit("seen", Payload::empty()).unwrap();
    let last = offset(&poll_packets(addr, &eio_sid, 1).await[0]);
    // The client closes its session.
    assert_eq!(post(addr, &polling(&eio_sid), "1").await.text(), "ok");
    let reason = h.next_disconnect().await;
    assert!(reason.is_recoverable(), "{reason}");
    h.io.of("/")
        .emit("missed", Payload::one(&1).unwrap())
        .unwrap();

    let (eio_sid, _) = polling_handshake(addr).await;
    let connect = format!("40{}", json!({"pid": pid, "offset": last}));
    assert_eq!(post(addr, &polling(&eio_sid), connect).await.text(), "ok");
    let packets = poll_packets(addr, &eio_sid, 2).await;
    assert_eq!(without_offset(&packets[0]), vec![json!("missed"), json!(1)]);
    let answer: Value = serde_json::from_str(packets[1].strip_prefix("40").unwrap()).unwrap();
    assert_eq!(str_of(&answer, "sid"), sid);
    assert!(h.next_socket().await.recovered());
    stop(h.handle).await;
}

fn refused(recovery: ConnectionStateRecovery) -> ConfigError {
    Server::builder()
        .connection_state_recovery(recovery)
        .build()
        .expect_err("refused")
}

#[test]
fn the_recovery_options_are_checked() {
    let defaults = ConnectionStateRecovery::default();
    assert_eq!(
        defaults.max_disconnection_duration,
        Duration::from_secs(120)
    );
    assert!(defaults.skip_middlewares);
    assert!(Server::builder()
        .connection_state_recovery(defaults)
        .build()
        .is_ok());
    let zero = refused(ConnectionStateRecovery::new().max_disconnection_duration(Duration::ZERO));
    assert_eq!(zero.option, "max_disconnection_duration");
    assert_eq!(
        zero.to_string(),
        "max_disconnection_duration must be positive"
    );
    let huge = refused(
        ConnectionStateRecovery::new().max_disconnection_duration(Duration::from_secs(1 << 40)),
    );
    assert_eq!(huge.option, "max_disconnection_duration");
    let none = refused(ConnectionStateRecovery::new().max_stored_packets(0));
    assert_eq!(none.option, "max_stored_packets");
    assert!(Server::builder()
        .build()
        .unwrap()
        .config()
        .connection_state_recovery
        .is_none());
}
