#!/usr/bin/env bash
# Thumbnail benchmark (issue 4): the app's two thumbnails of every photo in a folder, made
# exactly as import makes them, beside vipsthumbnail making the same two sizes in the same
# run. With no folder given it assembles one from real photographs that Debian packages
# (KDE Plasma's wallpapers: 4 to 15 megapixels, some progressive) plus lossless
# progressive copies of some (jpegtran), so about 40 % are progressive.
# First, the HEICs of the HEIC corpus (scripts/heic-corpus.py: iPhone grids, a 200 MP phone
# photo, 10-bit camera files) beside heif-convert + vipsthumbnail, and the 200 MP photo's
# peak memory alone; `ratio_vs_vips: R` stays the last line.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
need_rust
need_apt vipsthumbnail:libvips-tools cmake:cmake nasm:nasm heif-convert:libheif-examples
heic=$(mktemp -d)
python3 - "$(heic_corpus)" "$heic" <<'PY'
import json, os, shutil, sys
src, dst = sys.argv[1], sys.argv[2]
for f in json.load(open(os.path.join(src, "corpus.json")))["files"]:
    if f["accepted"] and f["content_type"] == "image/heic":
        shutil.copy(os.path.join(src, f["file"]), dst)
PY
cargo run --release --locked -p desktop-core --example thumbnail_bench -- --heic "$heic"
rm -rf "$heic"
folder="${1:-}"
if [ -z "$folder" ]; then
  folder=$(mktemp -d)
  trap 'rm -rf "$folder"' EXIT
  real_photos "$folder"
fi
cargo run --release --locked -p desktop-core --example thumbnail_bench -- "$folder" "${@:2}"
