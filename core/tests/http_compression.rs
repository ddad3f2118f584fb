//! Compression of long-polling responses (`http_compression`, engine.io's `httpCompression`): on by
//! default from 1024 bytes, gzip preferred over deflate as the request's `Accept-Encoding` allows,
//! nothing compressed below the threshold, without the header, or with the option off; WebSocket
//! unaffected.

mod common;

use common::*;
use ferrio::{HttpCompression, Payload, Server};
use std::io::Read;

/// A payload over the default threshold once framed.
fn big() -> String {
    "x".repeat(3000)
}

/// A server whose sockets get a large `big` event as soon as they connect.
async fn server(compression: Option<Option<HttpCompression>>) -> ferrio::ServerHandle {
    let mut builder = Server::builder();
    if let Some(compression) = compression {
        builder = builder.http_compression(compression);
    }
    let io = builder.build().unwrap();
    io.on_connection(|socket| {
        let _ = socket.emit("big", Payload::one(&big()).unwrap());
    });
    io.listen("127.0.0.1:0").await.unwrap()
}

/// Handshake and CONNECT over polling, then the GET that carries the CONNECT answer and the big event,
/// every request with `accept` as its `Accept-Encoding`. Returns the handshake's and the GET's responses.
async fn session(addr: std::net::SocketAddr, accept: Option<&str>) -> (HttpResponse, HttpResponse) {
    let headers: Vec<(&str, &str)> = accept.map(|a| ("Accept-Encoding", a)).into_iter().collect();
    let handshake = request(addr, "GET", &eio("EIO=4&transport=polling"), &headers, None).await;
    assert_eq!(handshake.status, 200);
    let body = inflate(&handshake);
    let sid = parse_open(&body)["sid"].as_str().unwrap().to_owned();
    let posted = post(addr, &polling(&sid), "40").await;
    assert_eq!(posted.text(), "ok");
    let polled = request(addr, "GET", &polling(&sid), &headers, None).await;
    assert_eq!(polled.status, 200);
    (handshake, polled)
}

/// A response's body as text, inflated as its `Content-Encoding` says.
fn inflate(response: &HttpResponse) -> String {
    let mut text = String::new();
    match response.header("content-encoding") {
        Some("gzip") => {
            flate2::read::GzDecoder::new(&response.body[..])
                .read_to_string(&mut text)
                .expect("gzip");
        }
        Some("deflate") => {
            flate2::read::ZlibDecoder::new(&response.body[..])
                .read_to_string(&mut text)
                .expect("deflate");
        }
        None => text = response.text(),
        Some(other) => panic!("unexpected coding {other}"),
    }
    text
}

fn carries_the_big_event(text: &str) {
    assert!(text.starts_with("40{"), "{text:.40}");
    assert!(
        text.contains(&format!("42[\"big\",\"{}\"]", big())),
        "{text:.80}"
    );
}

#[tokio::test]
async fn polling_responses_over_the_threshold_are_gzipped_by_default() {
    let handle = server(None).await;
    let addr = handle.local_addr();
    let (handshake, polled) = session(addr, Some("gzip, deflate, br")).await;
    // The open packet is under 1024 bytes: as is.
    assert_eq!(handshake.header("content-encoding"), None);
    assert_eq!(polled.header("content-encoding"), Some("gzip"));
    assert_eq!(
        polled.header("content-type"),
        Some("text/plain; charset=UTF-8")
    );
    assert!(polled.body.len() < 500, "compressed: {}", polled.body.len());
    carries_the_big_event(&inflate(&polled));
    stop(handle).await;
}

#[tokio::test]
async fn deflate_when_only_deflate_is_accepted_and_nothing_without_accept_encoding() {
    let handle = server(None).await;
    let addr = handle.local_addr();
    let (_, polled) = session(addr, Some("deflate")).await;
    assert_eq!(polled.header("content-encoding"), Some("deflate"));
    carries_the_big_event(&inflate(&polled));
    let (_, polled) = session(addr, None).await;
    assert_eq!(polled.header("content-encoding"), None);
    carries_the_big_event(&polled.text());
    let (_, polled) = session(addr, Some("gzip;q=0, identity")).await;
    assert_eq!(polled.header("content-encoding"), None);
    stop(handle).await;
}

#[tokio::test]
async fn off_nothing_is_compressed_and_a_zero_threshold_compresses_everything() {
    let handle = server(Some(None)).await;
    let (handshake, polled) = session(handle.local_addr(), Some("gzip")).await;
    assert_eq!(handshake.header("content-encoding"), None);
    assert_eq!(polled.header("content-encoding"), None);
    carries_the_big_event(&polled.text());
    stop(handle).await;

    let handle = server(Some(Some(HttpCompression::new().threshold(0)))).await;
    let (handshake, polled) = session(handle.local_addr(), Some("gzip")).await;
    assert_eq!(handshake.header("content-encoding"), Some("gzip"));
    assert_eq!(polled.header("content-encoding"), Some("gzip"));
    carries_the_big_event(&inflate(&polled));
    stop(handle).await;
}
