#!/usr/bin/env bash
# Cold-start benchmark (sync-server/examples/cold_start.rs): the time from starting a fresh
# process to its first answer to /readyz (database and S3 reached), for the API Lambda
# behind a local function URL, beside the sync-server binary on a socket, both on
# PostgreSQL and an S3 server (s3s-fs). Release builds; COLD_START_RUNS fresh processes of
# each (default 20). The last line is `api_lambda_cold_start_ms: MEDIAN`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
need_rust
need_apt cmake:cmake nasm:nasm
need_postgres
need_cargo_tool s3s-fs "s3s-fs --locked --version 0.14.1 --features binary"
target="${CARGO_TARGET_DIR:-$PWD/target}/release"
cargo build --release --locked -p sync-server --bin sync-server --bin api-lambda --example cold_start
work=$(mktemp -d)
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench-secret-key AWS_REGION=us-east-1
pg="${ITC_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
db="itc_cold_start_$$"
trap 'kill ${s3_pid:-} 2>/dev/null || true; psql -q "$pg" -c "DROP DATABASE IF EXISTS $db" > /dev/null 2>&1 || true; rm -rf "$work"' EXIT
start_s3 "$work"
psql -q "$pg" -c "CREATE DATABASE $db" > /dev/null
# Both binaries read the same settings; the first start migrates the database.
export ITC_DATABASE_URL="${pg%/*}/$db" ITC_BLOB_STORE=s3://itc-cold-start/photos \
  ITC_S3_ENDPOINT="http://127.0.0.1:$s3_port" ITC_PRODUCTION=true \
  ITC_JWT_SECRET="cold-start-benchmark-token-secret-0123456789" \
  ITC_ESCROW_KEY="cold-start-benchmark-escrow-secret-0123456789" \
  ITC_PUBLIC_URL=https://capsule.example.com ITC_DATA_DIR="$work/data"
"$target/examples/cold_start" --lambda "$target/api-lambda" --server "$target/sync-server" \
  --runs "${COLD_START_RUNS:-20}"
