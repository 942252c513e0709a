//! The thumbnails a client made, checked in full before they are kept (they are small):
//! a JPEG that decodes, no larger than its size, the shape of its photo, and carrying no
//! metadata, since they go into emails and onto the recipient page.

use image::{ImageDecoder, ImageReader, Limits};
use protocol::{ErrorCode, ThumbnailSize};

use crate::structure::Structure;
use crate::{Rejection, check_jpeg_complete, reject};

fn refused(message: impl Into<String>) -> Rejection {
    reject(ErrorCode::InvalidThumbnail, message)
}

/// Checks a client's thumbnail of `kind` for a photo of `original`'s structure; answers its
/// size in pixels.
pub fn check(
    bytes: &[u8],
    kind: ThumbnailSize,
    original: &Structure,
) -> Result<(u32, u32), Rejection> {
    if image::guess_format(bytes).ok() != Some(image::ImageFormat::Jpeg) {
        return Err(refused("A thumbnail must be a JPEG."));
    }
    if let Some(marker) = metadata_segment(bytes) {
        return Err(refused(format!(
            "A thumbnail may not carry metadata (it has {marker}); send it without."
        )));
    }
    check_jpeg_complete(bytes).map_err(|_| refused("This thumbnail is truncated."))?;
    let side = kind.max_side();
    let mut limits = Limits::default();
    limits.max_image_width = Some(side * 2);
    limits.max_image_height = Some(side * 2);
    let mut reader =
        ImageReader::with_format(std::io::Cursor::new(bytes), image::ImageFormat::Jpeg);
    reader.limits(limits);
    let decoder = reader
        .into_decoder()
        .map_err(|e| refused(format!("This thumbnail cannot be read ({e}).")))?;
    let (w, h) = decoder.dimensions();
    if w.max(h) > side {
        return Err(refused(format!(
            "This thumbnail is {w}×{h} pixels; a {} thumbnail is at most {side} on its longest side.",
            kind.as_str()
        )));
    }
    if w == 0 || h == 0 {
        return Err(refused("This thumbnail has no pixels."));
    }
    drop(decoder);
    decodes(bytes).map_err(|e| refused(format!("This thumbnail cannot be read ({e}).")))?;
    let expected_long = side.min(original.width.max(original.height));
    if w.max(h).abs_diff(expected_long) > 2 || !original.matches_aspect(w, h) {
        return Err(refused(format!(
            "This thumbnail is {w}×{h} pixels, which is not the photo ({}×{} upright) made smaller.",
            original.width, original.height
        )));
    }
    Ok((w, h))
}

/// Decodes a JPEG's whole bitstream. libjpeg-turbo at its smallest scale still reads every
/// coefficient (so damage anywhere is found) but saves most of the transform and colour work;
/// the image crate decodes in full where libjpeg-turbo declines.
fn decodes(bytes: &[u8]) -> Result<(), String> {
    if let Ok(mut d) = turbojpeg::Decompressor::new()
        && let Ok(header) = d.read_header(bytes)
        && d.set_scaling_factor(turbojpeg::ScalingFactor::ONE_EIGHTH)
            .is_ok()
    {
        let scaled = header.scaled(turbojpeg::ScalingFactor::ONE_EIGHTH);
        let mut out = turbojpeg::Image {
            pixels: vec![0u8; scaled.width * scaled.height * 3],
            width: scaled.width,
            pitch: scaled.width * 3,
            height: scaled.height,
            format: turbojpeg::PixelFormat::RGB,
        };
        return d
            .decompress(bytes, out.as_deref_mut())
            .map_err(|e| e.to_string());
    }
    image::load_from_memory_with_format(bytes, image::ImageFormat::Jpeg)
        .map(drop)
        .map_err(|e| e.to_string())
}

/// The first segment of a JPEG that holds metadata (EXIF, XMP, ICC and other application
/// segments, comments), named; the JFIF and Adobe segments say only how to decode.
pub fn metadata_segment(bytes: &[u8]) -> Option<String> {
    let mut pos = 2;
    loop {
        let m = bytes.get(pos..pos + 4)?;
        if m[0] != 0xFF {
            return None;
        }
        if m[1] == 0xFF {
            pos += 1;
            continue;
        }
        match m[1] {
            0xDA | 0xD9 => return None,
            0xD0..=0xD7 | 0x01 => {
                pos += 2;
                continue;
            }
            0xE1..=0xED | 0xEF => return Some(format!("an APP{} segment", m[1] - 0xE0)),
            0xFE => return Some("a comment".into()),
            _ => {}
        }
        let len = usize::from(u16::from_be_bytes([m[2], m[3]]));
        pos += 2 + len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{DynamicImage, ImageFormat, RgbImage};

    fn jpeg(w: u32, h: u32) -> Vec<u8> {
        let img = DynamicImage::ImageRgb8(RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x * 3) as u8, (y * 2) as u8, 120])
        }));
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Jpeg).expect("encode");
        out.into_inner()
    }

    fn photo(w: u32, h: u32) -> Structure {
        Structure {
            format: crate::Format::Jpeg,
            content_type: "image/jpeg",
            width: w,
            height: h,
            orientation: Some(1),
        }
    }

    fn code(r: Result<(u32, u32), Rejection>) -> Option<ErrorCode> {
        r.err().map(|r| r.code)
    }

    #[test]
    fn a_clean_smaller_jpeg_of_the_photo_is_accepted() {
        let original = photo(4000, 3000);
        assert_eq!(
            check(&jpeg(256, 192), ThumbnailSize::Grid, &original).ok(),
            Some((256, 192))
        );
        assert_eq!(
            check(&jpeg(1280, 960), ThumbnailSize::Preview, &original).ok(),
            Some((1280, 960))
        );
        // A photo smaller than the size is kept at its own size.
        assert!(check(&jpeg(200, 100), ThumbnailSize::Grid, &photo(200, 100)).is_ok());
    }

    #[test]
    fn wrong_shape_size_format_metadata_or_bytes_are_refused() {
        let original = photo(4000, 3000);
        let refused = Some(ErrorCode::InvalidThumbnail);
        assert_eq!(
            code(check(&jpeg(256, 256), ThumbnailSize::Grid, &original)),
            refused
        );
        assert_eq!(
            code(check(&jpeg(192, 256), ThumbnailSize::Grid, &original)),
            refused
        );
        assert_eq!(
            code(check(&jpeg(1280, 960), ThumbnailSize::Grid, &original)),
            refused
        );
        assert_eq!(
            code(check(&jpeg(640, 480), ThumbnailSize::Preview, &original)),
            refused
        );
        let exif = crate::structure::tests::jpeg_with_orientation(256, 192, 1);
        let r = check(&exif, ThumbnailSize::Grid, &original);
        assert_eq!(code(r.clone()), refused);
        assert!(r.err().is_some_and(|r| r.message.contains("metadata")));
        let png = {
            let mut out = std::io::Cursor::new(Vec::new());
            DynamicImage::new_rgb8(256, 192)
                .write_to(&mut out, ImageFormat::Png)
                .expect("png");
            out.into_inner()
        };
        assert_eq!(code(check(&png, ThumbnailSize::Grid, &original)), refused);
        let mut garbage = jpeg(256, 192);
        let mid = garbage.len() / 2;
        garbage.truncate(mid);
        assert_eq!(
            code(check(&garbage, ThumbnailSize::Grid, &original)),
            refused
        );
    }
}

#[cfg(test)]
mod damage {
    #[test]
    fn damage_in_the_middle_of_the_image_data_is_found() {
        let img = image::RgbImage::from_fn(256, 192, |x, y| {
            image::Rgb([(x * 7) as u8, (y * 3) as u8, ((x * y) % 251) as u8])
        });
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 85)
            .encode_image(&img)
            .expect("encode");
        let mid = jpeg.len() / 2;
        for b in &mut jpeg[mid..mid + 64] {
            *b = 0x00;
        }
        assert!(super::decodes(&jpeg).is_err());
    }
}
