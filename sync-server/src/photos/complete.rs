//! Completing a photo: the checks that make it count, none of which decodes the original.
//! Its bytes are verified (S3 checked the pinned length and SHA-256 of a single `PUT`; the
//! server hashed what it received itself; a multipart upload is hashed once as it is read
//! back), its structure is read from a few ranged reads (format, dimensions within the
//! pixel limit, the end of the file), and the client's thumbnails, which are small, are
//! checked in full. A photo declared without thumbnails gets the server's later, from a
//! background job; it never waits for them here.

use std::sync::Arc;

use bytes::Bytes;
use protocol::{ErrorCode, Photo, PhotoState, ThumbnailState};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;
use uuid::Uuid;

use super::receive::{hash_mismatch, size_mismatch};
use super::upload::{original_upload_key, part_sizes};
use crate::access;
use crate::auth::AuthUser;
use crate::blob::{BlobStore, keys};
use crate::db::photos::{self, BlobRow, PhotoRow};
use crate::db::users::reserve_seq;
use crate::db::{changes, thumbnail_jobs};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::views;
use imaging::structure::{self, ReadAt, Structure};

/// Verifies an uploaded photo and its thumbnails, and marks it ready.
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
        None => verify(state, &row).await?,
    };
    let mut tx = state.db.begin().await?;
    let seq = reserve_seq(&mut tx, auth.user_id, 2).await?;
    photos::insert_blob(&mut tx, auth.user_id, &blob, state.now_ms()).await?;
    if blob.thumbnails == ThumbnailState::Pending {
        thumbnail_jobs::enqueue(&mut tx, auth.user_id, &blob.sha256, state.now_ms()).await?;
    }
    photos::mark_ready(&mut tx, pid, &blob).await?;
    changes::record_photo(&mut tx, auth.user_id, pid, cid, seq, false).await?;
    let ready = photos::photo(&mut tx, pid)
        .await?
        .ok_or_else(|| ApiError::not_found("photo"))?;
    tx.commit().await?;
    if blob.thumbnails == ThumbnailState::Pending {
        state.thumbnail_work.notify_one();
    }
    Ok(views::photo(&ready))
}

/// The checks of a photo the store holds for the first time; answers its blob.
async fn verify(state: &AppState, row: &PhotoRow) -> ApiResult<BlobRow> {
    let key = keys::original(row.user_id, &row.sha256);
    place_original(state, row, &key).await?;
    let structure = match check_structure(state, &key).await {
        Ok(s) => s,
        Err(e) => {
            // Bytes that are no photo are not kept (nothing else points at them yet).
            if state.db.blob(row.user_id, &row.sha256).await?.is_none() {
                state.blobs.delete(&key).await?;
            }
            return Err(e);
        }
    };
    let thumbnails = if row.declared_thumbnails.0.is_empty() {
        ThumbnailState::Pending
    } else {
        keep_thumbnails(state, row, &structure).await?;
        ThumbnailState::Ready
    };
    Ok(BlobRow {
        sha256: row.sha256.clone(),
        size: row.size,
        content_type: structure.content_type.into(),
        width: i64::from(structure.width),
        height: i64::from(structure.height),
        thumbnails,
    })
}

fn not_arrived(what: &str) -> ApiError {
    ApiError::new(
        ErrorCode::UploadIncomplete,
        format!("The photo's {what} have not arrived; upload them, then complete."),
    )
}

/// Puts the verified original at its content-addressed `key`.
async fn place_original(state: &AppState, row: &PhotoRow, key: &str) -> ApiResult<()> {
    let expected = u64::try_from(row.size).unwrap_or(0);
    if let Some(upload) = state.db.multipart(row.id).await? {
        let parts = state
            .blobs
            .list_parts(&upload.object_key, &upload.upload_id)
            .await?
            .ok_or_else(|| not_arrived("parts"))?;
        let expected_parts = part_sizes(upload.size, upload.part_size);
        let complete = parts.len() == expected_parts.len()
            && parts
                .iter()
                .all(|p| expected_parts.get(&p.number) == Some(&p.size));
        if !complete {
            return Err(not_arrived("parts"));
        }
        state
            .blobs
            .finish_multipart(&upload.object_key, &upload.upload_id, &parts)
            .await?;
        state.db.forget_multipart(row.id).await?;
        // A store checks each part only as it arrives: the whole is hashed once, here.
        let (got, sha) = hash_object(state.blobs.as_ref(), &upload.object_key, expected).await?;
        if got != expected || sha != row.sha256 {
            state.blobs.delete(&upload.object_key).await?;
            return Err(if got != expected {
                size_mismatch(expected, got)
            } else {
                hash_mismatch()
            });
        }
        return move_object(state, &upload.object_key, key).await;
    }
    let uploaded = original_upload_key(state, row);
    let Some((len, verified)) = state.blobs.head(&uploaded).await? else {
        return Err(ApiError::new(
            ErrorCode::UploadIncomplete,
            "The photo's bytes have not arrived; upload them, then complete.",
        ));
    };
    if len != expected {
        state.blobs.delete(&uploaded).await?;
        return Err(size_mismatch(expected, len));
    }
    // S3 checked the pinned length and SHA-256 of a presigned PUT and says so; bytes that
    // reached the store another way (a folder, an old upload) are hashed once, here.
    if verified.as_deref() != Some(row.sha256.as_str()) {
        let (got, sha) = hash_object(state.blobs.as_ref(), &uploaded, expected).await?;
        if got != expected || sha != row.sha256 {
            state.blobs.delete(&uploaded).await?;
            return Err(if got != expected {
                size_mismatch(expected, got)
            } else {
                hash_mismatch()
            });
        }
    }
    if uploaded != key {
        move_object(state, &uploaded, key).await?;
    }
    Ok(())
}

async fn move_object(state: &AppState, from: &str, to: &str) -> ApiResult<()> {
    state.blobs.copy(from, to).await?;
    state.blobs.delete(from).await?;
    Ok(())
}

/// Reads a stored object through, answering its length and SHA-256 (at most `limit + 1`
/// bytes are read).
async fn hash_object(blobs: &dyn BlobStore, key: &str, limit: u64) -> ApiResult<(u64, String)> {
    let Some(mut obj) = blobs.get(key).await? else {
        return Err(not_arrived("bytes"));
    };
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
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok((got, hex::encode(hasher.finalize())))
}

/// A stored object read a range at a time, for the structure check: the head and the tail
/// are fetched once and served from memory, anything else is fetched when asked for.
struct StoredObject {
    blobs: Arc<dyn BlobStore>,
    key: String,
    len: u64,
    chunks: Vec<(u64, Bytes)>,
    handle: tokio::runtime::Handle,
}

impl ReadAt for StoredObject {
    fn size(&self) -> u64 {
        self.len
    }

    fn read_at(&mut self, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
        let end = offset.saturating_add(len as u64).min(self.len);
        for (start, bytes) in &self.chunks {
            if offset >= *start && end <= start + bytes.len() as u64 {
                let from = usize::try_from(offset - start).unwrap_or(0);
                let to = usize::try_from(end - start).unwrap_or(0);
                return Ok(bytes[from..to].to_vec());
            }
        }
        // Fetch a little more than asked: the next read is usually just after.
        let want = (len as u64).max(16 * 1024);
        let got = self
            .handle
            .block_on(self.blobs.get_range(&self.key, offset, want))
            .map_err(std::io::Error::other)?
            .map(|(_, b)| b)
            .unwrap_or_default();
        let out = got[..got.len().min(len)].to_vec();
        // The head and the tail stay; one more chunk is kept, the last fetched (a JPEG's
        // segments are walked forwards, one after the other).
        self.chunks.truncate(2);
        self.chunks.push((offset, got));
        Ok(out)
    }
}

/// Checks the stored original's structure with ranged reads.
async fn check_structure(state: &AppState, key: &str) -> ApiResult<Structure> {
    const EDGE: u64 = 64 * 1024;
    let (len, head) = state
        .blobs
        .get_range(key, 0, EDGE)
        .await?
        .ok_or_else(|| not_arrived("bytes"))?;
    let start = len.saturating_sub(EDGE);
    let tail = if len > EDGE {
        state
            .blobs
            .get_range(key, start, EDGE)
            .await?
            .map(|(_, t)| t)
            .unwrap_or_default()
    } else {
        head.clone()
    };
    let chunks = vec![(0, head), (start, tail)];
    let mut object = StoredObject {
        blobs: state.blobs.clone(),
        key: key.to_owned(),
        len,
        chunks,
        handle: tokio::runtime::Handle::current(),
    };
    let max_pixels = state.settings.storage.max_photo_pixels;
    tokio::task::spawn_blocking(move || structure::check(&mut object, max_pixels))
        .await?
        .map_err(|r| ApiError::new(r.code, r.message))
}

/// Checks the client's thumbnails where they were uploaded (under the photo's
/// content-addressed keys); a refused one is removed.
async fn keep_thumbnails(state: &AppState, row: &PhotoRow, original: &Structure) -> ApiResult<()> {
    for t in &row.declared_thumbnails.0 {
        let key = keys::thumbnail_of(row.user_id, &row.sha256, t.kind);
        let (_, bytes) = state
            .blobs
            .get_range(&key, 0, t.size + 1)
            .await?
            .ok_or_else(|| not_arrived("thumbnails"))?;
        let refuse = |e: ApiError| async {
            state.blobs.delete(&key).await?;
            Err::<(), ApiError>(e)
        };
        if bytes.len() as u64 != t.size {
            return refuse(size_mismatch(t.size, bytes.len() as u64)).await;
        }
        if hex::encode(Sha256::digest(&bytes)) != t.sha256 {
            return refuse(hash_mismatch()).await;
        }
        let permit = state.decode_permits.clone().acquire_owned().await?;
        let (kind, original) = (t.kind, *original);
        let checked = tokio::task::spawn_blocking(move || {
            let r = imaging::thumbnail::check(&bytes, kind, &original);
            drop(permit);
            r
        })
        .await?;
        if let Err(r) = checked {
            return refuse(ApiError::new(r.code, r.message)).await;
        }
    }
    Ok(())
}
