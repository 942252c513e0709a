#!/usr/bin/env bash
# Upload benchmark: the desktop sync engine uploading ~1 GB of photos to the sync server with
# the S3 store (s3s-fs), beside a plain aws-sdk-s3 PutObject loop of the same files to the
# same S3 server, in the same run. The photos are unique copies of real JPEGs (see
# real_photos in lib.sh). Release builds. Prints both throughputs, the client's peak memory,
# the server's CPU time per photo (user+sys of its process, from /proc) with the desktop's
# thumbnails and without them (an older client: the server decodes each photo in its
# background job, as it did in `complete` before), and last the ratio.
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
trap 'kill ${s3_pid:-} ${server_pid:-} 2>/dev/null || true; rm -rf "$work"' EXIT
start_s3 "$work"
server_port=$(free_port)
"$target/sync-server" --bind "127.0.0.1:$server_port" --data-dir "$work/server" \
  --blob-store s3://itc-bench/blobs --s3-endpoint "http://127.0.0.1:$s3_port" \
  > "$work/server.log" 2>&1 &
server_pid=$!
wait_port "$server_port"

real_photos "$work/source"
"$target/examples/upload_bench" prepare "$work/client" "$total_mb" "$work/source"
# The server's CPU time so far, in clock ticks (user + system, /proc/PID/stat fields 14-15).
server_cpu() { awk '{print $14 + $15}' "/proc/$server_pid/stat"; }
# Waits until the server's thumbnail queue is empty (its background job has made them all).
jobs_done() {
  python3 - "$work/server/server.db" <<'PY'
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1])
for _ in range(3000):
    if db.execute("SELECT COUNT(*) FROM thumbnail_jobs").fetchone()[0] == 0:
        sys.exit(0)
    time.sleep(0.1)
sys.exit("the thumbnail queue did not empty")
PY
}
ticks=$(getconf CLK_TCK)
run() { "$target/examples/upload_bench" "$@"; rm -rf "$work/client/lib/refresh-token"; }
# Alternate, twice each, so neither side gets the warmer disk cache every time; the server's
# CPU is read around each of its runs.
out=$(
  run baseline "$work/client" "http://127.0.0.1:$s3_port" baseline-1
  c0=$(server_cpu); run ours "$work/client" "http://127.0.0.1:$server_port"; jobs_done
  echo "ours_server_ticks: $(( $(server_cpu) - c0 ))"
  run baseline "$work/client" "http://127.0.0.1:$s3_port" baseline-2
  c0=$(server_cpu); run ours "$work/client" "http://127.0.0.1:$server_port"; jobs_done
  echo "ours_server_ticks: $(( $(server_cpu) - c0 ))"
  c0=$(server_cpu); run ours "$work/client" "http://127.0.0.1:$server_port" --no-thumbnails; jobs_done
  echo "no_thumbnails_server_ticks: $(( $(server_cpu) - c0 ))"
)
echo "$out"
echo "$out" | TICKS="$ticks" python3 -c '
import os, sys
v = {}
for line in sys.stdin:
    k, _, x = line.partition(": ")
    try:
        v.setdefault(k.strip(), []).append(float(x))
    except ValueError:
        pass
ticks = float(os.environ["TICKS"])
ours, base = max(v["ours_mb_s"]), max(v["baseline_mb_s"])
rss = max(v["ours_peak_rss_mb"])
photos = v["ours_photos"][0]
cpu_ours = min(v["ours_server_ticks"]) / ticks * 1000 / photos
cpu_old = v["no_thumbnails_server_ticks"][0] / ticks * 1000 / photos
print(f"upload: ours {ours:.1f} MB/s vs PutObject loop {base:.1f} MB/s (best of two each)")
print(f"client_peak_rss_mb: {rss:.1f}")
print(f"server_cpu_ms_per_photo: {cpu_ours:.1f} with the desktop thumbnails, "
      f"{cpu_old:.1f} without (the server decoding each photo); "
      f"{100 * cpu_ours / cpu_old:.0f} % of the old path")
print(f"ratio_vs_putobject: {ours / base:.2f}")
'
