# Kasir Edge: every command a developer or CI needs. `make dev` and `make test` install what
# is missing (and only that), build, and run.

SHELL := /bin/bash
PORT ?= 8787
PERSIST_DIR ?= .wrangler/state
WORKER_BUILD_VERSION := 0.8.7
# wasm-bindgen-cli must match the wasm-bindgen crate in Cargo.lock exactly.
WASM_BINDGEN_VERSION := $(shell awk '/^name = "wasm-bindgen"$$/ {getline; gsub(/[^0-9.]/, "", $$0); print; exit}' Cargo.lock)
CARGO_BIN := $(HOME)/.cargo/bin
NODE_BIN := $(CURDIR)/node_modules/.bin

# Local runs make no outside calls.
export CLOUDFLARE_CF_FETCH_ENABLED := false
export WRANGLER_SEND_METRICS := false
# The banner's update check would ask the npm registry for the latest wrangler.
export WRANGLER_HIDE_BANNER := true
# worker-build would download these; point it at the npm and cargo installs instead.
export WASM_BINDGEN_BIN := $(CARGO_BIN)/wasm-bindgen
export ESBUILD_BIN := $(NODE_BIN)/esbuild
export WASM_OPT_BIN := $(NODE_BIN)/wasm-opt
export PATH := $(CARGO_BIN):$(PATH)

.PHONY: help setup build dev test test-unit test-integration test-watermelon test-large test-browser fuzz soak demo lint clean

help:
	@echo "make setup        install the missing tools: wasm32 target, worker-build, wasm-bindgen-cli, npm packages"
	@echo "make build        build the Worker into build/"
	@echo "make dev          build and serve on 127.0.0.1:$(PORT) (state in $(PERSIST_DIR))"
	@echo "make sim          one simulated terminal sells a day of POS_LOG (own fresh server, or SIM_BASE_URL)"
	@echo "make demo         replay a real bakery trading day (POS_LOG); starts a server unless one runs on PORT"
	@echo "make test         unit, integration (against a real wrangler dev) and WatermelonDB client tests"
	@echo "make test-unit, test-integration, test-watermelon   the three parts of make test"
	@echo "make test-large   slow checks kept out of make test (100,000-product resync and backup)"
	@echo "make test-browser render /docs/ in headless Chromium"
	@echo "make fuzz         Schemathesis against every documented operation (about 2 minutes)"
	@echo "make soak         20 terminals in 4 tenants for SOAK_SECONDS (default 180)"
	@echo "make bench        measure Kasir Edge, a peer server and a raw D1 floor; writes BENCHMARKS.md (about 15 minutes)"
	@echo "make lint         cargo fmt --check and clippy -D warnings"
	@echo "make clean        delete build/, target/ and .tools/"

# --- set-up: each step runs only when its result is missing or outdated ---

.tools/wasm32-target:
	@mkdir -p .tools
	rustup target list --installed | grep -q '^wasm32-unknown-unknown$$' || rustup target add wasm32-unknown-unknown
	@touch $@

.tools/worker-build-$(WORKER_BUILD_VERSION):
	@mkdir -p .tools
	@if ! worker-build --version 2>/dev/null | grep -q "$(WORKER_BUILD_VERSION)"; then \
	  cargo install worker-build --version $(WORKER_BUILD_VERSION) --locked; fi
	@touch $@

# Not --locked: the wasm-bindgen-cli lockfile pins a webpki-roots release the registry
# mirror here does not serve.
.tools/wasm-bindgen-$(WASM_BINDGEN_VERSION):
	@mkdir -p .tools
	@if ! wasm-bindgen --version 2>/dev/null | grep -q "$(WASM_BINDGEN_VERSION)"; then \
	  cargo install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION); fi
	@touch $@

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

.dev.vars:
	cp .dev.vars.example .dev.vars

setup: .tools/wasm32-target .tools/worker-build-$(WORKER_BUILD_VERSION) .tools/wasm-bindgen-$(WASM_BINDGEN_VERSION) node_modules/.package-lock.json .dev.vars

# --- build ---

# Static assets served by Workers: the API reference page at /docs/, rendered by
# swagger-ui-dist from the Worker's /v1/openapi.json.
SWAGGER_UI := node_modules/swagger-ui-dist
build/assets/docs/index.html: docs-site/index.html docs-site/reference.js node_modules/.package-lock.json
	mkdir -p build/assets/docs
	cp docs-site/index.html docs-site/reference.js build/assets/docs/
	cp $(SWAGGER_UI)/swagger-ui.css $(SWAGGER_UI)/swagger-ui-bundle.js $(SWAGGER_UI)/swagger-ui-standalone-preset.js build/assets/docs/

build: setup
	worker-build --release
	$(MAKE) build/assets/docs/index.html

# --- run ---

dev: build
	$(NODE_BIN)/wrangler dev --ip 127.0.0.1 --port $(PORT) --persist-to $(PERSIST_DIR) --show-interactive-dev-session=false --test-scheduled

# --- tests ---

test: test-unit test-integration test-watermelon

test-unit:
	cargo test -p kasir-core
	cargo test -p kasir-edge --lib

# Each test binary starts one wrangler dev; the slow binaries run under `make test-large`.
test-integration: build
	cargo test -p kasir-tests --lib --bins --test api --test sync_engine --test shifts --test pos --test reports --test files --test jobs --test isolation --test panic -- --test-threads=4

# The WatermelonDB client library itself, driving the sync endpoint from two terminals.
test-watermelon: build
	./scripts/test-watermelon.sh

# Renders /docs/ in headless Chromium (Debian's package, installed when missing) and checks
# that the page shows the API's operations; leaves a screenshot in build/docs-screenshot.png.
test-browser: build
	./scripts/test-browser.sh

# 20 terminals across 4 tenants sell, push and pull for SOAK_SECONDS (default 180); then
# every sale sent must be stored exactly once, in its own tenant.
soak: build
	./scripts/soak.sh

# Schemathesis against every documented operation; kept out of make test (about 2 minutes).
fuzz: build
	./scripts/fuzz.sh

test-large: build
	cargo test -p kasir-tests --release --test large_sync -- --nocapture

demo: build
	./scripts/demo.sh

lint: .tools/wasm32-target
	cargo fmt --all -- --check
	cargo clippy -p kasir-core -p kasir-tests -p kasir-sim --all-targets -- -D warnings
	cargo clippy -p kasir-edge -p kasir-durable --target wasm32-unknown-unknown -- -D warnings

clean:
	rm -rf build target .tools

# --- benchmarks and the terminal simulator (kasir-sim) ---

.PHONY: bench sim

# Kasir Edge, the express-sequelize peer and a raw D1 floor measured side by side on this
# machine; writes BENCHMARKS.md. About 15 minutes, or about 5 with BENCH_QUICK=1. Reads
# POS_LOG and the peer's folder; see bench/run.sh for both. The start time covers the build.
bench: export BENCH_STARTED_AT := $(shell date +%s)
bench: build
	./bench/run.sh

# One simulated POS terminal through a trading day of POS_LOG against a fresh local server,
# or against SIM_BASE_URL when set.
sim: build
	./sim/demo.sh
