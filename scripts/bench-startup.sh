#!/usr/bin/env bash
# Start-up benchmark of the desktop app (issue 5): from launching the release binary to its
# library showing 1,000 capsules (20,000 photos, a third of the capsules sealed), under
# Xvfb: time and peak memory of the app with its WebKit processes, beside the same app
# starting on an empty library in the same run. Goal: under 1.5 s and 250 MB.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
need_rust
need_tauri_system
need_node_modules ui
target="${CARGO_TARGET_DIR:-$PWD/target}"

step "building the app (release)"
scripts/tauri.sh build --no-bundle > /dev/null
cargo build --release --locked -p desktop-core --example seed_library

work=$(mktemp -d)
trap 'stop_session_bus; kill "${xvfb:-}" 2> /dev/null || true; remove_tree "$work"' EXIT
step "seeding a library of 1,000 capsules and 20,000 photos"
"$target/release/examples/seed_library" "$work/full" --capsules "${CAPSULES:-1000}" --photos "${PHOTOS:-20000}"
mkdir -p "$work/empty"

display=":$(free_display)"
Xvfb "$display" -screen 0 1280x800x24 -nolisten tcp > /dev/null 2>&1 &
xvfb=$!
export DISPLAY="$display"
for _ in $(seq 1 50); do xdpyinfo > /dev/null 2>&1 && break; sleep 0.1; done
start_session_bus
step "measuring (${RUNS:-5} runs each)"
HOME="$work" NO_AT_BRIDGE=1 python3 scripts/bench_startup.py "$target/release/image-time-capsule" \
  "$work/empty" "$work/full" "${RUNS:-5}"
