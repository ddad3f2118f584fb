//! The ferrio chat example: `cargo run -p ferrio-example-chat` (or `make run`), then open
//! <http://127.0.0.1:3000>. `PORT` changes the port, `FERRIO_LOG` the log filter (e.g. `debug`).

use ferrio_example_chat::{build_server, default_client_dir, default_static_dir};
use std::process::ExitCode;
use std::time::Duration;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("FERRIO_LOG"))
        .with_writer(std::io::stderr)
        .init();

    let port: u16 = match std::env::var("PORT") {
        Ok(text) => match text.trim().parse() {
            Ok(port) => port,
            Err(_) => {
                eprintln!("error: PORT must be a port number, not {text:?}");
                return ExitCode::FAILURE;
            }
        },
        Err(_) => 3000,
    };
    let client_dir = default_client_dir();
    if !client_dir.join("socket.io.js").is_file() {
        eprintln!(
            "error: the socket.io browser client is missing ({}).\n\
             Run `npm install` at the repository root first.",
            client_dir.display()
        );
        return ExitCode::FAILURE;
    }

    let io = build_server(Some(default_static_dir()), Some(client_dir));
    let handle = match io.listen(("127.0.0.1", port)).await {
        Ok(handle) => handle,
        Err(error) => {
            eprintln!("error: cannot listen on 127.0.0.1:{port}: {error}");
            return ExitCode::FAILURE;
        }
    };
    println!("ferrio chat on http://{}", handle.local_addr());

    if let Err(error) = tokio::signal::ctrl_c().await {
        eprintln!("error: cannot wait for Ctrl-C: {error}");
    }
    handle.shutdown(Duration::from_secs(2)).await;
    ExitCode::SUCCESS
}
