#!/usr/bin/env bash
# Runs scripts/soak.py against a wrangler dev it starts on a free 127.0.0.1 port with a fresh
# state folder. SOAK_SECONDS sets how long the terminals work (default 180).
set -euo pipefail
cd "$(dirname "$0")/.."
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
inspector=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
state=$(mktemp -d)
set -m
node_modules/.bin/wrangler dev --ip 127.0.0.1 --port "$port" --inspector-port "$inspector" --persist-to "$state/state" \
  --show-interactive-dev-session=false --test-scheduled --log-level warn >"$state/wrangler.log" 2>&1 &
server=$!
set +m
cleanup() {
  kill -- -"$server" 2>/dev/null || true
  rm -rf "$state"
}
trap cleanup EXIT
for _ in $(seq 1 90); do
  curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
  sleep 1
done
admin_token=$(grep '^ADMIN_TOKEN=' .dev.vars | cut -d= -f2-)
python3 scripts/soak.py "http://127.0.0.1:$port" "$admin_token"
