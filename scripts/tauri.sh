#!/usr/bin/env bash
# The Tauri CLI (from ui/node_modules) with this repository's layout: the app package and
# tauri.conf.json at the root, the front end in ui/.
#
# `build` also builds the `itc` command-line client with the same profile and puts it in
# the Linux packages beside the app (/usr/bin/itc). The path is given here, not in
# tauri.conf.json, because the target folder moves (CARGO_TARGET_DIR).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
export TAURI_APP_PATH="$root" TAURI_FRONTEND_PATH="$root/ui"
cd "$root"
if [ "${1:-}" = build ]; then
  profile=release
  for a in "$@"; do [ "$a" = --debug ] && profile=debug; done
  flags=()
  [ "$profile" = release ] && flags=(--release)
  # The whole workspace's features, as the test run builds it, so nothing builds twice.
  cargo build --workspace --locked --bin itc "${flags[@]}" >&2
  itc="${CARGO_TARGET_DIR:-$root/target}/$profile/itc"
  extra=$(printf '{"bundle":{"linux":{"deb":{"files":{"/usr/bin/itc":"%s"}},"rpm":{"files":{"/usr/bin/itc":"%s"}}}}}' "$itc" "$itc")
  exec "$root/ui/node_modules/.bin/tauri" "$@" --config "$extra"
fi
exec "$root/ui/node_modules/.bin/tauri" "$@"
