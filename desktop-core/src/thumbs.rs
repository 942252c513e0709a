//! Both thumbnails of a photo from one decode (`imaging::decode_reduced`: JPEGs through
//! libjpeg-turbo at the smallest DCT scale that still gives the preview its full
//! resolution, so a 24-megapixel photo is decoded at a sixteenth of its pixels). Both
//! sizes are resized with a Lanczos-3 filter, the grid from the preview and never from the
//! full image again, and encoded by libjpeg-turbo.

use std::path::Path;

use fast_image_resize::images::Image as FirImage;
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use imaging::Rejection;
use protocol::ErrorCode;

use crate::library::ThumbSize;
use imaging::metadata::{self, Metadata};

/// The two JPEG thumbnails of a photo.
#[derive(Debug, Clone)]
pub struct Thumbnails {
    /// Longest side at most [`ThumbSize::Preview`].
    pub preview: Vec<u8>,
    /// Longest side at most [`ThumbSize::Grid`].
    pub grid: Vec<u8>,
}

/// What one decode of a photo gives.
#[derive(Debug, Clone)]
pub struct Made {
    pub thumbnails: Thumbnails,
    /// Upright size of the photo.
    pub width: u32,
    pub height: u32,
    pub content_type: &'static str,
    pub meta: Metadata,
}

const PREVIEW_QUALITY: i32 = 85;
const GRID_QUALITY: i32 = 82;

fn rejection(code: ErrorCode, message: String) -> Rejection {
    Rejection { code, message }
}

/// Makes both thumbnails of the photo at `path`, refusing what import refuses.
pub fn make(path: &Path, max_pixels: imaging::PixelLimits) -> Result<Made, Rejection> {
    let reduced = imaging::decode_reduced(path, max_pixels, ThumbSize::Preview.pixels())?;
    let meta = metadata::read(path);
    let rgb = imaging::flatten(reduced.image);
    let (w, h) = rgb.dimensions();
    let thumbnails = from_rgb(rgb.into_raw(), w, h, (reduced.width, reduced.height))?;
    Ok(Made {
        thumbnails,
        width: reduced.width,
        height: reduced.height,
        content_type: reduced.content_type,
        meta,
    })
}

/// Both thumbnails from upright RGB pixels of a photo whose full size is `full`: the
/// thumbnails' sizes come from the photo's own shape, not from the decoded picture's, which
/// a reduced decode may have rounded.
fn from_rgb(rgb: Vec<u8>, w: u32, h: u32, full: (u32, u32)) -> Result<Thumbnails, Rejection> {
    let src = FirImage::from_vec_u8(w, h, rgb, PixelType::U8x3).map_err(|e| {
        rejection(
            ErrorCode::CorruptImage,
            format!("This photo could not be read ({e})."),
        )
    })?;
    let mut resizer = Resizer::new();
    let preview = shrink(&mut resizer, &src, full, ThumbSize::Preview.pixels())?.unwrap_or(src);
    let grid = match shrink(&mut resizer, &preview, full, ThumbSize::Grid.pixels())? {
        Some(g) => g,
        None => FirImage::from_vec_u8(
            preview.width(),
            preview.height(),
            preview.buffer().to_vec(),
            PixelType::U8x3,
        )
        .map_err(|e| rejection(ErrorCode::CorruptImage, e.to_string()))?,
    };
    Ok(Thumbnails {
        preview: encode(&preview, PREVIEW_QUALITY)?,
        grid: encode(&grid, GRID_QUALITY)?,
    })
}

/// The image fitted within `size`×`size` with the proportions of `shape`; `None` when it
/// already fits (never enlarged).
fn shrink(
    resizer: &mut Resizer,
    src: &FirImage<'static>,
    shape: (u32, u32),
    size: u32,
) -> Result<Option<FirImage<'static>>, Rejection> {
    if src.width().max(src.height()) <= size {
        return Ok(None);
    }
    let (w, h) = shape;
    let scale = f64::from(size) / f64::from(w.max(h).max(1));
    let nw = ((f64::from(w) * scale).round() as u32).max(1);
    let nh = ((f64::from(h) * scale).round() as u32).max(1);
    let mut dst = FirImage::new(nw, nh, PixelType::U8x3);
    resizer
        .resize(
            src,
            &mut dst,
            &ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3)),
        )
        .map_err(|e| {
            rejection(
                ErrorCode::CorruptImage,
                format!("This photo could not be resized ({e})."),
            )
        })?;
    Ok(Some(dst))
}

/// Encodes a thumbnail as a JPEG without metadata.
fn encode(img: &FirImage<'static>, quality: i32) -> Result<Vec<u8>, Rejection> {
    let image = turbojpeg::Image {
        pixels: img.buffer(),
        width: img.width() as usize,
        pitch: img.width() as usize * 3,
        height: img.height() as usize,
        format: turbojpeg::PixelFormat::RGB,
    };
    turbojpeg::compress(image, quality, turbojpeg::Subsamp::Sub2x2)
        .map(|buf| buf.to_vec())
        .map_err(|e| {
            rejection(
                ErrorCode::CorruptImage,
                format!("The thumbnail could not be written ({e})."),
            )
        })
}
