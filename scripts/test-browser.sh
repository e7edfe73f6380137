#!/usr/bin/env bash
# Renders the API reference page in headless Chromium against a wrangler dev it starts on a
# free 127.0.0.1 port, and checks the page lists the API's operations.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1; then
  echo "Installing Debian's chromium package"
  apt-get update -qq && apt-get install -y -qq chromium >/dev/null
fi

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

browser() {
  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync --user-data-dir="$state/profile" --virtual-time-budget=15000 "$@" \
    "http://127.0.0.1:$port/docs/" 2>/dev/null
}
dom=$(browser --dump-dom)
browser --window-size=1280,1600 --screenshot="$PWD/build/docs-screenshot.png" >/dev/null || true

passed=0
failed=0
check() {
  if grep -q -- "$2" <<<"$dom"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAILED: $1 (no \"$2\" in the rendered page)"
  fi
}
check "page title" "Kasir Edge"
check "operation list rendered" "opblock"
check "products operations" "/v1/products"
check "sync push operation" "/v1/sync/push"
check "admin provisioning" "/v1/admin/tenants"
echo "screenshot: build/docs-screenshot.png"
echo "$passed passed, $failed failed"
[[ "$failed" -eq 0 ]]
