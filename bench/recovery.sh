#!/usr/bin/env bash
# Connection state recovery on one server: broadcast server CPU per delivery with recovery off and on —
# ferrio (bench_server, in-memory adapter, `--recovery MS`) and socket.io 4.8.1 (bench/servers/socketio.js,
# `RECOVERY_MS`, i.e. `connectionStateRecovery: { maxDisconnectionDuration }`) in the same run. With
# recovery on every broadcast is kept for the window and carries its offset as its last argument.
# Both of run.sh's broadcast regimes: a fixed $BCAST_RATE broadcasts/s and $BCAST_WINDOW in flight (the
# throughput regime), to $BCAST_CLIENTS clients. Server pinned to $SERVER_CPU, load generator to
# $LOAD_CPU, a fresh server per measurement. Interleaved rounds ($RECOVERY_ROUNDS: every variant once per
# round and regime), medians and spreads (bench/rounds.py). Writes bench/out/recovery-*.json and the
# "Connection state recovery" section of bench/RESULTS.md (between markers). bench/run.sh runs this
# script at its end (RECOVERY_BENCH=0 skips it); it is not part of `make test`. Every wait is bounded.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

BCAST_CLIENTS=${BCAST_CLIENTS:-1000}
BCAST_RATE=${BCAST_RATE:-30}
BCAST_WINDOW=${BCAST_WINDOW:-16}
BCAST_SECS=${BCAST_SECS:-10}
WARMUP_SECS=${WARMUP_SECS:-2}
RECOVERY_ROUNDS=${RECOVERY_ROUNDS:-3}
RECOVERY_MS=${RECOVERY_MS:-120000}
# "rate", "window" or both.
RECOVERY_REGIMES=${RECOVERY_REGIMES:-"rate window"}
RECOVERY_VARIANTS=${RECOVERY_VARIANTS:-"ferrio ferrio-recovery socketio socketio-recovery"}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
OUT=${OUT:-bench/out}
RESULTS=${RESULTS:-bench/RESULTS.md}
LG=target/release/ferrio-loadgen
FERRIO_BIN=target/release/examples/bench_server
CLK_TCK=$(getconf CLK_TCK)

log() { printf '[recovery %s] %s\n' "$(date '+%H:%M:%S')" "$*" >&2; }

mkdir -p "$OUT"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[[ -d node_modules/socket.io ]] || { log "node_modules lacks socket.io (npm ci)"; exit 1; }

cargo build --release -p ferrio-loadgen
cargo build --release -p ferrio-redis --example bench_server

rm -f "$OUT"/recovery-*.json
DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

SPID=""
cleanup() { [[ -z "$SPID" ]] || kill "$SPID" 2>/dev/null || true; }
trap cleanup EXIT

# start NAME: starts a server on a free port (it prints LISTENING <port>); sets SPID and SPORT.
start() {
    local name=$1 logf="$OUT/recovery-$1-server.log"
    case $name in
    ferrio) taskset -c "$SERVER_CPU" "$FERRIO_BIN" --port 0 >"$logf" 2>&1 & ;;
    ferrio-recovery) taskset -c "$SERVER_CPU" "$FERRIO_BIN" --port 0 --recovery "$RECOVERY_MS" >"$logf" 2>&1 & ;;
    socketio) taskset -c "$SERVER_CPU" node bench/servers/socketio.js 0 >"$logf" 2>&1 & ;;
    socketio-recovery)
        RECOVERY_MS=$RECOVERY_MS taskset -c "$SERVER_CPU" node bench/servers/socketio.js 0 >"$logf" 2>&1 &
        ;;
    *) log "unknown variant $name"; return 1 ;;
    esac
    SPID=$!
    SPORT=""
    for _ in $(seq 1 300); do
        SPORT=$(sed -n 's/^LISTENING \([0-9]*\).*/\1/p' "$logf" | head -n1)
        [[ -n "$SPORT" ]] && break
        kill -0 "$SPID" 2>/dev/null || { log "$name exited:"; cat "$logf" >&2; SPID=""; return 1; }
        sleep 0.1
    done
    [[ -n "$SPORT" ]] || { log "$name did not listen"; return 1; }
    sleep 0.5
}

stop() {
    [[ -n "$SPID" ]] || return 0
    kill -TERM "$SPID" 2>/dev/null || true
    for _ in $(seq 1 50); do
        kill -0 "$SPID" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$SPID" 2>/dev/null || true
    wait "$SPID" 2>/dev/null || true
    SPID=""
}

# measure NAME REGIME ROUND: one broadcast measurement, written to $OUT/recovery-NAME-REGIME-rROUND.json.
measure() {
    local name=$1 regime=$2 round=$3 file="recovery-$1-$2-r$3" mode
    case $regime in
    rate) mode=(--rate "$BCAST_RATE") ;;
    window) mode=(--window "$BCAST_WINDOW") ;;
    *) log "unknown regime $regime"; return 1 ;;
    esac
    start "$name" || { stop; return 1; }
    timeout $((BCAST_SECS + WARMUP_SECS + 120)) taskset -c "$LOAD_CPU" "$LG" broadcast \
        --url "ws://127.0.0.1:$SPORT/socket.io/?EIO=4&transport=websocket" --clients "$BCAST_CLIENTS" \
        "${mode[@]}" --secs "$BCAST_SECS" --warmup-secs "$WARMUP_SECS" --server-pid "$SPID" --clk-tck "$CLK_TCK" \
        >"$OUT/$file.json" 2>"$OUT/$file-loadgen.log" ||
        log "$name $regime round $round: load generator failed (see $OUT/$file-loadgen.log)"
    stop
    log "$name $regime round $round: $(head -c 300 "$OUT/$file.json")"
}

# Interleaved rounds: per round and regime every variant once, each round starting one variant further on.
read -r -a variants <<<"$RECOVERY_VARIANTS"
for round in $(seq 1 "$RECOVERY_ROUNDS"); do
    for regime in $RECOVERY_REGIMES; do
        n=${#variants[@]}
        for k in $(seq 0 $((n - 1))); do
            name=${variants[$(((k + round - 1) % n))]}
            measure "$name" "$regime" "$round" || log "$name $regime round $round FAILED"
        done
    done
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
git_rev=$(git rev-parse --short HEAD 2>/dev/null || echo "none")
git_dirty=$(git status --porcelain -- . ':!bench/RESULTS.md' 2>/dev/null | grep -q . && echo " (uncommitted changes)" || true)

python3 - "$OUT" "$RESULTS" "$BCAST_CLIENTS" "$BCAST_RATE" "$BCAST_WINDOW" "$RECOVERY_ROUNDS" "$BCAST_SECS" \
    "$RECOVERY_MS" "$DATE" "$git_rev$git_dirty" "$LOAD_START / $LOAD_END" "$RECOVERY_VARIANTS" \
    "$RECOVERY_REGIMES" <<'EOF'
import pathlib, sys
sys.path.insert(0, "bench")
import rounds as R
out, results = pathlib.Path(sys.argv[1]), sys.argv[2]
clients, rate_s, window, nrounds, secs, recovery_ms, date, git, load, variants, regimes = sys.argv[3:14]
nrounds = int(nrounds)
labels = {
    "ferrio": "ferrio",
    "ferrio-recovery": "ferrio + recovery",
    "socketio": "socket.io 4.8.1",
    "socketio-recovery": "socket.io 4.8.1 + recovery",
}
variants = [v for v in variants.split() if v in labels]
off = {"ferrio-recovery": "ferrio", "socketio-recovery": "socketio"}
counterpart = {"ferrio": "socketio", "ferrio-recovery": "socketio-recovery"}


def row(label, cell):
    return f"| {label} | " + " | ".join(cell(v) for v in variants) + " |"


lines = [
    "<!-- recovery:begin -->", "## Connection state recovery: one server", "",
    f"Broadcast to {clients} clients on one server with the in-memory adapter, connection state recovery "
    f"off and on ({recovery_ms} ms window: every broadcast is kept and carries its offset as its last "
    "argument), ferrio and socket.io in the same run (`bench/recovery.sh`): server pinned to one core, the "
    f"load generator to the other, a fresh server per measurement, {secs} s measured. {nrounds} interleaved "
    f"rounds (every variant once per round and regime): {R.NOTE}", "",
    f"Run: {date}, git {git}, load average (1/5/15 min) at start / end: {load}.", "",
]
titles = {
    "window": f"Throughput regime: {window} broadcasts in flight (`--window {window}`)",
    "rate": f"Fixed rate: {rate_s} broadcasts per second (`--rate {rate_s}`)",
}
for regime in [g for g in ("window", "rate") if g in regimes.split()]:
    runs = {v: [R.load(out / f"recovery-{v}-{regime}-r{r}.json") for r in range(1, nrounds + 1)]
            for v in variants}
    cpu = {v: R.values(runs[v], "server_cpu_us_per_delivery") for v in variants}
    rate = {v: R.values(runs[v], "deliveries_per_sec") for v in variants}
    lines += [
        f"### {titles[regime]}", "",
        "| | " + " | ".join(labels[v] for v in variants) + " |",
        "|---|" + "---|" * len(variants),
        row("deliveries per second", lambda v: R.spread_cell(rate[v], "{:,.0f}")),
        row("delivery latency p50 / p99, µs", lambda v: " / ".join(
            "n/a" if R.med(R.values(runs[v], k)) is None else "{:,.0f}".format(R.med(R.values(runs[v], k)))
            for k in ("latency_us.p50", "latency_us.p99"))),
        row("**server CPU per delivery, µs**", lambda v: R.spread_cell(cpu[v], "{:.3f}")),
        row("of which user / sys, µs", lambda v: R.user_sys_cell(runs[v])),
        row(f"deliveries lost / out of order / malformed (all {nrounds} rounds)",
            lambda v: R.integrity_cell(runs[v])),
        row("deliveries carrying an offset", lambda v: R.offset_cell(runs[v])),
        row("CPU per delivery: recovery on ÷ off, same server",
            lambda v: R.ratio_cell(cpu[v], cpu[off[v]]) if off.get(v) in cpu else ""),
        row("CPU per delivery: ferrio ÷ socket.io, same setting",
            lambda v: R.ratio_cell(cpu[v], cpu[counterpart[v]]) if counterpart.get(v) in cpu else ""),
        "",
        "Per round: server CPU per delivery in µs (deliveries per second).", "",
        "| round | " + " | ".join(labels[v] for v in variants) + " |",
        "|---|" + "---|" * len(variants),
    ]
    for r in range(nrounds):
        lines.append(f"| {r + 1} | " + " | ".join(
            "n/a" if cpu[v][r] is None else f"{cpu[v][r]:.3f} ({rate[v][r] or 0:,.0f})" for v in variants) + " |")
    lines.append("")
lines.append("<!-- recovery:end -->")
section = "\n".join(lines)
R.replace_section(results, "<!-- recovery:begin -->", "<!-- recovery:end -->", section)
print(section)
EOF
