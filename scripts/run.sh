#!/usr/bin/env bash
# Runs Image Time Capsule locally: the sync server on embedded defaults (SQLite, a blob
# folder, mail written to an outbox folder, a generated secret) on http://127.0.0.1:8080
# with its data in ./itc-data, and the desktop app connected to it, its library in
# ./itc-data/desktop. Installs what is missing (the Tauri system packages, npm packages).
# Without a display (DISPLAY and WAYLAND_DISPLAY unset) the window opens on an Xvfb screen.
# `scripts/run.sh --server-only` starts the server alone; other flags go to the server.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

server_only=""
if [ "${1:-}" = "--server-only" ]; then server_only=1; shift; fi
need_rust
export ITC_DATA_DIR="${ITC_DATA_DIR:-$PWD/itc-data}"
bind="${ITC_BIND:-127.0.0.1:8080}"

if [ -n "$server_only" ]; then
  need_apt pkg-config:pkg-config cmake:cmake nasm:nasm
  step "building and starting the sync server (data in $ITC_DATA_DIR)"
  exec cargo run --release --locked -p sync-server -- --bind "$bind" "$@"
fi

need_tauri_system
need_node_modules ui
target="${CARGO_TARGET_DIR:-$PWD/target}"
step "building the sync server and the desktop app (release; the first build takes a while)"
cargo build --release --locked -p sync-server
scripts/tauri.sh build --no-bundle

trap stop_started EXIT INT TERM

step "starting the sync server on http://$bind (data in $ITC_DATA_DIR)"
"$target/release/sync-server" --bind "$bind" "$@" &
pids+=($!)
wait_http "http://$bind/healthz"

if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  display=":$(free_display)"
  Xvfb "$display" -screen 0 1280x800x24 -nolisten tcp > /dev/null 2>&1 &
  pids+=($!)
  export DISPLAY="$display"
  for _ in $(seq 1 50); do xdpyinfo > /dev/null 2>&1 && break; sleep 0.1; done
  echo "no display here: the window is on Xvfb $DISPLAY (see it with: DISPLAY=$DISPLAY import -window root shot.png)"
fi
[ -n "${DBUS_SESSION_BUS_ADDRESS:-}" ] || start_session_bus

step "starting the desktop app (library in $ITC_DATA_DIR/desktop); quit it from its tray icon or with Ctrl+C here"
"$target/release/image-time-capsule" --data-dir "$ITC_DATA_DIR/desktop" --server "http://$bind"
