//! Serving a photo's original or thumbnail to its owner: a redirect to a short-lived store
//! URL, or the bytes streamed through the server. Never while its capsule is sealed.

use axum::body::Body;
use uuid::Uuid;

use crate::access;
use crate::auth::AuthUser;
use crate::blob::keys;
use crate::error::{ApiError, ApiResult};
use crate::escape::content_disposition;
use crate::state::AppState;
use protocol::{PhotoState, ThumbnailState};

/// Which bytes of a photo to serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    Original,
    Thumbnail,
    Preview,
}

/// How a photo's bytes reach the client.
pub enum Download {
    Redirect(String),
    Stream {
        body: Body,
        len: u64,
        content_type: String,
        disposition: String,
    },
}

/// Serves a photo's original or thumbnail to its owner, never while the capsule is sealed.
#[tracing::instrument(skip_all, fields(user_id = %auth.user_id, capsule_id = %capsule_id, photo_id = %photo_id, ?variant), err(level = "info"))]
pub async fn fetch(
    state: &AppState,
    auth: &AuthUser,
    capsule_id: Uuid,
    photo_id: Uuid,
    variant: Variant,
) -> ApiResult<Download> {
    let (capsule, row) = access::owned_photo(state, auth, capsule_id, photo_id).await?;
    access::visible_only(&capsule)?;
    if row.state != PhotoState::Ready {
        return Err(ApiError::not_found("uploaded photo"));
    }
    if variant != Variant::Original && row.thumbnails != ThumbnailState::Ready {
        return Err(ApiError::not_found("thumbnail (it is not made yet)"));
    }
    let (key, content_type, disposition) = match variant {
        Variant::Original => {
            let name =
                protocol::names::safe_file_name(row.file_name.as_deref(), &row.content_type, 1);
            (
                keys::original(row.user_id, &row.sha256),
                row.content_type.clone(),
                content_disposition("attachment", &name),
            )
        }
        Variant::Thumbnail => (
            keys::thumbnail(row.user_id, &row.sha256),
            "image/jpeg".to_owned(),
            "inline".to_owned(),
        ),
        Variant::Preview => (
            keys::preview(row.user_id, &row.sha256),
            "image/jpeg".to_owned(),
            "inline".to_owned(),
        ),
    };
    if let Some(url) = state
        .blobs
        .presign_get(
            &key,
            std::time::Duration::from_secs(300),
            &content_type,
            &disposition,
        )
        .await?
    {
        return Ok(Download::Redirect(url));
    }
    let obj = state
        .blobs
        .get(&key)
        .await?
        .ok_or_else(|| anyhow::anyhow!("stored photo {key} is missing"))?;
    Ok(Download::Stream {
        body: Body::from_stream(tokio_util::io::ReaderStream::new(obj.reader)),
        len: obj.len,
        content_type,
        disposition,
    })
}
