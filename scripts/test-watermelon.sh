#!/usr/bin/env bash
# Runs the WatermelonDB client test (tests/watermelon, the real @nozbe/watermelondb package)
# against a wrangler dev it starts on a free 127.0.0.1 port with a fresh state folder.
set -euo pipefail
cd "$(dirname "$0")/.."

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
inspector=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
state=$(mktemp -d)
log="$state/wrangler.log"

set -m
node_modules/.bin/wrangler dev --ip 127.0.0.1 --port "$port" --inspector-port "$inspector" --persist-to "$state/state" \
  --show-interactive-dev-session=false --test-scheduled --log-level warn >"$log" 2>&1 &
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
curl -fsS "http://127.0.0.1:$port/health" >/dev/null || { cat "$log" >&2; exit 1; }

admin_token=$(grep '^ADMIN_TOKEN=' .dev.vars | cut -d= -f2-)
cd tests/watermelon
npm ci --no-audit --no-fund --silent
KASIR_BASE_URL="http://127.0.0.1:$port" KASIR_ADMIN_TOKEN="$admin_token" node --test
