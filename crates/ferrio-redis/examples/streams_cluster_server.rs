//! The streams cluster program on ferrio: one server of a cluster over this crate's Redis Streams adapter
//! (wire-compatible with `@socket.io/redis-streams-adapter`), with connection state recovery.
//! `tests/e2e/js/cluster/official-streams-server.mjs` is the same program on socket.io; the cluster test
//! (`tests/e2e/js/redis-streams-cluster.test.mjs`) runs both on one Redis and drives them through their
//! clients' `cmd` events. The contract is in `tests/e2e/SERVER.md` ("The Redis Streams cluster program").
//!
//! ```text
//! streams_cluster_server --redis URL --recovery MS --name NAME [--port N]
//! ```
//! Binds 127.0.0.1 (port 0: the OS picks), prints exactly `LISTENING <port>` once it accepts connections,
//! exits on SIGTERM or SIGINT.

use ferrio::{Payload, Server, Socket};
use ferrio_redis::{RedisStreamsAdapterConfig, RedisStreamsAdapterFactory};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn sorted(mut rooms: Vec<String>) -> Vec<String> {
    rooms.sort();
    rooms
}

fn socket_rooms(socket: &Socket) -> Vec<String> {
    sorted(socket.rooms().iter().map(|r| r.to_string()).collect())
}

/// A room option of a command: absent, one room, or a list of rooms.
fn rooms_of(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(room)) => vec![room.clone()],
        Some(Value::Array(rooms)) => rooms
            .iter()
            .filter_map(|r| r.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// The `args` of a command as the payload of an event: its JSON (binary placeholders kept) with the
/// command's attachments, which those placeholders refer to.
fn args_of(cmd: &Value, payload: &Payload) -> Result<Payload, String> {
    let args = cmd.get("args").cloned().unwrap_or_else(|| json!([]));
    if !args.is_array() {
        return Err("args must be an array".to_owned());
    }
    Payload::from_json(args.to_string(), payload.attachments().to_vec()).map_err(|e| e.to_string())
}

fn event_of(cmd: &Value) -> Result<&str, String> {
    cmd.get("event")
        .and_then(Value::as_str)
        .ok_or_else(|| "event must be a string".to_owned())
}

async fn run(socket: &Socket, cmd: &Value, payload: &Payload) -> Result<Value, String> {
    let nsp = socket.namespace();
    match cmd.get("op").and_then(Value::as_str).unwrap_or_default() {
        "broadcast" => {
            let op = nsp
                .to(rooms_of(cmd.get("room")))
                .except(rooms_of(cmd.get("except")));
            op.emit(event_of(cmd)?, args_of(cmd, payload)?)
                .map_err(|e| e.to_string())?;
            Ok(json!(true))
        }
        "emit-to" => {
            let id = cmd
                .get("id")
                .and_then(Value::as_str)
                .ok_or("id must be a string")?;
            nsp.to(id)
                .emit(event_of(cmd)?, args_of(cmd, payload)?)
                .map_err(|e| e.to_string())?;
            Ok(json!(true))
        }
        "recovered" => Ok(json!({
            "recovered": socket.recovered(),
            "id": socket.id(),
            "rooms": socket_rooms(socket),
            "data": socket.data(),
        })),
        "set-data" => {
            socket.set_data(cmd.get("value").cloned().unwrap_or(Value::Null));
            Ok(json!(true))
        }
        "fetch" => {
            let sockets = nsp
                .broadcast_operator()
                .fetch_sockets()
                .await
                .map_err(|e| e.to_string())?;
            let mut list: Vec<(String, Value)> = sockets
                .iter()
                .map(|s| {
                    let rooms = sorted(s.rooms.iter().map(|r| r.to_string()).collect());
                    (s.id.to_string(), json!({"id": s.id, "rooms": rooms}))
                })
                .collect();
            list.sort_by(|a, b| a.0.cmp(&b.0));
            Ok(Value::Array(list.into_iter().map(|(_, v)| v).collect()))
        }
        "sockets-join" => {
            nsp.broadcast_operator()
                .sockets_join(rooms_of(cmd.get("room")));
            Ok(json!(true))
        }
        "server-side-emit" => {
            let answers = nsp
                .server_side_emit_with_ack(event_of(cmd)?, args_of(cmd, payload)?)
                .await
                .map_err(|e| e.to_string())?;
            Ok(Value::Array(
                answers
                    .iter()
                    .map(|a| a.first::<Value>().unwrap_or(Value::Null))
                    .collect(),
            ))
        }
        "server-count" => Ok(json!(nsp.server_count().await.map_err(|e| e.to_string())?)),
        other => Err(format!("unknown op {other}")),
    }
}

fn setup(socket: Socket) {
    // A recovered socket is back in its rooms already.
    if !socket.recovered() {
        socket.join(rooms_of(socket.auth().get("rooms")));
    }
    socket.on("cmd", |socket, event| async move {
        let Some(ack) = event.ack else { return };
        let cmd = event.payload.first::<Value>().unwrap_or(Value::Null);
        let answer = match run(&socket, &cmd, &event.payload).await {
            Ok(value) => json!({"ok": value}),
            Err(error) => json!({"error": error}),
        };
        let _ = ack.send(Payload::one(&answer).expect("serializable"));
    });
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let usage = || {
        std::io::Error::other(
            "usage: streams_cluster_server --redis URL --recovery MS --name NAME [--port N]",
        )
    };
    let url = arg(&args, "--redis").ok_or_else(usage)?;
    let recovery: u64 = arg(&args, "--recovery")
        .and_then(|v| v.parse().ok())
        .ok_or_else(usage)?;
    let name = arg(&args, "--name").unwrap_or_else(|| "F".to_owned());
    let port: u16 = arg(&args, "--port")
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);

    let factory = RedisStreamsAdapterFactory::connect(
        RedisStreamsAdapterConfig::new(url.as_str()),
        Duration::from_secs(10),
    )
    .await
    .map_err(std::io::Error::other)?;
    let io = Server::builder()
        .adapter(Arc::new(factory))
        .connection_state_recovery(
            ferrio::ConnectionStateRecovery::new()
                .max_disconnection_duration(Duration::from_millis(recovery)),
        )
        .build()?;
    let nsp = io.of("/");
    nsp.on_connection(setup);
    // Server-side events from the other servers: `who` answers with this server's name and the arguments.
    nsp.on_server_side_emit(move |event| {
        if event.event != "who" {
            return;
        }
        if let Some(ack) = event.ack {
            let args = event.payload.values().unwrap_or_default();
            ack.send(Payload::one(&json!({"server": name, "args": args})).expect("serializable"));
        }
    });

    let handle = io.listen(("127.0.0.1", port)).await?;
    // Both handlers are installed before LISTENING is printed: a signal sent as soon as the line is read
    // ends the server gracefully.
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    println!("LISTENING {}", handle.local_addr().port());
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    handle.shutdown(Duration::from_secs(1)).await;
    Ok(())
}
