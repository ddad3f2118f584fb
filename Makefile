# ferrio — the only entry points people need: run, test, bench, fmt, lint.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
PY := $(VENV)/bin/python
CARGO ?= cargo

.PHONY: help run test deps deps-system deps-node deps-python build fmt fmt-check lint test-rust test-js test-python bench clean

help:
	@echo "make run    build and start the demo chat server on http://127.0.0.1:3000 (in-memory adapter)"
	@echo "make test   install what is missing, build everything, run every test"
	@echo "make bench  run the end-to-end benchmarks and write bench/RESULTS.md"

# System packages, only when missing (apt-get needs root, as on CI).
deps-system:
	@missing=""; \
	command -v node >/dev/null || missing="$$missing nodejs"; \
	command -v npm >/dev/null || missing="$$missing npm"; \
	command -v python3 >/dev/null || missing="$$missing python3"; \
	python3 -c 'import venv, ensurepip' 2>/dev/null || missing="$$missing python3-venv"; \
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

build:
	$(CARGO) build --workspace --all-targets

run: deps-node
	$(CARGO) run -p ferrio-example-chat

fmt:
	$(CARGO) fmt --all

fmt-check:
	$(CARGO) fmt --all -- --check

lint:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

test-rust:
	$(CARGO) test --workspace

test-js: deps-node
	node --test --test-concurrency=1 tests/e2e/js/

test-python: deps-python
	$(PY) -m pytest tests/e2e/python -q

test: deps fmt-check lint build test-rust test-js test-python

bench: deps-node
	bash bench/run.sh

clean:
	$(CARGO) clean
	rm -rf node_modules $(VENV)
