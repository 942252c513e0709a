//! Both thumbnails of a photo from one decode. JPEGs (nearly every camera photo) go
//! through libjpeg-turbo, decoded at the smallest DCT scale that still gives the preview
//! its full resolution, so a 24-megapixel photo is decoded at a sixteenth of its pixels;
//! every other format, and any JPEG libjpeg-turbo cannot read, goes through the shared
//! `imaging` decoder. Both sizes are then resized with a Lanczos-3 filter (the grid from
//! the preview, never from the full image again), turned upright, and encoded by
//! libjpeg-turbo.

use std::path::Path;

use fast_image_resize::images::Image as FirImage;
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::ImageFormat;
use image::metadata::Orientation;
use imaging::Rejection;
use protocol::ErrorCode;

use crate::library::ThumbSize;
use crate::metadata::{self, Metadata};

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

fn io_rejection(e: &std::io::Error) -> Rejection {
    rejection(
        ErrorCode::CorruptImage,
        format!("This file could not be read ({e})."),
    )
}

/// Makes both thumbnails of the photo at `path`, refusing what import refuses.
pub fn make(path: &Path, max_pixels: u64) -> Result<Made, Rejection> {
    let mut head = [0u8; 32];
    let n = {
        use std::io::Read;
        let mut f = std::fs::File::open(path).map_err(|e| io_rejection(&e))?;
        let mut filled = 0;
        while filled < head.len() {
            match f.read(&mut head[filled..]).map_err(|e| io_rejection(&e))? {
                0 => break,
                k => filled += k,
            }
        }
        filled
    };
    let format = imaging::sniff(&head[..n])?;
    if format == ImageFormat::Jpeg {
        let data = std::fs::read(path).map_err(|e| io_rejection(&e))?;
        imaging::check_jpeg_complete(&data)?;
        let meta = metadata::read_bytes(&data);
        match turbo_decode(&data, ThumbSize::Preview.pixels(), max_pixels) {
            Ok(Some((rgb, w, h, full_w, full_h))) => {
                let orientation =
                    Orientation::from_exif(meta.orientation).unwrap_or(Orientation::NoTransforms);
                let (width, height) = upright(full_w, full_h, orientation);
                let thumbnails = from_rgb(rgb, w, h, orientation)?;
                return Ok(Made {
                    thumbnails,
                    width,
                    height,
                    content_type: "image/jpeg",
                    meta,
                });
            }
            Ok(None) => {}
            Err(r) => return Err(r),
        }
    }
    // Everything else, and JPEGs libjpeg-turbo declined (CMYK, say).
    let decoded = imaging::decode(path, max_pixels)?;
    let meta = metadata::read(path);
    let (width, height) = (decoded.image.width(), decoded.image.height());
    let rgb = imaging::flatten(decoded.image);
    let (w, h) = rgb.dimensions();
    let thumbnails = from_rgb(rgb.into_raw(), w, h, Orientation::NoTransforms)?;
    Ok(Made {
        thumbnails,
        width,
        height,
        content_type: decoded.content_type,
        meta,
    })
}

fn upright(w: u32, h: u32, o: Orientation) -> (u32, u32) {
    match o {
        Orientation::Rotate90
        | Orientation::Rotate270
        | Orientation::Rotate90FlipH
        | Orientation::Rotate270FlipH => (h, w),
        _ => (w, h),
    }
}

/// Decodes a JPEG at the smallest scale whose longest side still reaches `target`;
/// answers the RGB pixels, their size, and the full size. `None` when libjpeg-turbo
/// cannot decode this JPEG to RGB (the caller falls back); a rejection when it is too
/// large or damaged.
#[allow(clippy::type_complexity)]
fn turbo_decode(
    data: &[u8],
    target: u32,
    max_pixels: u64,
) -> Result<Option<(Vec<u8>, u32, u32, u32, u32)>, Rejection> {
    let Ok(mut d) = turbojpeg::Decompressor::new() else {
        return Ok(None);
    };
    let Ok(header) = d.read_header(data) else {
        return Ok(None);
    };
    let (full_w, full_h) = (
        u32::try_from(header.width).unwrap_or(u32::MAX),
        u32::try_from(header.height).unwrap_or(u32::MAX),
    );
    imaging::check_pixels(full_w, full_h, max_pixels)?;
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
    let mut image = turbojpeg::Image {
        pixels: vec![0u8; scaled.width * scaled.height * 3],
        width: scaled.width,
        pitch: scaled.width * 3,
        height: scaled.height,
        format: turbojpeg::PixelFormat::RGB,
    };
    if let Err(e) = d.decompress(data, image.as_deref_mut()) {
        // Damaged data inside a JPEG whose structure looked whole.
        tracing::debug!(error = %e, "libjpeg-turbo declined; trying the other decoder");
        return Ok(None);
    }
    Ok(Some((
        image.pixels,
        u32::try_from(scaled.width).unwrap_or(0),
        u32::try_from(scaled.height).unwrap_or(0),
        full_w,
        full_h,
    )))
}

/// Both thumbnails from upright-or-not RGB pixels.
fn from_rgb(rgb: Vec<u8>, w: u32, h: u32, o: Orientation) -> Result<Thumbnails, Rejection> {
    let src = FirImage::from_vec_u8(w, h, rgb, PixelType::U8x3).map_err(|e| {
        rejection(
            ErrorCode::CorruptImage,
            format!("This photo could not be read ({e})."),
        )
    })?;
    let mut resizer = Resizer::new();
    let preview = shrink(&mut resizer, &src, ThumbSize::Preview.pixels())?.unwrap_or(src);
    let grid = match shrink(&mut resizer, &preview, ThumbSize::Grid.pixels())? {
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
        preview: encode(preview, o, PREVIEW_QUALITY)?,
        grid: encode(grid, o, GRID_QUALITY)?,
    })
}

/// The image fitted within `size`×`size`; `None` when it already fits (never enlarged).
fn shrink(
    resizer: &mut Resizer,
    src: &FirImage<'static>,
    size: u32,
) -> Result<Option<FirImage<'static>>, Rejection> {
    let (w, h) = (src.width(), src.height());
    let longest = w.max(h);
    if longest <= size {
        return Ok(None);
    }
    let scale = f64::from(size) / f64::from(longest);
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

/// Turns a thumbnail upright and encodes it as a JPEG without metadata.
fn encode(img: FirImage<'static>, o: Orientation, quality: i32) -> Result<Vec<u8>, Rejection> {
    let (w, h) = (img.width(), img.height());
    let rgb = image::RgbImage::from_raw(w, h, img.into_vec()).ok_or_else(|| {
        rejection(
            ErrorCode::CorruptImage,
            "This photo could not be resized.".into(),
        )
    })?;
    let mut dynamic = image::DynamicImage::ImageRgb8(rgb);
    dynamic.apply_orientation(o);
    let rgb = dynamic.into_rgb8();
    let (w, h) = rgb.dimensions();
    let image = turbojpeg::Image {
        pixels: rgb.as_raw().as_slice(),
        width: w as usize,
        pitch: w as usize * 3,
        height: h as usize,
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
