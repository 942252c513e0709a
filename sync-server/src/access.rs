//! Every ownership and state check of the API in one place: whose a capsule or photo is
//! (someone else's looks absent: 404, never 403), and what its state allows (drafts change,
//! sealed capsules show nothing).

use protocol::CapsuleState;
use sqlx::AnyConnection;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::db::capsules::{self, CapsuleRow};
use crate::db::photos::{self, PhotoRow};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The capsule if the user owns it, else 404.
pub fn owned(row: Option<CapsuleRow>, auth: &AuthUser) -> ApiResult<CapsuleRow> {
    row.filter(|r| r.user_id == auth.user_id)
        .ok_or_else(|| ApiError::not_found("capsule"))
}

/// Loads a capsule the user owns, on a connection (inside a transaction), or 404.
pub async fn owned_capsule(
    conn: &mut AnyConnection,
    auth: &AuthUser,
    id: Uuid,
) -> ApiResult<CapsuleRow> {
    owned(capsules::capsule(conn, id).await?, auth)
}

/// Loads a capsule of the user and one of its photos, or 404.
pub async fn owned_photo(
    state: &AppState,
    auth: &AuthUser,
    capsule_id: Uuid,
    photo_id: Uuid,
) -> ApiResult<(CapsuleRow, PhotoRow)> {
    let capsule = owned(state.db.capsule(capsule_id).await?, auth)?;
    let photo = state
        .db
        .photo(photo_id)
        .await?
        .filter(|p| p.capsule_id == capsule.id)
        .ok_or_else(|| ApiError::not_found("photo"))?;
    Ok((capsule, photo))
}

/// Loads a photo of a capsule on a connection, or 404.
pub async fn photo_of(conn: &mut AnyConnection, capsule_id: Uuid, id: Uuid) -> ApiResult<PhotoRow> {
    photos::photo(conn, id)
        .await?
        .filter(|p| p.capsule_id == capsule_id)
        .ok_or_else(|| ApiError::not_found("photo"))
}

/// Refuses (409 `capsule_sealed`) any change to a capsule that is no longer a draft.
pub fn draft_only(capsule: &CapsuleRow) -> ApiResult<()> {
    if capsule.state == CapsuleState::Draft {
        Ok(())
    } else {
        Err(ApiError::sealed())
    }
}

/// True when the capsule's contents may be shown (draft or opened).
pub fn contents_visible(state: CapsuleState) -> bool {
    state != CapsuleState::Sealed
}

/// Refuses (403 `capsule_sealed`) to show a sealed capsule's photos, to anyone.
pub fn visible_only(capsule: &CapsuleRow) -> ApiResult<()> {
    if capsule.state == CapsuleState::Sealed {
        return Err(ApiError::sealed_contents());
    }
    Ok(())
}
