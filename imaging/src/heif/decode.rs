//! A HEIC's pixels, upright and in sRGB, at full size or reduced for thumbnails.
//!
//! Phones shoot 48 and 200 megapixels. A 200 MP grid decoded whole is 800 MB of RGBA; for
//! thumbnails it is decoded tile by tile instead, each tile (512 px on phones, a few MB)
//! averaged into a canvas a whole number of times smaller than the photo that still holds the
//! thumbnail's size, so no more than one tile and the small canvas are ever in memory. The
//! sums are kept at the file's own bit depth and rounded to 8 bits once, after averaging, so
//! 10-bit gradients do not band.
//!
//! Colour is converted with qcms (Firefox's colour management) from the ICC profile iPhones
//! embed (Display P3) or from `nclx` primaries other than sRGB's; both paths share it, so a
//! photo looks the same whichever path decoded it.

use heifer_isobmff::boxes::{ColorInfo, Property};
use heifer_isobmff::{HeifFile, ItemId};
use image::DynamicImage;
use protocol::ErrorCode;

use super::damaged;
use crate::{PixelLimits, Rejection, check_pixels, reject};

/// Grids over this many pixels are decoded tile by tile when reduced.
const WHOLE_DECODE_PIXELS: u64 = 24_000_000;

/// A decoded HEIC: the picture (possibly reduced) and the photo's full upright size.
pub struct Picture {
    pub image: DynamicImage,
    pub width: u32,
    pub height: u32,
}

/// Decodes the primary image, after [`super::layout`] has accepted the file at `limits`.
/// With a `target`, a large grid comes back reduced, its longest side at `target` or more;
/// anything decoded whole must be within `limits.whole`.
pub fn decode(
    bytes: &[u8],
    limits: PixelLimits,
    target: Option<u32>,
) -> Result<Picture, Rejection> {
    contained(|| decode_unguarded(bytes, limits, target))
}

/// Runs a part of the HEVC/HEIF decoder, young code fed hostile files: should it panic, the
/// photo is refused as damaged instead of taking the import or the server's job down.
pub(super) fn contained<T>(f: impl FnOnce() -> Result<T, Rejection>) -> Result<T, Rejection> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .unwrap_or_else(|_| Err(damaged("the HEIC decoder could not read it")))
}

fn decode_unguarded(
    bytes: &[u8],
    limits: PixelLimits,
    target: Option<u32>,
) -> Result<Picture, Rejection> {
    let file = HeifFile::parse(bytes).map_err(damaged)?;
    let colour = colour(&file);
    let primary = file.primary_id;
    let reducible = target.and_then(|t| tiled(&file, primary, t));
    let mut picture = match reducible {
        Some(plan) => plan.decode(&file)?,
        None => {
            if let Some((w, h)) = file.image_size(primary).map_err(damaged)? {
                check_pixels(w, h, limits.whole)?;
            }
            whole(bytes, limits.whole)?
        }
    };
    if picture.image.width() == 0 || picture.image.height() == 0 {
        return Err(damaged("it decodes to no picture"));
    }
    if let Some(profile) = colour {
        to_srgb(&mut picture.image, &profile);
    }
    Ok(picture)
}

fn whole(bytes: &[u8], max_pixels: u64) -> Result<Picture, Rejection> {
    let options = heifer::Options {
        // Import already decodes several photos at once.
        max_threads: 1,
        max_pixels,
    };
    let image = heifer::decode_rgba8(bytes, &options).map_err(decode_error)?;
    let (w, h) = (image.width, image.height);
    let image = rgba_to_image(w, h, image.has_alpha, image.data)?;
    Ok(Picture {
        image,
        width: w,
        height: h,
    })
}

/// RGBA samples as an image, dropping an opaque alpha channel in place rather than holding
/// a second copy of a photo that may be large.
fn rgba_to_image(
    w: u32,
    h: u32,
    has_alpha: bool,
    mut data: Vec<u8>,
) -> Result<DynamicImage, Rejection> {
    let short = || damaged("the decoder returned fewer pixels than the image has");
    if has_alpha {
        return image::RgbaImage::from_raw(w, h, data)
            .map(DynamicImage::ImageRgba8)
            .ok_or_else(short);
    }
    let pixels = data.len() / 4;
    for i in 0..pixels {
        data.copy_within(i * 4..i * 4 + 3, i * 3);
    }
    data.truncate(pixels * 3);
    image::RgbImage::from_raw(w, h, data)
        .map(DynamicImage::ImageRgb8)
        .ok_or_else(short)
}

/// How a large grid is decoded reduced.
struct TilePlan {
    primary: ItemId,
    tiles: Vec<ItemId>,
    columns: u32,
    tile_w: u32,
    tile_h: u32,
    out_w: u32,
    out_h: u32,
    /// Each side is divided by this.
    factor: u32,
}

/// A plan for decoding the primary image tile by tile, when it is an opaque grid large enough
/// to be worth it and at least twice the target on its longest side.
fn tiled(file: &HeifFile<'_>, primary: ItemId, target: u32) -> Option<TilePlan> {
    let item = file.item(primary).ok()?;
    if item.item_type.0 != *b"grid" || !super::alpha_planes(file, primary).is_empty() {
        return None;
    }
    let grid = file.grid(primary).ok()?;
    let (out_w, out_h) = (grid.output_width, grid.output_height);
    if u64::from(out_w) * u64::from(out_h) <= WHOLE_DECODE_PIXELS {
        return None;
    }
    let factor = out_w.max(out_h) / target.max(1);
    if factor < 2 {
        return None;
    }
    let tiles = file.referenced_items(primary, b"dimg").to_vec();
    let (tile_w, tile_h) = file.image_size(*tiles.first()?).ok()??;
    // Tiles that differ in size or carry their own turns are left to the whole decoder.
    for &t in &tiles {
        if file.image_size(t).ok()? != Some((tile_w, tile_h)) {
            return None;
        }
        let turned = file.item_properties(t).ok()?.any(|p| {
            matches!(
                p,
                Property::Rotation(_) | Property::Mirror(_) | Property::CleanAperture { .. }
            )
        });
        if turned {
            return None;
        }
    }
    Some(TilePlan {
        primary,
        tiles,
        columns: u32::from(grid.columns),
        tile_w,
        tile_h,
        out_w,
        out_h,
        factor,
    })
}

impl TilePlan {
    fn decode(&self, file: &HeifFile<'_>) -> Result<Picture, Rejection> {
        let f = self.factor;
        let (cw, ch) = (self.out_w.div_ceil(f), self.out_h.div_ceil(f));
        let cells = usize::try_from(u64::from(cw) * u64::from(ch)).unwrap_or(usize::MAX);
        // Per cell: the sums of R, G, B at the file's bit depth, and how many pixels fell in.
        let mut sums = vec![[0u64; 3]; cells];
        let mut counts = vec![0u32; cells];
        let mut max_value = 255u32;
        for (i, &tile) in self.tiles.iter().enumerate() {
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            let (x0, y0) = (
                (i % self.columns) * self.tile_w,
                (i / self.columns) * self.tile_h,
            );
            if x0 >= self.out_w || y0 >= self.out_h {
                continue;
            }
            let img = heifer::decode_item(file, tile, 0).map_err(decode_error)?;
            max_value = u32::from(img.max_value());
            let w = img.width.min(self.out_w - x0);
            let h = img.height.min(self.out_h - y0);
            for y in 0..h {
                let row = usize::try_from(y * img.width).unwrap_or(0) * 4;
                let cy = (y0 + y) / f;
                for x in 0..w {
                    let p = row + usize::try_from(x).unwrap_or(0) * 4;
                    let Some(px) = img.data.get(p..p + 3) else {
                        return Err(damaged("a tile is smaller than it says"));
                    };
                    let cell = usize::try_from(cy * cw + (x0 + x) / f).unwrap_or(0);
                    let s = &mut sums[cell];
                    s[0] += u64::from(px[0]);
                    s[1] += u64::from(px[1]);
                    s[2] += u64::from(px[2]);
                    counts[cell] += 1;
                }
            }
        }
        let mut rgb = Vec::with_capacity(cells * 3);
        for (s, &n) in sums.iter().zip(&counts) {
            let n = u64::from(n.max(1));
            let scale = u64::from(max_value) * n;
            for c in s {
                // Rounded once, from the average at full depth to 8 bits.
                let v = (c * 255 + scale / 2) / scale;
                rgb.push(u8::try_from(v.min(255)).unwrap_or(255));
            }
        }
        let canvas = image::RgbImage::from_raw(cw, ch, rgb)
            .ok_or_else(|| damaged("the reduced picture could not be assembled"))?;
        let mut image = DynamicImage::ImageRgb8(canvas);
        let (mut width, mut height) = (self.out_w, self.out_h);
        for p in file.item_properties(self.primary).map_err(damaged)? {
            match p {
                Property::CleanAperture {
                    width: (wn, wd),
                    height: (hn, hd),
                    horiz_offset: (ho, hod),
                    vert_offset: (vo, vod),
                } if *wd != 0 && *hd != 0 && *hod != 0 && *vod != 0 => {
                    let crop_w = (wn / wd).clamp(1, width);
                    let crop_h = (hn / hd).clamp(1, height);
                    let left = (f64::from(width - crop_w) / 2.0 + f64::from(*ho) / f64::from(*hod))
                        .max(0.0);
                    let top = (f64::from(height - crop_h) / 2.0 + f64::from(*vo) / f64::from(*vod))
                        .max(0.0);
                    let scaled = |v: f64| (v / f64::from(f)).round() as u32;
                    image = image.crop_imm(
                        scaled(left),
                        scaled(top),
                        scaled(f64::from(crop_w)).max(1),
                        scaled(f64::from(crop_h)).max(1),
                    );
                    (width, height) = (crop_w, crop_h);
                }
                Property::Rotation(quarters) => {
                    image = match quarters % 4 {
                        1 => image.rotate270(),
                        2 => image.rotate180(),
                        3 => image.rotate90(),
                        _ => image,
                    };
                    if quarters % 2 == 1 {
                        (width, height) = (height, width);
                    }
                }
                // `true` exchanges top and bottom.
                Property::Mirror(true) => image = image.flipv(),
                Property::Mirror(false) => image = image.fliph(),
                _ => {}
            }
        }
        Ok(Picture {
            image,
            width,
            height,
        })
    }
}

/// The colour profile to convert from, when the picture is not plain sRGB: an ICC profile,
/// or `nclx` primaries other than BT.709's (which sRGB shares). The transfer curve of BT.709
/// is taken as sRGB's, as phones and viewers do.
fn colour(file: &HeifFile<'_>) -> Option<Box<qcms::Profile>> {
    let primary = file.primary_id;
    let first_tile = file.referenced_items(primary, b"dimg").first().copied();
    for id in [Some(primary), first_tile].into_iter().flatten() {
        let Ok(props) = file.item_properties(id) else {
            continue;
        };
        for p in props {
            match p {
                Property::Color(ColorInfo::Nclx {
                    primaries,
                    transfer,
                    ..
                }) => {
                    // Only the primaries and curves qcms builds a profile from (it panics on
                    // reserved codes, which a hostile file can hold: the fuzz target found
                    // it); others stay as coded, like sRGB's own primaries (1).
                    let cp = match primaries {
                        4..=9 | 11 | 12 | 22 => u8::try_from(*primaries).ok()?,
                        _ => return None,
                    };
                    let tc = match transfer {
                        4 | 5 | 8 => u8::try_from(*transfer).ok()?,
                        _ => 13,
                    };
                    // qcms's CICP enums are not exported by name, only converted from codes.
                    return qcms::Profile::new_cicp(cp.into(), tc.into());
                }
                Property::Color(_) => {
                    let icc = file.icc_profile(id).ok().flatten()?;
                    return qcms::Profile::new_from_slice(icc, false);
                }
                _ => {}
            }
        }
    }
    None
}

/// Converts 8-bit samples to sRGB in place. A profile qcms cannot build a transform from is
/// left as coded: a slightly off thumbnail beats a lost photo.
fn to_srgb(image: &mut DynamicImage, profile: &qcms::Profile) {
    let srgb = qcms::Profile::new_sRGB();
    let (kind, data): (qcms::DataType, &mut [u8]) = match image {
        DynamicImage::ImageRgb8(i) => (qcms::DataType::RGB8, i.as_mut()),
        DynamicImage::ImageRgba8(i) => (qcms::DataType::RGBA8, i.as_mut()),
        _ => return,
    };
    if let Some(t) = qcms::Transform::new(profile, &srgb, kind, qcms::Intent::Perceptual) {
        t.apply(data);
    }
}

pub(super) fn decode_error(e: heifer::Error) -> Rejection {
    match e {
        heifer::Error::Unsupported(what) => reject(
            ErrorCode::UnsupportedImageFormat,
            format!("This HEIC photo uses a feature that is not supported ({what})."),
        ),
        other => damaged(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crop_to_nothing_is_refused_not_decoded_to_an_empty_picture() {
        // The photo fuzz target's find: a `clap` of width 64/2147483649.
        let bytes = include_bytes!("../../../fuzz/corpus/photo/heic-crop-to-nothing.heic");
        let r = decode_unguarded(bytes, PixelLimits::DEFAULT, Some(256));
        assert_eq!(r.err().map(|r| r.code), Some(ErrorCode::CorruptImage));
        let r = super::super::layout(&mut &bytes[..], PixelLimits::DEFAULT.reduced);
        assert_eq!(r.err().map(|r| r.code), Some(ErrorCode::CorruptImage));
    }

    #[test]
    fn reserved_colour_codes_are_taken_as_coded_without_a_panic() {
        // The photo fuzz target's find: a small grid whose `nclx` names reserved primaries,
        // on which qcms panics. Unguarded here, so a panic would fail the test.
        let bytes = include_bytes!("../../../fuzz/corpus/photo/heic-reserved-primaries.heic");
        let _ = decode_unguarded(bytes, PixelLimits::DEFAULT, Some(256));
    }
}
