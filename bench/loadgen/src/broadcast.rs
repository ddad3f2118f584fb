//! `broadcast`: one sender emits `bcast` R times per second, the server
//! re-emits it to every connected socket (`io.emit`); N receivers (and the
//! sender itself, which is also connected) check loss, order and latency.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::Message;

use crate::args::{connect_many, emit, Args};
use crate::eio::{self, Incoming, Ws};
use crate::hist::Histogram;

/// Per-socket delivery bookkeeping.
#[derive(Default)]
struct RxStats {
    received: u64,
    measured: u64,
    gaps: u64,
    out_of_order: u64,
    last: u64,
    bad_packets: u64,
    /// Deliveries that carried connection state recovery's offset.
    with_offset: u64,
    closed_early: bool,
    error: Option<String>,
    hist: Histogram,
}

impl RxStats {
    /// Records one received frame; returns true once `last_seq` arrived.
    fn on_message(&mut self, msg: Message, measure_from: u64, last_seq: u64) -> (bool, bool) {
        match eio::classify(msg) {
            Incoming::Event(text) => {
                let now = eio::now_ns();
                let Some((seq, t, offset)) = eio::parse_event(&text, "bcast") else {
                    self.bad_packets += 1;
                    return (false, false);
                };
                self.received += 1;
                self.with_offset += offset as u64;
                if seq <= self.last {
                    self.out_of_order += 1;
                } else {
                    self.gaps += seq - self.last - 1;
                    self.last = seq;
                }
                if seq >= measure_from {
                    self.measured += 1;
                    self.hist.record(now.saturating_sub(t));
                }
                (false, seq == last_seq)
            }
            Incoming::Ping => (true, false),
            Incoming::Closed => {
                self.closed_early = true;
                (false, false)
            }
            Incoming::Other => (false, false),
        }
    }
}

/// Outcome of one read with a deadline.
enum Read {
    Msg(Message),
    Stop,
}

fn read_result(
    r: Result<Option<Result<Message, impl std::fmt::Display>>, tokio::time::error::Elapsed>,
    st: &mut RxStats,
) -> Read {
    match r {
        Err(_) => Read::Stop,
        Ok(Some(Ok(m))) => Read::Msg(m),
        Ok(None) => {
            st.closed_early = true;
            Read::Stop
        }
        Ok(Some(Err(e))) => {
            st.error = Some(e.to_string());
            Read::Stop
        }
    }
}

/// Runs the broadcast scenario.
pub async fn run(args: &Args) -> Result<(), String> {
    let target = args.target()?;
    let clients = args.u64("clients", 1000)? as usize;
    let rate = args.u64("rate", 100)?.clamp(1, 100_000);
    let secs = args.secs("secs", 10.0)?;
    let warmup = args.secs("warmup-secs", 2.0)?;
    let drain = args.secs("drain-secs", 5.0)?;
    let timeout = args.secs("connect-timeout-secs", 10.0)?;
    let probe = args.probe()?;

    let (mut socks, failed, err) = connect_many(&target, clients + 1, 200, timeout).await;
    if socks.len() < 2 {
        return Err(format!(
            "not enough connections: {}",
            err.unwrap_or_default()
        ));
    }
    let sender = socks.pop().expect("checked above");
    let receivers = socks.len();
    let sockets = receivers + 1;

    let warm_count = (rate as f64 * warmup.as_secs_f64()).round() as u64;
    let measured_count = ((rate as f64 * secs.as_secs_f64()).round() as u64).max(1);
    let last_seq = warm_count + measured_count;
    let measure_from = warm_count + 1;
    let period = Duration::from_secs_f64(1.0 / rate as f64);

    // Let the server settle after the connection ramp before sending.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let start = Instant::now();
    let at = |n: u64| start + Duration::from_secs_f64(n as f64 / rate as f64);
    let send_end = at(last_seq);
    let deadline = send_end + drain;
    let done = Arc::new(AtomicUsize::new(0));

    let mut handles: Vec<_> = socks
        .into_iter()
        .map(|ws| tokio::spawn(receiver(ws, measure_from, last_seq, deadline, done.clone())))
        .collect();
    let sender_handle = tokio::spawn(sender_task(
        sender,
        start,
        period,
        last_seq,
        measure_from,
        deadline,
        done.clone(),
    ));

    // Measurement window: from the first measured send until every socket
    // has received the last packet (or the drain deadline).
    tokio::time::sleep_until(at(warm_count)).await;
    let cpu_a = probe.sample();
    tokio::time::sleep_until(send_end).await;
    for _ in 0..1_000_000 {
        if done.load(Ordering::Relaxed) >= sockets || Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let cpu_b = probe.sample();
    let rss = probe.server_rss_kib();
    let all_done = done.load(Ordering::Relaxed) >= sockets;

    let (sent, sender_rx, sender_ws) = sender_handle.await.map_err(|e| format!("task: {e}"))?;
    handles.push(tokio::spawn(async move { (sender_rx, sender_ws) }));
    let mut keep = Vec::with_capacity(sockets);
    let mut total = RxStats::default();
    let mut missing_at_end = 0u64;
    let mut closed_early = 0usize;
    for h in handles {
        let (s, ws) = h.await.map_err(|e| format!("task: {e}"))?;
        keep.push(ws);
        total.received += s.received;
        total.measured += s.measured;
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
    let window = cpu["window_secs"].as_f64().unwrap_or(secs.as_secs_f64());
    let per_delivery = cpu["server_cpu_us"]
        .as_u64()
        .filter(|_| total.measured > 0)
        .map(|us| (us as f64 / total.measured as f64 * 1000.0).round() / 1000.0);
    let expected = sent * sockets as u64;
    emit(&serde_json::json!({
        "scenario": "broadcast",
        "clients": receivers,
        "sockets_incl_sender": sockets,
        "connect_failed": failed,
        "rate": rate,
        "secs": secs.as_secs_f64(),
        "warmup_secs": warmup.as_secs_f64(),
        "sent": sent,
        "expected_deliveries": expected,
        "deliveries": total.received,
        "measured_deliveries": total.measured,
        "deliveries_per_sec": (total.measured as f64 / window).round(),
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

/// A receiving client: counts deliveries until `last_seq` or `deadline`.
async fn receiver(
    mut ws: Ws,
    measure_from: u64,
    last_seq: u64,
    deadline: Instant,
    done: Arc<AtomicUsize>,
) -> (RxStats, Ws) {
    let mut st = RxStats::default();
    // Bounded by `deadline`; every iteration consumes one frame.
    loop {
        let msg = match read_result(tokio::time::timeout_at(deadline, ws.next()).await, &mut st) {
            Read::Msg(m) => m,
            Read::Stop => break,
        };
        let (ping, finished) = st.on_message(msg, measure_from, last_seq);
        if ping && ws.send(eio::pong()).await.is_err() {
            break;
        }
        if finished {
            done.fetch_add(1, Ordering::Relaxed);
            break;
        }
        if st.closed_early {
            break;
        }
    }
    // The socket is returned, not closed: disconnects must not land inside
    // the CPU measurement window.
    (st, ws)
}

/// The sender: emits `bcast` on a fixed schedule and, being connected
/// itself, also receives every broadcast.
async fn sender_task(
    mut ws: Ws,
    start: Instant,
    period: Duration,
    last_seq: u64,
    measure_from: u64,
    deadline: Instant,
    done: Arc<AtomicUsize>,
) -> (u64, RxStats, Ws) {
    let mut st = RxStats::default();
    let mut tick = tokio::time::interval_at(start, period);
    tick.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut sent = 0u64;
    let mut finished = false;
    while !finished {
        tokio::select! {
            _ = tick.tick(), if sent < last_seq => {
                sent += 1;
                if let Err(e) = ws.send(eio::event_two_ints("bcast", sent, eio::now_ns())).await {
                    st.error = Some(e.to_string());
                    break;
                }
            }
            r = tokio::time::timeout_at(deadline, ws.next()) => {
                let msg = match read_result(r, &mut st) {
                    Read::Msg(m) => m,
                    Read::Stop => break,
                };
                let (ping, fin) = st.on_message(msg, measure_from, last_seq);
                if ping && ws.send(eio::pong()).await.is_err() {
                    break;
                }
                if fin {
                    done.fetch_add(1, Ordering::Relaxed);
                    finished = true;
                }
                if st.closed_early {
                    break;
                }
            }
        }
    }
    (sent, st, ws)
}
