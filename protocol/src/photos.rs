use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Body of `PUT /v1/capsules/{id}/photos/{photo_id}`: what the client declares it will send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PhotoWrite {
    /// Lower-case hex SHA-256 of the original bytes.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[0-9a-fA-F]{64}$"))]
    pub sha256: String,
    /// Size of the original in bytes (the server's document states its largest).
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    #[serde(deserialize_with = "whole_number")]
    pub size: u64,
    /// One of the accepted media types (HEIC sequences are refused with their own code).
    /// The stored type is the one the server reads from the bytes.
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^image/(jpeg|png|webp|gif|tiff|bmp|heic|heif)$")
    )]
    pub content_type: String,
    #[serde(default)]
    pub file_name: Option<String>,
    #[serde(default)]
    pub taken_at: Option<DateTime<Utc>>,
    /// The thumbnails the client made (the 256 and 1280 px JPEGs, no metadata, upright).
    /// Both or neither: a `grid` and a `preview`, each once. Without them the server makes
    /// its own, later, in a background job.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "openapi", schema(max_items = 2))]
    pub thumbnails: Vec<ThumbnailWrite>,
}

/// Largest original sent in one `PUT`; larger ones go up in parts ([`MultipartTarget`]).
pub const SINGLE_UPLOAD_MAX: u64 = 64 * 1024 * 1024;
/// Size of each part of a multipart upload (the last may be smaller).
pub const UPLOAD_PART_SIZE: u64 = 16 * 1024 * 1024;

/// The two thumbnail sizes: the longest side in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ThumbnailSize {
    /// At most 256 px: grids, emails.
    Grid,
    /// At most 1280 px: previews, the recipient page.
    Preview,
}

stored_names!(ThumbnailSize, "thumbnail size", {
    Grid => "grid",
    Preview => "preview",
});

impl ThumbnailSize {
    /// The longest side, in pixels.
    pub fn max_side(self) -> u32 {
        match self {
            Self::Grid => 256,
            Self::Preview => 1280,
        }
    }
}

/// A thumbnail the client made and will upload with its photo.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ThumbnailWrite {
    pub kind: ThumbnailSize,
    /// Lower-case hex SHA-256 of the JPEG.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[0-9a-fA-F]{64}$"))]
    pub sha256: String,
    /// Size of the JPEG in bytes.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 4194304))]
    #[serde(deserialize_with = "whole_number")]
    pub size: u64,
}

/// Whether a photo's thumbnails are there to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ThumbnailState {
    /// Not yet: the client's are not uploaded, or the server is still making its own.
    #[default]
    Pending,
    /// Both thumbnails are stored and checked.
    Ready,
    /// The server could not make them (the photo shows without a thumbnail).
    Failed,
}

stored_names!(ThumbnailState, "thumbnail state", {
    Pending => "pending",
    Ready => "ready",
    Failed => "failed",
});

/// Whether the server holds the photo's verified bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PhotoState {
    /// Declared; bytes not yet uploaded and verified.
    Pending,
    /// Bytes stored, size and hash verified, structure checked.
    Ready,
}

stored_names!(PhotoState, "photo state", {
    Pending => "pending",
    Ready => "ready",
});

/// A photo of a capsule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Photo {
    pub id: Uuid,
    pub capsule_id: Uuid,
    pub sha256: String,
    pub size: u64,
    pub content_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taken_at: Option<DateTime<Utc>>,
    pub state: PhotoState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// Whether the thumbnails can be fetched yet.
    #[serde(default)]
    pub thumbnails: ThumbnailState,
    pub created_at: DateTime<Utc>,
}

/// Where and how to send a photo's bytes: a presigned S3 PUT or the server's own endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UploadTarget {
    pub method: String,
    pub url: String,
    /// Headers the client must send exactly as given (they are part of the signature).
    pub headers: BTreeMap<String, String>,
    pub expires_at: DateTime<Utc>,
}

/// Where to send one part of a large original.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PartTarget {
    /// 1-based.
    pub number: u32,
    /// Bytes of the original in this part: from `(number - 1) * part_size`.
    pub size: u64,
    pub method: String,
    pub url: String,
    /// Headers the client must send exactly as given.
    pub headers: BTreeMap<String, String>,
}

/// A large original sent in parts; a part the server already holds is listed in `done` and
/// is not sent again, so an upload cut off resumes where it stopped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MultipartTarget {
    pub upload_id: String,
    pub part_size: u64,
    /// Targets of the parts still to send.
    pub parts: Vec<PartTarget>,
    /// Numbers of the parts the server already holds.
    pub done: Vec<u32>,
    pub expires_at: DateTime<Utc>,
}

/// Where to send one of the client's thumbnails.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ThumbnailTarget {
    pub kind: ThumbnailSize,
    pub upload: UploadTarget,
}

/// Answer to declaring a photo: where to send its bytes. `upload` (one `PUT`) or
/// `multipart` (parts) for the original, both null when the server already has those
/// bytes; `thumbnails` for the client's thumbnails it still needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PhotoUploadResponse {
    pub photo: Photo,
    pub upload: Option<UploadTarget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multipart: Option<MultipartTarget>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thumbnails: Vec<ThumbnailTarget>,
}

/// Answer wrapping one photo.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PhotoResponse {
    pub photo: Photo,
}

/// A non-negative whole number, written as an integer or (as JSON allows, and some clients
/// write) as a number with a zero fraction such as `1024.0`.
pub(crate) fn whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    struct Whole;
    impl serde::de::Visitor<'_> for Whole {
        type Value = u64;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a non-negative whole number")
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<u64, E> {
            Ok(v)
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<u64, E> {
            u64::try_from(v).map_err(|_| E::custom("a size cannot be negative"))
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<u64, E> {
            // Whole numbers written with a fraction (`58485788.0`) are whole numbers. The
            // workspace parses JSON floats exactly (serde_json's `float_roundtrip`): its fast
            // parser can land a quarter off a whole number above 2^50, which Schemathesis
            // found. Above 2^53 every f64 is whole, and no size that large passes the limits.
            if v.fract() == 0.0 && (0.0..18_446_744_073_709_551_616.0).contains(&v) {
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                Ok(v as u64)
            } else {
                Err(E::custom("a size must be a whole number of bytes"))
            }
        }
    }
    d.deserialize_any(Whole)
}

#[cfg(test)]
mod tests {
    use super::PhotoWrite;

    #[test]
    fn sizes_are_whole_numbers_however_they_are_written() {
        let parse = |size: &str| {
            serde_json::from_str::<PhotoWrite>(&format!(
                r#"{{"sha256": "{}", "size": {size}, "content_type": "image/jpeg"}}"#,
                "a".repeat(64)
            ))
            .map(|w| w.size)
        };
        assert_eq!(parse("1024").ok(), Some(1024));
        assert_eq!(parse("1024.0").ok(), Some(1024));
        assert_eq!(parse("1e3").ok(), Some(1000));
        // Schemathesis's find: parsed inexactly, this was a quarter off a whole number.
        assert_eq!(
            parse("2215780856039445.0").ok(),
            Some(2_215_780_856_039_445)
        );
        assert_eq!(parse("1e19").ok(), Some(10_000_000_000_000_000_000));
        for bad in ["1024.5", "-1", "\"12\"", "1e300"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
