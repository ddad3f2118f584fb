//! A ferrio server instrumented for the admin UI, driven by the admin tests of `tests/e2e/js/`
//! (`admin.test.mjs` with socket.io-client, `admin-ui-browser.test.mjs` with headless Chromium).
//!
//! `admin_server [--port N] [--mode development|production] [--readonly] [--no-auth]
//! [--stats-interval MS] [--ui-dir DIR]`: binds 127.0.0.1, prints `LISTENING <port>` once it accepts
//! connections, and exits on SIGTERM/SIGINT. The login is `admin` / `admin-password` (checked against a
//! bcrypt hash); the UI (default `node_modules/@socket.io/admin-ui/ui/dist`) is served at `/admin/`.
//!
//! On `/` and `/chat`: `hello` (any args) is answered with `hi` and the same args; `rooms` acks with the
//! socket's rooms, sorted.

use ferrio::{Payload, Server};
use ferrio_admin::{AdminAuth, AdminMode, AdminOptions, Instrument};
use std::time::Duration;

fn main() {
    let mut port = 0u16;
    let mut auth = true;
    let mut options = AdminOptions::new(AdminAuth::Disabled);
    options.ui_dir = Some("node_modules/@socket.io/admin-ui/ui/dist".into());
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--port" => port = value().parse().expect("--port N"),
            "--mode" => options.mode = value().parse::<AdminMode>().expect("--mode"),
            "--readonly" => options.read_only = true,
            "--no-auth" => auth = false,
            "--stats-interval" => {
                options.stats_interval =
                    Duration::from_millis(value().parse().expect("--stats-interval MS"))
            }
            "--ui-dir" => options.ui_dir = Some(value().into()),
            other => panic!("unknown argument {other}"),
        }
    }
    if auth {
        // The lowest bcrypt cost keeps the tests' logins fast; a real deployment uses 10 or more.
        let hash = ferrio_admin::hash_password_with_cost("admin-password", 4).expect("bcrypt");
        options.auth = AdminAuth::basic("admin", hash);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let io = Server::builder().build().expect("valid options");
        for name in ["/", "/chat"] {
            io.of(name).on_connection(|socket| {
                socket.on("hello", |socket, event| async move {
                    let _ = socket.emit("hi", event.payload);
                });
                socket.on("rooms", |socket, event| async move {
                    let mut rooms: Vec<String> =
                        socket.rooms().iter().map(|r| r.to_string()).collect();
                    rooms.sort();
                    if let (Some(ack), Ok(payload)) = (event.ack, Payload::one(&rooms)) {
                        let _ = ack.send(payload);
                    }
                });
            });
        }
        io.instrument(options).expect("instrument");
        let handle = io.listen(("127.0.0.1", port)).await.expect("listen");
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM");
        let mut int = signal(SignalKind::interrupt()).expect("SIGINT");
        println!("LISTENING {}", handle.local_addr().port());
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        handle.shutdown(Duration::from_millis(500)).await;
    });
}
