#!/usr/bin/env bash
# Builds the coverage-guided fuzz targets (fuzz_targets/, libFuzzer through libfuzzer-sys) on the stable
# toolchain and runs each for SECS seconds from its checked-in seeds (seeds/<target>) plus what earlier
# runs found (corpus/<target>, not checked in). Prints each target's executions and coverage; a crash,
# a timeout or an out-of-memory fails the run and names the reproducer, which replays with
#   fuzz/target/<host>/release/<target> <reproducer>
# Usage: fuzz/run.sh [SECS] [TARGET...]   (make fuzz: 60 s each; make test: a few seconds each)
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-60}
shift || true
targets=("$@")
if [[ ${#targets[@]} == 0 ]]; then
    targets=(engineio_packet engineio_payload socketio_packet polling_post json_nesting)
fi

command -v "${CXX:-c++}" >/dev/null || { echo "fuzz: libfuzzer-sys compiles libFuzzer with a C++ compiler: install g++ (make deps-system)" >&2; exit 1; }

# SanitizerCoverage through LLVM passes stable rustc accepts (no -Z flags): 8-bit edge counters, the PC
# table and comparison tracing, which is what libFuzzer's coverage feedback reads. An explicit --target
# keeps these flags off build scripts and proc macros (built for the host without libFuzzer).
host=$(rustc -vV | sed -n 's/^host: //p')
export CARGO_TARGET_DIR=${FUZZ_TARGET_DIR:-$PWD/target}
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=3 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares"
"${CARGO:-cargo}" build --release --locked --target "$host" $(printf -- '--bin %s ' "${targets[@]}")

summary=()
failed=0
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target" "artifacts/$target"
    log="artifacts/$target/last-run.log"
    # Inputs up to 32 KB (deep nesting, long runs); one taking over 2 s counts as a hang (the decoders
    # are linear: 32 KB decodes in well under a millisecond).
    if "$CARGO_TARGET_DIR/$host/release/$target" "corpus/$target" "seeds/$target" \
        -dict=socketio.dict -max_total_time="$secs" -max_len=32768 -timeout=2 -rss_limit_mb=2048 \
        -use_value_profile=1 -print_final_stats=1 -artifact_prefix="artifacts/$target/" >"$log" 2>&1; then
        done_line=$(grep -E "^#[0-9]+[[:space:]]+DONE" "$log" | tail -n1 || true)
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
        cov=$(sed -E -n 's/.* cov: ([0-9]+) ft: ([0-9]+) corp: ([0-9]+).*/cov \1, ft \2, corpus \3/p' <<<"$done_line")
        summary+=("$(printf '%-17s %10s execs (%s/s)  %s' "$target" "$execs" "$rate" "$cov")")
    else
        failed=1
        tail -n 40 "$log"
        reproducer=$(sed -n 's/.*Test unit written to //p' "$log" | tail -n1)
        summary+=("$(printf '%-17s FAILED: reproducer %s' "$target" "fuzz/${reproducer:-artifacts/$target/ (see $log)}")")
    fi
done
echo "fuzz: ${secs} s per target"
printf '  %s\n' "${summary[@]}"
exit "$failed"
