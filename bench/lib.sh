# shellcheck shell=bash
# Shell helpers of bench/run.sh and sim/demo.sh: free ports, servers in their own process
# groups, health checks and shutdown. Source it; it defines functions and WRANGLER_ENV.

# Prints a TCP port that was free on 127.0.0.1 a moment ago.
free_port() {
  node -e 'const s = require("net").createServer(); s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

# Starts a command in a new session (so its whole process tree can be stopped at once),
# with stdout and stderr going to a log file. Usage: start_group LOG COMMAND ARGS...
# Sets STARTED_PID to the session leader's pid.
start_group() {
  local log=$1
  shift
  setsid "$@" >"$log" 2>&1 </dev/null &
  # shellcheck disable=SC2034 # read by the scripts that source this file
  STARTED_PID=$!
}

# Waits until GET URL/health returns 200. Usage: wait_healthy NAME URL PID LOG [SECONDS]
wait_healthy() {
  local name=$1 url=$2 pid=$3 log=$4 limit=${5:-120}
  local waited=0
  while ((waited < limit)); do
    if curl -fsS -o /dev/null "$url/health" 2>/dev/null; then
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "$name exited during start-up; last lines of $log:" >&2
      tail -n 30 "$log" >&2
      return 1
    fi
    sleep 1
    waited=$((waited + 1))
  done
  echo "GET $url/health of $name did not return 200 within $limit s; last lines of $log:" >&2
  tail -n 30 "$log" >&2
  return 1
}

# Stops the process group led by PID: SIGTERM, up to 10 s of grace, then SIGKILL.
stop_group() {
  local pid=$1
  kill -TERM -- "-$pid" 2>/dev/null || return 0
  local waited=0
  while kill -0 -- "-$pid" 2>/dev/null && ((waited < 20)); do
    sleep 0.5
    waited=$((waited + 1))
  done
  kill -KILL -- "-$pid" 2>/dev/null || true
}

# Appends login limits far above what the login-timing step of kasir-sim bench sends (a few
# hundred failed logins from one address) to the .dev.vars file FILE of a served copy, so no
# attempt gets 429. wrangler dev lets .dev.vars override the [vars] of wrangler.toml, and a
# later line overrides an earlier one (both checked with wrangler 4.86.0), so the production
# limits in wrangler.toml stay as they are. Usage: raise_login_limits FILE
raise_login_limits() {
  printf '%s\n' "" "# Added by bench/lib.sh for the login-timing step." \
    "LOGIN_LIMIT_PER_ACCOUNT=100000" "LOGIN_LIMIT_PER_ADDRESS=100000" >>"$1"
}

# Command prefix of every wrangler run here: no metrics, no outside fetches, and no banner,
# whose update check would ask the npm registry for the latest wrangler.
# shellcheck disable=SC2034 # used by the scripts that source this file
WRANGLER_ENV=(env CLOUDFLARE_CF_FETCH_ENABLED=false WRANGLER_SEND_METRICS=false WRANGLER_HIDE_BANNER=true NO_COLOR=1)
