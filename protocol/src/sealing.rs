//! The encrypted seal on the wire: the server's chain and escrow key, beacons, the sealed
//! files of a capsule, and the seal request that names them.

use serde::{Deserialize, Serialize};

use crate::UploadTarget;

/// Answer to `GET /v1/seal/config`: what a device seals to for this server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SealConfig {
    /// The drand chain's hash (hex).
    pub chain_hash: String,
    /// Its public key on G2 (hex).
    pub public_key: String,
    /// Unix seconds of its round 1.
    pub genesis: i64,
    /// Seconds between rounds.
    pub period: u64,
    /// drand HTTP relays serving the chain.
    pub relays: Vec<String>,
    /// The server's escrow key (`age1…`); null when this server keeps none.
    #[serde(default)]
    pub escrow_public_key: Option<String>,
}

/// Answer to `GET /v1/beacon/{round}`: a round's signature, verified by the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BeaconResponse {
    pub round: u64,
    /// BLS signature on G1 (hex).
    pub signature: String,
}

/// How a sealed capsule is locked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct CapsuleLock {
    /// The drand round its files are time-locked to.
    #[cfg_attr(feature = "specta", specta(type = f64))]
    pub round: u64,
    /// The chain's hash (hex).
    pub chain_hash: String,
    /// Whether the server's escrow key opens it too (else only time can).
    pub escrow: bool,
}

/// Body of `PUT /v1/capsules/{id}/sealed/{name}`: one sealed file the device will send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SealedItemWrite {
    #[cfg_attr(feature = "openapi", schema(pattern = "^[0-9a-fA-F]{64}$"))]
    pub sha256: String,
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    #[serde(deserialize_with = "crate::photos::whole_number")]
    pub size: u64,
}

/// Answer to declaring a sealed file: where to send it, or null when the server has it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SealedItemResponse {
    pub upload: Option<UploadTarget>,
}

/// One sealed file of a capsule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SealedItem {
    /// `index.age`, `note.age`, `recipients.age`, or `<photo id>.age`,
    /// `<photo id>-grid.age`, `<photo id>-preview.age`.
    #[cfg_attr(
        feature = "openapi",
        schema(
            pattern = "^(index|note|recipients)\\.age$|^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(-grid|-preview)?\\.age$"
        )
    )]
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(pattern = "^[0-9a-fA-F]{64}$"))]
    pub sha256: String,
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    #[serde(deserialize_with = "crate::photos::whole_number")]
    pub size: u64,
}

/// Body of `POST /v1/capsules/{id}/seal` for a capsule sealed on the device: its files,
/// already uploaded, and what they are locked to. Without a body the server seals the draft
/// as it holds it (the first version of the API).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SealRequest {
    #[serde(deserialize_with = "crate::photos::whole_number")]
    pub round: u64,
    #[cfg_attr(feature = "openapi", schema(pattern = "^[0-9a-fA-F]{64}$"))]
    pub chain_hash: String,
    pub escrow: bool,
    #[cfg_attr(feature = "openapi", schema(max_items = 30003))]
    pub items: Vec<SealedItem>,
    /// Reminders before the open date; none when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reminders: Option<crate::Reminders>,
}

/// The names a sealed file may have.
pub const SEALED_NAME_PATTERN: &str = "^(index|note|recipients)\\.age$|^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(-grid|-preview)?\\.age$";

/// What a sealed file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SealedName {
    Index,
    Note,
    Recipients,
    Original(uuid::Uuid),
    Grid(uuid::Uuid),
    Preview(uuid::Uuid),
}

impl SealedName {
    /// Parses a sealed file's name; None for any other.
    pub fn parse(name: &str) -> Option<Self> {
        let stem = name.strip_suffix(".age")?;
        match stem {
            "index" => return Some(Self::Index),
            "note" => return Some(Self::Note),
            "recipients" => return Some(Self::Recipients),
            _ => {}
        }
        let (id, kind) = match stem.split_at_checked(36) {
            Some((id, "")) => (id, None),
            Some((id, "-grid")) => (id, Some(true)),
            Some((id, "-preview")) => (id, Some(false)),
            _ => return None,
        };
        let id = uuid::Uuid::try_parse(id).ok()?;
        // Only the canonical spelling, so one file has one name.
        if id.to_string() != stem[..36] {
            return None;
        }
        Some(match kind {
            None => Self::Original(id),
            Some(true) => Self::Grid(id),
            Some(false) => Self::Preview(id),
        })
    }

    /// The file's name.
    pub fn file_name(self) -> String {
        match self {
            Self::Index => "index.age".into(),
            Self::Note => "note.age".into(),
            Self::Recipients => "recipients.age".into(),
            Self::Original(id) => format!("{id}.age"),
            Self::Grid(id) => format!("{id}-grid.age"),
            Self::Preview(id) => format!("{id}-preview.age"),
        }
    }
}

/// The sealed index (`index.age`, decrypted): every photo of the capsule as it was sealed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SealedIndex {
    pub version: u32,
    pub photos: Vec<SealedPhoto>,
}

/// A photo as the sealed index records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SealedPhoto {
    pub id: uuid::Uuid,
    pub sha256: String,
    pub size: u64,
    pub content_type: String,
    #[serde(default)]
    pub file_name: Option<String>,
    #[serde(default)]
    pub taken_at: Option<chrono::DateTime<chrono::Utc>>,
    pub width: u32,
    pub height: u32,
    /// Whether its thumbnails were sealed with it.
    pub thumbnails: bool,
}

/// A photo the server would not show when the capsule opened, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct RefusedPhoto {
    pub file_name: String,
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::SealedName;

    #[test]
    fn sealed_names_are_read_back_exactly() {
        let id = uuid::Uuid::now_v7();
        for n in [
            SealedName::Index,
            SealedName::Note,
            SealedName::Recipients,
            SealedName::Original(id),
            SealedName::Grid(id),
            SealedName::Preview(id),
        ] {
            assert_eq!(SealedName::parse(&n.file_name()), Some(n));
        }
        for bad in [
            "../index.age",
            "index",
            "x.age",
            &format!("{}.age", id.to_string().to_uppercase()),
        ] {
            assert_eq!(SealedName::parse(bad), None, "{bad}");
        }
    }
}
