//! Photos of capsules: declared, uploaded and verified (`upload`), served to their owner
//! (`download`), and removed from drafts (here).

pub mod complete;
pub mod download;
pub mod receive;
pub mod thumbnail_job;
pub mod upload;

use protocol::PhotoState;
use uuid::Uuid;

use crate::access;
use crate::auth::AuthUser;
use crate::blob::{gc, keys};
use crate::db::users::reserve_seq;
use crate::db::{capsules, changes, photos};
use crate::error::ApiResult;
use crate::state::AppState;

pub use complete::complete;
pub use download::{Download, Variant, fetch};
pub use upload::declare;

/// Keeps the last path component of a client file name, without control characters.
pub fn clean_file_name(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let clean: String = base
        .chars()
        .filter(|c| !c.is_control())
        .take(255)
        .collect::<String>()
        .trim()
        .to_owned();
    (!clean.is_empty() && clean != "." && clean != "..").then_some(clean)
}

/// Removes a photo from a draft.
#[tracing::instrument(skip_all, fields(user_id = %auth.user_id, capsule_id = %capsule_id, photo_id = %photo_id), err(level = "info"))]
pub async fn remove(
    state: &AppState,
    auth: &AuthUser,
    capsule_id: Uuid,
    photo_id: Uuid,
) -> ApiResult<()> {
    let (cid, pid) = (capsule_id, photo_id);
    let mut tx = state.db.begin().await?;
    let seq = reserve_seq(&mut tx, auth.user_id, 2).await?;
    let capsule = access::owned_capsule(&mut tx, auth, cid).await?;
    let row = access::photo_of(&mut tx, cid, pid).await?;
    access::draft_only(&capsule)?;
    photos::delete(&mut tx, pid).await?;
    capsules::count_photos(&mut tx, cid, -1).await?;
    changes::record_photo(&mut tx, auth.user_id, pid, cid, seq, true).await?;
    tx.commit().await?;
    forget_bytes(state, auth.user_id, pid, &row.sha256, row.state).await;
    Ok(())
}

/// After a photo's row is gone: its upload under way, bytes sent but never completed, and
/// its blob once nothing else points at it.
pub(crate) async fn forget_bytes(
    state: &AppState,
    user_id: Uuid,
    pid: Uuid,
    sha256: &str,
    photo_state: PhotoState,
) {
    let _ = state.blobs.delete(&keys::staging(user_id, pid)).await;
    if let Ok(Some(upload)) = state.db.multipart(pid).await {
        let _ = state
            .blobs
            .abort_multipart(&upload.object_key, &upload.upload_id)
            .await;
    }
    // Bytes uploaded straight to their keys but never completed have no blob row to
    // collect them by.
    if photo_state == PhotoState::Pending
        && matches!(state.db.blob(user_id, sha256).await, Ok(None))
    {
        let mut keys = vec![
            keys::thumbnail(user_id, sha256),
            keys::preview(user_id, sha256),
        ];
        if state.blobs.direct_uploads() {
            keys.push(keys::original(user_id, sha256));
        }
        for key in keys {
            let _ = state.blobs.purge(&key).await;
        }
    }
    gc::collect(&state.db, state.blobs.as_ref(), user_id, sha256).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_lose_their_folders_and_controls() {
        assert_eq!(
            clean_file_name("../../etc/passwd").as_deref(),
            Some("passwd")
        );
        assert_eq!(
            clean_file_name("C:\\Users\\me\\IMG 1.jpg").as_deref(),
            Some("IMG 1.jpg")
        );
        assert_eq!(clean_file_name("a\r\nb.jpg").as_deref(), Some("ab.jpg"));
        assert_eq!(clean_file_name(".."), None);
        assert_eq!(clean_file_name(""), None);
    }
}
