#!/usr/bin/env python3
"""Builds the HEIC test corpus into OUT_DIR: real phone and camera HEICs, iPhone-style grids
turned every way, damaged and hostile files, and for each file that must be accepted a
reference picture made by an independent decoder.

The real files come from the pillow-heif source package on PyPI (its tests/images; the
package's licence covers them, see its LICENSES_bundled.txt), pinned by version and SHA-256.
The turned grids are written by libheif's encoder (x265) through pillow-heif, the way an
iPhone writes them: 512-pixel tiles, the turn stored as `irot`/`imir`, and the EXIF
orientation tag kept at the same turn, so a reader that applies both turns the picture
twice and fails the test.

References: libheif 1.23 (pillow-heif's wheel) decodes each accepted file with its turns
applied; littleCMS (Pillow's ImageCms) converts it to sRGB from its ICC profile; alpha is
laid on white; Pillow's Lanczos filter fits it within 1280 pixels. The tests compare the
app's 1280-pixel thumbnail with that picture.

Writes OUT_DIR/corpus.json: one entry per file, with what must happen to it.
Usage: heic-corpus.py OUT_DIR
"""

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile

PILLOW_HEIF = "1.8.1"
SDIST_SHA256 = "521ebffb8a181d56c3904e5a61f20903edee0d9d3275967b8fb345f866215c06"
PREVIEW = 1280
# The project's limit for JPEG and HEIC (imaging's PixelLimits::DEFAULT.reduced).
MAX_PIXELS = 250_000_000


def need_modules():
    try:
        import pillow_heif  # noqa: F401
        from PIL import ImageCms, features

        ready = features.check("avif")
    except ImportError:
        ready = False
    if not ready:
        # pillow-heif for HEIC, a Pillow that writes AVIF (11.3 and later) for the AVIF case.
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--upgrade",
             f"pillow-heif=={PILLOW_HEIF}", "pillow>=11.3"],
            check=True,
        )


def sdist(cache):
    """The pillow-heif source package, downloaded once and checked."""
    path = os.path.join(cache, f"pillow_heif-{PILLOW_HEIF}.tar.gz")
    if not os.path.exists(path):
        # Through pip, which goes wherever this machine's package index is.
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
             "--dest", cache, f"pillow-heif=={PILLOW_HEIF}"],
            check=True,
        )
    digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
    if digest != SDIST_SHA256:
        os.remove(path)
        sys.exit(f"pillow-heif {PILLOW_HEIF} sdist has SHA-256 {digest}, expected {SDIST_SHA256}")
    return path


REAL = {
    # name in the corpus: path inside the sdist
    "iphone-grid.heic": "tests/images/heif_other/pug.heic",
    "xiaomi-grid.heic": "tests/images/heif_special/xiaomi.heic",
    "camera-10bit.hif": "tests/images/heif_other/cat.hif",
    "camera-10bit-turned.hif": "tests/images/heif_special/guitar_cw90.hif",
    "small-alpha.heif": "tests/images/heif/RGBA_8__128x128.heif",
    "libheif-truncated.heic": "tests/images/heif_truncated/truncated.heic",
    "phone-200mp.heic": "tests/images/heif_special/200MP.heic",
}


def assert_exif_orientation(data, orientation):
    """The file's Exif item still says `orientation` beside its `irot`/`imir`."""
    entry = b"\x01\x12\x00\x03\x00\x00\x00\x01" + orientation.to_bytes(2, "big")
    if entry not in data or (orientation != 1 and b"irot" not in data and b"imir" not in data):
        sys.exit(f"the turned grid lost its EXIF orientation {orientation} or its transform")


def reference(im, out_png):
    from PIL import Image, ImageCms

    icc = im.info.get("icc_profile")
    if icc:
        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        srgb = ImageCms.createProfile("sRGB")
        mode = "RGBA" if im.mode == "RGBA" else "RGB"
        im = ImageCms.profileToProfile(im.convert(mode), src, srgb, outputMode=mode)
    if im.mode in ("RGBA", "LA"):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(white, rgba)
    im = im.convert("RGB")
    im.thumbnail((PREVIEW, PREVIEW), Image.LANCZOS)
    im.save(out_png)
    return im.size


def build(work, cache):
    """Writes every file of the corpus and its reference into `work`; returns the entries."""
    import pillow_heif
    from PIL import Image

    pillow_heif.register_heif_opener()
    # The 200 MP phone photo is no bomb.
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    entries = []

    def accepted(name, data, width, height, content_type="image/heic", max_error=3.0, why=None):
        path = os.path.join(work, name)
        open(path, "wb").write(data)
        im = Image.open(io.BytesIO(data))
        im.load()
        assert im.size == (width, height), (name, im.size)
        reference(im, path + ".ref.png")
        entry = {"file": name, "accepted": True, "content_type": content_type, "width": width, "height": height}
        entry["max_error"] = max_error
        if why:
            entry["why"] = why
        entries.append(entry)

    def refused(name, data, code, why):
        open(os.path.join(work, name), "wb").write(data)
        entries.append({"file": name, "accepted": False, "code": code, "why": why})

    with tarfile.open(sdist(cache)) as tar:
        root = f"pillow_heif-{PILLOW_HEIF}/"
        real = {name: tar.extractfile(root + member).read() for name, member in REAL.items()}

    for name in ["iphone-grid.heic", "xiaomi-grid.heic", "camera-10bit.hif", "small-alpha.heif", "phone-200mp.heic"]:
        im = Image.open(io.BytesIO(real[name]))
        accepted(name, real[name], *im.size)
    # A 4:2:2 10-bit camera file (HEVC range extensions), turned by `irot`. libde265 (inside
    # libheif) drifts on its luma, by 9 levels on average against ffmpeg, whose luma plane is
    # identical to the app's decoder's. The reference still shows which way up it is and its
    # colours; only the bound is wider.
    im = Image.open(io.BytesIO(real["camera-10bit-turned.hif"]))
    accepted("camera-10bit-turned.hif", real["camera-10bit-turned.hif"], *im.size, max_error=12.0,
             why="libde265 decodes this 4:2:2 RExt stream's luma with a drift (checked against ffmpeg)")

    # iPhone-style grids turned each way, from the real iPhone photo at a quarter size.
    base = Image.open(io.BytesIO(real["iphone-grid.heic"]))
    base.load()
    icc = base.info.get("icc_profile")
    small = base.resize((1008, 756), Image.LANCZOS)
    for orientation in (1, 3, 6, 8, 2):
        exif = Image.Exif()
        exif[0x0112] = orientation
        buf = io.BytesIO()
        small.save(buf, format="HEIF", quality=85, tile_size=512, exif=exif.tobytes(), icc_profile=icc)
        data = buf.getvalue()
        assert_exif_orientation(data, orientation)
        w, h = (756, 1008) if orientation in (6, 8) else (1008, 756)
        accepted(f"iphone-grid-orientation-{orientation}.heic", data, w, h)

    # A grid with an alpha plane that fades from opaque to clear.
    rgba = small.convert("RGBA")
    alpha = Image.linear_gradient("L").resize(rgba.size)
    rgba.putalpha(alpha)
    buf = io.BytesIO()
    rgba.save(buf, format="HEIF", quality=85, tile_size=512)
    accepted("grid-alpha.heic", buf.getvalue(), *rgba.size)

    # A JPEG named .heic is a JPEG: the content decides, not the name.
    buf = io.BytesIO()
    small.convert("RGB").save(buf, format="JPEG", quality=90)
    accepted("jpeg-named.heic", buf.getvalue(), 1008, 756, content_type="image/jpeg")

    # Refusals, each for its own reason.
    whole = real["iphone-grid.heic"]
    refused("cut-at-60-percent.heic", whole[: len(whole) * 6 // 10], "corrupt_image", "the file ends inside the picture data")
    refused("libheif-truncated.heic", real["libheif-truncated.heic"], "corrupt_image", "pillow-heif's own truncated sample")
    # The grid's descriptor (version 0, flags 0, 6 rows, 8 columns, 4032x3024) made to claim
    # 256 rows: 2,048 cells over the data of 48 tiles.
    grid = b"\x00\x00\x05\x07\x0f\xc0\x0b\xd0"
    assert whole.count(grid) == 1, "the grid descriptor of the iPhone sample moved"
    refused("grid-claims-2048-tiles.heic", whole.replace(grid, b"\x00\x00\xff\x07\x0f\xc0\x0b\xd0"), "corrupt_image", "a grid claiming far more tiles than it holds")
    # A small single image whose size box claims 60000x60000.
    buf = io.BytesIO()
    small.resize((320, 240)).save(buf, format="HEIF", quality=70)
    data = buf.getvalue()
    ispe = b"ispe\x00\x00\x00\x00" + (320).to_bytes(4, "big") + (240).to_bytes(4, "big")
    assert data.count(ispe) == 1, "expected one size box"
    bomb = ispe[:8] + (60000).to_bytes(4, "big") + (60000).to_bytes(4, "big")
    refused("bomb-60000x60000.heic", data.replace(ispe, bomb), "image_too_large", "a size box claiming 3.6 gigapixels")
    buf = io.BytesIO()
    small.save(buf, format="AVIF", quality=70)
    refused("still.avif", buf.getvalue(), "unsupported_image_format", "an AVIF still (AV1 is not decoded)")
    refused("text-named.heic", b"These are notes, not a photo.\n" * 10, "unsupported_image_format", "text")

    return entries


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = os.path.abspath(sys.argv[1])
    need_modules()
    parent = os.path.dirname(out) or "."
    os.makedirs(parent, exist_ok=True)
    cache = os.path.join(parent, "heic-corpus-download")
    os.makedirs(cache, exist_ok=True)
    work = tempfile.mkdtemp(prefix="heic-corpus.", dir=parent)
    try:
        entries = build(work, cache)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    # The tests rebuild a corpus made by another version of this script.
    script = hashlib.sha256(open(os.path.abspath(__file__), "rb").read()).hexdigest()
    manifest = {"script_sha256": script, "pillow_heif": PILLOW_HEIF, "files": entries}
    json.dump(manifest, open(os.path.join(work, "corpus.json"), "w"), indent=1)
    if os.path.exists(out):
        shutil.rmtree(out)
    os.replace(work, out)
    print(f"HEIC corpus: {len(entries)} files in {out}")


if __name__ == "__main__":
    main()
