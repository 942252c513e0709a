#!/usr/bin/env bash
# Coverage-guided fuzzing (cargo-fuzz, libFuzzer, nightly with AddressSanitizer) of the
# photo path of import (format, bomb guard, truncation, upright decode, EXIF), the server's
# request parsing (bodies into request types and their rules, If-Match versions) and photo
# file names on their way out. Each target runs for a bounded time (FUZZ_SECONDS, default
# 60) from its committed seed corpus (fuzz/corpus/<target>); a crash fails the run and its
# input is kept in fuzz/artifacts/<target>.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
need_rust
need_apt cmake:cmake nasm:nasm
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
need_cargo_tool cargo-fuzz "cargo-fuzz --locked"
seconds="${FUZZ_SECONDS:-60}"
target_dir="${CARGO_TARGET_DIR:-$PWD/target}/fuzz"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for t in ${FUZZ_TARGETS:-photo request file_name}; do
  step "fuzzing $t for ${seconds} s"
  mkdir -p "$work/$t"
  # New inputs go to the scratch corpus; the committed seeds are only read.
  if ! cargo +nightly fuzz run --fuzz-dir fuzz --target-dir "$target_dir" "$t" \
    "$work/$t" "fuzz/corpus/$t" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    > "$work/$t.log" 2>&1; then
    tail -n 60 "$work/$t.log" >&2
    echo "fuzz target $t failed; its input is in fuzz/artifacts/$t" >&2
    exit 1
  fi
  grep -E "^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::peak_rss_mb)" "$work/$t.log" || true
done
