//! `echo`: C clients each keep P `echo` events in flight; measures
//! throughput, latency, reordering and server CPU per message.

use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use crate::args::{connect_many, emit, Args};
use crate::eio::{self, Incoming, Ws};
use crate::hist::Histogram;

#[derive(Default)]
struct ConnStats {
    sent: u64,
    received: u64,
    measured: u64,
    out_of_order: u64,
    bad_packets: u64,
    closed_early: bool,
    error: Option<String>,
    hist: Histogram,
}

/// What to do after handling one incoming message.
enum Action {
    Nothing,
    Pong,
    SendNext,
}

/// Runs the echo scenario.
pub async fn run(args: &Args) -> Result<(), String> {
    let target = args.target()?;
    let conns = args.u64("conns", 50)? as usize;
    let pipeline = args.u64("pipeline", 4)?.max(1);
    let secs = args.secs("secs", 10.0)?;
    let warmup = args.secs("warmup-secs", 2.0)?;
    let timeout = args.secs("connect-timeout-secs", 10.0)?;
    let probe = args.probe()?;

    let (socks, failed, err) = connect_many(&target, conns, 200, timeout).await;
    if socks.is_empty() {
        return Err(format!(
            "no connection succeeded: {}",
            err.unwrap_or_default()
        ));
    }
    let connected = socks.len();

    let start = Instant::now();
    let measure_from = start + warmup;
    let end = measure_from + secs;
    let measure_from_ns = eio::now_ns() + warmup.as_nanos() as u64;
    let handles: Vec<_> = socks
        .into_iter()
        .map(|ws| tokio::spawn(echo_conn(ws, pipeline, measure_from_ns, end)))
        .collect();

    tokio::time::sleep_until(measure_from).await;
    let cpu_a = probe.sample();
    tokio::time::sleep_until(end).await;
    let cpu_b = probe.sample();
    let rss = probe.server_rss_kib();

    let mut total = ConnStats::default();
    let mut closed_early = 0;
    let mut keep = Vec::with_capacity(connected);
    for h in handles {
        let (s, ws) = h.await.map_err(|e| format!("task: {e}"))?;
        keep.push(ws);
        total.sent += s.sent;
        total.received += s.received;
        total.measured += s.measured;
        total.out_of_order += s.out_of_order;
        total.bad_packets += s.bad_packets;
        total.hist.merge(&s.hist);
        closed_early += s.closed_early as usize;
        if total.error.is_none() {
            total.error = s.error;
        }
    }
    drop(keep);
    let cpu = probe.window(cpu_a, cpu_b);
    let window = cpu["window_secs"].as_f64().unwrap_or(secs.as_secs_f64());
    let per_msg = cpu["server_cpu_us"]
        .as_u64()
        .filter(|_| total.measured > 0)
        .map(|us| (us as f64 / total.measured as f64 * 1000.0).round() / 1000.0);
    emit(&serde_json::json!({
        "scenario": "echo",
        "conns": connected,
        "connect_failed": failed,
        "pipeline": pipeline,
        "secs": secs.as_secs_f64(),
        "warmup_secs": warmup.as_secs_f64(),
        "sent": total.sent,
        "received": total.received,
        "messages": total.measured,
        "msgs_per_sec": (total.measured as f64 / window).round(),
        "latency_us": total.hist.summary_us(),
        "out_of_order": total.out_of_order,
        "bad_packets": total.bad_packets,
        "closed_early": closed_early,
        "first_error": total.error.or(err),
        "cpu": cpu,
        "server_cpu_us_per_msg": per_msg,
        "server_rss_kib_end": rss,
    }));
    Ok(())
}

/// One client: keeps `pipeline` echoes in flight until `end`.
async fn echo_conn(
    mut ws: Ws,
    pipeline: u64,
    measure_from_ns: u64,
    end: Instant,
) -> (ConnStats, Ws) {
    let mut st = ConnStats::default();
    let mut next_seq = 1u64;
    let mut last_rx = 0u64;
    for _ in 0..pipeline {
        if let Err(e) = ws
            .feed(eio::event_two_ints("echo", next_seq, eio::now_ns()))
            .await
        {
            st.error = Some(e.to_string());
            return (st, ws);
        }
        next_seq += 1;
        st.sent += 1;
    }
    if let Err(e) = ws.flush().await {
        st.error = Some(e.to_string());
        return (st, ws);
    }
    let handle = |msg: Message, st: &mut ConnStats, last_rx: &mut u64| -> Action {
        match eio::classify(msg) {
            Incoming::Event(text) => {
                let now = eio::now_ns();
                let Some((seq, t)) = eio::parse_two_ints(&text, "echo") else {
                    st.bad_packets += 1;
                    return Action::Nothing;
                };
                st.received += 1;
                if seq <= *last_rx {
                    st.out_of_order += 1;
                } else {
                    *last_rx = seq;
                }
                if now >= measure_from_ns {
                    st.measured += 1;
                    st.hist.record(now.saturating_sub(t));
                }
                Action::SendNext
            }
            Incoming::Ping => Action::Pong,
            Incoming::Closed => {
                st.closed_early = true;
                Action::Nothing
            }
            Incoming::Other => Action::Nothing,
        }
    };
    'outer: loop {
        let first = match tokio::time::timeout_at(end, ws.next()).await {
            Err(_) => break,
            Ok(Some(Ok(m))) => m,
            Ok(None) => {
                st.closed_early = true;
                break;
            }
            Ok(Some(Err(e))) => {
                st.error = Some(e.to_string());
                break;
            }
        };
        let mut pending = Some(first);
        // Handle everything already buffered, then flush once.
        for _ in 0..1024 {
            let Some(msg) = pending.take() else { break };
            let out = handle(msg, &mut st, &mut last_rx);
            if st.closed_early {
                break 'outer;
            }
            let out = match out {
                Action::SendNext if Instant::now() < end => {
                    let m = eio::event_two_ints("echo", next_seq, eio::now_ns());
                    next_seq += 1;
                    st.sent += 1;
                    Some(m)
                }
                Action::Pong => Some(eio::pong()),
                Action::SendNext | Action::Nothing => None,
            };
            if let Some(m) = out {
                if let Err(e) = ws.feed(m).await {
                    st.error = Some(e.to_string());
                    break 'outer;
                }
            }
            match ws.next().now_or_never() {
                Some(Some(Ok(m))) => pending = Some(m),
                Some(None) => {
                    st.closed_early = true;
                    break 'outer;
                }
                Some(Some(Err(e))) => {
                    st.error = Some(e.to_string());
                    break 'outer;
                }
                None => {}
            }
        }
        if let Err(e) = ws.flush().await {
            st.error = Some(e.to_string());
            break;
        }
    }
    // Returned, not closed: disconnects must not land inside the CPU window.
    (st, ws)
}
