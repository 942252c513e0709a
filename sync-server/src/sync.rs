//! The change feed: what changed for a user since a cursor, a page at a time.

use protocol::{
    Capsule, CapsuleState, Change, PhotoState, SYNC_DEFAULT_LIMIT, SYNC_MAX_LIMIT, SyncResponse,
};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::clock::from_ms;
use crate::db::changes::{ChangeRow, KIND_CAPSULE};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::views::contents_visible;

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
    let changes = rows.iter().filter_map(change).collect();
    Ok(SyncResponse {
        changes,
        cursor,
        has_more,
    })
}

fn change(r: &ChangeRow) -> Option<Change> {
    let seq = u64::try_from(r.seq).ok()?;
    if r.kind == KIND_CAPSULE {
        return Some(match capsule(r) {
            Some(capsule) if r.deleted == 0 => Change::Capsule { seq, capsule },
            _ => Change::CapsuleDeleted {
                seq,
                id: uuid(&r.entity_id),
            },
        });
    }
    let deleted = || Change::PhotoDeleted {
        seq,
        id: uuid(&r.entity_id),
        capsule_id: uuid(&r.capsule_id),
    };
    if r.deleted != 0 {
        return Some(deleted());
    }
    let Some(sha256) = r.p_sha256.clone() else {
        return Some(deleted());
    };
    // A sealed capsule's photos stay off the wire; they reappear when it opens.
    let capsule_state = r.p_capsule_state.as_deref().and_then(CapsuleState::parse)?;
    if !contents_visible(capsule_state) {
        return None;
    }
    Some(Change::Photo {
        seq,
        photo: protocol::Photo {
            id: uuid(&r.entity_id),
            capsule_id: uuid(&r.capsule_id),
            sha256,
            size: u64::try_from(r.p_size.unwrap_or(0)).unwrap_or(0),
            content_type: r.p_content_type.clone().unwrap_or_default(),
            file_name: r.p_file_name.clone(),
            taken_at: r.p_taken_at.map(from_ms),
            state: r
                .p_state
                .as_deref()
                .and_then(PhotoState::parse)
                .unwrap_or(PhotoState::Pending),
            width: r.p_width.and_then(|w| u32::try_from(w).ok()),
            height: r.p_height.and_then(|h| u32::try_from(h).ok()),
            created_at: from_ms(r.p_created_at.unwrap_or(0)),
        },
    })
}

fn capsule(r: &ChangeRow) -> Option<Capsule> {
    let row = crate::db::capsules::CapsuleRow {
        id: r.c_id.clone()?,
        user_id: String::new(),
        title: r.c_title.clone()?,
        note: r.c_note.clone()?,
        open_at: r.c_open_at,
        time_zone: r.c_time_zone.clone()?,
        recipients: r.c_recipients.clone()?,
        state: r.c_state.clone()?,
        version: r.c_version?,
        created_at: r.c_created_at?,
        updated_at: r.c_updated_at?,
        sealed_at: r.c_sealed_at,
        opened_at: r.c_opened_at,
        photo_count: r.c_photo_count.unwrap_or(0),
    };
    Some(crate::views::capsule(&row, None))
}
