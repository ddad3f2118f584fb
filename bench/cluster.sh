#!/usr/bin/env bash
# Cluster benchmark: broadcast fan-out across two server processes over Redis, in interleaved rounds —
# ferrio (bench_server) and socket.io 4.8.1 (bench/servers/socketio.js), each over Redis pub/sub
# (ferrio's Redis adapter / @socket.io/redis-adapter), over a Redis stream (ferrio's streams adapter /
# @socket.io/redis-streams-adapter 0.3.1), and over the stream with connection state recovery on. Half
# the clients sit on each server; the sender is on the first, so every broadcast goes through Redis to
# the second. Both servers are pinned to $SERVER_CPU (their CPU is summed), the load generator and a
# redis-server of this script's own (a free port, never 6379) to $LOAD_CPU. Throughput regime:
# $BCAST_WINDOW broadcasts in flight. Every variant runs once per round, $CLUSTER_ROUNDS rounds; the
# report gives medians and spreads (bench/rounds.py). Writes bench/out/cluster-*.json and the "Cluster"
# section of bench/RESULTS.md (between markers; bench/run.sh runs this script at its end). Every wait is
# bounded.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

BCAST_CLIENTS=${BCAST_CLIENTS:-1000}
BCAST_SECS=${BCAST_SECS:-10}
BCAST_WINDOW=${BCAST_WINDOW:-16}
WARMUP_SECS=${WARMUP_SECS:-2}
CLUSTER_ROUNDS=${CLUSTER_ROUNDS:-3}
# The recovery window of the "+ recovery" variants (ms).
RECOVERY_MS=${RECOVERY_MS:-120000}
CLUSTER_VARIANTS=${CLUSTER_VARIANTS:-"ferrio ferrio-streams ferrio-streams-recovery socketio socketio-streams socketio-streams-recovery"}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
OUT=${OUT:-bench/out}
RESULTS=${RESULTS:-bench/RESULTS.md}
LG=target/release/ferrio-loadgen
FERRIO_BIN=target/release/examples/bench_server
CLK_TCK=$(getconf CLK_TCK)

log() { printf '[cluster %s] %s\n' "$(date '+%H:%M:%S')" "$*" >&2; }

mkdir -p "$OUT"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
command -v redis-server >/dev/null || { log "redis-server is missing (make test installs it)"; exit 1; }
for pkg in redis-adapter redis-streams-adapter; do
    [[ -d node_modules/@socket.io/$pkg ]] || { log "node_modules lacks @socket.io/$pkg (npm ci)"; exit 1; }
done

cargo build --release -p ferrio-loadgen
cargo build --release -p ferrio-redis --example bench_server

rm -f "$OUT"/cluster-*.json
DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

PIDS=()
# Servers are started in command substitutions (subshells): their pids are also kept in this file.
PIDFILE="$OUT/.cluster-pids"
: >"$PIDFILE"
cleanup() {
    for pid in "${PIDS[@]}" $(cat "$PIDFILE" 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -f "$PIDFILE"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

REDIS_PORT=$(free_port)
taskset -c "$LOAD_CPU" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
    >"$OUT/cluster-redis.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$REDIS_PORT") 2>/dev/null && break
    sleep 0.1
done
REDIS_URL="redis://127.0.0.1:$REDIS_PORT"

# Every pair starts on an empty Redis: no stream or session left by the pair before.
flush_redis() {
    command -v redis-cli >/dev/null || return 0
    timeout 10 redis-cli -p "$REDIS_PORT" FLUSHALL >/dev/null 2>&1 || log "FLUSHALL failed"
}

# start NAME INDEX: prints "pid port" of a cluster member.
start() {
    local name=$1 i=$2 logf="$OUT/cluster-$1-$2.log" pid port=""
    case $name in
    ferrio) taskset -c "$SERVER_CPU" "$FERRIO_BIN" --port 0 --redis "$REDIS_URL" >"$logf" 2>&1 & ;;
    ferrio-streams)
        taskset -c "$SERVER_CPU" "$FERRIO_BIN" --port 0 --redis-streams "$REDIS_URL" >"$logf" 2>&1 &
        ;;
    ferrio-streams-recovery)
        taskset -c "$SERVER_CPU" "$FERRIO_BIN" --port 0 --redis-streams "$REDIS_URL" --recovery "$RECOVERY_MS" \
            >"$logf" 2>&1 &
        ;;
    socketio) REDIS_URL=$REDIS_URL taskset -c "$SERVER_CPU" node bench/servers/socketio.js 0 >"$logf" 2>&1 & ;;
    socketio-streams)
        REDIS_STREAMS_URL=$REDIS_URL taskset -c "$SERVER_CPU" node bench/servers/socketio.js 0 >"$logf" 2>&1 &
        ;;
    socketio-streams-recovery)
        REDIS_STREAMS_URL=$REDIS_URL RECOVERY_MS=$RECOVERY_MS taskset -c "$SERVER_CPU" \
            node bench/servers/socketio.js 0 >"$logf" 2>&1 &
        ;;
    *) log "unknown variant $name"; return 1 ;;
    esac
    pid=$!
    echo "$pid" >>"$PIDFILE"
    for _ in $(seq 1 300); do
        port=$(sed -n 's/^LISTENING \([0-9]*\).*/\1/p' "$logf" | head -n1)
        [[ -n "$port" ]] && break
        kill -0 "$pid" 2>/dev/null || { log "$name $i exited:"; cat "$logf" >&2; return 1; }
        sleep 0.1
    done
    [[ -n "$port" ]] || { log "$name $i did not listen"; return 1; }
    echo "$pid $port"
}

# run_pair NAME ROUND: one measurement of a variant, written to $OUT/cluster-NAME-rROUND.json.
run_pair() {
    local name=$1 round=$2 a b file="cluster-$1-r$2"
    flush_redis
    a=$(start "$name" 1) || return 1
    b=$(start "$name" 2) || { kill "${a% *}" 2>/dev/null; return 1; }
    sleep 1
    local url_a="ws://127.0.0.1:${a#* }/socket.io/?EIO=4&transport=websocket"
    local url_b="ws://127.0.0.1:${b#* }/socket.io/?EIO=4&transport=websocket"
    timeout $((BCAST_SECS + WARMUP_SECS + 120)) taskset -c "$LOAD_CPU" "$LG" broadcast --url "$url_a" \
        --url2 "$url_b" --clients "$BCAST_CLIENTS" --window "$BCAST_WINDOW" --secs "$BCAST_SECS" \
        --warmup-secs "$WARMUP_SECS" --server-pid "${a% *},${b% *}" --clk-tck "$CLK_TCK" \
        >"$OUT/$file.json" 2>"$OUT/$file-loadgen.log" ||
        log "$name round $round: load generator failed (see $OUT/$file-loadgen.log)"
    kill "${a% *}" "${b% *}" 2>/dev/null || true
    wait "${a% *}" "${b% *}" 2>/dev/null || true
    log "$name round $round: $(head -c 300 "$OUT/$file.json")"
}

# Interleaved rounds: every variant once per round; each round starts one variant further on, so no
# variant always runs first (or always right after the same one).
read -r -a variants <<<"$CLUSTER_VARIANTS"
for round in $(seq 1 "$CLUSTER_ROUNDS"); do
    n=${#variants[@]}
    for k in $(seq 0 $((n - 1))); do
        name=${variants[$(((k + round - 1) % n))]}
        run_pair "$name" "$round" || log "$name round $round FAILED"
    done
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
git_rev=$(git rev-parse --short HEAD 2>/dev/null || echo "none")
git_dirty=$(git status --porcelain -- . ':!bench/RESULTS.md' 2>/dev/null | grep -q . && echo " (uncommitted changes)" || true)

# The "Cluster" section of RESULTS.md, replaced between its markers (appended the first time).
python3 - "$OUT" "$RESULTS" "$BCAST_CLIENTS" "$BCAST_WINDOW" "$CLUSTER_ROUNDS" "$BCAST_SECS" "$RECOVERY_MS" \
    "$DATE" "$git_rev$git_dirty" "$LOAD_START / $LOAD_END" "$CLUSTER_VARIANTS" <<'EOF'
import pathlib, sys
sys.path.insert(0, "bench")
import rounds as R
out, results = pathlib.Path(sys.argv[1]), sys.argv[2]
clients, window, nrounds, secs, recovery_ms, date, git, load, variants = sys.argv[3:12]
nrounds = int(nrounds)
labels = {
    "ferrio": "ferrio, Redis adapter (pub/sub)",
    "ferrio-streams": "ferrio, Redis Streams adapter",
    "ferrio-streams-recovery": "ferrio, Redis Streams adapter + recovery",
    "socketio": "socket.io + @socket.io/redis-adapter",
    "socketio-streams": "socket.io + @socket.io/redis-streams-adapter",
    "socketio-streams-recovery": "socket.io + @socket.io/redis-streams-adapter + recovery",
}
variants = [v for v in variants.split() if v in labels]
runs = {v: [R.load(out / f"cluster-{v}-r{r}.json") for r in range(1, nrounds + 1)] for v in variants}
cpu = {v: R.values(runs[v], "server_cpu_us_per_delivery") for v in variants}
rate = {v: R.values(runs[v], "deliveries_per_sec") for v in variants}
# The comparisons: ferrio against socket.io on the same adapter; the streams adapter against the same
# server's pub/sub adapter; recovery on against off (streams adapter, same server).
counterpart = {"ferrio": "socketio", "ferrio-streams": "socketio-streams",
               "ferrio-streams-recovery": "socketio-streams-recovery"}
pubsub = {"ferrio-streams": "ferrio", "socketio-streams": "socketio"}
recovery_off = {"ferrio-streams-recovery": "ferrio-streams", "socketio-streams-recovery": "socketio-streams"}


def row(label, cell):
    return f"| {label} | " + " | ".join(cell(v) for v in variants) + " |"


def versus(table, pairs):
    return lambda v: R.ratio_cell(table[v], table[pairs[v]]) if pairs.get(v) in table else ""


lines = [
    "<!-- cluster:begin -->", "## Cluster: two servers over Redis", "",
    f"Broadcast to {clients} clients, half on each of two server processes sharing one Redis (the sender "
    f"on the first, so every packet crosses Redis); {window} broadcasts in flight, {secs} s measured per "
    "run; both servers pinned to one core, the load generator and redis-server to the other "
    f"(`bench/cluster.sh`). {nrounds} interleaved rounds (every variant once per round, each time a fresh "
    f"pair of servers on an emptied Redis): {R.NOTE} \"+ recovery\": connection state recovery on "
    f"({recovery_ms} ms window), so every broadcast is kept and carries its offset (its stream entry's id) "
    "as its last argument.", "",
    f"Run: {date}, git {git}, load average (1/5/15 min) at start / end: {load}.", "",
    "| | " + " | ".join(labels[v] for v in variants) + " |",
    "|---|" + "---|" * len(variants),
    row("deliveries per second (both servers together)", lambda v: R.spread_cell(rate[v], "{:,.0f}")),
    row("**server CPU per delivery, µs** (two processes summed)", lambda v: R.spread_cell(cpu[v], "{:.3f}")),
    row("of which user / sys, µs", lambda v: R.user_sys_cell(runs[v])),
    row("load generator CPU, % of its core (shared with redis-server)",
        lambda v: R.spread_cell(R.values(runs[v], "cpu.loadgen_cpu_pct"), "{:.0f}")),
    row(f"deliveries lost / out of order / malformed (all {nrounds} rounds)", lambda v: R.integrity_cell(runs[v])),
    row("deliveries carrying an offset", lambda v: R.offset_cell(runs[v])),
    row("CPU per delivery: ferrio ÷ socket.io, same adapter", versus(cpu, counterpart)),
    row("deliveries per second: ferrio ÷ socket.io, same adapter", versus(rate, counterpart)),
    row("CPU per delivery: streams ÷ pub/sub adapter, same server", versus(cpu, pubsub)),
    row("CPU per delivery: recovery on ÷ off (streams adapter), same server", versus(cpu, recovery_off)),
    "",
    "Per round (in the order run, each round starting one variant further on): server CPU per delivery in "
    "µs (deliveries per second).", "",
    "| round | " + " | ".join(labels[v] for v in variants) + " |",
    "|---|" + "---|" * len(variants),
]
for r in range(nrounds):
    lines.append(f"| {r + 1} | " + " | ".join(
        "n/a" if cpu[v][r] is None else f"{cpu[v][r]:.3f} ({rate[v][r] or 0:,.0f})" for v in variants) + " |")
lines += ["", "<!-- cluster:end -->"]
section = "\n".join(lines)
R.replace_section(results, "<!-- cluster:begin -->", "<!-- cluster:end -->", section)
print(section)
EOF
