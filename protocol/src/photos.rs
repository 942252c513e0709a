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
    /// One of the accepted media types (HEIC is refused with its own code).
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^image/(jpeg|png|webp|gif|tiff|bmp)$")
    )]
    pub content_type: String,
    #[serde(default)]
    pub file_name: Option<String>,
    #[serde(default)]
    pub taken_at: Option<DateTime<Utc>>,
}

/// Whether the server holds the photo's verified bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PhotoState {
    /// Declared; bytes not yet uploaded and verified.
    Pending,
    /// Bytes stored, size and hash verified, image validated, thumbnail made.
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

/// Answer to declaring a photo: `upload` is null when the server already has those bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PhotoUploadResponse {
    pub photo: Photo,
    pub upload: Option<UploadTarget>,
}

/// Answer wrapping one photo.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PhotoResponse {
    pub photo: Photo,
}

/// A non-negative whole number, written as an integer or (as JSON allows, and some clients
/// write) as a number with a zero fraction such as `1024.0`.
fn whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
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
            // Up to 2^53 every whole f64 is exact, far beyond any photo.
            if v.fract() == 0.0 && (0.0..=9_007_199_254_740_992.0).contains(&v) {
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
        for bad in ["1024.5", "-1", "\"12\"", "1e300"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
