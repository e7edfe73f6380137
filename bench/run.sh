#!/usr/bin/env bash
# Benchmarks Kasir Edge against the express-sequelize peer and a raw D1 floor on this
# machine and writes BENCHMARKS.md. `make bench` runs it after building the Worker.
#
# Starts three servers on free 127.0.0.1 ports with fresh state in a temporary folder:
# Kasir Edge (a copy of build/ under wrangler dev), the peer (node, installed once into
# PEER_DIR), and the floor Worker of bench/floor (wrangler dev). Then kasir-sim drives them
# in turn. Everything started here is stopped on exit.
#
# Environment: BENCH_QUICK=1 for a shorter run; POS_LOG (default
# ../shared/data/bakery_pos_transactions.csv); PEER_SRC, the peer's source folder (default
# ../shared/peers/express-sequelize); PEER_DIR, where it is installed (default
# /tmp/kasir-bench-peer); BENCH_OUT, the report (default BENCHMARKS.md).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
source bench/lib.sh

started_at=${BENCH_STARTED_AT:-$(date +%s)}
pos_log=$(realpath "${POS_LOG:-../shared/data/bakery_pos_transactions.csv}")
peer_src=${PEER_SRC:-../shared/peers/express-sequelize}
peer_dir=${PEER_DIR:-/tmp/kasir-bench-peer}
report=${BENCH_OUT:-BENCHMARKS.md}
wrangler=$root/node_modules/.bin/wrangler

if [[ ! -f "$pos_log" ]]; then
  echo "POS log not found: $pos_log. Set POS_LOG to a CSV with columns Date,Time,Transaction,Item." >&2
  exit 1
fi
if [[ ! -f "$peer_src/package-lock.json" ]]; then
  echo "Peer source not found in $peer_src. Set PEER_SRC to the express-sequelize folder." >&2
  exit 1
fi

work=$(mktemp -d /tmp/kasir-bench.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    stop_group "$pid"
  done
  rm -rf "$work/kasir/state" "$work/kasir/build" "$work/floor/state" "$work/peer/state" "$work/dry-run"
  echo "Logs and raw results are in $work"
}
trap cleanup EXIT

# --- the peer: installed once, reinstalled when its lock file changes ---
peer_stamp=$(sha256sum "$peer_src/package-lock.json" | cut -d' ' -f1)
if [[ ! -f "$peer_dir/.installed-$peer_stamp" ]]; then
  echo "Installing the peer into $peer_dir (npm ci compiles sqlite3, about two minutes)"
  rm -rf "$peer_dir"
  cp -r "$peer_src" "$peer_dir"
  chmod -R u+w "$peer_dir"
  (cd "$peer_dir" && npm ci --no-audit --no-fund)
  (cd "$peer_dir" && node -e "require('sqlite3')")
  touch "$peer_dir/.installed-$peer_stamp"
fi

# --- the load generator ---
cargo build --release -p kasir-sim
sim=$root/target/release/kasir-sim

# --- Kasir Edge: a copy of the build, so a rebuild of build/ cannot reload it mid-run ---
mkdir -p "$work/kasir/state"
cp -r build wrangler.toml "$work/kasir/"
cp .dev.vars "$work/kasir/" 2>/dev/null || cp .dev.vars.example "$work/kasir/.dev.vars"
raise_login_limits "$work/kasir/.dev.vars"

echo "Measuring the Worker bundle with wrangler deploy --dry-run"
upload=$("${WRANGLER_ENV[@]}" "$wrangler" deploy --dry-run --outdir "$work/dry-run" --config "$work/kasir/wrangler.toml" 2>&1 |
  grep -o 'Total Upload: .*' || true)

kasir_port=$(free_port)
start_group "$work/kasir.log" "${WRANGLER_ENV[@]}" "$wrangler" dev --config "$work/kasir/wrangler.toml" \
  --ip 127.0.0.1 --port "$kasir_port" --inspector-port "$(free_port)" --persist-to "$work/kasir/state" \
  --show-interactive-dev-session=false --log-level warn
kasir_pid=$STARTED_PID
pids+=("$kasir_pid")

# --- the floor: its Worker imports ../../migrations/tenant, so that layout is copied too ---
mkdir -p "$work/floor/bench/floor" "$work/floor/migrations" "$work/floor/state"
cp bench/floor/worker.js bench/floor/wrangler.toml "$work/floor/bench/floor/"
cp -r migrations/tenant "$work/floor/migrations/"
floor_port=$(free_port)
start_group "$work/floor.log" "${WRANGLER_ENV[@]}" "$wrangler" dev --config "$work/floor/bench/floor/wrangler.toml" \
  --ip 127.0.0.1 --port "$floor_port" --inspector-port "$(free_port)" --persist-to "$work/floor/state" \
  --show-interactive-dev-session=false --log-level warn
floor_pid=$STARTED_PID
pids+=("$floor_pid")

# --- the peer: its defaults, a fresh SQLite file ---
mkdir -p "$work/peer/state"
peer_port=$(free_port)
start_group "$work/peer.log" env -C "$peer_dir" PORT="$peer_port" HOST=127.0.0.1 \
  DB_PATH="$work/peer/state/peer.sqlite" node server.js
peer_pid=$STARTED_PID
pids+=("$peer_pid")

wait_healthy "Kasir Edge" "http://127.0.0.1:$kasir_port" "$kasir_pid" "$work/kasir.log"
wait_healthy "The floor" "http://127.0.0.1:$floor_port" "$floor_pid" "$work/floor.log"
wait_healthy "The peer" "http://127.0.0.1:$peer_port" "$peer_pid" "$work/peer.log"
echo "Servers up: Kasir Edge :$kasir_port, peer :$peer_port, floor :$floor_port"

"$sim" bench \
  --kasir "http://127.0.0.1:$kasir_port" --kasir-pids "$kasir_pid" \
  --peer "http://127.0.0.1:$peer_port" --peer-pids "$peer_pid" \
  --floor "http://127.0.0.1:$floor_port" --floor-pids "$floor_pid" \
  --pos-log "$pos_log" --bundle-dir "$work/kasir/build" --wrangler-upload "$upload" \
  --peer-dir "$peer_dir" --started-at "$started_at" \
  --json "$work/results.json" --markdown "$report"
