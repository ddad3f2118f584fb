//! The server the end-to-end suites drive with the official clients; its behaviour is specified in
//! `tests/e2e/SERVER.md`.

use ferrio::{Payload, Server, Socket};
use serde_json::{json, Value};
use std::time::Duration;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn ms(args: &[String], name: &str) -> Option<Duration> {
    arg(args, name)
        .and_then(|v| v.parse().ok())
        .map(Duration::from_millis)
}

fn sorted_rooms(socket: &Socket) -> Vec<String> {
    let mut rooms: Vec<String> = socket.rooms().iter().map(|r| r.to_string()).collect();
    rooms.sort();
    rooms
}

fn ok(value: &impl serde::Serialize) -> Payload {
    Payload::one(value).expect("serializable")
}

/// Drops the first `n` arguments of a payload, keeping the attachments.
fn skip_args(payload: &Payload, n: usize) -> Payload {
    let values: Vec<Value> = payload.values().unwrap_or_default();
    let rest: Vec<Value> = values.into_iter().skip(n).collect();
    Payload::from_json(
        serde_json::to_string(&rest).expect("serializable"),
        payload.attachments().to_vec(),
    )
    .expect("an array")
}

fn setup(socket: Socket) {
    let welcome = json!({"id": socket.id(), "auth": socket.auth(), "nsp": socket.nsp()});
    let _ = socket.emit("welcome", ok(&welcome));
    if socket.nsp().starts_with("/dyn-") {
        let _ = socket.emit("nsp", ok(&socket.nsp()));
    }
    socket.on_disconnecting(|socket, reason| {
        let leaving =
            json!({"id": socket.id(), "rooms": sorted_rooms(socket), "reason": reason.as_str()});
        let _ = socket.broadcast().emit("leaving", ok(&leaving));
    });
    socket.on("echo", |socket, event| async move {
        let _ = socket.emit("echo", event.payload.clone());
        if let Some(ack) = event.ack {
            let _ = ack.send(event.payload);
        }
    });
    socket.on("ack", |_, event| async move {
        if let Some(ack) = event.ack {
            let _ = ack.send(event.payload);
        }
    });
    socket.on("join", |socket, event| async move {
        match event.payload.first::<Value>() {
            Ok(Value::String(room)) => socket.join(room),
            Ok(Value::Array(rooms)) => socket.join(
                rooms
                    .iter()
                    .filter_map(|r| r.as_str().map(str::to_owned))
                    .collect::<Vec<_>>(),
            ),
            _ => {}
        }
        if let Some(ack) = event.ack {
            let _ = ack.send(ok(&sorted_rooms(&socket)));
        }
    });
    socket.on("leave", |socket, event| async move {
        if let Ok(room) = event.payload.first::<String>() {
            socket.leave(room);
        }
        if let Some(ack) = event.ack {
            let _ = ack.send(ok(&sorted_rooms(&socket)));
        }
    });
    socket.on("rooms", |socket, event| async move {
        if let Some(ack) = event.ack {
            let _ = ack.send(ok(&sorted_rooms(&socket)));
        }
    });
    socket.on("to-room", |socket, event| async move {
        if let Ok(room) = event.payload.first::<String>() {
            let _ = socket
                .to(room)
                .emit("room-msg", skip_args(&event.payload, 1));
        }
    });
    socket.on("room-size", |socket, event| async move {
        let room = event.payload.first::<String>().unwrap_or_default();
        let size = socket.namespace().room_size(room).await.unwrap_or(0);
        if let Some(ack) = event.ack {
            let _ = ack.send(ok(&size));
        }
    });
    socket.on("private", |socket, event| async move {
        if let Ok((to, msg)) = event.payload.parse::<(String, Value)>() {
            let body = json!({"from": socket.id(), "msg": msg});
            let _ = socket.namespace().to(to).emit("private", ok(&body));
        }
    });
    socket.on("broadcast", |socket, event| async move {
        let _ = socket.namespace().emit("broadcast", event.payload);
    });
    socket.on("broadcast-others", |socket, event| async move {
        let _ = socket.broadcast().emit("broadcast", event.payload);
    });
    socket.on("ask", |socket, event| async move {
        let timeout = event.payload.first::<u64>().unwrap_or(1000);
        let question = skip_args(&event.payload, 1);
        let answer = socket
            .emit_with_ack("question", question, Duration::from_millis(timeout))
            .await;
        // `{"ok": [answer args]}` keeps the answer's binary attachments.
        let reply = match answer {
            Ok(payload) => Payload::from_json(
                format!("[{{\"ok\":{}}}]", payload.args_json()),
                payload.attachments().to_vec(),
            )
            .expect("an array"),
            Err(_) => ok(&json!({"error": "timeout"})),
        };
        if let Some(ack) = event.ack {
            let _ = ack.send(reply);
        }
    });
    socket.on("ask-all", |socket, event| async move {
        let timeout = event.payload.first::<u64>().unwrap_or(1000);
        let result = socket
            .namespace()
            .broadcast_operator()
            .timeout(Duration::from_millis(timeout))
            .emit_with_ack("question", Payload::empty())
            .await;
        let values = |answers: &[(Option<ferrio::Sid>, Payload)]| -> Vec<Value> {
            answers
                .iter()
                .map(|(_, p)| p.first::<Value>().unwrap_or(Value::Null))
                .collect()
        };
        let reply = match result {
            Ok(responses) => json!({"ok": values(&responses.answers)}),
            Err(ferrio::AckError::Timeout { answers }) => {
                json!({"error": "timeout", "answers": values(&answers)})
            }
            Err(other) => json!({"error": other.to_string()}),
        };
        if let Some(ack) = event.ack {
            let _ = ack.send(ok(&reply));
        }
    });
    socket.on("disconnect-me", |socket, event| async move {
        let close = event.payload.first::<bool>().unwrap_or(false);
        socket.disconnect(close);
    });
    socket.on("transport", |socket, event| async move {
        if let Some(ack) = event.ack {
            let _ = ack.send(ok(&socket.transport().as_str()));
        }
    });
    socket.on("handshake", |socket, event| async move {
        if let Some(ack) = event.ack {
            let _ = ack.send(ok(&socket.handshake()));
        }
    });
    socket.on("recovered", |socket, event| async move {
        if let Some(ack) = event.ack {
            let _ = ack.send(ok(&json!({"recovered": socket.recovered(), "id": socket.id(), "rooms": sorted_rooms(&socket), "data": socket.data()})));
        }
    });
    socket.on("emit-me", |socket, event| async move {
        let _ = socket.emit("to-me", event.payload);
    });
    socket.on("set-data", |socket, event| async move {
        socket.set_data(event.payload.first::<Value>().unwrap_or(Value::Null));
        if let Some(ack) = event.ack {
            let _ = ack.send(ok(&true));
        }
    });
    socket.on("fetch", |socket, event| async move {
        let sockets = socket
            .namespace()
            .broadcast_operator()
            .fetch_sockets()
            .await
            .unwrap_or_default();
        let list: Vec<Value> = sockets
            .iter()
            .map(|s| {
                let mut rooms: Vec<String> = s.rooms.iter().map(|r| r.to_string()).collect();
                rooms.sort();
                json!({"id": s.id, "rooms": rooms, "data": s.data})
            })
            .collect();
        if let Some(ack) = event.ack {
            let _ = ack.send(ok(&list));
        }
    });
    socket.on("sockets-join", |socket, event| async move {
        if let Ok(room) = event.payload.first::<String>() {
            socket.namespace().broadcast_operator().sockets_join(room);
        }
        if let Some(ack) = event.ack {
            let _ = ack.send(ok(&true));
        }
    });
    socket.on("disconnect-all", |socket, event| async move {
        if let Some(ack) = event.ack {
            let _ = ack.send(ok(&true));
        }
        socket
            .namespace()
            .broadcast_operator()
            .disconnect_sockets(false);
    });
}

async fn middleware(socket: Socket) -> Result<(), ferrio::ConnectError> {
    if socket.auth().get("reject") == Some(&Value::Bool(true)) {
        return Err(ferrio::ConnectError::with_data(
            "not authorized",
            json!({"reason": "rejected by middleware", "code": 4001}),
        ));
    }
    Ok(())
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("FERRIO_LOG"))
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().collect();
    let mut builder = Server::builder();
    if let Some(d) = ms(&args, "--ping-interval") {
        builder = builder.ping_interval(d);
    }
    if let Some(d) = ms(&args, "--ping-timeout") {
        builder = builder.ping_timeout(d);
    }
    if let Some(d) = ms(&args, "--connect-timeout") {
        builder = builder.connect_timeout(d);
    }
    if let Some(bytes) = arg(&args, "--max-payload").and_then(|v| v.parse().ok()) {
        builder = builder.max_payload(bytes);
    }
    match arg(&args, "--http-compression").as_deref() {
        Some("off") => builder = builder.http_compression(None),
        Some(threshold) => {
            let threshold = threshold.parse().expect("--http-compression off|BYTES");
            builder = builder
                .http_compression(Some(ferrio::HttpCompression::new().threshold(threshold)));
        }
        None => {}
    }
    if let Some(window) = ms(&args, "--recovery") {
        builder = builder.connection_state_recovery(
            ferrio::ConnectionStateRecovery::new().max_disconnection_duration(window),
        );
    }
    if let Some(transports) = arg(&args, "--transports") {
        builder = builder.transports(
            transports.contains("polling"),
            transports.contains("websocket"),
        );
    }
    let client_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../node_modules/socket.io-client/dist");
    if client_dir.exists() {
        builder = builder.client_dir(client_dir);
    }
    let io = builder.build()?;
    for name in ["/", "/chat"] {
        let nsp = io.of(name);
        nsp.use_middleware(middleware);
        nsp.on_connection(setup);
    }
    let dynamic = io.of_regex(regex::Regex::new("^/dyn-[0-9]+$").expect("valid regex"));
    dynamic.use_middleware(middleware);
    dynamic.on_connection(setup);

    let port: u16 = arg(&args, "--port")
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let handle = io.listen(("127.0.0.1", port)).await?;
    // Stop on SIGTERM / SIGINT: both handlers are installed before LISTENING is printed, so a signal
    // sent as soon as the line is read ends the server gracefully instead of killing it.
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    println!("LISTENING {}", handle.local_addr().port());
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    handle.shutdown(Duration::from_secs(2)).await;
    Ok(())
}
