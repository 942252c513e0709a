use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Capsule, Photo};

/// Largest page `GET /v1/sync` returns.
pub const SYNC_MAX_LIMIT: u32 = 500;
/// Page size when the client names none.
pub const SYNC_DEFAULT_LIMIT: u32 = 100;

/// One change in a user's change feed, in order of `seq`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// A capsule was created or changed; this is its current view.
    Capsule { seq: u64, capsule: Capsule },
    /// A capsule was deleted (its photos with it).
    CapsuleDeleted { seq: u64, id: Uuid },
    /// A photo was added or changed (only for drafts and opened capsules).
    Photo { seq: u64, photo: Photo },
    /// A photo was removed from a capsule.
    PhotoDeleted {
        seq: u64,
        id: Uuid,
        capsule_id: Uuid,
    },
}

impl Change {
    /// The change's position in the feed.
    pub fn seq(&self) -> u64 {
        match self {
            Self::Capsule { seq, .. }
            | Self::CapsuleDeleted { seq, .. }
            | Self::Photo { seq, .. }
            | Self::PhotoDeleted { seq, .. } => *seq,
        }
    }
}

/// Answer to `GET /v1/sync`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SyncResponse {
    pub changes: Vec<Change>,
    /// Pass as `since` next time.
    pub cursor: u64,
    pub has_more: bool,
}
