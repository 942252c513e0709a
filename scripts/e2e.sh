#!/usr/bin/env bash
# The desktop app end to end, in its real window: builds the app as it ships (the UI built
# in), starts Xvfb, a private D-Bus session with a notification server, a sync-server on
# embedded defaults (SQLite, a blob folder, mail to its outbox folder) and tauri-driver,
# then drives the window through WebDriver (ui/e2e/app.e2e.ts). Screenshots of each screen
# go to docs/screenshots (ITC_E2E_SHOTS to change).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
source scripts/lib.sh

need_rust
need_tauri_system
need_node_modules ui
need_node_modules ui/e2e
need_cargo_tool tauri-driver "tauri-driver --locked --version ^2"
target="${CARGO_TARGET_DIR:-$root/target}"

work=$(mktemp -d)
cleanup() {
  stop_started
  if [ "${ITC_E2E_KEEP:-}" = 1 ]; then echo "kept $work"; else remove_tree "$work"; fi
}
trap cleanup EXIT

step "building the app (tauri build --debug --no-bundle) and the sync server"
scripts/tauri.sh build --debug --no-bundle
# A later plain cargo build relinks the same path without the UI inside; test this copy.
cp "$target/debug/image-time-capsule" "$work/app"
[ "${ITC_SERVER_BUILT:-}" = 1 ] || cargo build --locked -p sync-server
cp "$target/debug/sync-server" "$work/sync-server"
cargo build --locked --quiet -p testkit --bin drand-relay

step "photos for the run"
real_photos "$work/real" > /dev/null
mkdir -p "$work/photos"
i=1
for f in EveningGlow BytheWater FallenLeaf Kite prog-Path summer_1am; do
  src=$(ls "$work/real/$f"*.jpg | head -1)
  name=$(printf '%02d-%s.jpg' "$i" "$(echo "$f" | sed 's/^prog-//' | tr 'A-Z' 'a-z')")
  convert -quiet "$src" -resize '2400x2400>' -quality 90 "$work/photos/$name"
  i=$((i + 1))
done
# An iPhone photo: a HEIC grid turned a quarter by `irot` (scripts/heic-corpus.py).
cp "$(heic_corpus)/iphone-grid-orientation-6.heic" "$work/photos/07-iphone.heic"
printf '\xff\xd8\xff\xe0 this is not really a photo' > "$work/photos/broken.jpg"
echo "shopping list" > "$work/photos/notes.txt"

step "Xvfb, D-Bus, notifications, sync-server, tauri-driver"
display=":$(free_display)"
Xvfb "$display" -screen 0 1280x800x24 -nolisten tcp > "$work/xvfb.log" 2>&1 &
pids+=($!)
export DISPLAY="$display"
for _ in $(seq 1 50); do xdpyinfo > /dev/null 2>&1 && break; sleep 0.1; done
start_session_bus
/usr/bin/python3 ui/e2e/notifyd.py "$work/notifications.jsonl" > "$work/notifyd.log" 2>&1 &
pids+=($!)
server_port=$(free_port)
# No drand relay here: a capsule sealed in the window opens with the server's escrow key at
# its date, with or without the internet.
"$work/sync-server" --bind "127.0.0.1:$server_port" --data-dir "$work/server" \
  --min-lead 10s --delivery-interval 2s --drand-relays http://127.0.0.1:9 > "$work/server.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$server_port/healthz"
# A drand-style relay of the run's own chain (a round every 3 s) for capsules sealed on this
# computer only; while the hold file exists it publishes nothing new.
"$target/debug/drand-relay" --hold "$work/relay.hold" > "$work/relay.json" 2> "$work/relay.log" &
pids+=($!)
for _ in $(seq 1 100); do [ -s "$work/relay.json" ] && break; sleep 0.1; done
chain() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$work/relay.json" "$1"; }
export ITC_DRAND_RELAYS="$(chain url)" ITC_DRAND_CHAIN_HASH="$(chain chain_hash)"
export ITC_DRAND_PUBLIC_KEY="$(chain public_key)" ITC_DRAND_GENESIS="$(chain genesis)"
export ITC_DRAND_PERIOD="$(chain period)"
driver_port=$(free_port)
native_port=$(free_port)
mkdir -p "$work/home"
# The app inherits this environment: its own HOME (autostart entries, no keyring service, so
# the token goes to its 0600 file), a time zone with an offset, quiet accessibility.
HOME="$work/home" TZ=Europe/Paris NO_AT_BRIDGE=1 ITC_LOG=info \
  tauri-driver --port "$driver_port" --native-port "$native_port" > "$work/driver.log" 2>&1 &
pids+=($!)
# A second driver whose app sees a dark desktop theme, for the dark screenshots.
dark_port=$(free_port)
dark_native_port=$(free_port)
HOME="$work/home" TZ=Europe/Paris NO_AT_BRIDGE=1 ITC_LOG=info GTK_THEME=Adwaita:dark \
  tauri-driver --port "$dark_port" --native-port "$dark_native_port" > "$work/driver-dark.log" 2>&1 &
pids+=($!)
wait_port "$driver_port"
wait_port "$dark_port"

e2e_env=(ITC_E2E_APP="$work/app" ITC_E2E_SERVER_URL="http://127.0.0.1:$server_port"
  ITC_E2E_SERVER_DATA="$work/server" ITC_E2E_PHOTOS="$work/photos"
  ITC_E2E_NOTIFY_LOG="$work/notifications.jsonl" ITC_E2E_HOME="$work/home"
  ITC_E2E_SHOTS="${ITC_E2E_SHOTS:-$root/docs/screenshots}" ITC_E2E_DRIVER_PORT="$driver_port"
  ITC_E2E_DARK_DRIVER_PORT="$dark_port" ITC_E2E_RELAY_HOLD="$work/relay.hold")
if [ "${ITC_E2E_HOLD:-}" = 1 ]; then
  # For working on the tests: everything stays up; run them with this environment.
  printf 'export %q\n' "${e2e_env[@]}" DISPLAY="$DISPLAY" DBUS_SESSION_BUS_ADDRESS="$DBUS_SESSION_BUS_ADDRESS" > "$work/env.sh"
  echo "holding; environment in $work/env.sh"
  sleep infinity
fi

(cd ui/e2e && npm run --silent check)
step "driving the app"
status=0
(
  cd ui/e2e
  mkdir -p "$work/tmp"
  env "${e2e_env[@]}" TMPDIR="$work/tmp" npm test
) || status=$?
if [ "$status" -ne 0 ]; then
  echo "--- app and driver log (last 60 lines)"; tail -n 60 "$work/driver.log"
  echo "--- server log (last 30 lines)"; tail -n 30 "$work/server.log"
fi
exit "$status"
