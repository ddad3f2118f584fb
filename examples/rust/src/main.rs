//! The ferrio chat example: `cargo run -p ferrio-example-chat` (or `make run`), then open
//! <http://127.0.0.1:3000>. `PORT` changes the port, `FERRIO_LOG` the log filter (e.g. `debug`).
//! The official Socket.IO admin UI is at <http://127.0.0.1:3000/admin/>; its password is printed at
//! start (random, or `FERRIO_ADMIN_PASSWORD`).

use ferrio_example_chat::{
    build_server, default_admin_ui_dir, default_client_dir, default_static_dir, instrument_admin,
    ADMIN_USER,
};
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
    let password = std::env::var("FERRIO_ADMIN_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(random_password);
    let ui_dir = default_admin_ui_dir();
    let has_ui = ui_dir.join("index.html").is_file();
    if let Err(error) = instrument_admin(&io, &password, has_ui.then_some(ui_dir)) {
        eprintln!("error: cannot set up the admin UI: {error}");
        return ExitCode::FAILURE;
    }
    let handle = match io.listen(("127.0.0.1", port)).await {
        Ok(handle) => handle,
        Err(error) => {
            eprintln!("error: cannot listen on 127.0.0.1:{port}: {error}");
            return ExitCode::FAILURE;
        }
    };
    let addr = handle.local_addr();
    println!("ferrio chat on http://{addr}");
    if has_ui {
        println!("admin UI on http://{addr}/admin/ (server URL http://{addr}, user {ADMIN_USER}, password {password})");
    } else {
        println!(
            "admin UI: run `npm install` at the repository root to serve it; the /admin namespace is up \
             (user {ADMIN_USER}, password {password})"
        );
    }

    if let Err(error) = tokio::signal::ctrl_c().await {
        eprintln!("error: cannot wait for Ctrl-C: {error}");
    }
    handle.shutdown(Duration::from_secs(2)).await;
    ExitCode::SUCCESS
}

/// A fresh password per run: 16 hex digits from the standard library's randomly keyed hasher.
fn random_password() -> String {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    hasher.write_u32(std::process::id());
    format!("{:016x}", hasher.finish())
}
