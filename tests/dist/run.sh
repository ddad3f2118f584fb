#!/usr/bin/env bash
# The packaging test (`make test-dist`, part of `make test`): installs every artifact of `make dist` and
# `make install` the way a user does, in a temporary directory outside the checkout, and drives each
# installed copy with an official client through the contract of contract.mjs / contract.py (connect, an
# event with an ack, a room broadcast, binary both ways, over polling, WebSocket and the upgrade).
#
#   Python   the wheel (no Rust toolchain on PATH) and the sdist (built from source outside the checkout)
#   Node     the `ferrio` tarball with its platform package (no Rust toolchain on PATH), and the same
#            tarball alone, which builds the native module from its own sources
#   C        `make install` into a prefix; a CMake project (shared and static) and a Makefile +
#            pkg-config project build the chat example and the contract server against it
#   Rust     `cargo package` of ferrio, ferrio-redis and ferrio-admin (each packaged crate is built, the
#            optional ones against the packaged core) and `cargo doc` without warnings
#
# Source builds share the checkout's target directory (CARGO_TARGET_DIR), so the registry dependencies
# compiled by the other targets are reused and only ferrio's own crates are compiled again. Cargo names a
# path crate's artifacts after its path relative to its workspace root and records its sources relative
# to the crate: the npm package keeps its crates in ferrio-src/ so that its build has slots of its own,
# while the sdist's core/ and bindings/python/ take the checkout's. That is sound only while the sdist's
# sources are the checkout's, which is checked first (a checkout edited since `make dist` gets a target
# directory of its own, built from scratch). Expects `make dist` to have run (the Makefile does it
# first). Prints what it installed, the sizes of the artifacts, and ends with "N passed, N failed".
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DIST=${DIST:-$ROOT/dist}
HERE=$ROOT/tests/dist
PY_CLIENT=$ROOT/.venv/bin/python
TSC=$ROOT/bindings/node/node_modules/typescript/bin/tsc
TMP=$(mktemp -d /tmp/ferrio-dist.XXXXXX)
# The servers are children of the contract drivers, which stop them; the trap only removes the files.
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM
export CARGO_TARGET_DIR=$ROOT/target
export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false
START=$SECONDS

VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' "$ROOT/Cargo.toml" | head -n1)

# PATH without cargo and rustc, for the artifacts that claim to need no toolchain.
NO_RUST_PATH=$(tr ':' '\n' <<<"$PATH" | while read -r d; do
  [ -n "$d" ] && [ ! -x "$d/cargo" ] && [ ! -x "$d/rustc" ] && echo "$d"; done | paste -sd:)
no_rust() { (
  unset CARGO RUSTC
  PATH=$NO_RUST_PATH
  "$@"
); }

passed=0
failed=0
n=0
# step NAME COMMAND...: runs the command (a subshell: it may cd), its output in a log shown when it fails.
step() {
  local name=$1
  shift
  n=$((n + 1))
  local log=$TMP/log.$n
  if ("$@") >"$log" 2>&1; then
    passed=$((passed + 1))
    printf '  ok   %s\n' "$name"
  else
    failed=$((failed + 1))
    printf '  FAIL %s\n' "$name"
    tail -n 40 "$log" | sed 's/^/       | /'
  fi
}
# Shows lines of the last step's log (what a contract's server said, …).
show() { grep -E "$1" "$TMP/log.$n" | head -n "${2:-3}" | sed 's/^ */       /'; }
size() { du -h "$1" | cut -f1; }
one() { # the single file matching a glob, or nothing
  local files=("$@")
  [ ${#files[@]} -eq 1 ] && [ -e "${files[0]}" ] && echo "${files[0]}"
}
# contract_js|contract_py NAME DIR COMMAND...: the contract, with socket.io-client or python-socketio's
# client, against the server COMMAND started in DIR.
contract_js() { local name=$1 dir=$2; shift 2; node "$HERE/contract.mjs" "$name" --cwd "$dir" -- "$@"; }
contract_py() { local name=$1 dir=$2; shift 2; "$PY_CLIENT" "$HERE/contract.py" "$name" --cwd "$dir" -- "$@"; }

echo "packaging test: ferrio $VERSION, artifacts in ${DIST#$ROOT/}, installing under $TMP"
step "no cargo or rustc on the stripped PATH" bash -c "! PATH='$NO_RUST_PATH' command -v cargo && ! PATH='$NO_RUST_PATH' command -v rustc"

# ---- one version everywhere ------------------------------------------------------------------------
check_versions() {
  local bad=0
  for f in bindings/node/package.json bindings/node/package-lock.json; do
    local v
    v=$(node -e 'const p = require(process.argv[1]); console.log(p.version, (p.packages && p.packages[""] || p).version)' "$ROOT/$f")
    if [ "$v" != "$VERSION $VERSION" ]; then echo "$f says $v, Cargo.toml $VERSION: run make sync-version"; bad=1; fi
  done
  return $bad
}
step "in-repository package.json versions match Cargo.toml ($VERSION)" check_versions

# ---- Python ------------------------------------------------------------------------------------------
echo "Python"
WHEEL=$(one "$DIST"/ferrio-"$VERSION"-*.whl)
SDIST=$(one "$DIST"/ferrio-"$VERSION".tar.gz)
echo "  wheel $(basename "${WHEEL:-none}") ($(size "${WHEEL:-/dev/null}")), sdist $(basename "${SDIST:-none}") ($(size "${SDIST:-/dev/null}"))"
step "the wheel is abi3 with a manylinux tag" bash -c "[[ '$(basename "${WHEEL:-x}")' == *-abi3-manylinux_*.whl ]]"
wheel_lists() {
  "$PY_CLIENT" - "$WHEEL" <<'EOF'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
need = ["ferrio/__init__.py", "ferrio/py.typed", "ferrio/_native.pyi", "/licenses/LICENSE"]
missing = [n for n in need if not any(x.endswith(n) for x in names)]
native = [x for x in names if x.startswith("ferrio/_native") and x.endswith(".so")]
print("native module:", native)
sys.exit(1 if missing or len(native) != 1 else 0)
EOF
}
step "the wheel holds the package, its types, the native module and LICENSE" wheel_lists
sdist_lists() {
  local list
  list=$(tar tzf "$SDIST") || return 1
  for f in Cargo.toml Cargo.lock LICENSE pyproject.toml core/Cargo.toml core/src/lib.rs \
    crates/ferrio-host/Cargo.toml crates/ferrio-host/src/lib.rs \
    bindings/python/Cargo.toml bindings/python/src/lib.rs python/ferrio/__init__.py; do
    grep -qx "ferrio-$VERSION/$f" <<<"$list" || { echo "missing $f"; return 1; }
  done
}
step "the sdist holds the workspace manifest, the lockfile, core/, the host layer and the binding" sdist_lists

PYW=$TMP/py-wheel
install_wheel() {
  no_rust python3 -m venv "$PYW/venv" &&
    no_rust "$PYW/venv/bin/pip" install -q --disable-pip-version-check --no-index "$WHEEL" &&
    cp "$HERE/server.py" "$PYW/"
}
step "wheel: pip install into a fresh virtualenv, no Rust toolchain" install_wheel
step "wheel: python-socketio client" no_rust contract_py wheel "$PYW" "$PYW/venv/bin/python" server.py
show "server ferrio" 1
step "wheel: the server reports ferrio $VERSION from the virtualenv" bash -c "grep -q 'ferrio $VERSION from $PYW/venv' '$TMP/log.$n'"
step "wheel: socket.io-client" no_rust contract_js wheel "$PYW" "$PYW/venv/bin/python" server.py

PYS=$TMP/py-sdist
install_sdist() {
  # The sdist is built from its own unpacked tree (pip unpacks it under $PYS) by the checkout's pinned
  # maturin (the backend runs the `maturin` of .venv/bin); the resulting wheel goes into a fresh
  # virtualenv. Its crates may share the checkout's artifacts only while their sources are identical.
  mkdir -p "$PYS/unpacked" && tar xzf "$SDIST" -C "$PYS/unpacked" || return 1
  local src=$PYS/unpacked/ferrio-$VERSION target=$CARGO_TARGET_DIR
  if ! diff -r "$src/core/src" "$ROOT/core/src" >/dev/null ||
    ! diff -r "$src/bindings/python/src" "$ROOT/bindings/python/src" >/dev/null; then
    target=$ROOT/target/dist-sdist
    echo "the checkout changed since make dist: building the sdist in $target"
  fi
  cd "$PYS" &&
    PATH=$ROOT/.venv/bin:$PATH TMPDIR=$PYS CARGO_TARGET_DIR=$target "$PY_CLIENT" -m pip wheel -q \
      --disable-pip-version-check --no-build-isolation --no-deps -w "$PYS/wheels" "$SDIST" &&
    python3 -m venv "$PYS/venv" &&
    "$PYS/venv/bin/pip" install -q --disable-pip-version-check --no-index "$PYS"/wheels/ferrio-*.whl &&
    cp "$HERE/server.py" "$PYS/" && ls -l "$PYS"/wheels
}
t0=$SECONDS
step "sdist: builds from source outside the checkout and installs" install_sdist
show "the checkout changed" 1
echo "       (built in $((SECONDS - t0)) s)"
step "sdist: python-socketio client" contract_py sdist "$PYS" "$PYS/venv/bin/python" server.py
show "server ferrio" 1

# ---- Node --------------------------------------------------------------------------------------------
echo "Node"
TRIPLE=$(node -p 'require(process.argv[1]).platformTriple()' "$ROOT/bindings/node/native.js")
NPM_MAIN=$(one "$DIST/ferrio-$VERSION.tgz")
NPM_PLAT=$(one "$DIST/ferrio-$TRIPLE-$VERSION.tgz")
echo "  ferrio-$VERSION.tgz ($(size "${NPM_MAIN:-/dev/null}")), ferrio-$TRIPLE-$VERSION.tgz ($(size "${NPM_PLAT:-/dev/null}"))"
npm_main_lists() {
  local list
  list=$(tar tzf "$NPM_MAIN") || return 1
  for f in package.json index.js index.mjs index.d.ts index.d.mts native.js LICENSE scripts/install.js \
    scripts/build.js Cargo.toml Cargo.lock build.rs src/lib.rs ferrio-src/ferrio/Cargo.toml ferrio-src/ferrio/src/lib.rs \
    ferrio-src/ferrio-redis/Cargo.toml ferrio-src/ferrio-redis/src/lib.rs ferrio-src/ferrio-admin/Cargo.toml \
    ferrio-src/ferrio-admin/src/lib.rs ferrio-src/ferrio-host/Cargo.toml ferrio-src/ferrio-host/src/lib.rs; do
    grep -qx "package/$f" <<<"$list" || { echo "missing $f"; return 1; }
  done
  # The facade's modules, every one index.js may require.
  for f in "$ROOT"/bindings/node/lib/*.js; do
    grep -qx "package/lib/${f##*/}" <<<"$list" || { echo "missing lib/${f##*/}"; return 1; }
  done
  # Standalone manifests: nothing inherited from a workspace the tarball does not contain.
  if tar xzOf "$NPM_MAIN" package/Cargo.toml package/ferrio-src/ferrio/Cargo.toml package/ferrio-src/ferrio-redis/Cargo.toml \
    package/ferrio-src/ferrio-admin/Cargo.toml package/ferrio-src/ferrio-host/Cargo.toml | grep -n 'workspace = true\|\.workspace'; then
    return 1
  fi
  tar xzOf "$NPM_MAIN" package/package.json |
    node -e 'const p = JSON.parse(require("fs").readFileSync(0, "utf8"));
      const want = process.argv[1], v = process.argv[2];
      if (p.version !== v || p.optionalDependencies[want] !== v) throw new Error(JSON.stringify(p));' "ferrio-$TRIPLE" "$VERSION"
}
step "npm: ferrio's tarball carries a standalone Cargo project and names ferrio-$TRIPLE" npm_main_lists

NPP=$TMP/npm-prebuilt
install_prebuilt() {
  mkdir -p "$NPP" && cd "$NPP" &&
    echo '{ "name": "app", "version": "1.0.0", "private": true }' >package.json &&
    no_rust npm install --prefer-offline "$NPM_MAIN" "$NPM_PLAT" &&
    test -f "node_modules/ferrio-$TRIPLE/ferrio.$TRIPLE.node" && test ! -e node_modules/ferrio/ferrio.node &&
    cp "$HERE/server.mjs" "$NPP/"
}
step "npm: install both tarballs into a fresh project, no Rust toolchain" install_prebuilt
NODE_FILE=$NPP/node_modules/ferrio-$TRIPLE/ferrio.$TRIPLE.node
[ -f "$NODE_FILE" ] && echo "       prebuilt module ferrio.$TRIPLE.node: $(size "$NODE_FILE")"
step "npm: socket.io-client" no_rust contract_js npm-prebuilt "$NPP" node server.mjs
show "server ferrio" 1
step "npm: the server loads ferrio $VERSION with the platform package's module" \
  bash -c "grep -q 'ferrio $VERSION, native module $NPP/node_modules/ferrio-$TRIPLE/' '$TMP/log.$n'"
cjs_and_types() {
  cd "$NPP" &&
    no_rust node -e 'const f = require("ferrio"); if (typeof f.Server !== "function" || typeof f !== "function") process.exit(1)' &&
    cat >app.mts <<'EOF' &&
import { Server, type Socket } from "ferrio";
const io = new Server<{ chat: (text: string, ack: (ok: boolean) => void) => void }>({ pingInterval: 10_000 });
io.on("connection", (socket: Socket) => {
  socket.on("chat", (text: string, ack: (ok: boolean) => void) => ack(text.length > 0));
});
// @ts-expect-error: not an option
new Server({ pingIntervall: 1 });
export const closed: Promise<void> = io.close();
EOF
    cat >app.cts <<'EOF' &&
import ferrio = require("ferrio");
export const io: ferrio.Server = new ferrio.Server({ maxHttpBufferSize: 1e6 });
// @ts-expect-error: a number is not a room list
io.to(42);
EOF
    cat >tsconfig.json <<EOF &&
{ "compilerOptions": { "module": "NodeNext", "moduleResolution": "NodeNext", "target": "ES2022", "strict": true,
  "noEmit": true, "skipLibCheck": false, "types": ["node"], "typeRoots": ["$ROOT/node_modules/@types"] },
  "files": ["app.mts", "app.cts"] }
EOF
    node "$TSC" -p tsconfig.json
}
step "npm: require('ferrio') and the types of import { Server } from 'ferrio' (tsc --strict)" cjs_and_types
missing_error() {
  cd "$NPP" && mv "node_modules/ferrio-$TRIPLE" "$TMP/hidden-platform-package" || return 1
  local out
  out=$(node -e 'require("ferrio")' 2>&1)
  mv "$TMP/hidden-platform-package" "node_modules/ferrio-$TRIPLE"
  echo "$out" | head -n 8
  grep -q "ERR_FERRIO_NATIVE_MISSING\|no native module for $TRIPLE" <<<"$out" &&
    grep -q "the package ferrio-$TRIPLE (not installed)" <<<"$out" && grep -q "ferrio.node (no such file)" <<<"$out"
}
step "npm: without the platform package, the error names everything the loader looked for" missing_error

NPS=$TMP/npm-source
install_source() {
  # --omit=optional: as on a machine no platform package fits; the install script builds from source.
  mkdir -p "$NPS" && cd "$NPS" &&
    echo '{ "name": "app", "version": "1.0.0", "private": true }' >package.json &&
    npm install --prefer-offline --omit=optional --foreground-scripts "$NPM_MAIN" &&
    test -f node_modules/ferrio/ferrio.node && test ! -e "node_modules/ferrio-$TRIPLE" &&
    cp "$HERE/server.mjs" "$NPS/"
}
t0=$SECONDS
step "npm source fallback: ferrio's tarball alone builds its native module with cargo" install_source
echo "       (built in $((SECONDS - t0)) s)"
step "npm source fallback: socket.io-client" contract_js npm-source "$NPS" node server.mjs
show "server ferrio" 1
step "npm source fallback: the server loads ferrio $VERSION with the module built in the package" \
  grep -q "ferrio $VERSION, native module $NPS/node_modules/ferrio/ferrio.node" "$TMP/log.$n"

# ---- C and C++ ---------------------------------------------------------------------------------------
echo "C"
PREFIX=$TMP/prefix
step "make install PREFIX=<tmp>/prefix" make -C "$ROOT" --no-print-directory install PREFIX="$PREFIX"
show "installed|pkg-config:|CMake:" 3
echo "       libferrio.so $(size "$PREFIX/lib/libferrio.so" 2>/dev/null), libferrio.a $(size "$PREFIX/lib/libferrio.a" 2>/dev/null)"
step "pkg-config --modversion ferrio is $VERSION" \
  bash -c "[ \"\$(PKG_CONFIG_PATH='$PREFIX/lib/pkgconfig' pkg-config --modversion ferrio)\" = '$VERSION' ]"

CM=$TMP/c-cmake
build_cmake() {
  mkdir -p "$CM" && cp "$HERE/cmake/CMakeLists.txt" "$HERE/server.c" "$ROOT/examples/c/chat.c" "$CM/" &&
    cmake -S "$CM" -B "$CM/build" -DCMAKE_PREFIX_PATH="$PREFIX" | tee "$CM/configure.log" &&
    grep -q "ferrio $VERSION from $PREFIX/lib/cmake/ferrio" "$CM/configure.log" &&
    cmake --build "$CM/build" -j 2 &&
    ldd "$CM/build/contract" | grep "libferrio.so => $PREFIX/lib/libferrio.so" &&
    ! ldd "$CM/build/contract_static" | grep libferrio
}
step "CMake: find_package(ferrio 0.1) builds chat (ferrio::ferrio) and the server, shared and static" build_cmake
step "CMake: a version the package does not offer is refused" bash -c \
  "mkdir -p '$CM/v' && printf 'cmake_minimum_required(VERSION 3.16)\nproject(v C)\nfind_package(ferrio 99 REQUIRED)\n' >'$CM/v/CMakeLists.txt' && ! cmake -S '$CM/v' -B '$CM/v/build' -DCMAKE_PREFIX_PATH='$PREFIX'"
step "CMake (shared): socket.io-client" contract_js c-cmake-shared "$CM" "$CM/build/contract"
show "server ferrio" 1
step "C: ferrio_version() of the installed library is $VERSION" grep -q "ferrio $VERSION (C)" "$TMP/log.$n"
step "CMake (static): socket.io-client" contract_js c-cmake-static "$CM" "$CM/build/contract_static"
step "CMake: the chat example (ffi/tests/c/chat_smoke.js)" timeout 60 node "$ROOT/ffi/tests/c/chat_smoke.js" "$CM/build/chat"

PC=$TMP/c-pkgconfig
build_pkgconfig() {
  mkdir -p "$PC" && cp "$HERE/pkgconfig/Makefile" "$HERE/server.c" "$ROOT/examples/c/chat.c" "$PC/" &&
    PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig make -C "$PC" &&
    ldd "$PC/contract" | grep "libferrio.so => $PREFIX/lib/libferrio.so"
}
step "Makefile + pkg-config: builds chat and the server" build_pkgconfig
step "Makefile + pkg-config: socket.io-client" contract_js c-pkgconfig "$PC" "$PC/contract"
step "Makefile + pkg-config: the chat example (ffi/tests/c/chat_smoke.js)" timeout 60 node "$ROOT/ffi/tests/c/chat_smoke.js" "$PC/chat"

# ---- Rust --------------------------------------------------------------------------------------------
echo "Rust"
step "cargo package -p ferrio -p ferrio-redis -p ferrio-admin (builds each packaged crate)" \
  bash -c "cd '$ROOT' && cargo package -p ferrio -p ferrio-redis -p ferrio-admin --allow-dirty --offline"
CRATE=$CARGO_TARGET_DIR/package/ferrio-$VERSION.crate
[ -f "$CRATE" ] && echo "       ferrio-$VERSION.crate ($(size "$CRATE")): $(tar tzf "$CRATE" | wc -l) files"
step "cargo doc --no-deps of ferrio, ferrio-redis and ferrio-admin, warnings denied" \
  bash -c "cd '$ROOT' && RUSTDOCFLAGS='-D warnings' cargo doc --no-deps -p ferrio -p ferrio-redis -p ferrio-admin --all-features"

echo "packaging test took $((SECONDS - START)) s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
