//! The benchmark server (`bench/run.sh`, `bench/cluster.sh`, `bench/recovery.sh`): the same tiny handlers
//! as `bench/servers/socketio.js` — `echo` answers the sender, `bcast` goes to every socket. It lives here,
//! not in the core, because `--redis URL` / `--redis-streams URL` make it one server of a cluster over
//! this crate's adapters.
//!
//! ```text
//! bench_server [--port N] [--redis URL | --redis-streams URL] [--recovery MS]
//! ```
//!
//! - `--redis URL`: the Redis (pub/sub) adapter, as @socket.io/redis-adapter.
//! - `--redis-streams URL`: the Redis Streams adapter, as @socket.io/redis-streams-adapter.
//! - `--recovery MS`: connection state recovery with a window of MS milliseconds (every broadcast is
//!   then kept and carries its offset as its last argument).

use ferrio::Server;
use std::time::Duration;

/// How long the adapters may take to reach Redis at start-up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .map(String::as_str)
    };
    let invalid = |flag: &str, v: &str| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{flag}: invalid value {v:?}"),
        )
    };
    let port: u16 = match value("--port") {
        Some(p) => p.parse().map_err(|_| invalid("--port", p))?,
        None => 0,
    };
    let mut builder = Server::builder();
    match (value("--redis"), value("--redis-streams")) {
        (Some(_), Some(_)) => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "--redis and --redis-streams exclude each other",
            ))
        }
        // One server of a cluster over Redis pub/sub (bench/cluster.sh).
        (Some(url), None) => builder = with_redis(builder, url).await?,
        // One server of a cluster over a Redis stream (bench/cluster.sh).
        (None, Some(url)) => builder = with_redis_streams(builder, url).await?,
        (None, None) => {}
    }
    // `--recovery MS`: connection state recovery (bench/recovery.sh, bench/cluster.sh).
    if let Some(ms) = value("--recovery") {
        let ms: u64 = ms.parse().map_err(|_| invalid("--recovery", ms))?;
        builder = builder.connection_state_recovery(
            ferrio::ConnectionStateRecovery::new()
                .max_disconnection_duration(Duration::from_millis(ms)),
        );
    }
    let io = builder.build()?;
    io.on_connection(|socket| {
        socket.on("echo", |socket, event| async move {
            let _ = socket.emit("echo", event.payload);
        });
        socket.on("bcast", |socket, event| async move {
            let _ = socket.namespace().emit("bcast", event.payload);
        });
    });
    let handle = io.listen(("127.0.0.1", port)).await?;
    println!("LISTENING {}", handle.local_addr().port());
    tokio::signal::ctrl_c().await?;
    handle.shutdown(Duration::from_secs(1)).await;
    Ok(())
}

async fn with_redis(
    builder: ferrio::ServerBuilder,
    url: &str,
) -> std::io::Result<ferrio::ServerBuilder> {
    use ferrio_redis::{RedisAdapterConfig, RedisAdapterFactory};
    let factory = RedisAdapterFactory::connect(RedisAdapterConfig::new(url), CONNECT_TIMEOUT)
        .await
        .map_err(std::io::Error::other)?;
    Ok(builder.adapter(std::sync::Arc::new(factory)))
}

async fn with_redis_streams(
    builder: ferrio::ServerBuilder,
    url: &str,
) -> std::io::Result<ferrio::ServerBuilder> {
    use ferrio_redis::{RedisStreamsAdapterConfig, RedisStreamsAdapterFactory};
    let factory =
        RedisStreamsAdapterFactory::connect(RedisStreamsAdapterConfig::new(url), CONNECT_TIMEOUT)
            .await
            .map_err(std::io::Error::other)?;
    Ok(builder.adapter(std::sync::Arc::new(factory)))
}
