#!/usr/bin/env bash
# Flood benchmark (sync-server/examples/flood.rs): 300 clients (FLOOD_CLIENTS) at once sign
# up, log in with unknown emails and upload photos against a release server on embedded
# defaults, three ways in one run: the limits off (the baseline), the default limits with a
# client address each, and the default limits from one address. Prints the server's RSS at
# rest and at peak, the share of answers (2xx, 429 and 503 with Retry-After), the p99 of
# those answered, /healthz and a normal user's sync during the flood.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
need_rust
need_apt cmake:cmake nasm:nasm
target="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release --locked -p sync-server --bin sync-server --example flood
ulimit -n 65536 2> /dev/null || true
"$target/release/examples/flood" --server "$target/release/sync-server" \
  --clients "${FLOOD_CLIENTS:-300}"
