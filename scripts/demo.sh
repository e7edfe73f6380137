#!/usr/bin/env bash
# Replays one real trading day of a bakery POS log against a local server, then keeps the
# server running so the printed logins can be used by hand. Set DEMO_EXIT=1 to stop the
# server after the replay instead.
set -euo pipefail
cd "$(dirname "$0")/.."

port=${PORT:-8787}
persist_dir=${PERSIST_DIR:-.wrangler/state}
export POS_LOG=${POS_LOG:-../shared/data/bakery_pos_transactions.csv}
base_url="http://127.0.0.1:$port"

if [[ ! -f "$POS_LOG" ]]; then
  echo "POS log not found: $POS_LOG. Set POS_LOG to a CSV with columns Date,Time,Transaction,Item." >&2
  exit 1
fi

server_pid=""
stop_server() {
  if [[ -n "$server_pid" ]]; then
    kill -- -"$server_pid" 2>/dev/null || kill "$server_pid" 2>/dev/null || true
  fi
}
trap stop_server EXIT

if curl -fsS "$base_url/health" >/dev/null 2>&1; then
  echo "Using the server already running at $base_url"
else
  echo "Starting wrangler dev at $base_url (state in $persist_dir)"
  set -m
  node_modules/.bin/wrangler dev --ip 127.0.0.1 --port "$port" --persist-to "$persist_dir" \
    --show-interactive-dev-session=false --test-scheduled --log-level warn >/tmp/kasir-demo-server.log 2>&1 &
  server_pid=$!
  set +m
  for _ in $(seq 1 90); do
    curl -fsS "$base_url/health" >/dev/null 2>&1 && break
    sleep 1
  done
  curl -fsS "$base_url/health" >/dev/null || { echo "Server did not start; see /tmp/kasir-demo-server.log" >&2; exit 1; }
fi

cargo run -q -p kasir-tests --bin kasir-demo -- --base-url "$base_url"

if [[ -n "$server_pid" && "${DEMO_EXIT:-0}" != "1" ]]; then
  echo
  echo "The server keeps running at $base_url; press Ctrl-C to stop it."
  wait "$server_pid"
fi
