#!/usr/bin/env bash
# Runs Image Time Capsule locally: the sync server on embedded defaults (SQLite, a blob
# folder and a generated secret in ./itc-data), on http://127.0.0.1:8080.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
need_rust
need_apt pkg-config:pkg-config cmake:cmake nasm:nasm
export ITC_DATA_DIR="${ITC_DATA_DIR:-$PWD/itc-data}"
step "building and starting the sync server (data in $ITC_DATA_DIR)"
exec cargo run --release --locked -p sync-server -- "$@"
