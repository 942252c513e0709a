//! HEIC/HEIF photos, the format iPhones save by default. The container (ISO-BMFF) is read
//! here without decoding a pixel: which image is the primary one, its size after the crop and
//! rotation the file asks for, and whether every byte the image needs is inside the file (a
//! cut file is refused here, because decoders differ: libheif fills missing tiles with green
//! and reports no error). Pixels come from `heifer`, a pure-Rust HEVC decoder, so the same
//! code runs on Windows, macOS and Linux and no system library is needed.

pub mod decode;

use heifer_isobmff::boxes::{ConstructionMethod, Grid, Property};
use heifer_isobmff::{FourCC, HeifFile, ItemId};
use protocol::ErrorCode;

use crate::structure::ReadAt;
use crate::{Rejection, check_pixels, corrupt, reject};

/// Major and compatible brands of HEVC-coded HEIF files.
const HEVC_BRANDS: [&[u8; 4]; 8] = [
    b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs",
];
/// Brands that only say "a HEIF file", whatever codes its images.
const GENERIC_BRANDS: [&[u8; 4]; 4] = [b"mif1", b"msf1", b"mif2", b"miaf"];
const AVIF_BRANDS: [&[u8; 4]; 2] = [b"avif", b"avis"];

/// What the `ftyp` box at the start of a file says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Brand {
    /// HEIC, or a generic HEIF file (its primary item says how it is coded).
    Heif,
    Avif,
}

/// Reads the `ftyp` box from a file's first bytes; `None` when it is not an ISO-BMFF image.
pub fn brand(head: &[u8]) -> Option<Brand> {
    if head.len() < 16 || &head[4..8] != b"ftyp" {
        return None;
    }
    let size = usize::try_from(u32::from_be_bytes(head[0..4].try_into().ok()?)).ok()?;
    // Major brand, minor version, then the compatible brands, as far as the head holds them.
    let end = size.clamp(16, head.len());
    let brands = std::iter::once(&head[8..12]).chain(head[16..end].chunks_exact(4));
    let mut generic = false;
    let mut avif = false;
    for b in brands {
        if HEVC_BRANDS.iter().any(|h| &h[..] == b) {
            return Some(Brand::Heif);
        }
        avif |= AVIF_BRANDS.iter().any(|a| &a[..] == b);
        generic |= GENERIC_BRANDS.iter().any(|g| &g[..] == b);
    }
    if avif {
        Some(Brand::Avif)
    } else if generic {
        Some(Brand::Heif)
    } else {
        None
    }
}

pub(crate) fn avif_refused() -> Rejection {
    reject(
        ErrorCode::UnsupportedImageFormat,
        "AVIF photos are not supported yet. Export the photo as JPEG or HEIC and add it again.",
    )
}

fn damaged(what: impl std::fmt::Display) -> Rejection {
    reject(
        ErrorCode::CorruptImage,
        format!("This HEIC photo is damaged and cannot be read ({what})."),
    )
}

fn truncated() -> Rejection {
    reject(
        ErrorCode::CorruptImage,
        "This HEIC photo is truncated (it ends before the image does).",
    )
}

/// The largest `meta` box read: an iPhone's 48-tile grid needs a few kilobytes.
const MAX_META: u64 = 16 << 20;

/// What the container says about a HEIF file's primary image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Size after the clean-aperture crop, before rotation.
    pub width: u32,
    pub height: u32,
    /// The rotation and mirroring as the equivalent EXIF orientation (1 to 8).
    pub orientation: u8,
}

/// Reads the container of a HEIF file and checks it can be decoded without decoding it:
/// the primary image is HEVC-coded (or a grid, overlay or identity of HEVC tiles), its size
/// is within `max_pixels` (a grid's tiles too), and every extent of it lies inside the file.
pub fn layout(src: &mut dyn ReadAt, max_pixels: u64) -> Result<Layout, Rejection> {
    let head = src.read_at(0, HEAD).map_err(|e| corrupt(&e))?;
    layout_after(src, &head, max_pixels)
}

/// [`layout`] for a caller that has read the file's first bytes already (up to [`HEAD`]).
pub fn layout_after(
    src: &mut dyn ReadAt,
    head: &[u8],
    max_pixels: u64,
) -> Result<Layout, Rejection> {
    let len = src.size();
    let container = top_level_boxes(src, head, len)?;
    let file = decode::contained(|| HeifFile::parse(&container).map_err(damaged))?;
    let primary = file.primary_id;
    let kind = file.item(primary).map_err(damaged)?.item_type;
    match &kind.0 {
        b"hvc1" | b"hev1" | b"grid" | b"iden" | b"iovl" => {}
        b"av01" => return Err(avif_refused()),
        other => {
            return Err(reject(
                ErrorCode::UnsupportedImageFormat,
                format!(
                    "This HEIF photo's image is coded as \u{201c}{}\u{201d}, which is not supported; \
                     HEVC (HEIC) is.",
                    fourcc(other)
                ),
            ));
        }
    }
    let (coded_w, coded_h) = file
        .image_size(primary)
        .map_err(damaged)?
        .ok_or_else(|| damaged("the image has no size"))?;
    check_pixels(coded_w, coded_h, max_pixels)?;

    let mut budget = Budget {
        items: 4096,
        pixels: max_pixels.saturating_mul(2),
    };
    check_item(src, &file, primary, len, 0, &mut budget)?;
    // The alpha plane is part of the picture: it must be whole too. Depth maps and HDR gain
    // maps are not shown, so they are not checked (nor refused for their coding).
    for aux in alpha_planes(&file, primary) {
        check_item(src, &file, aux, len, 0, &mut budget)?;
    }

    let mut width = coded_w;
    let mut height = coded_h;
    let mut quarter_turns = 0u8;
    let mut mirrored = false;
    for p in file.item_properties(primary).map_err(damaged)? {
        match p {
            Property::CleanAperture {
                width: (wn, wd),
                height: (hn, hd),
                ..
            } if *wd != 0 && *hd != 0 => {
                if wn / wd == 0 || hn / hd == 0 {
                    return Err(damaged("its crop leaves no picture"));
                }
                width = (wn / wd).min(width);
                height = (hn / hd).min(height);
            }
            Property::Rotation(r) => quarter_turns = (quarter_turns + r) % 4,
            Property::Mirror(_) => mirrored = !mirrored,
            _ => {}
        }
    }
    Ok(Layout {
        width,
        height,
        orientation: exif_orientation(quarter_turns, mirrored),
    })
}

/// A box or item type as it may be shown to a person: the file's own four bytes where they
/// are printable, so nothing of a hostile file reaches a message unfiltered.
fn fourcc(code: &[u8; 4]) -> String {
    code.iter()
        .map(|&b| {
            if b.is_ascii_graphic() {
                char::from(b)
            } else {
                '?'
            }
        })
        .collect()
}

/// The alpha planes of an image (its other auxiliary images are depth maps and HDR gain
/// maps, which a picture is shown without).
pub(crate) fn alpha_planes(file: &HeifFile<'_>, id: ItemId) -> Vec<ItemId> {
    file.referencing_items(id, b"auxl")
        .into_iter()
        .filter(|&aux| {
            file.item_properties(aux).is_ok_and(|mut props| {
                props.any(|p| {
                    matches!(p, Property::AuxiliaryType(urn)
                        if urn.contains("alpha") || urn == "urn:mpeg:hevc:2015:auxid:1")
                })
            })
        })
        .collect()
}

/// An EXIF orientation with the same effect on the picture's shape. Only the quarter turns
/// matter to anyone reading it (whether width and height swap): the pixels are turned by
/// the decoder, never by EXIF, which a HEIC may also carry and which must not apply twice.
fn exif_orientation(anticlockwise_quarters: u8, mirrored: bool) -> u8 {
    match (anticlockwise_quarters, mirrored) {
        (0, false) => 1,
        (0, true) => 2,
        (2, false) => 3,
        (2, true) => 4,
        (1, true) => 5,
        (3, false) => 6,
        (3, true) => 7,
        _ => 8,
    }
}

struct Budget {
    items: u32,
    pixels: u64,
}

/// Checks an item and, for derived images, the items it is made of: each coded item's data
/// lies inside the file, a grid names as many tiles as it has cells and no more pixels than
/// the budget allows (a bomb can claim thousands of tiles over a few bytes).
fn check_item(
    src: &mut dyn ReadAt,
    file: &HeifFile<'_>,
    id: ItemId,
    len: u64,
    depth: u32,
    budget: &mut Budget,
) -> Result<(), Rejection> {
    if depth > 4 {
        return Err(damaged("images nested too deeply"));
    }
    budget.items = budget
        .items
        .checked_sub(1)
        .ok_or_else(|| damaged("too many images"))?;
    let item = file.item(id).map_err(damaged)?;
    check_extents(item.location.as_ref(), len)?;
    match &item.item_type.0 {
        b"grid" => {
            let grid = grid(src, file, id)?;
            let tiles = file.referenced_items(id, b"dimg").to_vec();
            let cells = usize::from(grid.rows) * usize::from(grid.columns);
            if tiles.len() != cells {
                return Err(damaged(format_args!(
                    "a grid of {cells} cells names {} tiles",
                    tiles.len()
                )));
            }
            for tile in tiles {
                let (w, h) = file
                    .image_size(tile)
                    .map_err(damaged)?
                    .ok_or_else(|| damaged("a tile has no size"))?;
                budget.pixels = budget
                    .pixels
                    .checked_sub(u64::from(w) * u64::from(h))
                    .ok_or_else(|| {
                        reject(
                            ErrorCode::ImageTooLarge,
                            "This HEIC photo's tiles add up to more pixels than the limit.",
                        )
                    })?;
                check_item(src, file, tile, len, depth + 1, budget)?;
            }
        }
        b"iden" | b"iovl" => {
            for source in file.referenced_items(id, b"dimg").to_vec() {
                check_item(src, file, source, len, depth + 1, budget)?;
            }
        }
        b"hvc1" | b"hev1" => {
            let has_data = item
                .location
                .as_ref()
                .is_some_and(|l| !l.extents.is_empty());
            if !has_data {
                return Err(damaged("an image has no data"));
            }
        }
        other => {
            return Err(reject(
                ErrorCode::UnsupportedImageFormat,
                format!(
                    "This HEIF photo holds an image coded as \u{201c}{}\u{201d}, which is not supported.",
                    fourcc(other)
                ),
            ));
        }
    }
    Ok(())
}

/// Every extent stored in the file proper ends inside it.
fn check_extents(
    location: Option<&heifer_isobmff::boxes::ItemLocation>,
    len: u64,
) -> Result<(), Rejection> {
    let Some(loc) = location else { return Ok(()) };
    if loc.construction_method != ConstructionMethod::File {
        return Ok(());
    }
    for e in &loc.extents {
        let end = e.offset.checked_add(e.length).ok_or_else(truncated)?;
        // A length of 0 means "to the end of the file": it must at least start inside it.
        if end > len || e.offset >= len {
            return Err(truncated());
        }
    }
    Ok(())
}

/// A grid item's description, read from wherever its few bytes are.
fn grid(src: &mut dyn ReadAt, file: &HeifFile<'_>, id: ItemId) -> Result<Grid, Rejection> {
    let item = file.item(id).map_err(damaged)?;
    let data = match item.location.as_ref() {
        Some(loc) if loc.construction_method == ConstructionMethod::File => {
            let mut data = Vec::new();
            for e in &loc.extents {
                let n = usize::try_from(e.length.min(64)).unwrap_or(64);
                data.extend(src.read_at(e.offset, n).map_err(|e| corrupt(&e))?);
            }
            data
        }
        _ => return file.grid(id).map_err(damaged),
    };
    Grid::parse(&data).map_err(damaged)
}

/// How much of the start of a file is read at once: ISO-BMFF writers put `ftyp` and `meta`
/// first, so one read usually finds both.
pub const HEAD: usize = 64 * 1024;
/// More top-level boxes than any image writer makes.
const MAX_BOXES: usize = 1024;

/// Bytes at `pos` from the head already read, or from the source.
fn read_span(src: &mut dyn ReadAt, head: &[u8], pos: u64, n: usize) -> Result<Vec<u8>, Rejection> {
    let start = usize::try_from(pos).unwrap_or(usize::MAX);
    match start.checked_add(n) {
        Some(end) if end <= head.len() => Ok(head[start..end].to_vec()),
        _ => src.read_at(pos, n).map_err(|e| corrupt(&e)),
    }
}

/// The file's `ftyp` and `meta` boxes, found by walking every top-level box (the picture
/// data in `mdat` is skipped, not read). A box that runs past the end of the file means
/// the file was cut: libheif would fill what is missing with green, heifer stops.
fn top_level_boxes(src: &mut dyn ReadAt, head: &[u8], len: u64) -> Result<Vec<u8>, Rejection> {
    let mut pos = 0u64;
    let mut ftyp = None;
    let mut meta = None;
    let mut boxes = 0;
    while pos < len {
        boxes += 1;
        if boxes > MAX_BOXES {
            return Err(damaged("too many boxes"));
        }
        let header = read_span(src, head, pos, 16)?;
        if header.len() < 8 {
            return Err(truncated());
        }
        let small = u64::from(u32::from_be_bytes([
            header[0], header[1], header[2], header[3],
        ]));
        let kind = FourCC([header[4], header[5], header[6], header[7]]);
        let size = match small {
            0 => len - pos,
            1 => {
                let big: [u8; 8] = header
                    .get(8..16)
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(truncated)?;
                u64::from_be_bytes(big)
            }
            n => n,
        };
        if size < 8 {
            return Err(damaged("a box is shorter than its header"));
        }
        let end = pos.checked_add(size).ok_or_else(truncated)?;
        if end > len {
            return Err(truncated());
        }
        match &kind.0 {
            b"ftyp" | b"meta" => {
                if size > MAX_META {
                    return Err(damaged("its description is implausibly large"));
                }
                let bytes = read_span(src, head, pos, usize::try_from(size).unwrap_or(usize::MAX))?;
                if (bytes.len() as u64) < size {
                    return Err(truncated());
                }
                if &kind.0 == b"ftyp" {
                    ftyp = Some(bytes);
                } else {
                    meta = Some(bytes);
                }
            }
            _ => {}
        }
        pos = end;
    }
    let (Some(mut out), Some(meta)) = (ftyp, meta) else {
        return Err(damaged("it has no image description"));
    };
    out.extend(meta);
    Ok(out)
}
