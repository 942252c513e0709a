#!/usr/bin/env bash
# API conformance: Schemathesis (PyPI) against the running server's own /v1/openapi.json,
# every check on (server errors, status codes, content types, response schemas and headers,
# rejection of bad data, acceptance of good data, ignored authentication, unsupported
# methods, use after free...), through its examples, coverage, fuzzing and stateful (links)
# phases. Authenticated as a fresh account that owns a draft and an uploaded photo
# (sync-server/conformance/setup.py); log-out and account deletion run in a second pass
# with a new account for every second, so they cannot end the first pass's session.
# Settings and the few documented exceptions: sync-server/conformance/schemathesis.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
need_rust
need_python_module schemathesis "schemathesis==4.32.5" python3-schemathesis
target="${CARGO_TARGET_DIR:-$PWD/target}"
# The test command has just built it; a lone run builds it so it never tests an old binary.
[ "${ITC_SERVER_BUILT:-}" = 1 ] || cargo build --locked --quiet -p sync-server
cargo build --locked --quiet -p testkit --bin drand-relay

work=$(mktemp -d)
# A drand-style relay of the run's own chain, publishing a round every 3 s, so the beacon
# route answers from a real relay (past rounds 200, future ones 425) without the internet.
"$target/debug/drand-relay" > "$work/relay.json" 2> "$work/relay.log" &
relay=$!
trap 'kill $relay 2> /dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do [ -s "$work/relay.json" ] && break; sleep 0.1; done
chain() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$work/relay.json" "$1"; }
port=$(free_port)
"$target/debug/sync-server" --bind "127.0.0.1:$port" --data-dir "$work/data" \
  --no-delivery-ticker --max-sign-ups-per-address 1000000 \
  --drand-relays "$(chain url)" --drand-chain-hash "$(chain chain_hash)" \
  --drand-public-key "$(chain public_key)" --drand-genesis "$(chain genesis)" \
  --drand-period "$(chain period)" > "$work/server.log" 2>&1 &
server=$!
trap 'kill $server $relay 2> /dev/null || true; wait $server 2> /dev/null || true; rm -rf "$work"' EXIT
base="http://127.0.0.1:$port"
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
