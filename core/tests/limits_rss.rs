//! Memory stays bounded under the limit cases: clients that never read while the server emits to them, an
//! event flood, and a connection flood up to `max_connections`. The server runs in this process, so its
//! resident set (VmRSS in /proc/self/status) is measured before and after each case; the cases run one
//! after the other in one test so that no other test's allocations blur the figure. Each prints its
//! figure, and the server must still answer a new client's echo afterwards.

mod common;

use common::*;
use ferrio::Server;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The resident set of this process, in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// A raw WebSocket session (no client library: the client side costs a socket and nothing more).
async fn raw_ws(addr: SocketAddr) -> Option<TcpStream> {
    let mut stream = TcpStream::connect(addr).await.ok()?;
    let request = format!(
        "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).await.ok()?;
        head.push(byte[0]);
    }
    head.starts_with(b"HTTP/1.1 101").then_some(stream)
}

async fn reaped(handle: &ferrio::ServerHandle) {
    let started = Instant::now();
    while handle.server().connection_count() > 0 {
        assert!(started.elapsed() < WAIT, "connections left open");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs `case` against `handle` and returns the RSS growth it caused, in KiB (after a moment for the
/// server to let go of what the case made it hold).
async fn growth<F: std::future::Future<Output = ()>>(
    what: &str,
    bound_kib: u64,
    handle: &ferrio::ServerHandle,
    case: F,
) {
    let before = rss_kib();
    let started = Instant::now();
    // The peak is sampled while the case runs, not only read at its end.
    let sampling = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(before));
    let sampler = {
        let sampling = sampling.clone();
        tokio::spawn(async move {
            loop {
                sampling.fetch_max(rss_kib(), std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    case.await;
    sampler.abort();
    let peak = sampling
        .load(std::sync::atomic::Ordering::Relaxed)
        .max(rss_kib());
    reaped(handle).await;
    let after = rss_kib();
    let grown = peak.saturating_sub(before);
    eprintln!(
        "{what}: RSS {before} KiB before, {peak} KiB at the peak (+{grown} KiB, bound {bound_kib} KiB), \
         {after} KiB once reaped; {:?}",
        started.elapsed()
    );
    assert!(
        grown < bound_kib,
        "{what}: RSS grew by {grown} KiB (bound {bound_kib} KiB)"
    );
    healthy(handle.local_addr()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rss_stays_bounded_in_the_limit_cases() {
    let handle = echo_server(
        Server::builder()
            .max_payload(64 * 1024)
            .max_queued_packets(64)
            .max_connections(500)
            .ping_interval(Duration::from_millis(500))
            .ping_timeout(Duration::from_millis(500)),
    )
    .await;
    let addr = handle.local_addr();
    healthy(addr).await;
    reaped(&handle).await;

    // 20 clients ask for 30 KB echoes as fast as they can for 3 s and never read one. Unbounded, the
    // replies would pile up (3 s of writes is gigabytes); bounded, each connection holds at most 64 of
    // them before it is closed as a slow consumer.
    growth("never-reading clients", 32 * 1024, &handle, async {
        let event = text(&format!("42[\"echo\",\"{}\"]", "x".repeat(30_000)));
        let mut clients = Vec::new();
        for _ in 0..20 {
            let event = event.clone();
            clients.push(tokio::spawn(async move {
                let mut stream = raw_ws(addr).await.expect("websocket");
                stream.write_all(&text("40")).await.unwrap();
                let started = Instant::now();
                let mut sent = 0usize;
                while started.elapsed() < Duration::from_secs(3) {
                    match tokio::time::timeout(Duration::from_millis(200), stream.write_all(&event))
                        .await
                    {
                        Ok(Ok(())) => sent += 1,
                        Ok(Err(_)) => break,
                        Err(_) => {}
                    }
                }
                sent
            }));
        }
        let mut sent = 0;
        for c in clients {
            sent += c.await.unwrap();
        }
        eprintln!("never-reading clients: {sent} echo requests of 30 KB written");
    })
    .await;

    // 10 clients each send 200 000 small events in one go and read nothing: more replies than the kernel's
    // socket buffers hold, so the server's queues fill and the clients are dropped as slow consumers.
    growth("event flood", 16 * 1024, &handle, async {
        let mut clients = Vec::new();
        for _ in 0..10 {
            clients.push(tokio::spawn(async move {
                let mut stream = raw_ws(addr).await.expect("websocket");
                stream.write_all(&text("40")).await.unwrap();
                // Written 1 000 events at a time, so the clients' own buffers stay small.
                let mut chunk = Vec::new();
                for i in 0..1000 {
                    chunk.extend_from_slice(&text(&format!("42[\"echo\",{i}]")));
                }
                let mut written = 0usize;
                let _ = tokio::time::timeout(Duration::from_secs(5), async {
                    for _ in 0..200 {
                        if stream.write_all(&chunk).await.is_err() {
                            break;
                        }
                        written += 1000;
                    }
                })
                .await;
                tokio::time::sleep(Duration::from_millis(500)).await;
                drop(stream);
                written
            }));
        }
        let mut written = 0;
        for c in clients {
            written += c.await.unwrap();
        }
        eprintln!("event flood: {written} events written");
    })
    .await;

    // 700 connections against a limit of 500: 500 held, 200 refused, then all of them let go.
    growth("connection flood", 16 * 1024, &handle, async {
        let mut held = Vec::new();
        let mut refused = 0;
        for _ in 0..700 {
            match raw_ws(addr).await {
                Some(stream) => held.push(stream),
                None => refused += 1,
            }
        }
        eprintln!(
            "connection flood: {} admitted, {refused} refused, {} open on the server",
            held.len(),
            handle.server().connection_count()
        );
        assert_eq!(held.len(), 500);
        assert_eq!(refused, 200);
        drop(held);
    })
    .await;

    stop(handle).await;
}
