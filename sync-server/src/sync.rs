//! The change feed: what changed for a user since a cursor, a page at a time.

use std::collections::HashMap;

use protocol::{Capsule, CapsuleState, Change, SYNC_DEFAULT_LIMIT, SYNC_MAX_LIMIT, SyncResponse};
use uuid::Uuid;

use crate::access::contents_visible;
use crate::auth::AuthUser;
use crate::db::changes::{ChangeRow, FeedPhotoRow, KIND_CAPSULE};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

fn uuid(s: &str) -> Uuid {
    Uuid::parse_str(s).unwrap_or_default()
}

/// One page of changes after `since`.
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
        .changes_since(&auth.user_id, since_i, i64::from(limit) + 1)
        .await?;
    let has_more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let cursor = rows
        .last()
        .map_or(since, |r| u64::try_from(r.seq).unwrap_or(since));
    let photo_ids: Vec<&str> = rows
        .iter()
        .filter(|r| r.kind != KIND_CAPSULE && r.deleted == 0)
        .map(|r| r.entity_id.as_str())
        .collect();
    let photos: HashMap<String, FeedPhotoRow> = state
        .db
        .feed_photos(&auth.user_id, &photo_ids)
        .await?
        .into_iter()
        .map(|p| (p.photo.id.clone(), p))
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

fn change(r: ChangeRow, photos: &HashMap<String, FeedPhotoRow>) -> Option<Change> {
    let seq = u64::try_from(r.seq).ok()?;
    if r.kind == KIND_CAPSULE {
        let id = uuid(&r.entity_id);
        let deleted = r.deleted != 0;
        return Some(match capsule(r) {
            Some(capsule) if !deleted => Change::Capsule { seq, capsule },
            _ => Change::CapsuleDeleted { seq, id },
        });
    }
    let deleted = Change::PhotoDeleted {
        seq,
        id: uuid(&r.entity_id),
        capsule_id: uuid(&r.capsule_id),
    };
    let Some(p) = photos.get(&r.entity_id).filter(|_| r.deleted == 0) else {
        return Some(deleted);
    };
    // A sealed capsule's photos stay off the wire; they reappear when it opens.
    let state = CapsuleState::parse(&p.capsule_state)?;
    if !contents_visible(state) {
        return None;
    }
    Some(Change::Photo {
        seq,
        photo: crate::views::photo(&p.photo),
    })
}

fn capsule(r: ChangeRow) -> Option<Capsule> {
    let row = crate::db::capsules::CapsuleRow {
        id: r.c_id?,
        user_id: String::new(),
        title: r.c_title?,
        note: r.c_note?,
        open_at: r.c_open_at,
        time_zone: r.c_time_zone?,
        recipients: r.c_recipients?,
        state: r.c_state?,
        version: r.c_version?,
        created_at: r.c_created_at?,
        updated_at: r.c_updated_at?,
        sealed_at: r.c_sealed_at,
        opened_at: r.c_opened_at,
        photo_count: r.c_photo_count.unwrap_or(0),
    };
    Some(crate::views::capsule(row, None))
}
