//! Garbage collection of photo bytes: once no photo of a user points at a hash, its
//! original and thumbnails go, older versions in a versioned bucket included.

use uuid::Uuid;

use super::{BlobStore, keys};
use crate::db::Db;

/// Deletes a blob's bytes once no photo points at it. Failures are logged, not raised: the
/// photo is already gone and a later deletion of the account sweeps everything.
pub async fn collect(db: &Db, blobs: &dyn BlobStore, user_id: Uuid, sha: &str) {
    let gone = match db.delete_blob_if_unreferenced(user_id, sha).await {
        Ok(g) => g,
        Err(e) => {
            tracing::warn!(error = %e, "blob clean-up skipped");
            return;
        }
    };
    if gone {
        for key in [
            keys::original(user_id, sha),
            keys::thumbnail(user_id, sha),
            keys::preview(user_id, sha),
        ] {
            if let Err(e) = blobs.purge(&key).await {
                tracing::warn!(error = %e, key, "blob clean-up failed");
            }
        }
    }
}
