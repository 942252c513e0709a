#!/usr/bin/env bash
# Upload benchmark (issue 4): the desktop sync engine uploading ~1 GB of photos to the sync
# server with the S3 store (s3s-fs), beside a plain aws-sdk-s3 PutObject loop of the same
# files to the same S3 server, in the same run. The photos are unique copies of real JPEGs
# (see real_photos in lib.sh). Release builds. Prints both throughputs, the ratio, and the
# client's peak memory.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
need_rust
need_apt cmake:cmake nasm:nasm
need_cargo_tool s3s-fs "s3s-fs --locked --version 0.14.1 --features binary"
total_mb="${1:-1024}"
cargo build --release --locked -p sync-server --bin sync-server
cargo build --release --locked -p desktop-core --example upload_bench
target="${CARGO_TARGET_DIR:-target}/release"
work=$(mktemp -d)
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench-secret-key AWS_REGION=us-east-1
s3_port=$(free_port)
mkdir -p "$work/s3"
s3s-fs --host 127.0.0.1 --port "$s3_port" --access-key "$AWS_ACCESS_KEY_ID" \
  --secret-key "$AWS_SECRET_ACCESS_KEY" "$work/s3" > "$work/s3.log" 2>&1 &
s3_pid=$!
server_port=$(free_port)
trap 'kill $s3_pid ${server_pid:-} 2>/dev/null || true; rm -rf "$work"' EXIT
wait_port "$s3_port"
"$target/sync-server" --bind "127.0.0.1:$server_port" --data-dir "$work/server" \
  --blob-store s3://itc-bench/blobs --s3-endpoint "http://127.0.0.1:$s3_port" \
  > "$work/server.log" 2>&1 &
server_pid=$!
wait_port "$server_port"

real_photos "$work/source"
"$target/examples/upload_bench" prepare "$work/client" "$total_mb" "$work/source"
# Alternate, twice each, so neither side gets the warmer disk cache every time.
out=$(
  "$target/examples/upload_bench" baseline "$work/client" "http://127.0.0.1:$s3_port" baseline-1
  "$target/examples/upload_bench" ours "$work/client" "http://127.0.0.1:$server_port"
  rm -rf "$work/client/lib/refresh-token"
  "$target/examples/upload_bench" baseline "$work/client" "http://127.0.0.1:$s3_port" baseline-2
  "$target/examples/upload_bench" ours "$work/client" "http://127.0.0.1:$server_port"
)
echo "$out"
echo "$out" | python3 -c '
import sys
v = {}
for line in sys.stdin:
    k, _, x = line.partition(": ")
    v.setdefault(k.strip(), []).append(float(x))
ours, base = max(v["ours_mb_s"]), max(v["baseline_mb_s"])
rss = max(v["ours_peak_rss_mb"])
print(f"upload: ours {ours:.1f} MB/s vs PutObject loop {base:.1f} MB/s (best of two each)")
print(f"client_peak_rss_mb: {rss:.1f}")
print(f"ratio_vs_putobject: {ours / base:.2f}")
'
