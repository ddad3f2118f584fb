//! `broadcast --window W`: the throughput regime. The sender keeps at most
//! W broadcasts in flight, where a broadcast stays in flight until every
//! socket (the sender included) has received it, so the server always has
//! fan-out work queued and never more than W packets per connection. This
//! is the regime in which a server can batch several deliveries into one
//! write per connection; the fixed-rate mode measures the opposite end
//! (one write per delivery, dominated by the kernel's per-packet cost).
//!
//! CPU is sampled over a steady-state window (after warm-up, until the
//! sender stops), and divided by the deliveries counted in that window.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::{watch, Notify};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use crate::args::{connect_many, emit, Args};
use crate::eio::{self, Incoming, Ws};
use crate::hist::Histogram;

/// Slots of the completion ring; must exceed the window.
const RING: usize = 4096;

/// Who has received what: counts per in-flight sequence number.
struct Tracker {
    sockets: u32,
    ring: Vec<AtomicU32>,
    /// Highest sequence number every socket has received. Deliveries are in
    /// order per socket, so completions happen in sequence order.
    completed: AtomicU64,
    /// Deliveries so far, read at the edges of the CPU window.
    delivered: AtomicU64,
    progress: Notify,
    /// Set once the sender has seen every packet delivered (or gave up).
    finished: AtomicBool,
}

impl Tracker {
    fn on_delivery(&self, seq: u64) {
        self.delivered.fetch_add(1, Ordering::Relaxed);
        let slot = &self.ring[seq as usize % RING];
        if slot.fetch_add(1, Ordering::AcqRel) + 1 == self.sockets {
            slot.store(0, Ordering::Release);
            self.completed.fetch_max(seq, Ordering::AcqRel);
            self.progress.notify_one();
        }
    }
}

/// Per-socket bookkeeping.
#[derive(Default)]
struct Rx {
    received: u64,
    last: u64,
    gaps: u64,
    out_of_order: u64,
    bad_packets: u64,
    /// Deliveries that carried connection state recovery's offset.
    with_offset: u64,
    closed_early: bool,
    error: Option<String>,
    hist: Histogram,
}

impl Rx {
    /// Handles one frame; returns true when it was a ping (answer a pong).
    fn on_message(&mut self, msg: Message, tracker: &Tracker) -> bool {
        match eio::classify(msg) {
            Incoming::Event(text) => {
                let now = eio::now_ns();
                let Some((seq, t, offset)) = eio::parse_event(&text, "bcast") else {
                    self.bad_packets += 1;
                    return false;
                };
                self.received += 1;
                self.with_offset += offset as u64;
                if seq <= self.last {
                    self.out_of_order += 1;
                } else {
                    self.gaps += seq - self.last - 1;
                    self.last = seq;
                }
                self.hist.record(now.saturating_sub(t));
                tracker.on_delivery(seq);
                false
            }
            Incoming::Ping => true,
            Incoming::Closed => {
                self.closed_early = true;
                false
            }
            Incoming::Other => false,
        }
    }

    fn on_read_error(&mut self, r: Option<Result<Message, impl std::fmt::Display>>) {
        match r {
            None => self.closed_early = true,
            Some(Err(e)) => self.error = Some(e.to_string()),
            Some(Ok(_)) => {}
        }
    }
}

/// Runs the windowed broadcast scenario.
pub async fn run(args: &Args, window: u64) -> Result<(), String> {
    let target = args.target()?;
    let clients = args.u64("clients", 1000)? as usize;
    let window = window.clamp(1, RING as u64 / 2);
    let secs = args.secs("secs", 10.0)?;
    let warmup = args.secs("warmup-secs", 2.0)?;
    let drain = args.secs("drain-secs", 10.0)?;
    let timeout = args.secs("connect-timeout-secs", 10.0)?;
    let probe = args.probe()?;

    // With `--url2`, half the receivers sit on a second server of the same cluster (the sender stays on
    // the first), so every broadcast crosses the cluster's adapter.
    let (mut socks, failed, err) = match args.str("url2") {
        None => connect_many(&target, clients + 1, 200, timeout).await,
        Some(url2) => {
            let second = crate::eio::Target::parse(url2)?;
            let (far, failed_far, err_far) = connect_many(&second, clients / 2, 200, timeout).await;
            let (mut near, failed_near, err_near) =
                connect_many(&target, clients - clients / 2 + 1, 200, timeout).await;
            let sender = near.pop();
            near.extend(far);
            near.extend(sender);
            (near, failed_far + failed_near, err_far.or(err_near))
        }
    };
    if socks.len() < 2 {
        return Err(format!(
            "not enough connections: {}",
            err.unwrap_or_default()
        ));
    }
    let sender = socks.pop().expect("checked above");
    let receivers = socks.len();
    let sockets = receivers + 1;
    let tracker = Arc::new(Tracker {
        sockets: sockets as u32,
        ring: (0..RING).map(|_| AtomicU32::new(0)).collect(),
        completed: AtomicU64::new(0),
        delivered: AtomicU64::new(0),
        progress: Notify::new(),
        finished: AtomicBool::new(false),
    });
    let (stop_tx, stop_rx) = watch::channel(false);

    tokio::time::sleep(Duration::from_millis(500)).await;
    let start = Instant::now();
    let send_end = start + warmup + secs;
    let deadline = send_end + drain;

    let mut handles: Vec<_> = socks
        .into_iter()
        .map(|ws| tokio::spawn(receiver(ws, tracker.clone(), stop_rx.clone(), deadline)))
        .collect();
    let sender_handle = tokio::spawn(sender_task(
        sender,
        tracker.clone(),
        window,
        send_end,
        deadline,
    ));

    tokio::time::sleep_until(start + warmup).await;
    let cpu_a = probe.sample();
    let delivered_a = tracker.delivered.load(Ordering::Relaxed);
    tokio::time::sleep_until(send_end).await;
    let cpu_b = probe.sample();
    let delivered_b = tracker.delivered.load(Ordering::Relaxed);
    let rss = probe.server_rss_kib();

    let (sent, sender_rx, sender_ws) = sender_handle.await.map_err(|e| format!("task: {e}"))?;
    let _ = stop_tx.send(true);
    let all_done = tracker.finished.load(Ordering::Relaxed);
    handles.push(tokio::spawn(async move { (sender_rx, sender_ws) }));
    let mut keep = Vec::with_capacity(sockets);
    let mut total = Rx::default();
    let mut missing_at_end = 0u64;
    let mut closed_early = 0usize;
    for h in handles {
        let (s, ws) = h.await.map_err(|e| format!("task: {e}"))?;
        keep.push(ws);
        total.received += s.received;
        total.gaps += s.gaps;
        total.out_of_order += s.out_of_order;
        total.bad_packets += s.bad_packets;
        total.with_offset += s.with_offset;
        total.hist.merge(&s.hist);
        missing_at_end += sent.saturating_sub(s.last);
        closed_early += s.closed_early as usize;
        if total.error.is_none() {
            total.error = s.error;
        }
    }
    drop(keep);
    let cpu = probe.window(cpu_a, cpu_b);
    let window_secs = cpu["window_secs"].as_f64().unwrap_or(secs.as_secs_f64());
    let measured = delivered_b - delivered_a;
    let per_delivery = cpu["server_cpu_us"]
        .as_u64()
        .filter(|_| measured > 0)
        .map(|us| (us as f64 / measured as f64 * 1000.0).round() / 1000.0);
    emit(&serde_json::json!({
        "scenario": "broadcast",
        "mode": "window",
        "clients": receivers,
        "sockets_incl_sender": sockets,
        "connect_failed": failed,
        "window": window,
        "secs": secs.as_secs_f64(),
        "warmup_secs": warmup.as_secs_f64(),
        "sent": sent,
        "expected_deliveries": sent * sockets as u64,
        "deliveries": total.received,
        "measured_deliveries": measured,
        "deliveries_per_sec": (measured as f64 / window_secs).round(),
        "broadcasts_per_sec": (measured as f64 / sockets as f64 / window_secs).round(),
        "latency_us": total.hist.summary_us(),
        "lost": total.gaps + missing_at_end,
        "lost_gaps": total.gaps,
        "missing_at_end": missing_at_end,
        "out_of_order": total.out_of_order,
        "bad_packets": total.bad_packets,
        "with_offset": total.with_offset,
        "closed_early": closed_early,
        "all_delivered_before_deadline": all_done,
        "first_error": total.error.or(err),
        "cpu": cpu,
        "server_cpu_us_per_delivery": per_delivery,
        "server_rss_kib_end": rss,
    }));
    Ok(())
}

/// A receiving client: counts deliveries until the sender says stop.
async fn receiver(
    mut ws: Ws,
    tracker: Arc<Tracker>,
    mut stop: watch::Receiver<bool>,
    deadline: Instant,
) -> (Rx, Ws) {
    let mut st = Rx::default();
    loop {
        tokio::select! {
            biased;
            r = tokio::time::timeout_at(deadline, ws.next()) => match r {
                Ok(Some(Ok(msg))) => {
                    if st.on_message(msg, &tracker) && ws.send(eio::pong()).await.is_err() {
                        break;
                    }
                    if st.closed_early {
                        break;
                    }
                }
                Ok(other) => {
                    st.on_read_error(other);
                    break;
                }
                Err(_) => break,
            },
            _ = stop.changed() => break,
        }
    }
    (st, ws)
}

/// The sender: keeps `window` broadcasts in flight until `send_end`, then
/// waits for the last one to reach everybody. It receives its own copies.
async fn sender_task(
    mut ws: Ws,
    tracker: Arc<Tracker>,
    window: u64,
    send_end: Instant,
    deadline: Instant,
) -> (u64, Rx, Ws) {
    let mut st = Rx::default();
    let mut sent = 0u64;
    loop {
        let now = Instant::now();
        let completed = tracker.completed.load(Ordering::Acquire);
        if now >= send_end && completed >= sent {
            tracker.finished.store(true, Ordering::Relaxed);
            break;
        }
        if now >= deadline {
            break;
        }
        if now < send_end && sent - completed < window {
            // Fill the window in one flush.
            let mut failed = false;
            while sent - tracker.completed.load(Ordering::Acquire) < window {
                sent += 1;
                if let Err(e) = ws
                    .feed(eio::event_two_ints("bcast", sent, eio::now_ns()))
                    .await
                {
                    st.error = Some(e.to_string());
                    failed = true;
                    break;
                }
            }
            if failed || ws.flush().await.is_err() {
                break;
            }
            continue;
        }
        tokio::select! {
            _ = tracker.progress.notified() => {}
            _ = tokio::time::sleep_until(if now < send_end { send_end } else { deadline }) => {}
            r = ws.next() => match r {
                Some(Ok(msg)) => {
                    if st.on_message(msg, &tracker) && ws.send(eio::pong()).await.is_err() {
                        break;
                    }
                    if st.closed_early {
                        break;
                    }
                }
                other => {
                    st.on_read_error(other);
                    break;
                }
            },
        }
    }
    // Copies still on their way to the sender are read by nobody now; they
    // count as missing only if the sender had not seen them complete.
    (sent, st, ws)
}
