#!/usr/bin/env bash
# Seal benchmark (issue 14): sealing a 50-photo, 300 MB capsule (age files with a time-lock
# and an escrow stanza, written and synced) beside copying the same files in the same run,
# and opening them after the round. The ratio is printed last.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
need_rust
cargo run --release --locked -p seal --example seal_bench
