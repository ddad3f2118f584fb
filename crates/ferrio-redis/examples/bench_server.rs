//! The benchmark server (`bench/run.sh`, `bench/cluster.sh`): the same tiny handlers as
//! `bench/servers/socketio.js` — `echo` answers the sender, `bcast` goes to every socket. It lives here,
//! not in the core, because `--redis URL` makes it one server of a cluster over this crate's adapter.

use ferrio::Server;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let port: u16 = args
        .iter()
        .position(|a| a == "--port")
        .and_then(|i| args.get(i + 1))
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let mut builder = Server::builder();
    // `--redis URL`: one server of a cluster over Redis (bench/cluster.sh).
    if let Some(url) = args
        .iter()
        .position(|a| a == "--redis")
        .and_then(|i| args.get(i + 1))
    {
        builder = with_redis(builder, url).await?;
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
    handle.shutdown(std::time::Duration::from_secs(1)).await;
    Ok(())
}

async fn with_redis(
    builder: ferrio::ServerBuilder,
    url: &str,
) -> std::io::Result<ferrio::ServerBuilder> {
    use ferrio_redis::{RedisAdapterConfig, RedisAdapterFactory};
    let factory = RedisAdapterFactory::connect(
        RedisAdapterConfig::new(url),
        std::time::Duration::from_secs(10),
    )
    .await
    .map_err(std::io::Error::other)?;
    Ok(builder.adapter(std::sync::Arc::new(factory)))
}
