#!/usr/bin/env bash
# Runs one kasir-sim terminal through a trading day of the POS log. `make sim` runs it after
# building the Worker.
#
# Without SIM_BASE_URL it serves a copy of build/ with wrangler dev on a free 127.0.0.1 port
# and fresh state, and stops it afterwards. With SIM_BASE_URL (such as the
# http://127.0.0.1:8787 of `make dev`) it drives that server instead.
#
# Environment: POS_LOG (default ../shared/data/bakery_pos_transactions.csv); SIM_ARGS, more
# arguments for `kasir-sim demo`, such as "--date 05-11-2016 --speed 0".
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
source bench/lib.sh

pos_log=$(realpath "${POS_LOG:-../shared/data/bakery_pos_transactions.csv}")
if [[ ! -f "$pos_log" ]]; then
  echo "POS log not found: $pos_log. Set POS_LOG to a CSV with columns Date,Time,Transaction,Item." >&2
  exit 1
fi

cargo build --release -p kasir-sim

base_url=${SIM_BASE_URL:-}
if [[ -z "$base_url" ]]; then
  work=$(mktemp -d /tmp/kasir-sim.XXXXXX)
  server_pid=""
  stop_server() {
    if [[ -n "$server_pid" ]]; then
      stop_group "$server_pid"
    fi
    rm -rf "$work/state" "$work/build"
  }
  trap stop_server EXIT

  cp -r build wrangler.toml "$work/"
  cp .dev.vars "$work/" 2>/dev/null || cp .dev.vars.example "$work/.dev.vars"
  port=$(free_port)
  base_url="http://127.0.0.1:$port"
  echo "Starting wrangler dev at $base_url (log: $work/wrangler.log)"
  start_group "$work/wrangler.log" "${WRANGLER_ENV[@]}" "$root/node_modules/.bin/wrangler" dev \
    --config "$work/wrangler.toml" --ip 127.0.0.1 --port "$port" --inspector-port "$(free_port)" \
    --persist-to "$work/state" --show-interactive-dev-session=false --log-level warn
  server_pid=$STARTED_PID
  wait_healthy "wrangler dev" "$base_url" "$server_pid" "$work/wrangler.log"
fi

# SIM_ARGS is split into words on purpose.
# shellcheck disable=SC2086
"$root/target/release/kasir-sim" demo --base-url "$base_url" --pos-log "$pos_log" ${SIM_ARGS:-}
