#!/usr/bin/env bash
# Proves the direction of the core's layers (DESIGN.md §7) — run by `make lint`:
#
#   http ─> engineio                    (the HTTP front serves any Engine.IO handler)
#   socketio ─> engineio, adapter       (and the leaves payload, mounts)
#   every layer ─> error                (the leaf holding the error codes all errors map to)
#   adapter ─> engineio                 (the adapter core: ids, rooms, options, packets, errors)
#   serve.rs                            (the one place above both http and socketio)
#
# 1. The core's dependency tree holds no Redis and no admin code (they are the crates ferrio-redis and
#    ferrio-admin, which depend on the core, never the reverse).
# 2. Each layer's code (comments aside) names no module of the crate but those it may use: every
#    `crate::<module>` path is checked against the layer's allowance, and `super::super` (a way around it)
#    is refused. The engine also names no HTTP server type (hyper): the HTTP front hands it byte streams.
# 3. The adapter crates reach sockets only through the adapter core: ferrio-redis names no Socket.IO item
#    (no `ferrio::socketio`, Socket, Namespace or Server). Being crates of their own, they can use
#    nothing but the core's public API anyway: the compiler enforces the rest.
# 4. One host layer (crates/ferrio-host): it depends on the core only, every foreign binding depends on
#    it, and no binding builds a runtime, a consumer queue or a thread policy of its own (test code
#    aside).
set -euo pipefail
cd "$(dirname "$0")/.."

fail=0
complain() { echo "layers: $*" >&2; fail=1; }

# ---- 1. Dependencies.
tree=$(cargo tree -p ferrio -e normal,build --prefix none --format '{p}' 2>/dev/null | sed 's/ (.*//' | sort -u)
for forbidden in ferrio-redis ferrio-admin redis rmpv bcrypt blowfish gethostname; do
    if grep -q "^$forbidden v" <<<"$tree"; then
        complain "the core (ferrio) depends on $forbidden"
    fi
done

# ---- 2. Module paths inside the core.
# code FILE...: the files' lines without comments (doc links may point anywhere).
code() { sed -e 's#^[[:space:]]*//.*##' -e 's#[[:space:]]//[^"]*$##' "$@"; }

# allow LAYER_PATH ALLOWED_MODULES...: every `crate::x` in LAYER_PATH must have x among ALLOWED_MODULES.
allow() {
    local path=$1 file used
    shift
    local allowed=" $* "
    while IFS= read -r file; do
        if code "$file" | grep -qE 'crate::\{|super::super'; then
            complain "$file: use crate::<module>::… paths (no crate::{…} or super::super), so they can be checked"
        fi
        for used in $(code "$file" | grep -oE '\bcrate::[A-Za-z_]+' | sed 's/^crate:://' | sort -u); do
            [[ $allowed == *" $used "* ]] || complain "$file uses crate::$used (allowed here: $*)"
        done
    done < <(find "$path" -name '*.rs')
}

allow core/src/engineio engineio error
allow core/src/http http engineio mounts error
allow core/src/adapter adapter engineio payload error
allow core/src/socketio socketio engineio adapter payload mounts error
allow core/src/payload.rs payload error
allow core/src/mounts.rs mounts
allow core/src/error.rs error
allow core/src/fuzzing.rs engineio socketio payload

if code $(find core/src/engineio -name '*.rs') | grep -nE '\b(hyper|hyper_util|http_body|http_body_util)::'; then
    complain "the Engine.IO layer names HTTP server types (above)"
fi

# ---- 3. The adapter crates.
if code $(find crates/ferrio-redis/src -name '*.rs') |
    grep -nE '\bferrio::(socketio|http|engineio::(Session|Engine)\b)|\bferrio::(Socket|Namespace|Server|BroadcastOperator)\b'; then
    complain "ferrio-redis reaches past the adapter core (above)"
fi

# ---- 4. The host layer.
host_tree=$(cargo tree -p ferrio-host -e normal --prefix none --format '{p}' 2>/dev/null | sed 's/ (.*//' | sort -u)
for forbidden in ferrio-redis ferrio-admin redis bcrypt napi pyo3; do
    if grep -q "^$forbidden v" <<<"$host_tree"; then
        complain "the host layer (ferrio-host) depends on $forbidden"
    fi
done
for binding in ffi bindings/python bindings/node; do
    grep -q '^ferrio-host = ' "$binding/Cargo.toml" || complain "$binding does not build on ferrio-host"
    if code $(find "$binding/src" -name '*.rs' ! -name 'tests.rs') |
        grep -nE 'tokio::runtime::Builder|\bCondvar\b|sched_setscheduler|pthread_sigmask'; then
        complain "$binding makes its own runtime, queue or thread policy (above): use ferrio-host"
    fi
done

if [[ $fail != 0 ]]; then
    exit 1
fi
echo "layers: the core depends on no Redis/admin code; engineio <- http, engineio/adapter <- socketio, adapters on the adapter core only; every binding on the one host layer"
