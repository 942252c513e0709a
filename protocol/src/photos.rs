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
    pub sha256: String,
    /// Size of the original in bytes.
    pub size: u64,
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

impl PhotoState {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Ready => "ready",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "ready" => Some(Self::Ready),
            _ => None,
        }
    }
}

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
