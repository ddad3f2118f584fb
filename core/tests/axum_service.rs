//! ferrio's `HttpService` as a tower service in an axum application: beside the application's own routes,
//! and two engines on one port — a Socket.IO server on `/socket.io/` and a bare Engine.IO server (the echo
//! handler of `examples/engineio_echo.rs`) on `/engine.io/` — each over polling and WebSocket.

mod common;

use axum::extract::{ConnectInfo, Request};
use axum::routing;
use axum::Router;
use common::*;
use ferrio::engineio::{Engine, EngineConfig};
use ferrio::http::HttpService;
use ferrio::Server;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

#[path = "../examples/engineio_echo.rs"]
#[allow(dead_code)]
mod example;

/// Serves `app` on a fresh port, with each request's peer address as a `SocketAddr` extension (what
/// `HttpService` reads; axum keeps it in `ConnectInfo`).
async fn serve(app: Router) -> SocketAddr {
    let app = app.layer(axum::middleware::map_request(
        |ConnectInfo(peer): ConnectInfo<SocketAddr>, mut req: Request| async move {
            req.extensions_mut().insert(peer);
            req
        },
    ));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    addr
}

/// A Socket.IO server answering `echo`; the peer address each socket saw is recorded in `peers`.
fn echo_io(peers: Arc<Mutex<Vec<String>>>) -> Server {
    let io = Server::builder().build().unwrap();
    io.on_connection(move |socket| {
        peers.lock().unwrap().push(
            socket.handshake()["address"]
                .as_str()
                .unwrap_or("")
                .to_owned(),
        );
        socket.on("echo", |socket, event| async move {
            let _ = socket.emit("echo", event.payload);
        });
    });
    io
}

/// A raw WebSocket to `path` (an engine path such as `/engine.io/`).
async fn ws_at(addr: SocketAddr, path: &str) -> Ws {
    let stream = TcpStream::connect(addr).await.unwrap();
    let url = format!("ws://{addr}{path}?EIO=4&transport=websocket");
    let (ws, _) = timeout(WAIT, tokio_tungstenite::client_async(url, stream))
        .await
        .expect("websocket handshake in time")
        .expect("websocket handshake");
    ws
}

/// Joins the main namespace over `ws` and checks one echo.
async fn socketio_echo(ws: &mut Ws) {
    let open = parse_open(&ws_recv_text(ws).await);
    assert!(open["sid"].is_string());
    ws_send_text(ws, "40").await;
    assert!(ws_recv_text_skip_pings(ws).await.starts_with("40{\"sid\""));
    ws_send_text(ws, "42[\"echo\",\"through axum\"]").await;
    assert_eq!(
        ws_recv_text_skip_pings(ws).await,
        "42[\"echo\",\"through axum\"]"
    );
}

#[tokio::test]
async fn axum_serves_ferrio_beside_its_own_routes() {
    let peers = Arc::new(Mutex::new(Vec::new()));
    let io = echo_io(peers.clone());
    let app = Router::new()
        .route("/api/hello", routing::get(|| async { "hello from axum" }))
        .route_service("/socket.io/", io.http_service().unwrap());
    let addr = serve(app).await;

    let own = get(addr, "/api/hello").await;
    assert_eq!(own.status, 200);
    assert_eq!(own.text(), "hello from axum");

    // Polling: the handshake and the namespace's CONNECT answer.
    let sid = polling_connect(addr).await;
    assert!(!sid.is_empty());

    // WebSocket: axum's connections are served with upgrades, so ferrio takes the socket over.
    let mut ws = ws_at(addr, "/socket.io/").await;
    socketio_echo(&mut ws).await;
    assert!(peers.lock().unwrap().iter().all(|p| p == "127.0.0.1"));
    let _ = ws.close(None).await;
}

#[tokio::test]
async fn a_bare_engine_and_a_socketio_server_share_one_port() {
    let io = echo_io(Arc::default());
    let mut config = EngineConfig::default();
    config.path = "/engine.io/".to_owned();
    let engine = Engine::new(config, example::Echo).expect("valid options");
    let app = Router::new()
        .route_service("/engine.io/", HttpService::new(engine.clone()))
        .route_service("/socket.io/", io.http_service().unwrap());
    let addr = serve(app).await;

    // The bare engine echoes Engine.IO messages, over WebSocket…
    let mut raw = ws_at(addr, "/engine.io/").await;
    let open = parse_open(&ws_recv_text(&mut raw).await);
    assert!(open["sid"].is_string());
    ws_send_text(&mut raw, "4plain engine.io").await;
    assert_eq!(ws_recv_text_skip_pings(&mut raw).await, "4plain engine.io");

    // …and over polling.
    let handshake = get(addr, "/engine.io/?EIO=4&transport=polling").await;
    assert_eq!(handshake.status, 200);
    let sid = parse_open(&handshake.text())["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let target = format!("/engine.io/?EIO=4&transport=polling&sid={sid}");
    assert_eq!(post(addr, &target, "4over polling").await.text(), "ok");
    assert_eq!(get(addr, &target).await.text(), "4over polling");

    // The Socket.IO server beside it is untouched by the other engine's sessions.
    let mut ws = ws_at(addr, "/socket.io/").await;
    socketio_echo(&mut ws).await;
    assert_eq!(engine.session_count(), 2);
    assert_eq!(io.connection_count(), 1);
    let _ = raw.close(None).await;
    let _ = ws.close(None).await;
}

#[test]
fn a_bare_engine_refuses_options_out_of_range_as_the_server_does() {
    let mut config = EngineConfig::default();
    config.max_payload = 0;
    let error = Engine::new(config, example::Echo).expect_err("refused");
    assert_eq!(error.to_string(), "max_payload must be at least 1");
}
