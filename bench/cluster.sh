#!/usr/bin/env bash
# Cluster benchmark: broadcast fan-out across two server processes over Redis — two ferrio servers (the Redis
# adapter) against two socket.io 4.8.1 servers (@socket.io/redis-adapter) in the same run. Half the clients
# sit on each server; the sender is on the first, so every broadcast goes through Redis to the second.
# Both servers are pinned to $SERVER_CPU (their CPU is summed), the load generator and a redis-server of
# this script's own (a free port, never 6379) to $LOAD_CPU. Throughput regime: $BCAST_WINDOW broadcasts in
# flight. Writes bench/out/cluster-*.json and the "Cluster" section of bench/RESULTS.md (between markers;
# bench/run.sh runs this script at its end). Every wait is bounded.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

BCAST_CLIENTS=${BCAST_CLIENTS:-1000}
BCAST_SECS=${BCAST_SECS:-10}
BCAST_WINDOW=${BCAST_WINDOW:-16}
WARMUP_SECS=${WARMUP_SECS:-2}
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
[[ -d node_modules/@socket.io/redis-adapter ]] || { log "node_modules lacks @socket.io/redis-adapter (npm ci)"; exit 1; }

cargo build --release -p ferrio-loadgen
cargo build --release -p ferrio-redis --example bench_server

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

# start NAME INDEX: prints "pid port" of a cluster member.
start() {
    local name=$1 i=$2 logf="$OUT/cluster-$1-$2.log" pid port=""
    case $name in
    ferrio) taskset -c "$SERVER_CPU" "$FERRIO_BIN" --port 0 --redis "$REDIS_URL" >"$logf" 2>&1 & ;;
    socketio) REDIS_URL=$REDIS_URL taskset -c "$SERVER_CPU" node bench/servers/socketio.js 0 >"$logf" 2>&1 & ;;
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

run_pair() {
    local name=$1 a b
    a=$(start "$name" 1) || return 1
    b=$(start "$name" 2) || return 1
    sleep 1
    local url_a="ws://127.0.0.1:${a#* }/socket.io/?EIO=4&transport=websocket"
    local url_b="ws://127.0.0.1:${b#* }/socket.io/?EIO=4&transport=websocket"
    timeout $((BCAST_SECS + WARMUP_SECS + 120)) taskset -c "$LOAD_CPU" "$LG" broadcast --url "$url_a" \
        --url2 "$url_b" --clients "$BCAST_CLIENTS" --window "$BCAST_WINDOW" --secs "$BCAST_SECS" \
        --warmup-secs "$WARMUP_SECS" --server-pid "${a% *},${b% *}" --clk-tck "$CLK_TCK" \
        >"$OUT/cluster-$name.json" 2>"$OUT/cluster-$name-loadgen.log" ||
        log "$name: load generator failed (see $OUT/cluster-$name-loadgen.log)"
    kill "${a% *}" "${b% *}" 2>/dev/null || true
    wait "${a% *}" "${b% *}" 2>/dev/null || true
    log "$name: $(head -c 300 "$OUT/cluster-$name.json")"
}

run_pair ferrio
run_pair socketio

# The "Cluster" section of RESULTS.md, replaced between its markers (appended the first time).
python3 - "$OUT" "$RESULTS" "$BCAST_CLIENTS" "$BCAST_WINDOW" <<'EOF'
import json, pathlib, sys
out, results, clients, window = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3], sys.argv[4]
def load(name):
    try:
        return json.loads((out / f"cluster-{name}.json").read_text().strip().splitlines()[-1])
    except (OSError, ValueError, IndexError):
        return {}
f, s = load("ferrio"), load("socketio")
def cell(d, key, fmt):
    v = d.get(key)
    return fmt.format(v) if isinstance(v, (int, float)) else "n/a"
def ratio(key):
    a, b = f.get(key), s.get(key)
    return f"{a / b:.2f}×" if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b else ""
rows = [
    ("deliveries per second (both servers together)", "deliveries_per_sec", "{:,.0f}"),
    ("server CPU per delivery (two processes summed)", "server_cpu_us_per_delivery", "{:.2f} µs"),
    ("deliveries lost / out of order", None, None),
]
lines = ["<!-- cluster:begin -->", "## Cluster: two servers over Redis", "",
         f"Broadcast to {clients} clients, half on each of two server processes sharing one Redis (the "
         f"sender on the first, so every packet crosses Redis); {window} broadcasts in flight; both servers "
         "pinned to one core, the load generator and redis-server to the other (`bench/cluster.sh`).", "",
         "| | ferrio (Redis adapter) | socket.io 4.8 + @socket.io/redis-adapter | ratio |", "|---|---|---|---|"]
for label, key, fmt in rows:
    if key is None:
        lost = lambda d: f"{d.get('lost', 'n/a')} / {d.get('out_of_order', 'n/a')}"
        lines.append(f"| {label} | {lost(f)} | {lost(s)} | |")
    else:
        lines.append(f"| {label} | {cell(f, key, fmt)} | {cell(s, key, fmt)} | {ratio(key)} |")
lines += ["", "<!-- cluster:end -->"]
section = "\n".join(lines)
text = results.read_text() if results.exists() else ""
if "<!-- cluster:begin -->" in text:
    head, rest = text.split("<!-- cluster:begin -->", 1)
    tail = rest.split("<!-- cluster:end -->", 1)[1] if "<!-- cluster:end -->" in rest else ""
    text = head + section + tail
else:
    text = text.rstrip("\n") + "\n\n" + section + "\n"
results.write_text(text)
print(section)
EOF
