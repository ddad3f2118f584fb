# ferrio — the only entry points people need: run, test, bench, fmt, lint.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
PY := $(VENV)/bin/python
CARGO ?= cargo

.PHONY: fuzz test-fuzz help run test deps deps-system deps-node deps-python build fmt fmt-check lint test-rust test-js test-python bench clean \
	python test-python-binding node test-node \
	tools header header-check header-check-selftest ffi-lib test-c test-cpp install examples \
	dist dist-python dist-node test-dist sync-version

help:
	@echo "make run    build and start the demo chat server on http://127.0.0.1:3000 (in-memory adapter)"
	@echo "make test   install what is missing, build everything, run every test"
	@echo "make bench  run the end-to-end benchmarks and write bench/RESULTS.md"
	@echo "make header regenerate include/ferrio.h (the C API) with the pinned cbindgen"
	@echo "make install PREFIX=/usr/local  install libferrio, its headers and ferrio.pc"
	@echo "make examples  build the C and C++ chat examples into target/examples/"
	@echo "make dist   build what users install into dist/: the Python wheel and sdist, the npm tarballs"

# System packages, only when missing (apt-get needs root, as on CI). Chromium runs the admin UI's browser
# test (tests/e2e/js/admin-ui-browser.test.mjs, through playwright-core; no browser is ever downloaded).
deps-system:
	@missing=""; \
	command -v node >/dev/null || missing="$$missing nodejs"; \
	command -v npm >/dev/null || missing="$$missing npm"; \
	command -v python3 >/dev/null || missing="$$missing python3"; \
	command -v cc >/dev/null || missing="$$missing gcc"; \
	command -v c++ >/dev/null || missing="$$missing g++"; \
	command -v cmake >/dev/null || missing="$$missing cmake"; \
	command -v pkg-config >/dev/null || missing="$$missing pkg-config"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	python3 -c 'import venv, ensurepip' 2>/dev/null || missing="$$missing python3-venv"; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq $$missing; \
	fi

# The official JS client (also the browser bundle ferrio serves) and the socket.io baseline for benchmarks.
deps-node: deps-system
	@if [ ! -d node_modules/socket.io-client/dist ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then \
	  npm ci --no-audit --no-fund; fi

# The official Python client and pytest, in a virtualenv.
deps-python: deps-system
	@if [ ! -x $(PY) ]; then python3 -m venv $(VENV); fi
	@if [ ! -f $(VENV)/.installed ] || [ requirements-dev.txt -nt $(VENV)/.installed ]; then \
	  $(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt && touch $(VENV)/.installed; fi

deps: deps-node deps-python

# The Python and Node bindings are cdylibs for their interpreters: maturin and napi build them (targets
# `python` and `node`); plain cargo only checks them (clippy), it cannot link their test harnesses.
BINDINGS := --exclude ferrio-python --exclude ferrio-node

build:
	$(CARGO) build --workspace --all-targets $(BINDINGS)

run: deps-node
	$(CARGO) run -p ferrio-example-chat

fmt:
	$(CARGO) fmt --all

fmt-check:
	$(CARGO) fmt --all -- --check

# Clippy everywhere; the core alone with no features (what a dependent gets); the declared rust-version
# (with its toolchain when installed, else clippy's incompatible_msrv lint, on in these runs, flags newer
# APIs); and the direction of the layers (scripts/check-layers.sh).
lint:
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) clippy -p ferrio --no-default-features -- -D warnings -D clippy::incompatible_msrv
	$(CARGO) clippy -p ferrio --features fuzzing -- -D warnings
	@msrv=$$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml | head -n1); \
	if rustup toolchain list 2>/dev/null | grep -q "^$$msrv"; then \
	  $(CARGO) +$$msrv check -p ferrio -p ferrio-redis -p ferrio-admin; \
	else echo "lint: no $$msrv toolchain installed; clippy::incompatible_msrv checked against rust-version $$msrv"; fi
	bash scripts/check-layers.sh

test-rust:
	$(CARGO) test --workspace $(BINDINGS)

# The core's run of the shared suite: it needs the example servers `build` makes (e2e_server, admin_server,
# and streams_cluster_server for redis-streams-cluster.test.mjs, which runs here only: the bindings' runs
# below set FERRIO_E2E_SERVER, which skips it).
test-js: deps-node build
	node --test --test-concurrency=1 tests/e2e/js/

test-python: deps-python
	$(PY) -m pytest tests/e2e/python -q

test: deps fmt-check lint build header-check header-check-selftest test-rust test-fuzz test-js test-python test-c test-cpp \
	test-python-binding test-node test-dist

bench: deps-node
	bash bench/run.sh

# Coverage-guided fuzzing of every decoder (fuzz/: libFuzzer targets built on the stable toolchain, a
# workspace of their own): each target runs FUZZ_SECS from its checked-in seeds and prints executions and
# coverage; a crash fails with its reproducer. `make test` runs each for FUZZ_TEST_SECS.
FUZZ_SECS ?= 60
FUZZ_TEST_SECS ?= 3
fuzz:
	CARGO=$(CARGO) bash fuzz/run.sh $(FUZZ_SECS)

test-fuzz:
	CARGO=$(CARGO) bash fuzz/run.sh $(FUZZ_TEST_SECS)

clean:
	$(CARGO) clean
	rm -rf node_modules $(VENV)

# ---- The C ABI (ffi/, include/). ---------------------------------------------------------------------
CBINDGEN_VERSION := 0.29.2
# Where `cargo install` puts it (preferred over another version elsewhere on PATH).
CARGO_BIN := $(or $(CARGO_HOME),$(HOME)/.cargo)/bin
CBINDGEN = $(if $(wildcard $(CARGO_BIN)/cbindgen),$(CARGO_BIN)/cbindgen,cbindgen)
CC ?= cc
CXX ?= c++
PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
CMAKEDIR ?= $(LIBDIR)/cmake/ferrio
FERRIO_VERSION = $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
CWARN := -Wall -Wextra -Werror
FFI_DEBUG := target/debug
FFI_RELEASE := target/release

# The pinned cbindgen, installed only when the one on PATH is missing or another version.
tools:
	@if ! "$(CBINDGEN)" --version 2>/dev/null | grep -qx "cbindgen $(CBINDGEN_VERSION)"; then \
	  echo "installing cbindgen $(CBINDGEN_VERSION)"; \
	  $(CARGO) install cbindgen --version $(CBINDGEN_VERSION) --locked; fi

# include/ferrio.h, generated from ffi/ and checked in.
header: tools
	cd ffi && "$(CBINDGEN)" -q --config cbindgen.toml --crate ferrio-ffi --output ../include/ferrio.h

# Fails when ffi/ changed without `make header` (FERRIO_HEADER: the checked-in header to compare).
FERRIO_HEADER ?= include/ferrio.h
header-check: tools
	@tmp=$$(mktemp); trap 'rm -f "$$tmp"' EXIT; \
	(cd ffi && "$(CBINDGEN)" -q --config cbindgen.toml --crate ferrio-ffi --output "$$tmp") && \
	if cmp -s "$$tmp" "$(FERRIO_HEADER)"; then echo "$(FERRIO_HEADER) is up to date"; \
	else diff -u "$(FERRIO_HEADER)" "$$tmp" | head -n 40; \
	  echo "$(FERRIO_HEADER) is out of date: run 'make header' and commit it"; exit 1; fi

# The drift check must fail on a header that no longer matches ffi/ (here: one with a declaration gone).
header-check-selftest: tools
	@tmp=$$(mktemp); trap 'rm -f "$$tmp"' EXIT; \
	grep -v '^ferrio_status ferrio_socket_join' include/ferrio.h > "$$tmp"; \
	if $(MAKE) --no-print-directory header-check FERRIO_HEADER="$$tmp" >/dev/null 2>&1; then \
	  echo "header-check did not notice a stale header"; exit 1; \
	else echo "header-check fails on a stale header, as it must"; fi

ffi-lib:
	$(CARGO) build -p ferrio-ffi

# The C tests, built with sanitizers against the checked-in header: test_ffi (driven by socket.io-client,
# in two dispatch modes), the chat example's smoke test, and test_sigpipe (200 connections reset mid-request
# and mid-response in a process that keeps SIGPIPE's default action).
test-c: deps-system deps-node ffi-lib examples
	@mkdir -p target/ctest
	$(CC) -std=c11 $(CWARN) $(SAN) -g -Iinclude ffi/tests/c/test_ffi.c -o target/ctest/test_ffi \
	  -L$(FFI_DEBUG) -Wl,-rpath,$(CURDIR)/$(FFI_DEBUG) -lferrio -lpthread
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/ffi/tests/c/lsan.supp:print_suppressions=0 \
	  timeout 120 target/ctest/test_ffi ffi/tests/c/driver.js
	FERRIO_TEST_DISPATCH=inline ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/ffi/tests/c/lsan.supp:print_suppressions=0 \
	  timeout 120 target/ctest/test_ffi ffi/tests/c/driver.js
	timeout 60 node ffi/tests/c/chat_smoke.js target/examples/chat-c
	timeout 60 node ffi/tests/c/chat_smoke.js target/examples/chat-c --token
	$(CC) -std=c11 $(CWARN) $(SAN) -g -Iinclude ffi/tests/c/test_sigpipe.c -o target/ctest/test_sigpipe \
	  -L$(FFI_DEBUG) -Wl,-rpath,$(CURDIR)/$(FFI_DEBUG) -lferrio -lpthread
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/ffi/tests/c/lsan.supp:print_suppressions=0 \
	  timeout 120 target/ctest/test_sigpipe

# The C++ wrapper's test (header-only ferrio.hpp over the same library).
test-cpp: deps-system deps-node ffi-lib examples
	@mkdir -p target/ctest
	$(CXX) -std=c++17 $(CWARN) -g -Iinclude ffi/tests/cpp/test_wrapper.cpp -o target/ctest/test_wrapper \
	  -L$(FFI_DEBUG) -Wl,-rpath,$(CURDIR)/$(FFI_DEBUG) -lferrio -lpthread
	timeout 120 target/ctest/test_wrapper ffi/tests/cpp/driver.js
	timeout 60 node ffi/tests/c/chat_smoke.js target/examples/chat-cpp

# libferrio.{so,a}, include/ferrio.h{,pp}, ferrio.pc and the CMake package (find_package(ferrio): targets
# ferrio::ferrio and ferrio::ferrio_static) under $(DESTDIR)$(PREFIX). The CMake files locate the library
# and headers relative to themselves; the version of both is the Cargo workspace's.
install:
	$(CARGO) build --release -p ferrio-ffi
	install -d "$(DESTDIR)$(LIBDIR)/pkgconfig" "$(DESTDIR)$(INCLUDEDIR)" "$(DESTDIR)$(CMAKEDIR)"
	install -m 644 include/ferrio.h include/ferrio.hpp "$(DESTDIR)$(INCLUDEDIR)/"
	install -m 755 $(FFI_RELEASE)/libferrio.so "$(DESTDIR)$(LIBDIR)/libferrio.so"
	install -m 644 $(FFI_RELEASE)/libferrio.a "$(DESTDIR)$(LIBDIR)/libferrio.a"
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' \
	  -e 's|@VERSION@|$(FERRIO_VERSION)|g' ffi/ferrio.pc.in > "$(DESTDIR)$(LIBDIR)/pkgconfig/ferrio.pc"
	@rel_lib=$$(realpath -m --relative-to="$(CMAKEDIR)" "$(LIBDIR)") && \
	rel_inc=$$(realpath -m --relative-to="$(CMAKEDIR)" "$(INCLUDEDIR)") && \
	ptr=$$(echo | $(CC) -dM -E - | sed -n 's/^#define __SIZEOF_POINTER__ //p') && \
	sed -e "s|@REL_LIBDIR@|$$rel_lib|g" -e "s|@REL_INCLUDEDIR@|$$rel_inc|g" \
	  ffi/cmake/ferrioConfig.cmake.in > "$(DESTDIR)$(CMAKEDIR)/ferrioConfig.cmake" && \
	sed -e 's|@VERSION@|$(FERRIO_VERSION)|g' -e "s|@SIZEOF_VOID_P@|$${ptr:-8}|g" \
	  ffi/cmake/ferrioConfigVersion.cmake.in > "$(DESTDIR)$(CMAKEDIR)/ferrioConfigVersion.cmake"
	@echo "installed ferrio $(FERRIO_VERSION) under $(DESTDIR)$(PREFIX):"
	@echo "  pkg-config: cc app.c \$$(pkg-config --cflags --libs ferrio)  (PKG_CONFIG_PATH=$(DESTDIR)$(LIBDIR)/pkgconfig)"
	@echo "  CMake:      find_package(ferrio) + target_link_libraries(app ferrio::ferrio)  (CMAKE_PREFIX_PATH=$(DESTDIR)$(PREFIX))"

# The C and C++ chat examples (same page and behaviour as examples/rust).
examples: ffi-lib
	@mkdir -p target/examples
	$(CC) -std=c11 $(CWARN) -O2 -Iinclude examples/c/chat.c -o target/examples/chat-c \
	  -L$(FFI_DEBUG) -Wl,-rpath,$(CURDIR)/$(FFI_DEBUG) -lferrio -lpthread
	$(CXX) -std=c++17 $(CWARN) -O2 -Iinclude examples/cpp/chat.cpp -o target/examples/chat-cpp \
	  -L$(FFI_DEBUG) -Wl,-rpath,$(CURDIR)/$(FFI_DEBUG) -lferrio -lpthread
	@echo "run: target/examples/chat-c  (or chat-cpp), then open http://127.0.0.1:3000"

# ---- The Python binding (bindings/python, pyo3 + maturin). ---------------------------------------------
# Built from source into the repository's virtualenv (a release build: a few minutes the first time).
python: deps-python
	$(PY) -m pip install -q --disable-pip-version-check ./bindings/python

# Its own tests (API, typing with mypy --strict and stubtest, 10,000 connect/disconnect cycles, the
# example), then both shared suites against a python-socketio program changed only in its import and run
# call (bindings/python/tests/e2e_server.py).
test-python-binding: python deps-node
	$(PY) -m pytest bindings/python/tests -q
	FERRIO_E2E_SERVER=bindings/python/tests/e2e_server.py $(PY) -m pytest tests/e2e/python -q
	FERRIO_E2E_SERVER=bindings/python/tests/e2e_server.py FERRIO_E2E_SERVER_ACKS_EVERY_EVENT=1 \
	  node --test --test-concurrency=1 tests/e2e/js/

# ---- The Node binding (bindings/node, napi-rs). --------------------------------------------------------
node: deps-node
	cd bindings/node && npm install --no-audit --no-fund

# Its own tests, the shared suite against a socket.io program changed only in its import
# (bindings/node/test/e2e-server.mjs), and the TypeScript types.
test-node: node
	node --test --test-concurrency=1 bindings/node/test/*.test.mjs
	FERRIO_E2E_SERVER=bindings/node/test/e2e-server.mjs node --test --test-concurrency=1 tests/e2e/js/
	cd bindings/node && npx tsc --noEmit -p test/types

# ---- What users install (dist/). -----------------------------------------------------------------------
# One version for everything: the Cargo workspace's. maturin takes it for the Python package, pack.js for
# the npm packages, `install` for ferrio.pc and the CMake package; `sync-version` copies it into the
# checked-in package.json files (the packaging test fails while they differ).
DIST := dist

dist: dist-python dist-node

# An abi3 wheel for CPython >= 3.10, stripped, tagged manylinux_2_N by maturin's audit of the glibc
# symbols it uses (N depends on the build machine's glibc), and the sdist: the workspace manifest trimmed
# to the crates the binding uses (core/, crates/ferrio-redis, crates/ferrio-admin, crates/ferrio-host), Cargo.lock, and their sources. The wheel reuses the release build of `python`.
dist-python: deps-python
	@mkdir -p $(DIST)
	rm -f $(DIST)/ferrio-*.whl $(DIST)/ferrio-*.tar.gz
	$(VENV)/bin/maturin build --release --strip -m bindings/python/Cargo.toml -i $(PY) --out $(DIST)
	$(VENV)/bin/maturin sdist -m bindings/python/Cargo.toml --out $(DIST)

# ferrio-<version>.tgz (facade, types, and a standalone Cargo project for the source fallback) and the
# prebuilt module of this machine, ferrio-<triple>-<version>.tgz, made from `node`'s release build.
dist-node: node
	@mkdir -p $(DIST)
	rm -f $(DIST)/ferrio-*.tgz
	node bindings/node/scripts/pack.js --addon bindings/node/ferrio.node --out $(DIST)

# Installs every artifact outside the checkout and drives it with the official clients (tests/dist/run.sh).
test-dist: deps dist
	bash tests/dist/run.sh

sync-version:
	cd bindings/node && npm version --no-git-tag-version --allow-same-version $(FERRIO_VERSION) >/dev/null
	@echo "bindings/node/package.json and package-lock.json: $(FERRIO_VERSION)"
