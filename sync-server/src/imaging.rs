//! The server's use of the shared photo checks: validate an upload and make the 512 px
//! thumbnail it keeps for emails and recipient pages.

use std::path::Path;

pub use imaging::{ACCEPTED_TYPES, Rejection, extension};

/// Longest side of the server's thumbnail, in pixels.
pub const THUMBNAIL_SIZE: u32 = 512;

/// What a valid photo turned out to be.
#[derive(Debug)]
pub struct Inspected {
    pub content_type: &'static str,
    /// Upright dimensions (after EXIF orientation).
    pub width: u32,
    pub height: u32,
    /// A JPEG thumbnail without metadata.
    pub thumbnail_jpeg: Vec<u8>,
}

/// Validates a photo file and makes its thumbnail. CPU- and memory-heavy: run on a
/// blocking thread, few at a time.
pub fn inspect(path: &Path, max_pixels: u64) -> Result<Inspected, Rejection> {
    let d = imaging::decode_reduced(path, max_pixels, THUMBNAIL_SIZE)?;
    Ok(Inspected {
        content_type: d.content_type,
        width: d.width,
        height: d.height,
        thumbnail_jpeg: imaging::jpeg_thumbnail(&d.image, THUMBNAIL_SIZE, 82)?,
    })
}
