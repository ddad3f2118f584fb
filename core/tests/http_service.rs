//! `HttpService`: ferrio inside an application's own HTTP server. Here the application is a plain hyper
//! server with a route of its own; everything under the engine path goes to ferrio, WebSocket upgrades
//! included (hyper's connection is served with upgrades, as axum's are). And `adopt`: a connection whose
//! request head someone else already read is served from those bytes on.

mod common;

use bytes::Bytes;
use common::*;
use ferrio::Server;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::Service;
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// An application server: `/api/hello` is its own, the engine path is ferrio's.
async fn app_server(service: ferrio::SocketIoService) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, remote)) = listener.accept().await else {
                return;
            };
            let service = service.clone();
            tokio::spawn(async move {
                let app = hyper::service::service_fn(move |mut req: http::Request<Incoming>| {
                    let service = service.clone();
                    async move {
                        if service.owns(req.uri().path()) {
                            req.extensions_mut().insert(remote);
                            return service.call(req).await;
                        }
                        let body = if req.uri().path() == "/api/hello" {
                            "hello from the app"
                        } else {
                            "app 404"
                        };
                        Ok(http::Response::new(Full::new(Bytes::from(body))))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), app)
                    .with_upgrades()
                    .await;
            });
        }
    });
    addr
}

fn echo_io() -> Server {
    let io = Server::builder().build().unwrap();
    io.on_connection(|socket| {
        socket.on("echo", |socket, event| async move {
            let _ = socket.emit("echo", event.payload);
        });
    });
    io
}

#[tokio::test]
async fn an_application_hyper_server_shares_its_port_with_ferrio() {
    let io = echo_io();
    let addr = app_server(io.http_service().unwrap()).await;

    let own = get(addr, "/api/hello").await;
    assert_eq!(own.status, 200);
    assert_eq!(own.text(), "hello from the app");
    assert_eq!(get(addr, "/elsewhere").await.text(), "app 404");
    assert_engine_error(
        &get(addr, "/socket.io/?EIO=4&transport=bogus").await,
        400,
        0,
        "Transport unknown",
    );

    // Polling through the application's server.
    let sid = polling_connect(addr).await;
    let sent = post(addr, &polling(&sid), "42[\"echo\",\"over polling\"]").await;
    assert_eq!(sent.status, 200);
    let packets = poll_packets(addr, &sid, 1).await;
    assert_eq!(packets, vec!["42[\"echo\",\"over polling\"]".to_string()]);

    // A WebSocket upgraded by the application's hyper connection.
    let (mut ws, _) = ws_handshake(addr).await;
    ws_send_text(&mut ws, "40").await;
    assert!(ws_recv_text_skip_pings(&mut ws)
        .await
        .starts_with("40{\"sid\":"));
    ws_send_text(&mut ws, "42[\"echo\",\"over websocket\"]").await;
    assert_eq!(
        ws_recv_text_skip_pings(&mut ws).await,
        "42[\"echo\",\"over websocket\"]"
    );
    assert_eq!(io.connection_count(), 2);
    io.close();
}

#[tokio::test]
async fn an_adopted_connection_is_served_from_the_bytes_already_read() {
    let io = echo_io();
    let service = io.http_service().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let host = tokio::spawn(async move {
        let (mut stream, remote) = listener.accept().await.unwrap();
        // The host reads the whole request head (and maybe more) before handing the connection over.
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "the client sent its request");
            head.extend_from_slice(&buf[..n]);
        }
        service.adopt(stream, Bytes::from(head), remote);
    });
    let (mut ws, open) = ws_handshake(addr).await;
    host.await.unwrap();
    assert!(open["sid"].is_string());
    ws_send_text(&mut ws, "40").await;
    assert!(ws_recv_text_skip_pings(&mut ws)
        .await
        .starts_with("40{\"sid\":"));
    ws_send_text(&mut ws, "42[\"echo\",1,2,3]").await;
    assert_eq!(ws_recv_text_skip_pings(&mut ws).await, "42[\"echo\",1,2,3]");

    // A refused request on an adopted connection gets the official answer, not a hang.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = io.http_service().unwrap();
    let client = tokio::spawn(async move {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream.write_all(b"tail").await.unwrap();
        let mut answer = Vec::new();
        tokio::time::timeout(WAIT, stream.read_to_end(&mut answer))
            .await
            .expect("an answer in time")
            .unwrap();
        String::from_utf8_lossy(&answer).into_owned()
    });
    let (stream, remote) = listener.accept().await.unwrap();
    service.adopt(
        stream,
        Bytes::from_static(
            b"GET /socket.io/?EIO=3&transport=polling HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
        ),
        remote,
    );
    let answer = client.await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(
        answer.ends_with("{\"code\":5,\"message\":\"Unsupported protocol version\"}"),
        "{answer}"
    );
    io.close();
}

#[tokio::test]
async fn a_relayed_request_is_answered_without_a_connection() {
    let io = echo_io();
    let service = io.http_service().unwrap();
    let request = http::Request::get("/socket.io/?EIO=4&transport=polling")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = service
        .handle(request, "127.0.0.1:9".parse().unwrap())
        .await;
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let open = parse_open(std::str::from_utf8(&body).unwrap());
    assert_eq!(open["upgrades"], serde_json::json!(["websocket"]));
    assert!(!service.owns("/api"));
    assert!(service.owns("/socket.io/"));
    assert!(service.owns("/socket.io"));
    assert!(service.owns("/socket.io/socket.io.js"));
    io.close();
}
