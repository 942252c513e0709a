#!/usr/bin/env bash
# The desktop app's .deb as a person gets it, and its updates: builds the .deb of this
# version (N) with an update key made for this run, installs it with apt, checks that the
# installed binary starts and shows its window under Xvfb; then builds N+1 with the same key
# and serves it over HTTPS (a certificate from the run's own CA) in feeds that are good,
# tampered, signed with another key, or that announce a later version than the package they
# sign; the installed app, driven through its window (ui/e2e/update.e2e.ts), finds N+1 by
# itself, refuses the bad ones and installs the good one. The package is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
source scripts/lib.sh
need_rust
need_tauri_system
need_node_modules ui
need_node_modules ui/e2e
need_cargo_tool tauri-driver "tauri-driver --locked --version ^2"
# The updater installs a .deb through pkexec, a graphical password prompt or sudo; a test run
# as root has only sudo, which asks root nothing.
need_apt sudo:sudo
target="${CARGO_TARGET_DIR:-$root/target}"

work=$(mktemp -d)
cleanup() {
  stop_started
  as_root dpkg -r image-time-capsule > /dev/null 2>&1 || true
  if [ "${ITC_E2E_KEEP:-}" = 1 ]; then echo "kept $work" >&2; else remove_tree "$work"; fi
}
trap cleanup EXIT

version=$(python3 -c 'import json; print(json.load(open("tauri.conf.json"))["version"])')
bump() { python3 -c 'import sys; a, b, c = sys.argv[1].split("."); print(f"{a}.{b}.{int(c) + int(sys.argv[2])}")' "$version" "$1"; }
next=$(bump 1)
inflated=$(bump 2)

step "an update key for this run, a CA and a certificate for the feeds' server"
tauri=ui/node_modules/.bin/tauri
mkdir -p "$work/keys" "$work/feeds"
"$tauri" signer generate --ci -p '' -w "$work/keys/update.key" > /dev/null
"$tauri" signer generate --ci -p '' -w "$work/keys/other.key" > /dev/null
cargo build --locked --quiet -p testkit --bin tls-cert
"$target/debug/tls-cert" "$work/tls"
feeds_port=$(free_port)
feeds="https://localhost:$feeds_port"
/usr/bin/python3 scripts/https_folder.py "$work/feeds" "$feeds_port" "$work/tls/cert.pem" "$work/tls/key.pem" \
  > "$work/feeds.log" 2>&1 &
pids+=($!)

# build VERSION: the .deb of VERSION, signed for the updater, copied to $work/VERSION.deb.
build() {
  local config
  config=$(python3 -c 'import json, sys; print(json.dumps({
    "version": sys.argv[1],
    "bundle": {"createUpdaterArtifacts": True},
    "plugins": {"updater": {"pubkey": sys.argv[2], "endpoints": [sys.argv[3]]}}}))' \
    "$1" "$(cat "$work/keys/update.key.pub")" "$feeds/good/latest.json")
  step "tauri build --debug --bundles deb (version $1, with the run's update key)"
  TAURI_SIGNING_PRIVATE_KEY="$(cat "$work/keys/update.key")" TAURI_SIGNING_PRIVATE_KEY_PASSWORD="" \
    scripts/tauri.sh build --debug --bundles deb --config "$config" >&2
  local deb="$target/debug/bundle/deb/Image Time Capsule_$1_amd64.deb"
  test -f "$deb.sig" || { echo "no updater signature beside $deb" >&2; exit 1; }
  cp "$deb" "$work/$1.deb"
  cp "$deb.sig" "$work/$1.deb.sig"
  echo "built $(basename "$deb") ($(du -h "$deb" | cut -f1))" >&2
}
build "$version"

step "installing image-time-capsule $version"
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$work/$version.deb" > /dev/null
test -x /usr/bin/image-time-capsule
test -x /usr/bin/itc
/usr/bin/itc --version >&2
test -f /usr/share/applications/"Image Time Capsule.desktop"
/usr/bin/image-time-capsule --version >&2

step "Xvfb and D-Bus; the installed app starts and shows its window"
display=":$(free_display)"
Xvfb "$display" -screen 0 1280x800x24 -nolisten tcp > "$work/xvfb.log" 2>&1 &
pids+=($!)
export DISPLAY="$display"
for _ in $(seq 1 50); do xdpyinfo > /dev/null 2>&1 && break; sleep 0.1; done
start_session_bus
HOME="$work" NO_AT_BRIDGE=1 /usr/bin/image-time-capsule --data-dir "$work/data" > "$work/app.log" 2>&1 &
app=$!
ok=0
for _ in $(seq 1 100); do
  if xdotool search --name "^Image Time Capsule$" > /dev/null 2>&1 \
    && grep -q "library shown" "$work/app.log"; then ok=1; break; fi
  sleep 0.2
done
kill "$app" 2> /dev/null || true
wait "$app" 2> /dev/null || true
if [ "$ok" -ne 1 ]; then
  echo "the installed app did not show its window:" >&2
  cat "$work/app.log" >&2
  exit 1
fi
echo "the installed app showed its library: $(grep -o 'startup_ms=[0-9]*' "$work/app.log")" >&2

build "$next"

step "feeds: good, tampered, signed with another key, announcing $inflated with $next's package"
# feed NAME VERSION SIGNATURE_FILE PACKAGE: $work/feeds/NAME/latest.json and its package.
feed() {
  mkdir -p "$work/feeds/$1"
  cp "$4" "$work/feeds/$1/image-time-capsule_$2_amd64.deb"
  python3 -c 'import json, sys; name, version, sig, base = sys.argv[1:]; print(json.dumps({
    "version": version,
    "notes": "Faster uploads and a fix for long notes.",
    "pub_date": "2026-12-01T09:00:00Z",
    "platforms": {"linux-x86_64-deb": {
      "signature": open(sig).read().strip(),
      "url": f"{base}/{name}/image-time-capsule_{version}_amd64.deb"}}}, indent=2))' \
    "$1" "$2" "$3" "$feeds" > "$work/feeds/$1/latest.json"
}
feed good "$next" "$work/$next.deb.sig" "$work/$next.deb"
cp "$work/$next.deb" "$work/tampered.deb"
# One bit of the package flipped on the way; its signature no longer matches.
python3 -c 'import os, sys; f = open(sys.argv[1], "r+b"); n = os.path.getsize(sys.argv[1]); f.seek(n // 2); b = f.read(1); f.seek(n // 2); f.write(bytes([b[0] ^ 0x40]))' \
  "$work/tampered.deb"
feed tampered "$next" "$work/$next.deb.sig" "$work/tampered.deb"
cp "$work/$next.deb" "$work/other.deb"
"$tauri" signer sign -f "$work/keys/other.key" -p '' --app-version "$next" "$work/other.deb" > /dev/null
feed other-key "$next" "$work/other.deb.sig" "$work/other.deb"
feed inflated "$inflated" "$work/$next.deb.sig" "$work/$next.deb"
wait_port "$feeds_port"

step "the installed app updates itself, through its window"
driver_port=$(free_port)
native_port=$(free_port)
mkdir -p "$work/home"
# The app trusts the feeds' server through the run's CA, as it would a public one.
HOME="$work/home" NO_AT_BRIDGE=1 ITC_LOG=info SSL_CERT_FILE="$work/tls/ca.pem" \
  tauri-driver --port "$driver_port" --native-port "$native_port" > "$work/driver.log" 2>&1 &
pids+=($!)
wait_port "$driver_port"
(cd ui/e2e && npm run --silent check)
status=0
(
  cd ui/e2e
  env ITC_E2E_APP=/usr/bin/image-time-capsule ITC_E2E_DATA="$work/update-data" \
    ITC_E2E_FEEDS="$feeds" ITC_E2E_VERSION="$version" ITC_E2E_NEXT_VERSION="$next" \
    ITC_E2E_INFLATED_VERSION="$inflated" ITC_E2E_DRIVER_PORT="$driver_port" \
    ITC_E2E_SHOTS="${ITC_E2E_SHOTS:-$root/docs/screenshots}" \
    node --import tsx --test update.e2e.ts
) || status=$?
if [ "$status" -ne 0 ]; then
  echo "--- app and driver log (last 60 lines)"; tail -n 60 "$work/driver.log"
  echo "--- feeds server log"; cat "$work/feeds.log"
  exit "$status"
fi
grep -c ' "GET /good/image-time-capsule_' "$work/feeds.log" | xargs echo "downloads of the good package:" >&2
