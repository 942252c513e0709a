//! Drafts, sealing and deletion of capsules.

use protocol::{Capsule, CapsuleState, CapsuleWrite, ErrorCode};
use uuid::Uuid;

use crate::access::{self, owned};
use crate::auth::AuthUser;
use crate::blob::gc;
use crate::clock::to_ms;
use crate::db::Recipients;
use crate::db::capsules::{self, CapsuleFields, CapsuleRow};
use crate::db::changes::{self, ChangeKind};
use crate::db::photos;
use crate::db::users::reserve_seq;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::views;

/// The open date of a draft about to be sealed, either way (by the server or with a
/// device's files): set, and at least the minimum lead from `now`.
pub(crate) fn sealable_open_at(
    state: &AppState,
    row: &CapsuleRow,
    now: chrono::DateTime<chrono::Utc>,
) -> ApiResult<i64> {
    let Some(open_at) = row.open_at else {
        return Err(ApiError::new(
            ErrorCode::OpenAtMissing,
            "Pick an open date before sealing.",
        ));
    };
    let lead = chrono::Duration::from_std(state.settings.limits.min_lead).unwrap_or_default();
    if open_at < to_ms(now + lead) {
        return Err(ApiError::new(
            ErrorCode::OpenAtTooSoon,
            format!(
                "The open date must be at least {} from now.",
                humantime::format_duration(state.settings.limits.min_lead)
            ),
        ));
    }
    Ok(open_at)
}

/// Checks and normalises the editable fields of a draft (the rules live in `protocol`,
/// shared with the desktop).
pub fn validate(state: &AppState, w: &CapsuleWrite) -> ApiResult<CapsuleFields> {
    let v = protocol::validate::capsule(w, state.clock.now()).map_err(ApiError::invalid)?;
    Ok(CapsuleFields {
        title: v.title,
        note: v.note,
        open_at: v.open_at.map(to_ms),
        time_zone: v.time_zone,
        recipients: Recipients(v.recipients),
    })
}

fn fields_of(row: &CapsuleRow) -> CapsuleFields {
    CapsuleFields {
        title: row.title.clone(),
        note: row.note.clone(),
        open_at: row.open_at,
        time_zone: row.time_zone.clone(),
        recipients: row.recipients.clone(),
    }
}

/// Puts a capsule that changed inside `conn`'s transaction on its owner's change feed at
/// `seq`, and reads it back as it now is.
pub(crate) async fn changed(
    conn: &mut sqlx::AnyConnection,
    user_id: Uuid,
    id: Uuid,
    seq: i64,
) -> ApiResult<CapsuleRow> {
    changes::record(conn, user_id, ChangeKind::Capsule, id, id, seq, false).await?;
    Ok(capsules::capsule(conn, id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("capsule vanished inside its transaction"))?)
}

fn version_conflict(current: i64) -> ApiError {
    ApiError::new(
        ErrorCode::VersionConflict,
        format!("This capsule was changed elsewhere (now at version {current}); reload and merge."),
    )
}

/// Creates a draft (no `If-Match`) or updates one at the given version. Returns whether it
/// was created, and the capsule.
#[tracing::instrument(skip_all, fields(user_id = %auth.user_id, capsule_id = %id), err(level = "info"))]
pub async fn put(
    state: &AppState,
    auth: &AuthUser,
    id: Uuid,
    if_match: Option<i64>,
    body: &CapsuleWrite,
) -> ApiResult<(bool, Capsule)> {
    let fields = validate(state, body)?;
    let now = state.now_ms();
    let mut tx = state.db.begin().await?;
    let seq = reserve_seq(&mut tx, auth.user_id, 1).await?;
    let existing = capsules::capsule(&mut tx, id).await?;
    let created = match existing {
        None if if_match.is_some() => return Err(ApiError::not_found("capsule")),
        None => {
            capsules::insert(&mut tx, id, auth.user_id, &fields, now).await?;
            true
        }
        Some(row) => {
            let row = owned(Some(row), auth)?;
            access::draft_only(&row)?;
            match if_match {
                // A retried create with the same fields is answered, not refused.
                None if fields_of(&row) == fields => {
                    return Ok((false, views::capsule(row, None)));
                }
                None => return Err(version_conflict(row.version)),
                Some(v) if v != row.version => return Err(version_conflict(row.version)),
                Some(v) => {
                    if !capsules::update(&mut tx, id, v, &fields, now).await? {
                        return Err(version_conflict(row.version));
                    }
                    false
                }
            }
        }
    };
    let row = changed(&mut tx, auth.user_id, id, seq).await?;
    tx.commit().await?;
    Ok((created, views::capsule(row, None)))
}

/// The capsule with its photos (while visible).
#[tracing::instrument(skip_all, fields(user_id = %auth.user_id, capsule_id = %id), err(level = "info"))]
pub async fn get(state: &AppState, auth: &AuthUser, id: Uuid) -> ApiResult<Capsule> {
    let row = owned(state.db.capsule(id).await?, auth)?;
    let photos = if access::contents_visible(row.state) {
        state.db.photos_of(row.id).await?
    } else {
        Vec::new()
    };
    let mut capsule = views::capsule(row, Some(&photos));
    if capsule.state == CapsuleState::Opened {
        let rows = state.db.deliveries_of(id).await?;
        capsule.deliveries = Some(rows.iter().map(views::delivery).collect());
    }
    Ok(capsule)
}

/// Seals a draft after checking the seal rules; sealing a sealed capsule again answers it.
#[tracing::instrument(skip_all, fields(user_id = %auth.user_id, capsule_id = %id), err(level = "info"))]
pub async fn seal(
    state: &AppState,
    auth: &AuthUser,
    id: Uuid,
    if_match: Option<i64>,
) -> ApiResult<Capsule> {
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    let seq = reserve_seq(&mut tx, auth.user_id, 1).await?;
    let row = access::owned_capsule(&mut tx, auth, id).await?;
    if row.state != CapsuleState::Draft {
        return Ok(views::capsule(row, None));
    }
    if let Some(v) = if_match
        && v != row.version
    {
        return Err(version_conflict(row.version));
    }
    sealable_open_at(state, &row, now)?;
    if row.photo_count == 0 && row.note.trim().is_empty() {
        return Err(ApiError::new(
            ErrorCode::CapsuleEmpty,
            "Add a photo or write a note before sealing.",
        ));
    }
    let pending = photos::pending_count(&mut tx, id).await?;
    if pending > 0 {
        return Err(ApiError::new(
            ErrorCode::PhotoNotUploaded,
            format!("{pending} photo(s) have not finished uploading; wait for them, then seal."),
        ));
    }
    if !capsules::seal(&mut tx, id, to_ms(now)).await? {
        return Err(ApiError::sealed());
    }
    let row = changed(&mut tx, auth.user_id, id, seq).await?;
    tx.commit().await?;
    tracing::info!(capsule_id = %id, "capsule sealed");
    Ok(views::capsule(row, None))
}

/// Deletes a capsule (any state: it is the owner's to abandon), its photos, and the bytes
/// nothing else points at.
#[tracing::instrument(skip_all, fields(user_id = %auth.user_id, capsule_id = %id), err(level = "info"))]
pub async fn delete(state: &AppState, auth: &AuthUser, id: Uuid) -> ApiResult<()> {
    let mut tx = state.db.begin().await?;
    let seq = reserve_seq(&mut tx, auth.user_id, 1).await?;
    access::owned_capsule(&mut tx, auth, id).await?;
    let hashes = photos::hashes_of(&mut tx, id).await?;
    capsules::delete(&mut tx, id).await?;
    changes::forget_photos_of(&mut tx, auth.user_id, id).await?;
    changes::record(
        &mut tx,
        auth.user_id,
        ChangeKind::Capsule,
        id,
        id,
        seq,
        true,
    )
    .await?;
    tx.commit().await?;
    for sha in hashes {
        gc::collect(&state.db, state.blobs.as_ref(), auth.user_id, &sha).await;
    }
    if let Err(e) = state
        .blobs
        .delete_prefix(&crate::blob::keys::sealed_prefix(auth.user_id, id))
        .await
    {
        tracing::warn!(capsule_id = %id, error = %e, "sealed files of a deleted capsule not deleted");
    }
    Ok(())
}

/// Withdraws the link one recipient of an opened capsule got; it answers 404 from then on.
#[tracing::instrument(skip_all, fields(user_id = %auth.user_id, capsule_id = %id), err(level = "info"))]
pub async fn revoke_link(
    state: &AppState,
    auth: &AuthUser,
    id: Uuid,
    recipient: &str,
) -> ApiResult<()> {
    let row = owned(state.db.capsule(id).await?, auth)?;
    let recipient = recipient.trim().to_lowercase();
    if !state
        .db
        .revoke_link(row.id, &recipient, state.now_ms())
        .await?
    {
        return Err(ApiError::not_found("recipient link"));
    }
    tracing::info!(capsule_id = %row.id, "recipient link revoked");
    Ok(())
}
