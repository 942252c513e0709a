#!/usr/bin/env bash
# Thumbnail benchmark (issue 4): the app's two thumbnails of every photo in a folder, made
# exactly as import makes them, beside vipsthumbnail making the same two sizes in the same
# run. With no folder given it assembles one from real photographs that Debian packages
# (KDE Plasma's wallpapers: 4 to 15 megapixels, some progressive) plus lossless
# progressive copies of some (jpegtran), so about 40 % are progressive.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
need_rust
need_apt vipsthumbnail:libvips-tools cmake:cmake nasm:nasm
folder="${1:-}"
if [ -z "$folder" ]; then
  folder=$(mktemp -d)
  trap 'rm -rf "$folder"' EXIT
  real_photos "$folder"
fi
cargo run --release --locked -p desktop-core --example thumbnail_bench -- "$folder" "${@:2}"
