#!/usr/bin/env bash
# Server benchmarks (see scripts/bench_server.py): sync throughput and p99 beside /healthz,
# and peak memory during four concurrent 200 MB uploads. Release build.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
need_rust
need_apt wrk:wrk curl:curl pg_isready:postgresql-client cmake:cmake nasm:nasm
need_postgres
cargo build --release --locked -p sync-server
target="${CARGO_TARGET_DIR:-target}"
python3 scripts/bench_server.py "$target/release/sync-server"
