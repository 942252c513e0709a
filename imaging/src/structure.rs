//! A photo's structure, read without decoding a single pixel: the format from its first
//! bytes, its dimensions from its header (so a decompression bomb is refused before anyone
//! allocates for it), its EXIF orientation where the format keeps one, and the end marker or
//! length field that tells a whole file from a truncated one. Only the head, the segments the
//! header points at and the tail are read, through [`ReadAt`], so a stored original can be
//! checked with a few ranged reads instead of being downloaded and decoded.

use protocol::ErrorCode;

use crate::{Format, PixelLimits, Rejection, check_pixels, corrupt, reject, sniff};

/// Reads bytes of a file at an offset: a local file, or ranged reads of a stored object.
pub trait ReadAt {
    /// The file's length in bytes.
    fn size(&self) -> u64;
    /// Up to `len` bytes from `offset` (fewer only at the end of the file).
    fn read_at(&mut self, offset: u64, len: usize) -> std::io::Result<Vec<u8>>;
}

impl ReadAt for &[u8] {
    fn size(&self) -> u64 {
        <[u8]>::len(self) as u64
    }

    fn read_at(&mut self, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(<[u8]>::len(self));
        let end = start.saturating_add(len).min(<[u8]>::len(self));
        Ok(self[start..end].to_vec())
    }
}

/// A local file.
pub struct FileAt {
    file: std::fs::File,
    len: u64,
}

impl FileAt {
    pub fn open(path: &std::path::Path) -> std::io::Result<Self> {
        let file = std::fs::File::open(path)?;
        let len = file.metadata()?.len();
        Ok(Self { file, len })
    }
}

impl ReadAt for FileAt {
    fn size(&self) -> u64 {
        self.len
    }

    fn read_at(&mut self, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
        use std::io::{Read, Seek, SeekFrom};
        self.file.seek(SeekFrom::Start(offset))?;
        let mut out = Vec::with_capacity(len.min(1 << 20));
        (&mut self.file)
            .take(u64::try_from(len).unwrap_or(u64::MAX))
            .read_to_end(&mut out)?;
        Ok(out)
    }
}

/// What the structure of a valid photo says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Structure {
    pub format: Format,
    pub content_type: &'static str,
    /// Upright dimensions: after the EXIF orientation, where it is known.
    pub width: u32,
    pub height: u32,
    /// The EXIF orientation (1 to 8; for a HEIC, the one with the effect of its `irot` and
    /// `imir`), or None where this format's orientation is not read here (its thumbnails
    /// may then be turned either way).
    pub orientation: Option<u8>,
}

impl Structure {
    /// Whether a picture of `w`×`h` pixels may be this photo made smaller: the same aspect
    /// ratio within rounding, and (for a format whose orientation is not read here) either
    /// way round.
    pub fn matches_aspect(&self, w: u32, h: u32) -> bool {
        let fits = |ow: u32, oh: u32| {
            // The original scaled to the picture's longest side: each side may be off by
            // the rounding of a resize.
            let (ow, oh, w, h) = (f64::from(ow), f64::from(oh), f64::from(w), f64::from(h));
            let scale = w.max(h) / ow.max(oh).max(1.0);
            (ow * scale - w).abs() <= 2.0 && (oh * scale - h).abs() <= 2.0
        };
        fits(self.width, self.height)
            || (self.orientation.is_none() && fits(self.height, self.width))
    }
}

const HEAD: usize = 64 * 1024;
const TAIL: usize = 64 * 1024;

/// Checks a photo's structure without decoding it. Refuses, each with its own code, empty
/// files, what is not an accepted image (text, AVIF, …), headers over the format's pixel
/// limit, and files cut short.
pub fn check(src: &mut dyn ReadAt, limits: PixelLimits) -> Result<Structure, Rejection> {
    let len = src.size();
    let head = src.read_at(0, HEAD).map_err(|e| corrupt(&e))?;
    let format = sniff(&head)?;
    let content_type = format.media_type();
    let (w, h, orientation) = match format {
        Format::Jpeg => jpeg(src, len)?,
        Format::Png => png(src, &head, len)?,
        Format::WebP => webp(&head, len)?,
        Format::Gif => gif(src, &head, len)?,
        Format::Bmp => bmp(&head, len)?,
        Format::Tiff => tiff(src, &head, len)?,
        Format::Heic => {
            let l = crate::heif::layout_after(src, &head, limits.reduced)?;
            (l.width, l.height, Some(l.orientation))
        }
    };
    check_pixels(w, h, limits.for_format(format))?;
    let (width, height) = match orientation {
        Some(5..=8) => (h, w),
        _ => (w, h),
    };
    Ok(Structure {
        format,
        content_type,
        width,
        height,
        orientation,
    })
}

fn damaged(what: &str) -> Rejection {
    reject(
        ErrorCode::CorruptImage,
        format!("This photo is damaged and cannot be read ({what})."),
    )
}

fn truncated(format: &str) -> Rejection {
    reject(
        ErrorCode::CorruptImage,
        format!("This {format} is truncated (it ends before the image does)."),
    )
}

fn be16(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from(u16::from_be_bytes(
        b.get(at..at + 2)?.try_into().ok()?,
    )))
}

fn le16(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from(u16::from_le_bytes(
        b.get(at..at + 2)?.try_into().ok()?,
    )))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The tail of a file: its last bytes, at most [`TAIL`], and where they start.
fn tail(src: &mut dyn ReadAt, len: u64) -> Result<(u64, Vec<u8>), Rejection> {
    let start = len.saturating_sub(TAIL as u64);
    let bytes = src.read_at(start, TAIL).map_err(|e| corrupt(&e))?;
    Ok((start, bytes))
}

/// JPEG: the marker segments up to the first start-of-scan give the frame size and the
/// EXIF orientation; an end-of-image marker must follow that scan in the file's tail.
fn jpeg(src: &mut dyn ReadAt, len: u64) -> Result<(u32, u32, Option<u8>), Rejection> {
    let mut pos: u64 = 2;
    let mut size = None;
    let mut orientation = None;
    let scan_at = loop {
        let m = src.read_at(pos, 4).map_err(|e| corrupt(&e))?;
        if m.len() < 2 {
            return Err(truncated("JPEG"));
        }
        if m[0] != 0xFF {
            return Err(damaged("no marker where one belongs"));
        }
        if m[1] == 0xFF {
            pos += 1;
            continue;
        }
        // Markers without a length.
        if matches!(m[1], 0xD0..=0xD7 | 0x01) {
            pos += 2;
            continue;
        }
        let seg_len = be16(&m, 2).ok_or_else(|| truncated("JPEG"))?;
        if seg_len < 2 {
            return Err(damaged("a segment shorter than its own length field"));
        }
        let body_at = pos + 4;
        match m[1] {
            // Start of frame (baseline, progressive, lossless, arithmetic…): height, width.
            0xC0..=0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => {
                let f = src.read_at(body_at, 5).map_err(|e| corrupt(&e))?;
                let (h, w) = (be16(&f, 1), be16(&f, 3));
                if let (Some(h), Some(w)) = (h, w) {
                    size.get_or_insert((w, h));
                }
            }
            0xE1 if orientation.is_none() => {
                let body = src
                    .read_at(body_at, usize::try_from(seg_len - 2).unwrap_or(0))
                    .map_err(|e| corrupt(&e))?;
                if let Some(exif) = body.strip_prefix(b"Exif\0\0") {
                    orientation = exif_orientation(exif);
                }
            }
            0xDA => break pos,
            0xD9 => return Err(damaged("the image ends before it begins")),
            _ => {}
        }
        pos += 2 + u64::from(seg_len);
        if pos >= len {
            return Err(truncated("JPEG"));
        }
    };
    let (w, h) = size.ok_or_else(|| damaged("no frame header before the image data"))?;
    let (start, bytes) = tail(src, len)?;
    let from = usize::try_from(scan_at.saturating_sub(start)).unwrap_or(0);
    let ended = bytes
        .get(from..)
        .is_some_and(|b| b.windows(2).any(|w| w == [0xFF, 0xD9]));
    if !ended {
        return Err(truncated("JPEG"));
    }
    Ok((w, h, Some(orientation.unwrap_or(1))))
}

/// The orientation tag of an EXIF block (a TIFF structure), 1 to 8.
pub fn exif_orientation(tiff: &[u8]) -> Option<u8> {
    let exif = exif::Reader::new().read_raw(tiff.to_vec()).ok()?;
    let field = exif.get_field(exif::Tag::Orientation, exif::In::PRIMARY)?;
    let v = field.value.get_uint(0)?;
    u8::try_from(v).ok().filter(|o| (1..=8).contains(o))
}

/// PNG: IHDR gives the size; the file must end with an IEND chunk.
fn png(src: &mut dyn ReadAt, head: &[u8], len: u64) -> Result<(u32, u32, Option<u8>), Rejection> {
    if head.get(12..16) != Some(b"IHDR") {
        return Err(damaged("no IHDR chunk"));
    }
    let (w, h) = (be32(head, 16), be32(head, 20));
    let (Some(w), Some(h)) = (w, h) else {
        return Err(truncated("PNG"));
    };
    let (_, bytes) = tail(src, len)?;
    const IEND: [u8; 12] = [0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xAE, 0x42, 0x60, 0x82];
    if !bytes.ends_with(&IEND) {
        return Err(truncated("PNG"));
    }
    Ok((w, h, None))
}

/// WebP: the RIFF length must cover the file; the first chunk gives the size.
fn webp(head: &[u8], len: u64) -> Result<(u32, u32, Option<u8>), Rejection> {
    let riff = le32(head, 4).ok_or_else(|| truncated("WebP"))?;
    if u64::from(riff) + 8 > len {
        return Err(truncated("WebP"));
    }
    let kind = head.get(12..16).ok_or_else(|| truncated("WebP"))?;
    let size = match kind {
        b"VP8 " => {
            // The frame tag (3 bytes) and start code (3), then 14-bit width and height.
            if head.get(23..26) != Some(&[0x9d, 0x01, 0x2a]) {
                return Err(damaged("a VP8 frame without its start code"));
            }
            le16(head, 26)
                .zip(le16(head, 28))
                .map(|(w, h)| (w & 0x3fff, h & 0x3fff))
        }
        b"VP8L" => {
            if head.get(20) != Some(&0x2f) {
                return Err(damaged("a lossless frame without its signature"));
            }
            le32(head, 21).map(|b| ((b & 0x3fff) + 1, ((b >> 14) & 0x3fff) + 1))
        }
        b"VP8X" => {
            let le24 = |at: usize| -> Option<u32> {
                let b = head.get(at..at + 3)?;
                Some(u32::from(b[0]) | u32::from(b[1]) << 8 | u32::from(b[2]) << 16)
            };
            le24(24).zip(le24(27)).map(|(w, h)| (w + 1, h + 1))
        }
        _ => return Err(damaged("an unknown first chunk")),
    };
    let (w, h) = size.ok_or_else(|| truncated("WebP"))?;
    Ok((w, h, None))
}

/// GIFs up to this size are walked block by block; larger ones (rare animations) are only
/// checked for their trailer byte.
const GIF_WALK_MAX: u64 = 32 * 1024 * 1024;

/// GIF: the logical screen gives the size; its blocks, walked one after another, must end
/// with the trailer (a trailer byte alone could be any byte of image data).
fn gif(src: &mut dyn ReadAt, head: &[u8], len: u64) -> Result<(u32, u32, Option<u8>), Rejection> {
    let (Some(w), Some(h)) = (le16(head, 6), le16(head, 8)) else {
        return Err(truncated("GIF"));
    };
    if len > GIF_WALK_MAX {
        let (_, bytes) = tail(src, len)?;
        if bytes.last() != Some(&0x3B) {
            return Err(truncated("GIF"));
        }
        return Ok((w, h, None));
    }
    let all = src
        .read_at(0, usize::try_from(len).unwrap_or(usize::MAX))
        .map_err(|e| corrupt(&e))?;
    let at = |i: usize| all.get(i).copied().ok_or_else(|| truncated("GIF"));
    // Header (6), screen descriptor (7), then the global colour table when flagged.
    let mut i = 13;
    let flags = at(10)?;
    if flags & 0x80 != 0 {
        i += 3 << ((flags & 0x07) + 1);
    }
    let skip_sub_blocks = |mut i: usize| -> Result<usize, Rejection> {
        loop {
            let n = usize::from(at(i)?);
            i += 1;
            if n == 0 {
                return Ok(i);
            }
            i += n;
        }
    };
    loop {
        match at(i)? {
            0x3B => return Ok((w, h, None)),
            // An extension: its label, then data sub-blocks.
            0x21 => i = skip_sub_blocks(i + 2)?,
            // An image: descriptor (10), local colour table, LZW code size, data.
            0x2C => {
                let local = at(i + 9)?;
                i += 10;
                if local & 0x80 != 0 {
                    i += 3 << ((local & 0x07) + 1);
                }
                i = skip_sub_blocks(i + 1)?;
            }
            _ => return Err(damaged("an unknown block")),
        }
    }
}

/// BMP: the file header states the file's size; the info header the image's.
fn bmp(head: &[u8], len: u64) -> Result<(u32, u32, Option<u8>), Rejection> {
    let declared = le32(head, 2).ok_or_else(|| truncated("BMP"))?;
    if u64::from(declared) > len {
        return Err(truncated("BMP"));
    }
    let info = le32(head, 14).ok_or_else(|| truncated("BMP"))?;
    let (w, h) = if info == 12 {
        (le16(head, 18), le16(head, 20))
    } else {
        // Height is negative for top-down bitmaps.
        let signed = |v: Option<u32>| v.map(|v| (v as i32).unsigned_abs());
        (signed(le32(head, 18)), signed(le32(head, 22)))
    };
    let (Some(w), Some(h)) = (w, h) else {
        return Err(truncated("BMP"));
    };
    Ok((w, h, None))
}

/// TIFF: the first directory gives the size and orientation; its strips or tiles must lie
/// inside the file.
fn tiff(src: &mut dyn ReadAt, head: &[u8], len: u64) -> Result<(u32, u32, Option<u8>), Rejection> {
    let little = match head.get(0..2) {
        Some(b"II") => true,
        Some(b"MM") => false,
        _ => return Err(damaged("no byte order")),
    };
    let u16_at = |b: &[u8], at: usize| if little { le16(b, at) } else { be16(b, at) };
    let u32_at = |b: &[u8], at: usize| if little { le32(b, at) } else { be32(b, at) };
    let ifd = u64::from(u32_at(head, 4).ok_or_else(|| truncated("TIFF"))?);
    if ifd + 2 > len {
        return Err(truncated("TIFF"));
    }
    let count = u16_at(&src.read_at(ifd, 2).map_err(|e| corrupt(&e))?, 0)
        .ok_or_else(|| truncated("TIFF"))?;
    let entries = src
        .read_at(ifd + 2, usize::try_from(count).unwrap_or(0) * 12)
        .map_err(|e| corrupt(&e))?;
    if entries.len() < usize::try_from(count).unwrap_or(0) * 12 {
        return Err(truncated("TIFF"));
    }
    let (mut w, mut h, mut orientation) = (None, None, None);
    let mut offsets: Option<(u32, u32, u32)> = None; // (type, count, value)
    let mut lengths: Option<(u32, u32, u32)> = None;
    for e in entries.chunks_exact(12) {
        let (Some(tag), Some(kind), Some(n)) = (u16_at(e, 0), u16_at(e, 2), u32_at(e, 4)) else {
            continue;
        };
        // A SHORT value sits in the first two bytes of the value field.
        let value = if kind == 3 {
            u16_at(e, 8)
        } else {
            u32_at(e, 8)
        };
        match tag {
            256 => w = value,
            257 => h = value,
            274 => orientation = value.and_then(|v| u8::try_from(v).ok()),
            273 | 324 => offsets = value.map(|v| (kind, n, v)),
            279 | 325 => lengths = value.map(|v| (kind, n, v)),
            _ => {}
        }
    }
    let (Some(w), Some(h)) = (w, h) else {
        return Err(damaged("no image size in the first directory"));
    };
    // With one strip the values are inline; with more they point at arrays.
    if let (Some((_, 1, off)), Some((_, 1, n))) = (offsets, lengths)
        && u64::from(off) + u64::from(n) > len
    {
        return Err(truncated("TIFF"));
    }
    if let (Some((kind, n, at)), Some((lkind, ln, lat))) = (offsets, lengths)
        && n > 1
        && n == ln
        && n <= 65_536
    {
        let width = |k: u32| if k == 3 { 2usize } else { 4 };
        let read = |src: &mut dyn ReadAt, at: u32, k: u32| {
            src.read_at(u64::from(at), width(k) * usize::try_from(n).unwrap_or(0))
        };
        let offs = read(src, at, kind).map_err(|e| corrupt(&e))?;
        let lens = read(src, lat, lkind).map_err(|e| corrupt(&e))?;
        let item = |b: &[u8], i: usize, k: u32| {
            if k == 3 {
                u16_at(b, i * 2)
            } else {
                u32_at(b, i * 4)
            }
        };
        for i in 0..usize::try_from(n).unwrap_or(0) {
            let (Some(o), Some(l)) = (item(&offs, i, kind), item(&lens, i, lkind)) else {
                return Err(truncated("TIFF"));
            };
            if u64::from(o) + u64::from(l) > len {
                return Err(truncated("TIFF"));
            }
        }
    }
    let orientation = Some(orientation.filter(|o| (1..=8).contains(o)).unwrap_or(1));
    Ok((w, h, orientation))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use image::{DynamicImage, ImageFormat, RgbImage};

    fn encoded(w: u32, h: u32, format: ImageFormat) -> Vec<u8> {
        let img = DynamicImage::ImageRgb8(RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x * 7) as u8, (y * 5) as u8, 80])
        }));
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, format).expect("encode");
        out.into_inner()
    }

    /// A JPEG with an EXIF orientation, as a camera writes it: APP1 right after SOI.
    pub(crate) fn jpeg_with_orientation(w: u32, h: u32, orientation: u16) -> Vec<u8> {
        let plain = encoded(w, h, ImageFormat::Jpeg);
        let mut tiff = b"MM\0\x2a\0\0\0\x08\0\x01".to_vec();
        tiff.extend_from_slice(&274u16.to_be_bytes());
        tiff.extend_from_slice(&3u16.to_be_bytes());
        tiff.extend_from_slice(&1u32.to_be_bytes());
        tiff.extend_from_slice(&orientation.to_be_bytes());
        tiff.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        let mut app1 = b"Exif\0\0".to_vec();
        app1.extend_from_slice(&tiff);
        let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
        out.extend_from_slice(&u16::try_from(app1.len() + 2).expect("len").to_be_bytes());
        out.extend_from_slice(&app1);
        out.extend_from_slice(&plain[2..]);
        out
    }

    fn check_bytes(bytes: &[u8]) -> Result<Structure, Rejection> {
        check(&mut &bytes[..], PixelLimits::DEFAULT)
    }

    #[test]
    fn every_format_is_read_from_its_header_with_its_size() {
        for format in [
            ImageFormat::Jpeg,
            ImageFormat::Png,
            ImageFormat::WebP,
            ImageFormat::Gif,
            ImageFormat::Bmp,
            ImageFormat::Tiff,
        ] {
            let s = check_bytes(&encoded(300, 200, format)).expect("valid");
            assert_eq!(
                (s.format.image_format(), s.width, s.height),
                (Some(format), 300, 200),
                "{format:?}"
            );
        }
    }

    #[test]
    fn a_turned_jpeg_reports_its_upright_size() {
        let s = check_bytes(&jpeg_with_orientation(400, 300, 6)).expect("valid");
        assert_eq!((s.width, s.height, s.orientation), (300, 400, Some(6)));
        assert!(s.matches_aspect(192, 256));
        assert!(!s.matches_aspect(256, 192), "not the other way round");
    }

    #[test]
    fn cut_files_are_refused_as_damaged() {
        for format in [
            ImageFormat::Jpeg,
            ImageFormat::Png,
            ImageFormat::WebP,
            ImageFormat::Gif,
            ImageFormat::Bmp,
        ] {
            let full = encoded(300, 200, format);
            let cut = &full[..full.len() * 3 / 4];
            assert_eq!(
                check_bytes(cut).err().map(|r| r.code),
                Some(ErrorCode::CorruptImage),
                "{format:?}"
            );
        }
    }

    #[test]
    fn a_bomb_is_refused_from_its_header_and_text_is_no_photo() {
        let bomb = crate::test_images_for_tests::png_bomb(60_000, 60_000);
        assert_eq!(
            check_bytes(&bomb).err().map(|r| r.code),
            Some(ErrorCode::ImageTooLarge)
        );
        assert_eq!(
            check_bytes(b"I am text, not a photo at all.")
                .err()
                .map(|r| r.code),
            Some(ErrorCode::UnsupportedImageFormat)
        );
        assert_eq!(
            check_bytes(b"").err().map(|r| r.code),
            Some(ErrorCode::EmptyPhoto)
        );
    }
}
