//! The benchmark server: the same tiny handlers as `bench/servers/socketio.js` — `echo` answers the
//! sender, `bcast` goes to every socket.

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
    let io = Server::builder().build();
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
