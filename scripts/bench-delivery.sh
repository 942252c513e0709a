#!/usr/bin/env bash
# Delivery benchmark (see scripts/bench_delivery.py). Release build; PostgreSQL and aiosmtpd.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
need_rust
need_apt pg_isready:postgresql-client cmake:cmake nasm:nasm
need_python_module aiosmtpd aiosmtpd python3-aiosmtpd
need_postgres
cargo build --release --locked -p sync-server
target="${CARGO_TARGET_DIR:-target}"
python3 scripts/bench_delivery.py "$target/release/sync-server" "${1:-10000}"
