//! The photo upload flow: declare → upload (presigned S3 PUT or the server's streaming
//! endpoint) → complete (size, hash and image checked) → ready. Nothing counts until it is
//! verified, and the bytes of a failed upload never reach an original's key.

use std::path::{Path, PathBuf};

use axum::body::Body;
use futures_util::StreamExt;
use protocol::{ErrorCode, Photo, PhotoState, PhotoWrite, UploadTarget};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

use super::clean_file_name;
use crate::access;
use crate::auth::AuthUser;
use crate::auth::tokens::{TYPE_UPLOAD, TokenError};
use crate::blob::keys;
use crate::clock::to_ms;
use crate::db::capsules;
use crate::db::changes;
use crate::db::photos::{self, BlobRow, PhotoRow};
use crate::db::users::reserve_seq;
use crate::error::{ApiError, ApiResult};
use crate::imaging::{self, ACCEPTED_TYPES};
use crate::state::AppState;
use crate::views;

fn validate(state: &AppState, w: &PhotoWrite) -> ApiResult<(String, String)> {
    let sha = w.sha256.trim().to_ascii_lowercase();
    if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::invalid(
            "sha256 must be 64 hexadecimal characters.",
        ));
    }
    if w.size == 0 {
        return Err(ApiError::new(
            ErrorCode::EmptyPhoto,
            "This photo file is empty.",
        ));
    }
    if w.size > state.settings.storage.max_photo_bytes {
        return Err(ApiError::new(
            ErrorCode::PhotoTooLarge,
            format!(
                "This photo is larger than the {} MB limit.",
                state.settings.storage.max_photo_bytes / (1024 * 1024)
            ),
        ));
    }
    let ct = w.content_type.trim().to_ascii_lowercase();
    if matches!(
        ct.as_str(),
        "image/heic" | "image/heif" | "image/heic-sequence"
    ) {
        return Err(ApiError::new(
            ErrorCode::HeicNotSupported,
            "HEIC/HEIF photos are not supported yet. Export the photo as JPEG and add it again.",
        ));
    }
    if !ACCEPTED_TYPES.contains(&ct.as_str()) {
        return Err(ApiError::new(
            ErrorCode::UnsupportedImageFormat,
            "Only JPEG, PNG, WebP, GIF, TIFF and BMP photos are accepted.",
        ));
    }
    Ok((sha, ct))
}

/// Declares a photo of a draft. Answers with where to send the bytes, or no upload at all
/// when this user's library already holds those bytes.
#[tracing::instrument(skip_all, fields(user_id = %auth.user_id, capsule_id = %capsule_id, photo_id = %photo_id), err(level = "info"))]
pub async fn declare(
    state: &AppState,
    auth: &AuthUser,
    capsule_id: Uuid,
    photo_id: Uuid,
    w: &PhotoWrite,
) -> ApiResult<(Photo, Option<UploadTarget>)> {
    let (sha, ct) = validate(state, w)?;
    let (cid, pid) = (capsule_id, photo_id);
    let known = state.db.blob(auth.user_id, &sha).await?;
    let now = state.now_ms();
    let mut tx = state.db.begin().await?;
    let seq = reserve_seq(&mut tx, auth.user_id, 2).await?;
    let capsule = access::owned_capsule(&mut tx, auth, cid).await?;
    access::draft_only(&capsule)?;
    let mut row = PhotoRow {
        id: pid,
        capsule_id: cid,
        user_id: auth.user_id,
        sha256: sha.clone(),
        size: i64::try_from(w.size).unwrap_or(i64::MAX),
        content_type: ct,
        file_name: w.file_name.as_deref().and_then(clean_file_name),
        taken_at: w.taken_at.map(to_ms),
        state: PhotoState::Pending,
        width: None,
        height: None,
        created_at: now,
    };
    if let Some(b) = &known {
        row.state = PhotoState::Ready;
        row.content_type = b.content_type.clone();
        row.width = Some(b.width);
        row.height = Some(b.height);
    }
    match photos::photo(&mut tx, pid).await? {
        Some(existing) if existing.user_id != auth.user_id || existing.capsule_id != cid => {
            return Err(ApiError::not_found("photo"));
        }
        Some(existing) if existing.state == PhotoState::Ready => {
            if existing.sha256 != sha {
                return Err(ApiError::photo_id_taken());
            }
            return Ok((views::photo(&existing), None));
        }
        Some(existing) => {
            row.created_at = existing.created_at;
            photos::redeclare(&mut tx, &row).await?;
        }
        None => {
            photos::insert(&mut tx, &row).await?;
            capsules::count_photos(&mut tx, cid, 1).await?;
        }
    }
    changes::record_photo(&mut tx, auth.user_id, pid, cid, seq, false).await?;
    tx.commit().await?;
    if known.is_some() {
        return Ok((views::photo(&row), None));
    }
    let target = upload_target(state, &row).await?;
    Ok((views::photo(&row), Some(target)))
}

async fn upload_target(state: &AppState, row: &PhotoRow) -> ApiResult<UploadTarget> {
    let ttl = state.settings.storage.upload_ttl;
    let expires_at = state.clock.now() + chrono::Duration::from_std(ttl).unwrap_or_default();
    let size = u64::try_from(row.size).unwrap_or(0);
    if let Some(p) = state
        .blobs
        .presign_put(
            &upload_key(state, row),
            size,
            &row.sha256,
            &row.content_type,
            ttl,
        )
        .await?
    {
        return Ok(UploadTarget {
            method: p.method,
            url: p.url,
            headers: p.headers,
            expires_at,
        });
    }
    let token = state
        .tokens
        .sign(TYPE_UPLOAD, row.user_id, row.id, state.now_ms(), ttl)?;
    Ok(UploadTarget {
        method: "PUT".into(),
        url: format!(
            "{}/v1/uploads/{}?token={token}",
            state.settings.http.public_url, row.id
        ),
        headers: [("content-type".to_owned(), row.content_type.clone())]
            .into_iter()
            .collect(),
        expires_at,
    })
}

/// A temporary file under the data folder, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(state: &AppState) -> Self {
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

fn size_mismatch(expected: u64, got: u64) -> ApiError {
    ApiError::new(
        ErrorCode::SizeMismatch,
        format!("The upload has {got} bytes but {expected} were declared; upload it again."),
    )
}

fn hash_mismatch() -> ApiError {
    ApiError::new(
        ErrorCode::HashMismatch,
        "The uploaded bytes do not match the declared SHA-256; upload the photo again.",
    )
}

/// Receives the bytes of a photo through the server (the folder store's upload target),
/// streaming them to disk while hashing: memory stays flat whatever the size.
#[tracing::instrument(skip_all, fields(photo_id = %photo_id), err(level = "info"))]
pub async fn receive(state: &AppState, photo_id: Uuid, token: &str, body: Body) -> ApiResult<()> {
    let claims = state
        .tokens
        .verify(token, TYPE_UPLOAD, state.now_ms())
        .map_err(|e| {
            let msg = match e {
                TokenError::Expired => "This upload link has expired; ask for a new one.",
                TokenError::Invalid => "This upload link is not valid.",
            };
            ApiError::new(ErrorCode::InvalidUploadToken, msg)
        })?;
    if claims.sid != photo_id.to_string() {
        return Err(ApiError::new(
            ErrorCode::InvalidUploadToken,
            "This upload link is for another photo.",
        ));
    }
    let row = state
        .db
        .photo(photo_id)
        .await?
        .filter(|p| p.user_id.to_string() == claims.sub)
        .ok_or_else(|| ApiError::not_found("photo"))?;
    let expected = u64::try_from(row.size).unwrap_or(0);
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
        hasher.update(&chunk);
        file.write_all(&chunk).await?;
    }
    file.flush().await?;
    file.sync_all().await?;
    drop(file);
    if got != expected {
        return Err(size_mismatch(expected, got));
    }
    if hex::encode(hasher.finalize()) != row.sha256 {
        return Err(hash_mismatch());
    }
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

/// Copies a stored object to a local file, returning its size and SHA-256.
async fn read_back(
    state: &AppState,
    key: &str,
    dest: &Path,
    limit: u64,
) -> ApiResult<Option<(u64, String)>> {
    let Some(mut obj) = state.blobs.get(key).await? else {
        return Ok(None);
    };
    let mut file = tokio::fs::File::create(dest).await?;
    let mut hasher = Sha256::new();
    let mut got: u64 = 0;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = obj
            .reader
            .read(&mut buf)
            .await
            .map_err(|e| ApiError::Unavailable(format!("reading upload: {e}")))?;
        if n == 0 {
            break;
        }
        got += n as u64;
        if got > limit {
            // Larger than declared: no need to read the rest.
            return Ok(Some((got, String::new())));
        }
        hasher.update(&buf[..n]);
        file.write_all(&buf[..n]).await?;
    }
    file.flush().await?;
    Ok(Some((got, hex::encode(hasher.finalize()))))
}

/// Verifies an uploaded photo (size, hash, image), stores its original and thumbnail under
/// content-addressed keys, and marks it ready.
#[tracing::instrument(skip_all, fields(user_id = %auth.user_id, capsule_id = %capsule_id, photo_id = %photo_id), err(level = "info"))]
pub async fn complete(
    state: &AppState,
    auth: &AuthUser,
    capsule_id: Uuid,
    photo_id: Uuid,
) -> ApiResult<Photo> {
    let (capsule, row) = access::owned_photo(state, auth, capsule_id, photo_id).await?;
    let (cid, pid) = (capsule.id, row.id);
    if row.state == PhotoState::Ready {
        return Ok(views::photo(&row));
    }
    access::draft_only(&capsule)?;
    let blob = match state.db.blob(auth.user_id, &row.sha256).await? {
        Some(b) => b,
        None => verify_upload(state, &row).await?,
    };
    let mut tx = state.db.begin().await?;
    let seq = reserve_seq(&mut tx, auth.user_id, 2).await?;
    photos::insert_blob(&mut tx, auth.user_id, &blob, state.now_ms()).await?;
    photos::mark_ready(&mut tx, pid, &blob).await?;
    changes::record_photo(&mut tx, auth.user_id, pid, cid, seq, false).await?;
    let ready = photos::photo(&mut tx, pid)
        .await?
        .ok_or_else(|| ApiError::not_found("photo"))?;
    tx.commit().await?;
    Ok(views::photo(&ready))
}

/// Where a photo's bytes are uploaded to: straight to their content-addressed key when
/// the store checks length and hash on upload (S3), else to a staging key of this photo.
fn upload_key(state: &AppState, row: &PhotoRow) -> String {
    if state.blobs.direct_uploads() {
        keys::original(row.user_id, &row.sha256)
    } else {
        keys::staging(row.user_id, row.id)
    }
}

async fn verify_upload(state: &AppState, row: &PhotoRow) -> ApiResult<BlobRow> {
    let staging = upload_key(state, row);
    let expected = u64::try_from(row.size).unwrap_or(0);
    let tmp = TempFile::new(state);
    let Some((got, sha)) = read_back(state, &staging, &tmp.0, expected).await? else {
        return Err(ApiError::new(
            ErrorCode::UploadIncomplete,
            "The photo's bytes have not arrived; upload them, then complete.",
        ));
    };
    let refuse = |e: ApiError| async {
        // A failed upload leaves nothing behind; the client uploads again.
        state.blobs.delete(&staging).await?;
        Err::<BlobRow, ApiError>(e)
    };
    if got != expected {
        return refuse(size_mismatch(expected, got)).await;
    }
    if sha != row.sha256 {
        return refuse(hash_mismatch()).await;
    }
    let permit = state.decode_permits.clone().acquire_owned().await?;
    let path = tmp.0.clone();
    let max_pixels = state.settings.storage.max_photo_pixels;
    let inspected = tokio::task::spawn_blocking(move || {
        let r = imaging::inspect(&path, max_pixels);
        drop(permit);
        r
    })
    .await?;
    let inspected = match inspected {
        Ok(i) => i,
        Err(rej) => return refuse(ApiError::new(rej.code, rej.message)).await,
    };
    state
        .blobs
        .put_bytes(
            &keys::thumbnail(row.user_id, &row.sha256),
            inspected.thumbnail_jpeg.into(),
            "image/jpeg",
        )
        .await?;
    if !state.blobs.direct_uploads() {
        state
            .blobs
            .copy(&staging, &keys::original(row.user_id, &row.sha256))
            .await?;
        state.blobs.delete(&staging).await?;
    }
    Ok(BlobRow {
        sha256: row.sha256.clone(),
        size: row.size,
        content_type: inspected.content_type.into(),
        width: i64::from(inspected.width),
        height: i64::from(inspected.height),
    })
}
