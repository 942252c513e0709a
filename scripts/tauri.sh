#!/usr/bin/env bash
# The Tauri CLI (from ui/node_modules) with this repository's layout: the app package and
# tauri.conf.json at the root, the front end in ui/.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
export TAURI_APP_PATH="$root" TAURI_FRONTEND_PATH="$root/ui"
cd "$root"
exec "$root/ui/node_modules/.bin/tauri" "$@"
