#!/usr/bin/env bash
# Builds the desktop app's .deb, installs it with apt (as a user would), checks that the
# installed binary starts and shows its window under Xvfb, and removes the package again.
# Prints the path of the built binary's copy (with the UI inside) for the end-to-end run.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
need_rust
need_tauri_system
need_node_modules ui
target="${CARGO_TARGET_DIR:-$PWD/target}"

step "tauri build --debug --bundles deb"
scripts/tauri.sh build --debug --bundles deb >&2
deb=$(ls -t "$target"/debug/bundle/deb/*.deb | head -1)
echo "built $deb ($(du -h "$deb" | cut -f1))" >&2

step "installing $(basename "$deb")"
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$deb" > /dev/null
trap 'as_root dpkg -r image-time-capsule > /dev/null 2>&1 || true' EXIT
test -x /usr/bin/image-time-capsule
test -x /usr/bin/itc
/usr/bin/itc --version >&2
test -f /usr/share/applications/"Image Time Capsule.desktop"
/usr/bin/image-time-capsule --version >&2

step "the installed app starts and shows its window"
work=$(mktemp -d)
display=":$(free_display)"
Xvfb "$display" -screen 0 1280x800x24 -nolisten tcp > "$work/xvfb.log" 2>&1 &
xvfb=$!
for _ in $(seq 1 50); do DISPLAY="$display" xdpyinfo > /dev/null 2>&1 && break; sleep 0.1; done
start_session_bus
DISPLAY="$display" HOME="$work" NO_AT_BRIDGE=1 \
  /usr/bin/image-time-capsule --data-dir "$work/data" > "$work/app.log" 2>&1 &
app=$!
ok=0
for _ in $(seq 1 100); do
  if DISPLAY="$display" xdotool search --name "^Image Time Capsule$" > /dev/null 2>&1 \
    && grep -q "library shown" "$work/app.log"; then ok=1; break; fi
  sleep 0.2
done
kill "$app" 2> /dev/null || true
wait "$app" 2> /dev/null || true
stop_session_bus
kill "$xvfb" 2> /dev/null || true
if [ "$ok" -ne 1 ]; then
  echo "the installed app did not show its window:" >&2
  cat "$work/app.log" >&2
  exit 1
fi
echo "the installed app showed its library: $(grep -o 'startup_ms=[0-9]*' "$work/app.log")" >&2
remove_tree "$work"
