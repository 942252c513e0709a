#!/usr/bin/env bash
# Load soak of the sync server (issue 7): `soak` (sync-server/examples/soak.rs) against a
# real server process on embedded defaults, clients mixing log-ins, change-feed pulls,
# draft edits and photo uploads. SOAK_SECONDS (default 120) and SOAK_CLIENTS (default 8);
# SOAK_PROFILE=debug uses the debug build (what the test command runs, shorter). Fails when
# a request failed or memory or open descriptors did not settle.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
need_rust
need_apt cmake:cmake nasm:nasm
target="${CARGO_TARGET_DIR:-$PWD/target}"
profile="${SOAK_PROFILE:-release}"
flag=$([ "$profile" = release ] && echo --release || true)
if [ "$profile" != debug ] || [ "${ITC_SERVER_BUILT:-}" != 1 ]; then
  cargo build --locked $flag -p sync-server --bin sync-server --example soak
fi
dir=$([ "$profile" = release ] && echo release || echo debug)
"$target/$dir/examples/soak" --server "$target/$dir/sync-server" \
  --seconds "${SOAK_SECONDS:-120}" --clients "${SOAK_CLIENTS:-8}" --check
