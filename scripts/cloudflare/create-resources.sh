#!/usr/bin/env bash
# Creates the Cloudflare resources that wrangler.toml binds, for one deployment: the D1
# databases, the R2 bucket, and the queues with their dead-letter queues. Then writes
# wrangler.ENV.toml, a copy of wrangler.toml with the real database ids and the deployment's
# resource names, for `wrangler deploy --config wrangler.ENV.toml`.
#
# Usage: scripts/cloudflare/create-resources.sh ENV   (or KASIR_ENV=ENV scripts/cloudflare/create-resources.sh)
#   ENV "production" keeps the names in wrangler.toml. Any other name, such as "staging",
#   adds "-ENV" to the Worker's name and to every resource name: kasir-edge-staging,
#   kasir-control-staging, kasir-email-staging-dlq. A dead-letter queue keeps "-dlq" last,
#   because the Worker recognizes a dead-letter batch by that ending.
#
# Environment:
#   LOCATION_HINT  location hint for new D1 databases and the bucket, "apac" by default.
#                  An empty string lets Cloudflare choose.
#   WRANGLER       path of the wrangler executable (default node_modules/.bin/wrangler)
#
# Resources that already exist are reused, so run the script again after adding a database
# to wrangler.toml. Wrangler needs a login (`wrangler login`) or CLOUDFLARE_API_TOKEN and
# CLOUDFLARE_ACCOUNT_ID in the environment.
set -euo pipefail

repo_root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo_root"

env_name=${1:-${KASIR_ENV:-}}
if [[ -z $env_name ]]; then
  echo "usage: $0 ENV, for example $0 production (or set KASIR_ENV)" >&2
  exit 2
fi
if [[ ! $env_name =~ ^[a-z][a-z0-9-]{0,30}$ ]]; then
  echo "error: invalid environment name '$env_name': use lower-case letters, digits and '-', starting with a letter" >&2
  exit 2
fi
suffix=""
if [[ $env_name != production ]]; then
  suffix="-$env_name"
fi

wrangler=${WRANGLER:-node_modules/.bin/wrangler}
if [[ ! -x $wrangler ]]; then
  echo "error: wrangler not found at $wrangler. Run 'make setup' first, or set WRANGLER." >&2
  exit 1
fi
if ! command -v node >/dev/null 2>&1; then
  echo "error: node is required to read 'wrangler d1 list --json'" >&2
  exit 1
fi
location=${LOCATION_HINT-apac}
source_config=wrangler.toml
output=wrangler.$env_name.toml

# Prints the deployment's name of the resource that wrangler.toml calls $1.
deployed_name() {
  if [[ $1 == *-dlq ]]; then
    printf '%s\n' "${1%-dlq}$suffix-dlq"
  else
    printf '%s\n' "$1$suffix"
  fi
}

# Prints the quoted value of every `KEY = "value"` line of the source config, in file order.
toml_values() {
  sed -n -E "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*\"([^\"]*)\".*/\1/p" "$source_config"
}

# Plain arrays and loops, so the script also runs on bash 3.2 (the bash macOS ships).
databases=()
buckets=()
queues=()
while IFS= read -r value; do databases+=("$value"); done < <(toml_values database_name)
while IFS= read -r value; do buckets+=("$value"); done < <(toml_values bucket_name)
while IFS= read -r value; do queues+=("$value"); done < <({ toml_values queue; toml_values dead_letter_queue; } | sort -u)
if ((${#databases[@]} == 0 || ${#buckets[@]} == 0 || ${#queues[@]} == 0)); then
  echo "error: $source_config names no D1 database, R2 bucket or queue. Is it the Kasir Edge config?" >&2
  exit 1
fi

# Prints the id of the D1 database named $1 from the JSON list in $d1_list, or nothing.
d1_list=""
d1_id_of() {
  printf '%s' "$d1_list" | node -e '
    let text = "";
    process.stdin.on("data", (chunk) => (text += chunk)).on("end", () => {
      const databases = JSON.parse(text.slice(text.indexOf("[")));
      const found = databases.find((database) => database.name === process.argv[1]);
      if (found) console.log(found.uuid);
    });' "$1"
}

# Lines of "database-name database-id", read by the rewrite below.
ids_file=$(mktemp)
partial_output=""
trap 'rm -f "$ids_file" ${partial_output:+"$partial_output"}' EXIT

# The Worker's name is the first `name` line, above every table.
worker_name=$(deployed_name "$(toml_values name | awk 'NR == 1')")
echo "Deployment '$env_name': Worker $worker_name"
d1_list=$("$wrangler" d1 list --json)

for base_name in "${databases[@]}"; do
  name=$(deployed_name "$base_name")
  id=$(d1_id_of "$name")
  if [[ -n $id ]]; then
    echo "D1 database $name exists: $id"
  else
    echo "Creating D1 database $name"
    create_args=(d1 create "$name")
    if [[ -n $location ]]; then
      create_args+=(--location "$location")
    fi
    "$wrangler" "${create_args[@]}"
    d1_list=$("$wrangler" d1 list --json)
    id=$(d1_id_of "$name")
    if [[ -z $id ]]; then
      echo "error: D1 database $name was created but 'wrangler d1 list' does not show it. Run the script again." >&2
      exit 1
    fi
  fi
  printf '%s %s\n' "$name" "$id" >>"$ids_file"
done

for base_name in "${buckets[@]}"; do
  name=$(deployed_name "$base_name")
  if "$wrangler" r2 bucket info "$name" >/dev/null 2>&1; then
    echo "R2 bucket $name exists"
  else
    echo "Creating R2 bucket $name"
    create_args=(r2 bucket create "$name")
    if [[ -n $location ]]; then
      create_args+=(--location "$location")
    fi
    "$wrangler" "${create_args[@]}"
  fi
done

for base_name in "${queues[@]}"; do
  name=$(deployed_name "$base_name")
  if "$wrangler" queues info "$name" >/dev/null 2>&1; then
    echo "Queue $name exists"
  else
    echo "Creating queue $name"
    "$wrangler" queues create "$name"
  fi
done

# The copy stays next to wrangler.toml, because `main`, `migrations_dir` and the assets
# `directory` are relative to the config file.
partial_output=$(mktemp "$output.XXXXXX")

awk -v suffix="$suffix" -v env_name="$env_name" -v source_config="$source_config" -v ids_file="$ids_file" '
  BEGIN {
    while ((getline line < ids_file) > 0) {
      split(line, fields, " ")
      id_of[fields[1]] = fields[2]
    }
    print "# Generated by scripts/cloudflare/create-resources.sh from " source_config " for the \"" env_name "\" deployment."
    print "# Change " source_config " and run the script again instead of editing this file."
    print ""
  }
  function value_of(line) {
    match(line, /"[^"]*"/)
    return substr(line, RSTART + 1, RLENGTH - 2)
  }
  # Keep in step with deployed_name above.
  function deployed(name) {
    if (name ~ /-dlq$/) return substr(name, 1, length(name) - 4) suffix "-dlq"
    return name suffix
  }
  function with_value(line, value) {
    sub(/"[^"]*"/, "\"" value "\"", line)
    return line
  }
  /^[[:space:]]*\[/ { in_table = 1; database = "" }
  # Only the top-level `name` is the Worker name. A `name` inside a table names a binding.
  !in_table && /^[[:space:]]*name[[:space:]]*=/ { print with_value($0, deployed(value_of($0))); next }
  /^[[:space:]]*database_name[[:space:]]*=/ {
    database = deployed(value_of($0))
    print with_value($0, database)
    next
  }
  /^[[:space:]]*database_id[[:space:]]*=/ {
    if (!(database in id_of)) {
      print "error: a database_id in " source_config " does not follow a database_name line" > "/dev/stderr"
      exit 1
    }
    print with_value($0, id_of[database])
    next
  }
  /^[[:space:]]*(bucket_name|queue|dead_letter_queue)[[:space:]]*=/ { print with_value($0, deployed(value_of($0))); next }
  { print }
' "$source_config" >"$partial_output"

if ! grep -Eq '^[[:space:]]*ENVIRONMENT[[:space:]]*=[[:space:]]*"production"' "$partial_output"; then
  echo "error: $source_config must set ENVIRONMENT = \"production\" under [vars], because \"development\" turns on test-only hooks" >&2
  exit 1
fi
mv "$partial_output" "$output"

echo
echo "Wrote $output with these D1 databases:"
awk '
  /^[[:space:]]*binding[[:space:]]*=/ { match($0, /"[^"]*"/); binding = substr($0, RSTART + 1, RLENGTH - 2) }
  /^[[:space:]]*database_name[[:space:]]*=/ { match($0, /"[^"]*"/); name = substr($0, RSTART + 1, RLENGTH - 2) }
  /^[[:space:]]*database_id[[:space:]]*=/ {
    match($0, /"[^"]*"/)
    printf "  %-18s %-28s %s\n", binding, name, substr($0, RSTART + 1, RLENGTH - 2)
  }
' "$output"
echo
echo "Next: scripts/cloudflare/set-secrets.sh $env_name, then make build and"
echo "      node_modules/.bin/wrangler deploy --config $output"
