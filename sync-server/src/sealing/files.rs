//! A device's sealed files of a draft it is sealing: each is declared by name, SHA-256 and
//! size, and sent straight to the store (a presigned PUT the store checks) or through the
//! server's own endpoint, which hashes it as it arrives. The server never sees inside them.

use axum::body::Body;
use protocol::{ErrorCode, SealedItemResponse, SealedItemWrite, SealedName, UploadTarget};
use uuid::Uuid;

use crate::access;
use crate::auth::AuthUser;
use crate::auth::tokens::TYPE_SEALED_UPLOAD;
use crate::blob::keys;
use crate::error::{ApiError, ApiResult};
use crate::photos::receive::{stream_to_file, upload_claims};
use crate::state::AppState;

/// The largest sealed file for photos of at most `max_photo` bytes: age adds a header of a
/// few hundred bytes and 16 bytes per 64 KiB chunk.
pub fn largest_sealed_bytes(max_photo: u64) -> u64 {
    max_photo + max_photo / 4096 + 64 * 1024
}

fn largest_sealed(state: &AppState) -> u64 {
    largest_sealed_bytes(state.settings.storage.max_photo_bytes)
}

/// A sealed file's name, checked.
pub fn name(name: &str) -> ApiResult<SealedName> {
    SealedName::parse(name).ok_or_else(|| {
        ApiError::invalid(
            "A sealed file is index.age, note.age, recipients.age, or <photo id>.age, \
             <photo id>-grid.age or <photo id>-preview.age.",
        )
    })
}

fn hex_sha(s: &str) -> ApiResult<String> {
    let sha = s.trim().to_ascii_lowercase();
    if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::invalid(
            "sha256 must be 64 hexadecimal characters.",
        ));
    }
    Ok(sha)
}

/// Declares one sealed file of a draft; answers where to send it, or nothing when the
/// server holds those bytes already.
#[tracing::instrument(skip_all, fields(user_id = %auth.user_id, capsule_id = %capsule_id), err(level = "info"))]
pub async fn declare(
    state: &AppState,
    auth: &AuthUser,
    capsule_id: Uuid,
    file: &str,
    w: &SealedItemWrite,
) -> ApiResult<SealedItemResponse> {
    let file = name(file)?.file_name();
    let sha = hex_sha(&w.sha256)?;
    if w.size == 0 || w.size > largest_sealed(state) {
        return Err(ApiError::new(
            ErrorCode::PhotoTooLarge,
            format!(
                "A sealed file has between 1 byte and {} MB.",
                largest_sealed(state) / (1024 * 1024)
            ),
        ));
    }
    let capsule = access::owned(state.db.capsule(capsule_id).await?, auth)?;
    access::draft_only(&capsule)?;
    let size = i64::try_from(w.size).unwrap_or(i64::MAX);
    if state
        .db
        .declare_sealed_file(capsule.id, &file, &sha, size)
        .await?
    {
        return Ok(SealedItemResponse { upload: None });
    }
    let key = keys::sealed(auth.user_id, capsule.id, &file);
    let ttl = state.settings.storage.upload_ttl;
    let expires_at = state.clock.now() + chrono::Duration::from_std(ttl).unwrap_or_default();
    let target = match state
        .blobs
        .presign_put(&key, w.size, &sha, "application/octet-stream", ttl)
        .await?
    {
        Some(p) => UploadTarget {
            method: p.method,
            url: p.url,
            headers: p.headers,
            expires_at,
        },
        None => {
            let token = state.tokens.sign(
                TYPE_SEALED_UPLOAD,
                auth.user_id,
                capsule.id,
                state.now_ms(),
                ttl,
            )?;
            UploadTarget {
                method: "PUT".into(),
                url: format!(
                    "{}/v1/sealed-uploads/{}/{file}?token={token}",
                    state.settings.http.public_url, capsule.id
                ),
                headers: [(
                    "content-type".to_owned(),
                    "application/octet-stream".to_owned(),
                )]
                .into_iter()
                .collect(),
                expires_at,
            }
        }
    };
    Ok(SealedItemResponse {
        upload: Some(target),
    })
}

/// Receives a sealed file through the server (a store without presigned uploads).
#[tracing::instrument(skip_all, fields(capsule_id = %capsule_id), err(level = "info"))]
pub async fn receive(
    state: &AppState,
    capsule_id: Uuid,
    file: &str,
    token: &str,
    body: Body,
) -> ApiResult<()> {
    let file = name(file)?.file_name();
    let claims = upload_claims(state, token, TYPE_SEALED_UPLOAD, capsule_id, "capsule")?;
    let capsule = state
        .db
        .capsule(capsule_id)
        .await?
        .filter(|c| c.user_id.to_string() == claims.sub)
        .ok_or_else(|| ApiError::not_found("capsule"))?;
    access::draft_only(&capsule)?;
    let declared = state
        .db
        .sealed_file(capsule.id, &file)
        .await?
        .ok_or_else(|| ApiError::not_found("declared sealed file"))?;
    let expected = u64::try_from(declared.size).unwrap_or(0);
    let tmp = stream_to_file(state, body, expected, Some(&declared.sha256)).await?;
    state
        .blobs
        .put_file(
            &keys::sealed(capsule.user_id, capsule.id, &file),
            &tmp.0,
            "application/octet-stream",
        )
        .await?;
    state.db.sealed_file_received(capsule.id, &file).await?;
    Ok(())
}
