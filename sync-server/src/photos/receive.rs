//! The server's own upload endpoints, for a store without presigned uploads (the folder
//! store): a photo's original, one part of a large original, or one of its thumbnails,
//! each streamed to a temporary file while it is counted (and hashed where its hash is
//! known), so memory stays flat whatever the size, and nothing half-sent is kept.

use std::path::PathBuf;

use axum::body::Body;
use futures_util::StreamExt;
use protocol::{ErrorCode, ThumbnailSize};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

use super::upload::part_sizes;
use crate::auth::tokens::{Claims, TYPE_UPLOAD, TokenError};
use crate::blob::keys;
use crate::db::photos::PhotoRow;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// A temporary file under the data folder, removed when dropped.
pub(crate) struct TempFile(pub PathBuf);

impl TempFile {
    pub(crate) fn new(state: &AppState) -> Self {
        Self(
            state
                .settings
                .data_dir
                .join("tmp")
                .join(Uuid::new_v4().to_string()),
        )
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

pub(crate) fn size_mismatch(expected: u64, got: u64) -> ApiError {
    ApiError::new(
        ErrorCode::SizeMismatch,
        format!("The upload has {got} bytes but {expected} were declared; upload it again."),
    )
}

pub(crate) fn hash_mismatch() -> ApiError {
    ApiError::new(
        ErrorCode::HashMismatch,
        "The uploaded bytes do not match the declared SHA-256; upload the photo again.",
    )
}

/// The claims of an upload link of type `typ`, checked to be for `subject` (a photo, or a
/// capsule's sealed files), named `what` in the refusal.
pub(crate) fn upload_claims(
    state: &AppState,
    token: &str,
    typ: &str,
    subject: Uuid,
    what: &str,
) -> ApiResult<Claims> {
    let claims = state
        .tokens
        .verify(token, typ, state.now_ms())
        .map_err(|e| {
            let msg = match e {
                TokenError::Expired => "This upload link has expired; ask for a new one.",
                TokenError::Invalid => "This upload link is not valid.",
            };
            ApiError::new(ErrorCode::InvalidUploadToken, msg)
        })?;
    if claims.sid != subject.to_string() {
        return Err(ApiError::new(
            ErrorCode::InvalidUploadToken,
            format!("This upload link is for another {what}."),
        ));
    }
    Ok(claims)
}

/// The photo an upload token is for.
async fn photo_for(state: &AppState, photo_id: Uuid, token: &str) -> ApiResult<PhotoRow> {
    let claims = upload_claims(state, token, TYPE_UPLOAD, photo_id, "photo")?;
    let row = state
        .db
        .photo(photo_id)
        .await?
        .filter(|p| p.user_id.to_string() == claims.sub)
        .ok_or_else(|| ApiError::not_found("photo"))?;
    Ok(row)
}

/// Streams a body into a temporary file: exactly `expected` bytes, and their SHA-256 equal
/// to `sha256` when given.
pub(crate) async fn stream_to_file(
    state: &AppState,
    body: Body,
    expected: u64,
    sha256: Option<&str>,
) -> ApiResult<TempFile> {
    let tmp = TempFile::new(state);
    let mut file = tokio::fs::File::create(&tmp.0).await?;
    let mut hasher = Sha256::new();
    let mut got: u64 = 0;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(ApiError::upload_interrupted)?;
        got += chunk.len() as u64;
        if got > expected {
            return Err(ApiError::upload_too_long(expected));
        }
        if sha256.is_some() {
            hasher.update(&chunk);
        }
        file.write_all(&chunk).await?;
    }
    file.flush().await?;
    file.sync_all().await?;
    drop(file);
    if got != expected {
        return Err(size_mismatch(expected, got));
    }
    if let Some(sha) = sha256
        && hex::encode(hasher.finalize()) != sha
    {
        return Err(hash_mismatch());
    }
    Ok(tmp)
}

/// Receives a photo's whole original (an original up to the single-upload size).
#[tracing::instrument(skip_all, fields(photo_id = %photo_id), err(level = "info"))]
pub async fn original(state: &AppState, photo_id: Uuid, token: &str, body: Body) -> ApiResult<()> {
    let row = photo_for(state, photo_id, token).await?;
    let expected = u64::try_from(row.size).unwrap_or(0);
    let tmp = stream_to_file(state, body, expected, Some(&row.sha256)).await?;
    state
        .blobs
        .put_file(
            &keys::staging(row.user_id, photo_id),
            &tmp.0,
            &row.content_type,
        )
        .await?;
    Ok(())
}

/// Receives part `number` of a large original's multipart upload.
#[tracing::instrument(skip_all, fields(photo_id = %photo_id, number), err(level = "info"))]
pub async fn part(
    state: &AppState,
    photo_id: Uuid,
    number: u32,
    token: &str,
    body: Body,
) -> ApiResult<()> {
    let row = photo_for(state, photo_id, token).await?;
    let upload = state
        .db
        .multipart(photo_id)
        .await?
        .filter(|m| m.sha256 == row.sha256 && m.size == row.size)
        .ok_or_else(|| ApiError::not_found("upload in parts"))?;
    let expected = *part_sizes(upload.size, upload.part_size)
        .get(&number)
        .ok_or_else(|| ApiError::not_found("part"))?;
    let tmp = stream_to_file(state, body, expected, None).await?;
    state
        .blobs
        .put_part(&upload.object_key, &upload.upload_id, number, &tmp.0)
        .await?;
    Ok(())
}

/// Receives one of the client's thumbnails of a photo.
#[tracing::instrument(skip_all, fields(photo_id = %photo_id, kind = kind.as_str()), err(level = "info"))]
pub async fn thumbnail(
    state: &AppState,
    photo_id: Uuid,
    kind: ThumbnailSize,
    token: &str,
    body: Body,
) -> ApiResult<()> {
    let row = photo_for(state, photo_id, token).await?;
    let declared = row
        .declared_thumbnails
        .0
        .iter()
        .find(|t| t.kind == kind)
        .ok_or_else(|| ApiError::not_found("declared thumbnail"))?;
    let tmp = stream_to_file(state, body, declared.size, Some(&declared.sha256)).await?;
    state
        .blobs
        .put_file(
            &keys::thumbnail_of(row.user_id, &row.sha256, kind),
            &tmp.0,
            "image/jpeg",
        )
        .await?;
    Ok(())
}
