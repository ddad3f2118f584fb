//! `idle`: hold N connected sockets open while the harness measures the
//! server's memory.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use futures_util::{SinkExt, StreamExt};

use crate::args::{connect_many, emit, Args};
use crate::eio::{self, Incoming, Ws};

/// Runs the idle scenario.
pub async fn run(args: &Args) -> Result<(), String> {
    let target = args.target()?;
    let n = args.u64("conns", 1000)? as usize;
    let concurrency = args.u64("concurrency", 200)? as usize;
    let hold = args.secs("hold-secs", 120.0)?;
    let timeout = args.secs("connect-timeout-secs", 10.0)?;

    let started = Instant::now();
    let (socks, failed, err) = connect_many(&target, n, concurrency, timeout).await;
    let connected = socks.len();
    let connect_secs = started.elapsed().as_secs_f64();

    let alive = Arc::new(AtomicUsize::new(connected));
    let pings = Arc::new(AtomicUsize::new(0));
    for ws in socks {
        tokio::spawn(hold_socket(ws, alive.clone(), pings.clone()));
    }
    emit(&serde_json::json!({
        "connected": connected,
        "failed": failed,
        "first_error": err,
        "connect_secs": (connect_secs * 1000.0).round() / 1000.0,
    }));

    // Hold until stdin reaches EOF or the hold time elapses.
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut sink);
        let _ = tx.send(());
    });
    let reason = tokio::select! {
        _ = rx => "stdin closed",
        _ = tokio::time::sleep(hold) => "hold time elapsed",
    };
    emit(&serde_json::json!({
        "done": reason,
        "alive_at_end": alive.load(Ordering::Relaxed),
        "pings_answered": pings.load(Ordering::Relaxed),
    }));
    Ok(())
}

/// Keeps one socket alive: answers pings, ignores everything else.
async fn hold_socket(mut ws: Ws, alive: Arc<AtomicUsize>, pings: Arc<AtomicUsize>) {
    while let Some(Ok(msg)) = ws.next().await {
        match eio::classify(msg) {
            Incoming::Ping => {
                if ws.send(eio::pong()).await.is_err() {
                    break;
                }
                pings.fetch_add(1, Ordering::Relaxed);
            }
            Incoming::Closed => break,
            Incoming::Event(_) | Incoming::Other => {}
        }
    }
    alive.fetch_sub(1, Ordering::Relaxed);
}
