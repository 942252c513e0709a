//! The change feed: what changed for a user since a cursor, a page at a time.

use std::collections::HashMap;

use protocol::{Change, SYNC_DEFAULT_LIMIT, SYNC_MAX_LIMIT, SyncResponse};
use uuid::Uuid;

use crate::access::contents_visible;
use crate::auth::AuthUser;
use crate::db::changes::{ChangeKind, ChangeRow, FeedPhotoRow};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::views;

/// One page of changes after `since`.
#[tracing::instrument(skip_all, fields(user_id = %auth.user_id, since), err(level = "info"))]
pub async fn pull(
    state: &AppState,
    auth: &AuthUser,
    since: u64,
    limit: Option<u32>,
) -> ApiResult<SyncResponse> {
    let limit = limit.unwrap_or(SYNC_DEFAULT_LIMIT);
    if limit == 0 || limit > SYNC_MAX_LIMIT {
        return Err(ApiError::bad_request(format!(
            "limit must be between 1 and {SYNC_MAX_LIMIT}."
        )));
    }
    let since_i = i64::try_from(since).map_err(|_| ApiError::bad_request("since is too large."))?;
    let mut rows = state
        .db
        .changes_since(auth.user_id, since_i, i64::from(limit) + 1)
        .await?;
    let has_more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let cursor = rows
        .last()
        .map_or(since, |r| u64::try_from(r.seq).unwrap_or(since));
    let photo_ids: Vec<Uuid> = rows
        .iter()
        .filter(|r| r.kind == ChangeKind::Photo && !r.deleted)
        .map(|r| r.entity_id)
        .collect();
    let photos: HashMap<Uuid, FeedPhotoRow> = state
        .db
        .feed_photos(auth.user_id, &photo_ids)
        .await?
        .into_iter()
        .map(|p| (p.photo.id, p))
        .collect();
    let changes = rows
        .into_iter()
        .filter_map(|r| change(r, &photos))
        .collect();
    Ok(SyncResponse {
        changes,
        cursor,
        has_more,
    })
}

fn change(r: ChangeRow, photos: &HashMap<Uuid, FeedPhotoRow>) -> Option<Change> {
    let seq = u64::try_from(r.seq).ok()?;
    match r.kind {
        ChangeKind::Capsule => Some(match r.capsule {
            Some(capsule) if !r.deleted => Change::Capsule {
                seq,
                capsule: views::capsule(capsule, None),
            },
            _ => Change::CapsuleDeleted {
                seq,
                id: r.entity_id,
            },
        }),
        ChangeKind::Photo => {
            let Some(p) = photos.get(&r.entity_id).filter(|_| !r.deleted) else {
                return Some(Change::PhotoDeleted {
                    seq,
                    id: r.entity_id,
                    capsule_id: r.capsule_id,
                });
            };
            // A sealed capsule's photos stay off the wire; they reappear when it opens.
            contents_visible(p.capsule_state).then(|| Change::Photo {
                seq,
                photo: views::photo(&p.photo),
            })
        }
    }
}
