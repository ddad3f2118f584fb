#!/usr/bin/env bash
# End-to-end benchmark: ferrio vs. the official socket.io 4.8.1, same run,
# same handlers. Server pinned to one CPU, load generator to the other.
# Writes raw JSON to bench/out/ and the summary to bench/RESULTS.md.
# See bench/README.md. Every wait below is bounded; the script stops by itself.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

# ---- Settings (override from the environment for quick runs).
SERVERS=${SERVERS:-"ferrio socketio ferrio-c ferrio-c-thread python-ferrio python-ferrio-asgi python-socketio node-ferrio node-ferrio-port"}
IDLE_LEVELS=${IDLE_LEVELS:-"1000 5000 10000"}
IDLE_SETTLE_SECS=${IDLE_SETTLE_SECS:-3}
ECHO_CONNS=${ECHO_CONNS:-50}
ECHO_PIPELINE=${ECHO_PIPELINE:-4}
ECHO_SECS=${ECHO_SECS:-10}
BCAST_CLIENTS=${BCAST_CLIENTS:-1000}
BCAST_RATE=${BCAST_RATE:-30}
BCAST_SECS=${BCAST_SECS:-10}
# The throughput regime: packets in flight until every socket has them (0 skips it).
BCAST_WINDOW=${BCAST_WINDOW:-16}
WARMUP_SECS=${WARMUP_SECS:-2}
# The C API comparison: interleaved echo rounds of ferrio and its C-handler servers, medians reported
# (one run of either varies by about ±10% here). 0 skips them.
C_API_ROUNDS=${C_API_ROUNDS:-5}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
# Below the ephemeral range (32768+), so client sockets never hold the port.
PORT=${BASE_PORT:-29100}
OUT=${OUT:-bench/out}
RESULTS=${RESULTS:-bench/RESULTS.md}

LG=target/release/ferrio-loadgen
# FERRIO_BIN may point at a prebuilt server binary (then nothing is built for it).
FERRIO_BIN_PREBUILT=${FERRIO_BIN:-}
FERRIO_BIN=${FERRIO_BIN:-target/release/examples/bench_server}
# The same server with its handlers in C, on libferrio (bench/servers/c_bench_server.c).
FERRIO_C_BIN=target/release/c_bench_server
# The Python pair (ferrio's binding installed with `pip install ./bindings/python`; python-socketio + uvicorn).
PYTHON=${PYTHON:-.venv/bin/python}
CLK_TCK=$(getconf CLK_TCK)
DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

# drop_server NAME: $SERVERS without the word NAME.
drop_server() { local out="" s; for s in $SERVERS; do [[ $s == "$1" ]] || out="$out $s"; done; echo "$out"; }

log() { printf '[bench %s] %s\n' "$(date '+%H:%M:%S')" "$*" >&2; }

mkdir -p "$OUT"
rm -f "$OUT"/*.json "$OUT"/*.raw "$OUT"/*.log "$OUT"/.idle.fifo

# ---- File descriptors: 10k sockets per process (server and load generator).
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
log "open-file limit: $(ulimit -n)"

# ---- Build.
log "building the load generator"
cargo build --release -p ferrio-loadgen
if [[ " $SERVERS " == *" ferrio "* ]] && [[ -z "$FERRIO_BIN_PREBUILT" ]]; then
    if [[ -f crates/ferrio-redis/examples/bench_server.rs ]] &&
        cargo build --release -p ferrio-redis --example bench_server; then
        :
    else
        log "WARNING: ferrio bench_server example missing or failed to build; skipping ferrio"
        SERVERS=$(drop_server ferrio)
    fi
fi
if [[ " $SERVERS " == *" ferrio-c"* ]]; then
    if cargo build --release -p ferrio-ffi &&
        ${CC:-cc} -std=c11 -O2 -Wall -Wextra -Werror -Iinclude bench/servers/c_bench_server.c \
            target/release/libferrio.a -lgcc_s -lutil -lrt -lpthread -lm -ldl -o "$FERRIO_C_BIN"; then
        :
    else
        log "WARNING: the C bench server failed to build; skipping ferrio-c and ferrio-c-thread"
        SERVERS=$(drop_server ferrio-c)
        SERVERS=$(drop_server ferrio-c-thread)
    fi
fi
if [[ " $SERVERS " == *" socketio "* ]] && ! [[ -d node_modules/socket.io ]]; then
    log "WARNING: node_modules/socket.io missing (run npm ci); skipping socket.io"
    SERVERS=$(drop_server socketio)
fi
if [[ " $SERVERS " == *" python-"* ]] && ! "$PYTHON" -c "import ferrio, socketio, uvicorn" 2>/dev/null; then
    log "WARNING: $PYTHON lacks ferrio/python-socketio/uvicorn (pip install ./bindings/python -r requirements-dev.txt); skipping the Python pair"
    SERVERS=$(drop_server python-ferrio)
    SERVERS=$(drop_server python-ferrio-asgi)
    SERVERS=$(drop_server python-socketio)
fi
# The Node binding (bindings/node): node-ferrio runs bench/servers/node_ferrio.js on its release build.
if [[ " $SERVERS " == *" node-ferrio"* ]] && ! node bindings/node/scripts/build.js >&2; then
    log "WARNING: the Node binding (bindings/node) failed to build; skipping node-ferrio"
    SERVERS=$(drop_server node-ferrio)
    SERVERS=$(drop_server node-ferrio-port)
fi

# ---- Process helpers.
SPID=""
SPORT=""
LGPID=""

cleanup() {
    exec 3>&- 2>/dev/null || true
    if [[ -n "$LGPID" ]] && kill -0 "$LGPID" 2>/dev/null; then kill "$LGPID" 2>/dev/null || true; fi
    if [[ -n "$SPID" ]] && kill -0 "$SPID" 2>/dev/null; then kill "$SPID" 2>/dev/null || true; fi
    rm -f "$OUT/.idle.fifo"
}
trap cleanup EXIT

# start_server NAME: starts the server pinned to $SERVER_CPU; sets SPID/SPORT.
start_server() {
    local name=$1 logf
    PORT=$((PORT + 1))
    logf="$OUT/$name-server-$PORT.log"
    case $name in
    ferrio) taskset -c "$SERVER_CPU" "$FERRIO_BIN" --port "$PORT" >"$logf" 2>&1 & ;;
    ferrio-c) taskset -c "$SERVER_CPU" "$FERRIO_C_BIN" --port "$PORT" --dispatch inline >"$logf" 2>&1 & ;;
    ferrio-c-thread) taskset -c "$SERVER_CPU" "$FERRIO_C_BIN" --port "$PORT" --dispatch thread >"$logf" 2>&1 & ;;
    socketio) taskset -c "$SERVER_CPU" node bench/servers/socketio.js "$PORT" >"$logf" 2>&1 & ;;
    node-ferrio) taskset -c "$SERVER_CPU" node bench/servers/node_ferrio.js "$PORT" >"$logf" 2>&1 & ;;
    python-ferrio) taskset -c "$SERVER_CPU" "$PYTHON" bench/servers/python_ferrio.py "$PORT" >"$logf" 2>&1 & ;;
    python-socketio) taskset -c "$SERVER_CPU" "$PYTHON" bench/servers/python_socketio.py "$PORT" >"$logf" 2>&1 & ;;
    python-ferrio-asgi) taskset -c "$SERVER_CPU" "$PYTHON" bench/servers/python_ferrio_asgi.py "$PORT" >"$logf" 2>&1 & ;;
    node-ferrio-port) taskset -c "$SERVER_CPU" node bench/servers/node_ferrio_port.js "$PORT" >"$logf" 2>&1 & ;;
    *) log "unknown server $name"; return 1 ;;
    esac
    SPID=$!
    SPORT=""
    for _ in $(seq 1 300); do
        SPORT=$(sed -n 's/^LISTENING \([0-9]*\).*/\1/p' "$logf" | head -n1)
        [[ -n "$SPORT" ]] && break
        if ! kill -0 "$SPID" 2>/dev/null; then
            log "$name exited during start-up:"; cat "$logf" >&2; return 1
        fi
        sleep 0.1
    done
    if [[ -z "$SPORT" ]]; then log "$name did not print LISTENING within 30 s"; return 1; fi
    sleep 0.5
}

stop_server() {
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

url() { echo "ws://127.0.0.1:$SPORT/socket.io/?EIO=4&transport=websocket"; }

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# Mean of N VmRSS samples taken 0.5 s apart.
rss_mean() {
    local pid=$1 n=$2 sum=0 v
    for _ in $(seq 1 "$n"); do
        v=$(rss_kib "$pid" 2>/dev/null || true)
        sum=$((sum + ${v:-0}))
        sleep 0.5
    done
    echo $((sum / n))
}

json_field() { grep -o "\"$2\":[0-9]*" "$1" | head -n1 | cut -d: -f2; }

# ---- Scenarios.
run_idle() {
    local name=$1 n=$2 raw="$OUT/$1-idle-$2.raw" fifo="$OUT/.idle.fifo" base rss connected failed
    start_server "$name" || return 1
    base=$(rss_mean "$SPID" 3)
    rm -f "$fifo"
    mkfifo "$fifo"
    taskset -c "$LOAD_CPU" "$LG" idle --url "$(url)" --conns "$n" --hold-secs 300 <"$fifo" >"$raw" 2>&1 &
    LGPID=$!
    exec 3>"$fifo"
    for _ in $(seq 1 1200); do
        grep -q '"connected"' "$raw" 2>/dev/null && break
        kill -0 "$LGPID" 2>/dev/null || break
        sleep 0.1
    done
    sleep "$IDLE_SETTLE_SECS"
    rss=$(rss_mean "$SPID" 5)
    exec 3>&- # EOF on the loadgen's stdin: it disconnects and exits
    for _ in $(seq 1 100); do
        kill -0 "$LGPID" 2>/dev/null || break
        sleep 0.1
    done
    kill "$LGPID" 2>/dev/null || true
    wait "$LGPID" 2>/dev/null || true
    LGPID=""
    rm -f "$fifo"
    stop_server
    connected=$(json_field "$raw" connected)
    failed=$(json_field "$raw" failed)
    connected=${connected:-0}
    printf '{"scenario":"idle","server":"%s","conns":%d,"connected":%d,"failed":%d,"baseline_kib":%d,"rss_kib":%d,"per_conn_kib":%s}\n' \
        "$name" "$n" "$connected" "${failed:-0}" "$base" "$rss" \
        "$(awk -v b="$base" -v r="$rss" -v c="$connected" 'BEGIN { if (c > 0) printf "%.3f", (r - b) / c; else print "null" }')" \
        >"$OUT/$name-idle-$n.json"
    log "$name idle $n: connected=$connected baseline=${base}KiB rss=${rss}KiB"
}

# run_echo NAME [SUFFIX]: writes $OUT/NAME-echoSUFFIX.json.
run_echo() {
    local name=$1 file="$1-echo${2:-}"
    start_server "$name" || return 1
    timeout $((ECHO_SECS + WARMUP_SECS + 90)) taskset -c "$LOAD_CPU" "$LG" echo --url "$(url)" \
        --conns "$ECHO_CONNS" --pipeline "$ECHO_PIPELINE" --secs "$ECHO_SECS" \
        --warmup-secs "$WARMUP_SECS" --server-pid "$SPID" --clk-tck "$CLK_TCK" \
        >"$OUT/$file.json" 2>"$OUT/$file.log" || log "$name echo: load generator failed (see $OUT/$file.log)"
    stop_server
    log "$name echo${2:-}: $(head -c 400 "$OUT/$file.json")"
}

run_broadcast() {
    local name=$1
    start_server "$name" || return 1
    timeout $((BCAST_SECS + WARMUP_SECS + 120)) taskset -c "$LOAD_CPU" "$LG" broadcast --url "$(url)" \
        --clients "$BCAST_CLIENTS" --rate "$BCAST_RATE" --secs "$BCAST_SECS" \
        --warmup-secs "$WARMUP_SECS" --server-pid "$SPID" --clk-tck "$CLK_TCK" \
        >"$OUT/$name-broadcast.json" 2>"$OUT/$name-broadcast.log" || log "$name broadcast: load generator failed (see $OUT/$name-broadcast.log)"
    stop_server
    log "$name broadcast: $(head -c 400 "$OUT/$name-broadcast.json")"
}

run_broadcast_window() {
    local name=$1
    [[ $BCAST_WINDOW != 0 ]] || return 0
    start_server "$name" || return 1
    timeout $((BCAST_SECS + WARMUP_SECS + 120)) taskset -c "$LOAD_CPU" "$LG" broadcast --url "$(url)" \
        --clients "$BCAST_CLIENTS" --window "$BCAST_WINDOW" --secs "$BCAST_SECS" \
        --warmup-secs "$WARMUP_SECS" --server-pid "$SPID" --clk-tck "$CLK_TCK" \
        >"$OUT/$name-broadcast-window.json" 2>"$OUT/$name-broadcast-window.log" ||
        log "$name broadcast (window): load generator failed (see $OUT/$name-broadcast-window.log)"
    stop_server
    log "$name broadcast (window): $(head -c 400 "$OUT/$name-broadcast-window.json")"
}

for name in $SERVERS; do
    # ferrio-c* run the same core as ferrio, node-ferrio-port the same binding as node-ferrio: their idle
    # memory is not measured again.
    [[ $name == ferrio-c* || $name == node-ferrio-port ]] || for n in $IDLE_LEVELS; do
        run_idle "$name" "$n" || { log "$name idle $n FAILED"; stop_server; }
    done
    run_echo "$name" || { log "$name echo FAILED"; stop_server; }
    run_broadcast "$name" || { log "$name broadcast FAILED"; stop_server; }
    run_broadcast_window "$name" || { log "$name broadcast (window) FAILED"; stop_server; }
done

# ---- The C API rounds: ferrio, then each C-handler server, again and again.
c_api_servers=""
for name in ferrio ferrio-c ferrio-c-thread; do
    [[ " $SERVERS " == *" $name "* ]] && c_api_servers="$c_api_servers $name"
done
if [[ " $c_api_servers " == *" ferrio "* && " $c_api_servers " == *" ferrio-c"* ]]; then
    for round in $(seq 1 "$C_API_ROUNDS"); do
        for name in $c_api_servers; do
            run_echo "$name" "-round$round" || { log "$name echo round $round FAILED"; stop_server; }
        done
    done
fi

# ---- Report.
git_rev=$(git rev-parse --short HEAD 2>/dev/null || echo "none")
git_dirty=$(git status --porcelain 2>/dev/null | grep -q . && echo " (uncommitted changes)" || true)
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
printf '{"date":"%s","load average (1/5/15 min) at start / end":"%s / %s","kernel":"%s","rustc":"%s","node":"%s","socket.io":"%s","git":"%s%s","settings":"echo %sx%s for %ss; broadcast %s clients at %s/s and with %s in flight for %ss; warm-up %ss; idle levels %s"}\n' \
    "$DATE" "$LOAD_START" "$LOAD_END" "$(uname -sr)" "$(rustc --version 2>/dev/null || echo unknown)" "$(node --version 2>/dev/null || echo none)" \
    "$(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' node_modules/socket.io/package.json 2>/dev/null | head -n1)" \
    "$git_rev" "$git_dirty" "$ECHO_CONNS" "$ECHO_PIPELINE" "$ECHO_SECS" "$BCAST_CLIENTS" "$BCAST_RATE" "$BCAST_WINDOW" "$BCAST_SECS" \
    "$WARMUP_SECS" "$IDLE_LEVELS" >"$OUT/meta.json"
"$LG" report --out-dir "$OUT" --results "$RESULTS" --date "$DATE"
[[ " $SERVERS " != *" python-"* ]] || "$PYTHON" bench/python_report.py "$OUT" "$RESULTS"
[[ " $SERVERS " != *" node-ferrio"* ]] || node bench/node_report.js "$OUT" "$RESULTS"
# Two servers over Redis, ferrio against socket.io (CLUSTER=0 skips it).
if [[ ${CLUSTER:-1} != 0 ]]; then
    OUT=$OUT RESULTS=$RESULTS BCAST_CLIENTS=$BCAST_CLIENTS BCAST_SECS=$BCAST_SECS BCAST_WINDOW=${BCAST_WINDOW/#0/16} \
        WARMUP_SECS=$WARMUP_SECS SERVER_CPU=$SERVER_CPU LOAD_CPU=$LOAD_CPU bash bench/cluster.sh ||
        log "WARNING: the cluster benchmark failed"
fi
# Connection state recovery off / on, one server, ferrio against socket.io (RECOVERY_BENCH=0 skips it).
if [[ ${RECOVERY_BENCH:-1} != 0 ]]; then
    OUT=$OUT RESULTS=$RESULTS BCAST_CLIENTS=$BCAST_CLIENTS BCAST_RATE=$BCAST_RATE BCAST_SECS=$BCAST_SECS \
        BCAST_WINDOW=${BCAST_WINDOW/#0/16} WARMUP_SECS=$WARMUP_SECS SERVER_CPU=$SERVER_CPU LOAD_CPU=$LOAD_CPU \
        bash bench/recovery.sh || log "WARNING: the connection state recovery benchmark failed"
fi
log "done: $RESULTS"
