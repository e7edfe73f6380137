#!/usr/bin/env bash
# Stores the Worker's secrets for one deployment with `wrangler secret put`. Each value comes
# from the environment variable of the same name when that is set, or else from a prompt that
# does not echo. Values go to wrangler on its standard input, so none is written to disk,
# shown, or passed as a command-line argument.
#
# Usage: scripts/cloudflare/set-secrets.sh ENV [NAME ...]   (or KASIR_ENV=ENV scripts/cloudflare/set-secrets.sh)
#   ENV selects wrangler.ENV.toml, which create-resources.sh writes.
#   NAME limits the run to the named secrets. Without NAME it sets all of them:
#     ADMIN_TOKEN      platform admin bearer token, at least 32 bytes
#     JWT_SECRET       HS256 key of access tokens, at least 32 bytes. Left empty at the
#                      prompt, a random one is generated with openssl.
#     EMAIL_API_URL    https URL that takes {from, to, subject, text, html} as JSON
#     EMAIL_API_TOKEN  bearer token for EMAIL_API_URL
#     EMAIL_FROM       sender address, such as "Kasir Edge <no-reply@example.com>"
#   The three email secrets may be left empty to skip them. Without EMAIL_API_URL and
#   EMAIL_API_TOKEN the Worker sends no email and stores each message in the R2 bucket under
#   outbox/ instead.
#
# Environment: WRANGLER, the path of the wrangler executable (default node_modules/.bin/wrangler).
set -euo pipefail

repo_root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo_root"

all_secrets=(ADMIN_TOKEN JWT_SECRET EMAIL_API_URL EMAIL_API_TOKEN EMAIL_FROM)
min_key_bytes=32

env_name=${1:-${KASIR_ENV:-}}
if [[ -z $env_name ]]; then
  echo "usage: $0 ENV [NAME ...], for example $0 production (or set KASIR_ENV)" >&2
  exit 2
fi
if [[ $# -gt 0 ]]; then
  shift
fi
config=wrangler.$env_name.toml
if [[ ! -f $config ]]; then
  echo "error: $config not found. Run scripts/cloudflare/create-resources.sh $env_name first." >&2
  exit 1
fi
# "development" turns on test-only hooks, such as firing alarms and reading the email outbox.
if ! grep -Eq '^[[:space:]]*ENVIRONMENT[[:space:]]*=[[:space:]]*"production"' "$config"; then
  echo "error: $config must set ENVIRONMENT = \"production\" under [vars]" >&2
  exit 1
fi

wrangler=${WRANGLER:-node_modules/.bin/wrangler}
if [[ ! -x $wrangler ]]; then
  echo "error: wrangler not found at $wrangler. Run 'make setup' first, or set WRANGLER." >&2
  exit 1
fi

names=("$@")
if ((${#names[@]} == 0)); then
  names=("${all_secrets[@]}")
fi
for name in "${names[@]}"; do
  if [[ " ${all_secrets[*]} " != *" $name "* ]]; then
    echo "error: unknown secret $name. Expected one of: ${all_secrets[*]}" >&2
    exit 2
  fi
done

# Prints the length of $1 in bytes, which is what the Worker's 32-byte minimum counts.
byte_length() {
  local LC_ALL=C
  printf '%s' "${#1}"
}

# Reads the value of secret $1 into $value: the environment variable, else a hidden prompt.
read_value() {
  value=${!1:-}
  if [[ -n $value ]]; then
    echo "$1: using the value of the environment variable $1"
    return
  fi
  if ! { : </dev/tty; } 2>/dev/null; then
    echo "error: $1 is not set and there is no terminal to ask on. Export $1 and run again." >&2
    exit 1
  fi
  IFS= read -rs -p "$1 (input hidden): " value </dev/tty
  echo >&2
}

# Prints why the value $2 of secret $1 is invalid, or nothing when it is valid.
problem_with() {
  local name=$1 text=$2
  if [[ $text =~ [[:space:]]$ || $text =~ ^[[:space:]] ]]; then
    echo "it starts or ends with whitespace, which wrangler would strip"
    return
  fi
  case $name in
    ADMIN_TOKEN | JWT_SECRET)
      if (($(byte_length "$text") < min_key_bytes)); then
        echo "it is $(byte_length "$text") bytes long, and at least $min_key_bytes are required (for example: openssl rand -hex 32)"
      fi
      ;;
    EMAIL_API_URL)
      if [[ $text != https://* ]]; then
        echo "it must start with https://"
      fi
      ;;
  esac
}

echo "Setting secrets of the Worker in $config"
for name in "${names[@]}"; do
  value=""
  read_value "$name"

  if [[ -z $value ]]; then
    case $name in
      ADMIN_TOKEN)
        echo "error: ADMIN_TOKEN may not be empty" >&2
        exit 1
        ;;
      JWT_SECRET)
        if ! command -v openssl >/dev/null 2>&1; then
          echo "error: JWT_SECRET is empty and openssl is not installed to generate one" >&2
          exit 1
        fi
        value=$(openssl rand -hex 32)
        echo "JWT_SECRET: generated a random 64-character key"
        ;;
      *)
        echo "$name: empty, skipped"
        continue
        ;;
    esac
  fi

  problem=$(problem_with "$name" "$value")
  if [[ -n $problem ]]; then
    echo "error: $name is invalid: $problem" >&2
    exit 1
  fi
  # printf is a shell builtin, so the value never appears in a process list.
  printf '%s' "$value" | "$wrangler" secret put "$name" --config "$config"
done
value=""

echo
echo "Done. Next: make build, then $wrangler deploy --config $config"
echo "Changing JWT_SECRET later makes every access token fail with 401. Clients then refresh"
echo "their tokens, because refresh tokens do not depend on it."
