#!/usr/bin/env bash
# API conformance: Schemathesis (PyPI) against the running server's own /v1/openapi.json,
# every check on (server errors, status codes, content types, response schemas and headers,
# rejection of bad data, acceptance of good data, ignored authentication, unsupported
# methods, use after free...), through its examples, coverage, fuzzing and stateful (links)
# phases. Authenticated as a fresh account that owns a draft and an uploaded photo
# (sync-server/conformance/setup.py); log-out and account deletion run in a second pass
# with a new account for every second, so they cannot end the first pass's session.
# Settings and the few documented exceptions: sync-server/conformance/schemathesis.toml.
#
#   scripts/api-conformance.sh          the sync-server binary on embedded defaults
#   scripts/api-conformance.sh lambda   the api-lambda binary behind a local function URL
#                                       (testkit's lambda-function-url: payload format 2.0
#                                       events through a Lambda Runtime API, two instances),
#                                       on PostgreSQL and an S3 server (s3s-fs)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
need_rust
need_python_module schemathesis "schemathesis==4.32.5" python3-schemathesis
target="${CARGO_TARGET_DIR:-$PWD/target}"
# The test command has just built it; a lone run builds it so it never tests an old binary.
[ "${ITC_SERVER_BUILT:-}" = 1 ] || cargo build --locked --quiet -p sync-server
cargo build --locked --quiet -p testkit --bin drand-relay --bin lambda-function-url
mode="${1:-server}"
case "$mode" in
  server) ;;
  lambda)
    need_postgres
    need_cargo_tool s3s-fs "s3s-fs --locked --version 0.14.1 --features binary"
    ;;
  *) echo "usage: $0 [server|lambda]" >&2; exit 2 ;;
esac

work=$(mktemp -d)
# A drand-style relay of the run's own chain, publishing a round every 3 s, so the beacon
# route answers from a real relay (past rounds 200, future ones 425) without the internet.
"$target/debug/drand-relay" > "$work/relay.json" 2> "$work/relay.log" &
relay=$!
trap 'kill $relay 2> /dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do [ -s "$work/relay.json" ] && break; sleep 0.1; done
chain() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$work/relay.json" "$1"; }
port=$(free_port)
base="http://127.0.0.1:$port"
# The same settings for either binary, as ITC_* variables.
export ITC_MAX_SIGN_UPS_PER_ADDRESS=1000000 ITC_DRAND_RELAYS="$(chain url)" \
  ITC_DRAND_CHAIN_HASH="$(chain chain_hash)" ITC_DRAND_PUBLIC_KEY="$(chain public_key)" \
  ITC_DRAND_GENESIS="$(chain genesis)" ITC_DRAND_PERIOD="$(chain period)"
cleanup=()
trap 'for c in "${cleanup[@]}"; do eval "$c"; done; kill $relay 2> /dev/null || true; rm -rf "$work"' EXIT
if [ "$mode" = server ]; then
  "$target/debug/sync-server" --bind "127.0.0.1:$port" --data-dir "$work/data" \
    --no-delivery-ticker > "$work/server.log" 2>&1 &
  server=$!
  cleanup+=("kill $server 2> /dev/null || true; wait $server 2> /dev/null || true")
else
  export AWS_ACCESS_KEY_ID=itc-conformance AWS_SECRET_ACCESS_KEY=itc-conformance-secret AWS_REGION=us-east-1
  start_s3 "$work"
  cleanup+=("kill $s3_pid 2> /dev/null || true")
  pg="${ITC_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
  db="itc_conformance_$$"
  psql -q "$pg" -c "CREATE DATABASE $db" > /dev/null
  cleanup+=("psql -q '$pg' -c 'DROP DATABASE IF EXISTS $db WITH (FORCE)' > /dev/null 2>&1 || true")
  # Instances share the token and escrow keys, as the template's secrets give them; each
  # would otherwise make its own, and one's tokens would fail on the other.
  ITC_DATABASE_URL="${pg%/*}/$db" ITC_BLOB_STORE=s3://itc-conformance/photos \
    ITC_S3_ENDPOINT="http://127.0.0.1:$s3_port" ITC_PUBLIC_URL="$base" \
    ITC_JWT_SECRET="conformance-token-secret-0123456789-abcdef" \
    ITC_ESCROW_KEY="conformance-escrow-secret-0123456789-abcdef" ITC_DATA_DIR="$work/data" \
    "$target/debug/lambda-function-url" "127.0.0.1:$port" 2 "$target/debug/api-lambda" \
    > "$work/server.log" 2>&1 &
  server=$!
  cleanup+=("kill $server 2> /dev/null || true; wait $server 2> /dev/null || true")
fi
wait_http "$base/healthz"
export ITC_CONFORMANCE_BASE="$base" SCHEMATHESIS_HOOKS="$PWD/sync-server/conformance/hooks.py"
eval "$(python3 sync-server/conformance/setup.py "$base")"
st() { python3 -m schemathesis.cli --config-file sync-server/conformance/schemathesis.toml "$@"; }
common=(--checks all --workers 2 --no-color --max-examples "${ITC_CONFORMANCE_EXAMPLES:-50}")

step "schemathesis: every operation but log-out and account deletion"
st run "$base/v1/openapi.json" "${common[@]}" \
  --exclude-name "DELETE /v1/sessions/current" --exclude-name "DELETE /v1/account"
step "schemathesis: log-out and account deletion, a new account every second"
ITC_CONFORMANCE_REFRESH=1 st run "$base/v1/openapi.json" "${common[@]}" --phases examples,coverage,fuzzing \
  --include-name "DELETE /v1/sessions/current" --include-name "DELETE /v1/account"
if grep -q "internal error" "$work/server.log"; then
  echo "the server logged internal errors during the run:" >&2
  grep "internal error" "$work/server.log" | head -20 >&2
  exit 1
fi
