//! Photo checks shared by the server and the desktop app: the format is told from the
//! bytes (never the name or declared type), dimensions are checked before any pixel is
//! decoded, truncated JPEGs are caught, and EXIF orientation is applied so images come out
//! upright. Capture time and camera come from EXIF too (`metadata`).

pub mod heif;
pub mod metadata;
pub mod structure;
pub mod thumbnail;

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use protocol::ErrorCode;

/// Why a photo was refused: a code and a sentence for a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub code: ErrorCode,
    pub message: String,
}

fn reject(code: ErrorCode, message: impl Into<String>) -> Rejection {
    Rejection {
        code,
        message: message.into(),
    }
}

/// The accepted formats, told from a file's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Jpeg,
    Png,
    WebP,
    Gif,
    Tiff,
    Bmp,
    /// HEIC: HEVC-coded HEIF, as iPhones save photos.
    Heic,
}

impl Format {
    /// The media type a photo of this format is stored and offered with.
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Jpeg => "image/jpeg",
            Format::Png => "image/png",
            Format::WebP => "image/webp",
            Format::Gif => "image/gif",
            Format::Tiff => "image/tiff",
            Format::Bmp => "image/bmp",
            Format::Heic => "image/heic",
        }
    }

    /// The `image` crate's name for it, for the formats that crate decodes.
    pub fn image_format(self) -> Option<ImageFormat> {
        Some(match self {
            Format::Jpeg => ImageFormat::Jpeg,
            Format::Png => ImageFormat::Png,
            Format::WebP => ImageFormat::WebP,
            Format::Gif => ImageFormat::Gif,
            Format::Tiff => ImageFormat::Tiff,
            Format::Bmp => ImageFormat::Bmp,
            Format::Heic => return None,
        })
    }

    fn from_image_format(format: ImageFormat) -> Option<Format> {
        Some(match format {
            ImageFormat::Jpeg => Format::Jpeg,
            ImageFormat::Png => Format::Png,
            ImageFormat::WebP => Format::WebP,
            ImageFormat::Gif => Format::Gif,
            ImageFormat::Tiff => Format::Tiff,
            ImageFormat::Bmp => Format::Bmp,
            _ => return None,
        })
    }
}

/// The usual file extension for an accepted media type ("jpg" for anything unknown).
pub use protocol::names::extension;

/// Media types a client may announce.
pub const ACCEPTED_TYPES: [&str; 8] = [
    "image/jpeg",
    "image/png",
    "image/webp",
    "image/gif",
    "image/tiff",
    "image/bmp",
    "image/heic",
    "image/heif",
];

/// The accepted formats as named in refusals, here and by the server.
pub const ACCEPTED_NAMES: &str = "JPEG, PNG, WebP, GIF, TIFF, BMP or HEIC";

/// A decoded, upright photo.
#[derive(Debug)]
pub struct Decoded {
    pub image: DynamicImage,
    pub format: Format,
    pub content_type: &'static str,
}

fn corrupt(e: &dyn std::fmt::Display) -> Rejection {
    reject(
        ErrorCode::CorruptImage,
        format!("This photo is damaged and cannot be read ({e})."),
    )
}

/// Tells the format from the first bytes (at least 32 where the file has them), refusing
/// empty and unsupported files.
pub fn sniff(head: &[u8]) -> Result<Format, Rejection> {
    if head.is_empty() {
        return Err(reject(ErrorCode::EmptyPhoto, "This photo file is empty."));
    }
    match heif::brand(head) {
        Some(heif::Brand::Heif) => return Ok(Format::Heic),
        Some(heif::Brand::Avif) => return Err(heif::avif_refused()),
        None => {}
    }
    let format = image::guess_format(head).map_err(|_| {
        reject(
            ErrorCode::UnsupportedImageFormat,
            format!("This file is not a photo in a supported format ({ACCEPTED_NAMES})."),
        )
    })?;
    Format::from_image_format(format).ok_or_else(|| {
        reject(
            ErrorCode::UnsupportedImageFormat,
            format!("{format:?} images are not supported; use {ACCEPTED_NAMES}."),
        )
    })
}

/// How many pixels a photo may have: more for the formats decoded reduced for thumbnails
/// (JPEG at a DCT scale, HEIC grids tile by tile), whose memory does not grow with the
/// photo, than for those decoded whole (PNG and the rest). Each is a decompression-bomb
/// guard, checked from the header before anything is allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PixelLimits {
    /// JPEG and HEIC.
    pub reduced: u64,
    /// Every other format, and any photo that must be decoded at full size.
    pub whole: u64,
}

impl PixelLimits {
    /// 250 MP covers the 200 MP phones (Galaxy S2x Ultra); 100 MP is 400 MB of RGBA.
    pub const DEFAULT: PixelLimits = PixelLimits {
        reduced: 250_000_000,
        whole: 100_000_000,
    };

    /// The limit a photo of this format is held to.
    pub fn for_format(self, format: Format) -> u64 {
        match format {
            Format::Jpeg | Format::Heic => self.reduced,
            _ => self.whole,
        }
    }
}

impl Default for PixelLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A HEIC photo, after its container passed [`heif::layout`]: whole, or with a `target`
/// reduced where it is a large grid.
fn decode_heic(
    path: &Path,
    limits: PixelLimits,
    target: Option<u32>,
) -> Result<Reduced, Rejection> {
    let bytes = std::fs::read(path).map_err(|e| corrupt(&e))?;
    heif::layout(&mut &bytes[..], limits.reduced)?;
    let picture = heif::decode::decode(&bytes, limits, target)?;
    Ok(Reduced {
        image: picture.image,
        width: picture.width,
        height: picture.height,
        format: Format::Heic,
        content_type: Format::Heic.media_type(),
    })
}

/// Checks and decodes a photo file, upright. CPU- and memory-heavy: run on a blocking
/// thread, few at a time. `limits.whole` guards against decompression bombs: a larger
/// image is refused from its header, before any pixel is allocated.
pub fn decode(path: &Path, limits: PixelLimits) -> Result<Decoded, Rejection> {
    let max_pixels = limits.whole;
    let mut file = File::open(path).map_err(|e| corrupt(&e))?;
    let mut head = [0u8; 64];
    let n = read_up_to(&mut file, &mut head).map_err(|e| corrupt(&e))?;
    let format = sniff(&head[..n])?;
    let content_type = format.media_type();
    let Some(image_format) = format.image_format() else {
        drop(file);
        let r = decode_heic(path, limits, None)?;
        return Ok(Decoded {
            image: r.image,
            format: r.format,
            content_type: r.content_type,
        });
    };
    if format == Format::Jpeg && !jpeg_is_complete(&mut file).map_err(|e| corrupt(&e))? {
        return Err(truncated());
    }
    file.seek(SeekFrom::Start(0)).map_err(|e| corrupt(&e))?;

    let mut limits = Limits::default();
    limits.max_image_width = Some(100_000);
    limits.max_image_height = Some(100_000);
    // Room for the decoded pixels at 8 bytes each (16-bit RGBA) plus scratch space.
    limits.max_alloc = Some(max_pixels.saturating_mul(8).saturating_add(64 << 20));
    let mut reader = ImageReader::with_format(BufReader::new(file), image_format);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(|e| decode_error(&e))?;
    let (w, h) = decoder.dimensions();
    check_pixels(w, h, max_pixels)?;
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(|e| decode_error(&e))?;
    image.apply_orientation(orientation);
    Ok(Decoded {
        image,
        format,
        content_type,
    })
}

/// The two thumbnails the server makes for a photo whose client sent none.
#[derive(Debug)]
pub struct ServerThumbnails {
    /// At most 256 px on the longest side.
    pub grid: Vec<u8>,
    /// At most 1280 px on the longest side.
    pub preview: Vec<u8>,
}

/// Decodes a photo once (reduced where its format allows) and makes both thumbnails:
/// upright, JPEG, no metadata.
pub fn server_thumbnails(path: &Path, limits: PixelLimits) -> Result<ServerThumbnails, Rejection> {
    use protocol::ThumbnailSize::{Grid, Preview};
    let r = decode_reduced(path, limits, Preview.max_side())?;
    let preview = jpeg_thumbnail(&r.image, Preview.max_side(), 85)?;
    let grid = jpeg_thumbnail(&r.image, Grid.max_side(), 82)?;
    Ok(ServerThumbnails { grid, preview })
}

/// A JPEG of an image shrunk to fit `size` (never enlarged), alpha flattened onto white.
pub fn jpeg_thumbnail(image: &DynamicImage, size: u32, quality: u8) -> Result<Vec<u8>, Rejection> {
    let small = if image.width().max(image.height()) > size {
        image.thumbnail(size, size)
    } else {
        image.clone()
    };
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(&flatten(small))
        .map_err(|e| corrupt(&e))?;
    Ok(out)
}

fn decode_error(e: &image::ImageError) -> Rejection {
    match e {
        image::ImageError::Limits(_) => reject(
            ErrorCode::ImageTooLarge,
            "This image is too large to process.",
        ),
        image::ImageError::Unsupported(u) => reject(
            ErrorCode::UnsupportedImageFormat,
            format!("This image uses a feature that is not supported ({u})."),
        ),
        other => reject(
            ErrorCode::CorruptImage,
            format!("This photo is damaged and cannot be read ({other})."),
        ),
    }
}

/// Drops alpha onto white, so transparent PNGs do not get black thumbnails.
pub fn flatten(img: DynamicImage) -> image::RgbImage {
    if !img.color().has_alpha() {
        return img.to_rgb8();
    }
    let rgba = img.to_rgba8();
    image::RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let p = rgba.get_pixel(x, y).0;
        let a = u16::from(p[3]);
        let mix = |c: u8| ((u16::from(c) * a + 255 * (255 - a)) / 255) as u8;
        image::Rgb([mix(p[0]), mix(p[1]), mix(p[2])])
    })
}

fn read_up_to(f: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match f.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// A JPEG is complete when an end-of-image marker follows the first start-of-scan. The scan
/// is found by walking marker segments, so an EXIF thumbnail's own end marker (inside APP1)
/// does not count; entropy-coded data cannot contain FF D9.
fn jpeg_is_complete<R: Read + Seek>(f: &mut R) -> std::io::Result<bool> {
    f.seek(SeekFrom::Start(2))?;
    let mut r = BufReader::new(f);
    let mut pos: u64 = 2;
    // Walk segments up to the first SOS.
    loop {
        let mut marker = [0u8; 2];
        if r.read_exact(&mut marker).is_err() {
            return Ok(false);
        }
        pos += 2;
        if marker[0] != 0xFF {
            return Ok(false);
        }
        if marker[1] == 0xFF {
            // Fill byte: step back one so the next read sees FF xx.
            r.seek_relative(-1)?;
            pos -= 1;
            continue;
        }
        let mut len = [0u8; 2];
        if r.read_exact(&mut len).is_err() {
            return Ok(false);
        }
        let len = u64::from(u16::from_be_bytes(len));
        if len < 2 {
            return Ok(false);
        }
        r.seek_relative(i64::try_from(len - 2).unwrap_or(i64::MAX))?;
        pos += len;
        if marker[1] == 0xDA {
            break;
        }
    }
    // Look for FF D9 anywhere after the first scan header, from the end backwards: a
    // complete file has it in its last bytes, so only a damaged one is read through.
    let end = r.seek(SeekFrom::End(0))?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut hi = end;
    while hi > pos {
        let lo = hi.saturating_sub(buf.len() as u64).max(pos);
        let len = usize::try_from(hi - lo).unwrap_or(0);
        r.seek(SeekFrom::Start(lo))?;
        r.read_exact(&mut buf[..len])?;
        if buf[..len].windows(2).any(|w| w == [0xFF, 0xD9]) {
            return Ok(true);
        }
        // Step back one byte less than read, so a marker split across chunks is seen.
        hi = if lo == pos { pos } else { lo + 1 };
    }
    Ok(false)
}

/// A photo decoded for making thumbnails: upright, at least `target` pixels on its longest
/// side where the photo has that many, possibly smaller than the photo itself.
#[derive(Debug)]
pub struct Reduced {
    pub image: DynamicImage,
    /// The photo's full upright size.
    pub width: u32,
    pub height: u32,
    pub format: Format,
    pub content_type: &'static str,
}

/// Decodes a photo for thumbnails of at most `target` pixels, with every check of
/// [`decode`]. A JPEG (nearly every camera photo) is decoded by libjpeg-turbo at the
/// smallest DCT scale that keeps its longest side at `target` or more: a 24-megapixel photo
/// costs a sixteenth of a full decode. A large HEIC grid is decoded tile by tile into a
/// reduced canvas. Other formats, and JPEGs libjpeg-turbo declines (CMYK, say), are
/// decoded in full, within `limits.whole`.
pub fn decode_reduced(path: &Path, limits: PixelLimits, target: u32) -> Result<Reduced, Rejection> {
    let mut file = File::open(path).map_err(|e| corrupt(&e))?;
    let mut head = [0u8; 64];
    let n = read_up_to(&mut file, &mut head).map_err(|e| corrupt(&e))?;
    match sniff(&head[..n])? {
        Format::Jpeg => {
            let mut data = Vec::new();
            file.seek(SeekFrom::Start(0)).map_err(|e| corrupt(&e))?;
            file.read_to_end(&mut data).map_err(|e| corrupt(&e))?;
            check_jpeg_complete(&data)?;
            if let Some(r) = turbo_reduced(&data, target, limits)? {
                return Ok(r);
            }
        }
        Format::Heic => {
            drop(file);
            return decode_heic(path, limits, Some(target));
        }
        _ => {}
    }
    let d = decode(path, limits)?;
    Ok(Reduced {
        width: d.image.width(),
        height: d.image.height(),
        image: d.image,
        format: d.format,
        content_type: d.content_type,
    })
}

/// The libjpeg-turbo path of [`decode_reduced`]; `None` when it declines this JPEG.
fn turbo_reduced(
    data: &[u8],
    target: u32,
    limits: PixelLimits,
) -> Result<Option<Reduced>, Rejection> {
    let Ok(mut d) = turbojpeg::Decompressor::new() else {
        return Ok(None);
    };
    let Ok(header) = d.read_header(data) else {
        return Ok(None);
    };
    let (Ok(w), Ok(h)) = (u32::try_from(header.width), u32::try_from(header.height)) else {
        return Ok(None);
    };
    check_pixels(w, h, limits.reduced)?;
    let longest = header.width.max(header.height);
    let target = usize::try_from(target).unwrap_or(usize::MAX);
    let factor = [
        turbojpeg::ScalingFactor::ONE_EIGHTH,
        turbojpeg::ScalingFactor::ONE_QUARTER,
        turbojpeg::ScalingFactor::ONE_HALF,
    ]
    .into_iter()
    .find(|f| f.scale(longest) >= target)
    .unwrap_or(turbojpeg::ScalingFactor::ONE);
    if d.set_scaling_factor(factor).is_err() {
        return Ok(None);
    }
    let scaled = header.scaled(factor);
    let mut out = turbojpeg::Image {
        pixels: vec![0u8; scaled.width * scaled.height * 3],
        width: scaled.width,
        pitch: scaled.width * 3,
        height: scaled.height,
        format: turbojpeg::PixelFormat::RGB,
    };
    if d.decompress(data, out.as_deref_mut()).is_err() {
        return Ok(None);
    }
    let (Ok(sw), Ok(sh)) = (u32::try_from(scaled.width), u32::try_from(scaled.height)) else {
        return Ok(None);
    };
    let Some(rgb) = image::RgbImage::from_raw(sw, sh, out.pixels) else {
        return Ok(None);
    };
    // The orientation, from the same EXIF reading the full decoder uses.
    let orientation = image::codecs::jpeg::JpegDecoder::new(std::io::Cursor::new(data))
        .ok()
        .and_then(|mut dec| dec.orientation().ok())
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = DynamicImage::ImageRgb8(rgb);
    image.apply_orientation(orientation);
    let (width, height) = match orientation {
        image::metadata::Orientation::Rotate90
        | image::metadata::Orientation::Rotate270
        | image::metadata::Orientation::Rotate90FlipH
        | image::metadata::Orientation::Rotate270FlipH => (h, w),
        _ => (w, h),
    };
    Ok(Some(Reduced {
        image,
        width,
        height,
        format: Format::Jpeg,
        content_type: "image/jpeg",
    }))
}

/// Refuses dimensions over the pixel limit (a decompression-bomb guard, before decoding).
pub fn check_pixels(w: u32, h: u32, max_pixels: u64) -> Result<(), Rejection> {
    // A header can claim no rows or no columns (found by the photo fuzz target, a GIF); such
    // a file decodes to nothing that could be shown or thumbnailed.
    if w == 0 || h == 0 {
        return Err(reject(
            ErrorCode::CorruptImage,
            format!("This photo is damaged: it claims {w}×{h} pixels."),
        ));
    }
    if u64::from(w) * u64::from(h) > max_pixels {
        return Err(reject(
            ErrorCode::ImageTooLarge,
            format!(
                "This image is {w}×{h} pixels; the limit is {} megapixels.",
                max_pixels / 1_000_000
            ),
        ));
    }
    Ok(())
}

/// Checks that in-memory JPEG bytes are not truncated (see [`decode`]).
pub fn check_jpeg_complete(data: &[u8]) -> Result<(), Rejection> {
    match jpeg_is_complete(&mut std::io::Cursor::new(data)) {
        Ok(true) => Ok(()),
        _ => Err(truncated()),
    }
}

fn truncated() -> Rejection {
    reject(
        ErrorCode::CorruptImage,
        "This JPEG is truncated (it ends before the image does).",
    )
}

/// Hostile images for tests.
#[cfg(feature = "test-support")]
pub mod test_images {
    pub use crate::test_images_for_tests::png_bomb;
}

#[cfg(any(test, feature = "test-support"))]
pub(crate) mod test_images_for_tests {
    /// A valid PNG whose header claims `width`×`height` RGB pixels over a tiny body: a
    /// decompression bomb that must be refused from its header.
    pub fn png_bomb(width: u32, height: u32) -> Vec<u8> {
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&width.to_be_bytes());
        ihdr.extend_from_slice(&height.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
        chunk(&mut out, b"IHDR", &ihdr);
        // The start of a zlib stream of zeros; the header alone must stop the decoder.
        chunk(
            &mut out,
            b"IDAT",
            &[0x78, 0x9c, 0x63, 0x60, 0x18, 0x05, 0x00, 0x00],
        );
        chunk(&mut out, b"IEND", &[]);
        out
    }

    fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
        out.extend_from_slice(&u32::try_from(data.len()).unwrap_or(u32::MAX).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc32(&body).to_be_bytes());
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write_tmp(bytes: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().expect("tmp");
        f.write_all(bytes).expect("write");
        f
    }

    fn jpeg(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8, y as u8, 90]));
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
            .encode_image(&img)
            .expect("encode");
        out
    }

    #[test]
    fn an_image_without_rows_or_columns_is_refused_as_damaged() {
        // The photo fuzz target's find: a GIF whose screen and frames are 8×0.
        let gif = b"GIF89a\x08\x00\x00\x00\xf0\x14\x00\x80\x00\x80\x04\x00\x00!\xf9\x04\x00\x00\x00\x00\x00,\x00\x8a\x00\x00\x0a\x00\x08\x00\x00\x02\x08\x84\x8f\xa9\xcb\xed\x0fM\x00\xf0\x00\x00\x80\x00\x80\x00\x00\x00!\xf9\x04\x00\x00\x00\x00\x00,\x00\x8a\x00\x00\x0a\x00\x08\x00\x00\x01\x00;";
        let f = write_tmp(gif);
        for r in [
            decode(f.path(), PixelLimits::DEFAULT).err(),
            decode_reduced(f.path(), PixelLimits::DEFAULT, 256).err(),
        ] {
            assert_eq!(r.map(|r| r.code), Some(ErrorCode::CorruptImage));
        }
    }

    #[test]
    fn a_good_jpeg_decodes_and_thumbnails_shrink_but_never_grow() {
        let f = write_tmp(&jpeg(1200, 800));
        let d = decode(f.path(), PixelLimits::DEFAULT).expect("valid");
        assert_eq!(
            (d.content_type, d.image.width(), d.image.height()),
            ("image/jpeg", 1200, 800)
        );
        let t = image::load_from_memory(&jpeg_thumbnail(&d.image, 512, 80).expect("thumb"))
            .expect("jpeg");
        assert_eq!((t.width(), t.height()), (512, 341));
        let t = image::load_from_memory(&jpeg_thumbnail(&d.image, 4000, 80).expect("thumb"))
            .expect("jpeg");
        assert_eq!((t.width(), t.height()), (1200, 800));
    }

    #[test]
    fn truncated_jpeg_is_corrupt() {
        let full = jpeg(640, 480);
        let f = write_tmp(&full[..full.len() / 2]);
        assert_eq!(
            decode(f.path(), PixelLimits::DEFAULT).err().map(|r| r.code),
            Some(ErrorCode::CorruptImage)
        );
    }

    #[test]
    fn a_hollow_heic_text_and_empty_files_get_their_own_codes() {
        let mut heic = vec![0, 0, 0, 24];
        heic.extend_from_slice(b"ftypheic\0\0\0\0mif1heic");
        let mut avif = vec![0, 0, 0, 24];
        avif.extend_from_slice(b"ftypavif\0\0\0\0mif1miaf");
        let cases: [(&[u8], ErrorCode); 4] = [
            (&heic, ErrorCode::CorruptImage),
            (&avif, ErrorCode::UnsupportedImageFormat),
            (
                b"hello, I am text pretending to be a jpeg",
                ErrorCode::UnsupportedImageFormat,
            ),
            (b"", ErrorCode::EmptyPhoto),
        ];
        for (bytes, code) in cases {
            let f = write_tmp(bytes);
            assert_eq!(
                decode(f.path(), PixelLimits::DEFAULT).err().map(|r| r.code),
                Some(code)
            );
        }
    }
}
