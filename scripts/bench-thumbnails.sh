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
need_apt vipsthumbnail:libvips-tools cmake:cmake nasm:nasm jpegtran:libjpeg-turbo-progs
folder="${1:-}"
if [ -z "$folder" ]; then
  [ -d /usr/share/wallpapers/Autumn ] || need_apt_package plasma-workspace-wallpapers
  folder=$(mktemp -d)
  trap 'rm -rf "$folder"' EXIT
  # Every wallpaper JPEG of at least 2 megapixels (the big files), named after its set.
  find /usr/share/wallpapers -type f -name '*.jpg' -size +250k | while read -r f; do
    set_name=$(echo "$f" | cut -d/ -f5)
    cp "$f" "$folder/$set_name-$(basename "$f")"
  done
  rm -f "$folder"/*-720x1440.jpg
  for f in BytheWater ColdRipple EveningGlow FallenLeaf Kite Path SafeLanding-5120 Shell; do
    src=$(cd "$folder" && ls "$f"*.jpg | head -1)
    jpegtran -progressive -copy all -outfile "$folder/prog-$src" "$folder/$src"
  done
fi
cargo run --release --locked -p desktop-core --example thumbnail_bench -- "$folder" "${@:2}"
