//! Declaring a photo: what the client says it will send (the original's hash and size, and
//! its own thumbnails'), answered with where to send each: a presigned PUT straight to the
//! store, or the server's own endpoint for the folder store, and for an original over
//! [`SINGLE_UPLOAD_MAX`] a multipart upload whose finished parts are listed so a cut upload
//! resumes. Nothing counts until `complete` has checked it.

use std::collections::BTreeMap;

use protocol::{
    ErrorCode, MultipartTarget, PartTarget, PhotoState, PhotoUploadResponse, PhotoWrite,
    SINGLE_UPLOAD_MAX, ThumbnailState, ThumbnailTarget, ThumbnailWrite, UPLOAD_PART_SIZE,
    UploadTarget,
};
use uuid::Uuid;

use super::clean_file_name;
use crate::access;
use crate::auth::AuthUser;
use crate::auth::tokens::TYPE_UPLOAD;
use crate::blob::keys;
use crate::clock::to_ms;
use crate::db::photos::{self, DeclaredThumbnails, PhotoRow};
use crate::db::uploads::MultipartRow;
use crate::db::users::reserve_seq;
use crate::db::{capsules, changes};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::views;
use imaging::{ACCEPTED_NAMES, ACCEPTED_TYPES};

/// Largest thumbnail accepted, in bytes (a 1280 px JPEG is a few hundred KB).
pub const MAX_THUMBNAIL_BYTES: u64 = 4 * 1024 * 1024;

fn hex_sha(s: &str, what: &str) -> ApiResult<String> {
    let sha = s.trim().to_ascii_lowercase();
    if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::invalid(format!(
            "{what} must be 64 hexadecimal characters."
        )));
    }
    Ok(sha)
}

fn validate(state: &AppState, w: &PhotoWrite) -> ApiResult<(String, String, DeclaredThumbnails)> {
    let sha = hex_sha(&w.sha256, "sha256")?;
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
    if matches!(ct.as_str(), "image/heic-sequence" | "image/heif-sequence") {
        return Err(ApiError::new(
            ErrorCode::HeicNotSupported,
            "HEIC sequences (bursts, animations) are not supported. Export one photo of it and add that.",
        ));
    }
    if !ACCEPTED_TYPES.contains(&ct.as_str()) {
        return Err(ApiError::new(
            ErrorCode::UnsupportedImageFormat,
            format!("Only photos in {ACCEPTED_NAMES} are accepted."),
        ));
    }
    let mut thumbs: Vec<ThumbnailWrite> = Vec::new();
    for t in &w.thumbnails {
        if thumbs.iter().any(|d| d.kind == t.kind) {
            return Err(ApiError::invalid(format!(
                "The {} thumbnail is declared twice.",
                t.kind.as_str()
            )));
        }
        if t.size == 0 || t.size > MAX_THUMBNAIL_BYTES {
            return Err(ApiError::new(
                ErrorCode::InvalidThumbnail,
                format!(
                    "A thumbnail must have between 1 byte and {} MB.",
                    MAX_THUMBNAIL_BYTES / (1024 * 1024)
                ),
            ));
        }
        thumbs.push(ThumbnailWrite {
            kind: t.kind,
            sha256: hex_sha(&t.sha256, "A thumbnail's sha256")?,
            size: t.size,
        });
    }
    if !thumbs.is_empty() && thumbs.len() != 2 {
        return Err(ApiError::new(
            ErrorCode::InvalidThumbnail,
            "Send both thumbnails (grid and preview), or none and the server makes them.",
        ));
    }
    thumbs.sort_by_key(|t| t.kind);
    Ok((sha, ct, DeclaredThumbnails(thumbs)))
}

/// Declares a photo of a draft. Answers where to send its bytes, or no upload at all when
/// this user's library already holds those bytes.
#[tracing::instrument(skip_all, fields(user_id = %auth.user_id, capsule_id = %capsule_id, photo_id = %photo_id), err(level = "info"))]
pub async fn declare(
    state: &AppState,
    auth: &AuthUser,
    capsule_id: Uuid,
    photo_id: Uuid,
    w: &PhotoWrite,
) -> ApiResult<PhotoUploadResponse> {
    let (sha, ct, declared) = validate(state, w)?;
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
        thumbnails: ThumbnailState::Pending,
        declared_thumbnails: declared,
    };
    if let Some(b) = &known {
        row.state = PhotoState::Ready;
        row.content_type = b.content_type.clone();
        row.width = Some(b.width);
        row.height = Some(b.height);
        row.thumbnails = b.thumbnails;
        row.declared_thumbnails = DeclaredThumbnails::default();
    }
    match photos::photo(&mut tx, pid).await? {
        Some(existing) if existing.user_id != auth.user_id || existing.capsule_id != cid => {
            return Err(ApiError::not_found("photo"));
        }
        Some(existing) if existing.state == PhotoState::Ready => {
            if existing.sha256 != sha {
                return Err(ApiError::photo_id_taken());
            }
            return Ok(nothing_to_send(&existing));
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
        return Ok(nothing_to_send(&row));
    }
    let (upload, multipart) = if w.size > SINGLE_UPLOAD_MAX {
        (None, Some(multipart_target(state, &row).await?))
    } else {
        (Some(single_target(state, &row).await?), None)
    };
    let mut thumbnails = Vec::new();
    for t in &row.declared_thumbnails.0 {
        thumbnails.push(ThumbnailTarget {
            kind: t.kind,
            upload: thumbnail_target(state, &row, t).await?,
        });
    }
    Ok(PhotoUploadResponse {
        photo: views::photo(&row),
        upload,
        multipart,
        thumbnails,
    })
}

fn nothing_to_send(row: &PhotoRow) -> PhotoUploadResponse {
    PhotoUploadResponse {
        photo: views::photo(row),
        upload: None,
        multipart: None,
        thumbnails: Vec::new(),
    }
}

/// Where a photo's original is sent in one `PUT`: straight to its content-addressed key
/// when the store checks length and hash on upload (S3), else to a staging key of this
/// photo through the server.
pub fn original_upload_key(state: &AppState, row: &PhotoRow) -> String {
    if state.blobs.direct_uploads() {
        keys::original(row.user_id, &row.sha256)
    } else {
        keys::staging(row.user_id, row.id)
    }
}

fn expires_at(state: &AppState) -> chrono::DateTime<chrono::Utc> {
    state.clock.now()
        + chrono::Duration::from_std(state.settings.storage.upload_ttl).unwrap_or_default()
}

/// The server's own upload endpoint for `item` of a photo (`""` for the original).
fn server_target(
    state: &AppState,
    row: &PhotoRow,
    item: &str,
    content_type: &str,
) -> ApiResult<UploadTarget> {
    let ttl = state.settings.storage.upload_ttl;
    let token = state
        .tokens
        .sign(TYPE_UPLOAD, row.user_id, row.id, state.now_ms(), ttl)?;
    Ok(UploadTarget {
        method: "PUT".into(),
        url: format!(
            "{}/v1/uploads/{}{item}?token={token}",
            state.settings.http.public_url, row.id
        ),
        headers: [("content-type".to_owned(), content_type.to_owned())]
            .into_iter()
            .collect(),
        expires_at: expires_at(state),
    })
}

async fn single_target(state: &AppState, row: &PhotoRow) -> ApiResult<UploadTarget> {
    let ttl = state.settings.storage.upload_ttl;
    let size = u64::try_from(row.size).unwrap_or(0);
    if let Some(p) = state
        .blobs
        .presign_put(
            &original_upload_key(state, row),
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
            expires_at: expires_at(state),
        });
    }
    server_target(state, row, "", &row.content_type)
}

async fn thumbnail_target(
    state: &AppState,
    row: &PhotoRow,
    t: &ThumbnailWrite,
) -> ApiResult<UploadTarget> {
    // Straight to its place (the photo's bytes name it): complete checks it there, and
    // removes it if it is refused.
    let key = keys::thumbnail_of(row.user_id, &row.sha256, t.kind);
    let ttl = state.settings.storage.upload_ttl;
    if let Some(p) = state
        .blobs
        .presign_put(&key, t.size, &t.sha256, "image/jpeg", ttl)
        .await?
    {
        return Ok(UploadTarget {
            method: p.method,
            url: p.url,
            headers: p.headers,
            expires_at: expires_at(state),
        });
    }
    server_target(
        state,
        row,
        &format!("/thumbnails/{}", t.kind.as_str()),
        "image/jpeg",
    )
}

/// The parts of a large original: the upload under way for these bytes (its finished parts
/// listed as done), or a new one.
async fn multipart_target(state: &AppState, row: &PhotoRow) -> ApiResult<MultipartTarget> {
    let mut open = state.db.multipart(row.id).await?;
    if let Some(m) = &open
        && (m.sha256 != row.sha256 || m.size != row.size)
    {
        // Declared again for other bytes: the old parts are of no use.
        let _ = state
            .blobs
            .abort_multipart(&m.object_key, &m.upload_id)
            .await;
        state.db.forget_multipart(row.id).await?;
        open = None;
    }
    let mut done: Vec<u32> = Vec::new();
    if let Some(m) = &open {
        match state.blobs.list_parts(&m.object_key, &m.upload_id).await? {
            Some(parts) => {
                let expected = part_sizes(m.size, m.part_size);
                done = parts
                    .iter()
                    .filter(|p| expected.get(&p.number) == Some(&p.size))
                    .map(|p| p.number)
                    .collect();
            }
            // Expired or aborted by the store: start again.
            None => {
                state.db.forget_multipart(row.id).await?;
                open = None;
            }
        }
    }
    let m = match open {
        Some(m) => m,
        None => {
            let key = keys::staging(row.user_id, row.id);
            let upload_id = state.blobs.start_multipart(&key, &row.content_type).await?;
            let m = MultipartRow {
                photo_id: row.id,
                user_id: row.user_id,
                upload_id,
                object_key: key,
                sha256: row.sha256.clone(),
                size: row.size,
                part_size: i64::try_from(UPLOAD_PART_SIZE).unwrap_or(i64::MAX),
                created_at: state.now_ms(),
            };
            state.db.save_multipart(&m).await?;
            m
        }
    };
    let ttl = state.settings.storage.upload_ttl;
    let mut parts = Vec::new();
    for (number, size) in part_sizes(m.size, m.part_size) {
        if done.contains(&number) {
            continue;
        }
        let (method, url, headers) = match state
            .blobs
            .presign_part(&m.object_key, &m.upload_id, number, size, ttl)
            .await?
        {
            Some(p) => (p.method, p.url, p.headers),
            None => {
                let t = server_target(
                    state,
                    row,
                    &format!("/parts/{number}"),
                    "application/octet-stream",
                )?;
                (t.method, t.url, t.headers)
            }
        };
        parts.push(PartTarget {
            number,
            size,
            method,
            url,
            headers,
        });
    }
    Ok(MultipartTarget {
        upload_id: m.upload_id,
        part_size: u64::try_from(m.part_size).unwrap_or(UPLOAD_PART_SIZE),
        parts,
        done,
        expires_at: expires_at(state),
    })
}

/// The number and size of each part of an original of `size` bytes.
pub fn part_sizes(size: i64, part_size: i64) -> BTreeMap<u32, u64> {
    let (size, part) = (
        u64::try_from(size).unwrap_or(0),
        u64::try_from(part_size).unwrap_or(UPLOAD_PART_SIZE).max(1),
    );
    let mut out = BTreeMap::new();
    let mut offset = 0;
    let mut number = 1;
    while offset < size {
        let n = part.min(size - offset);
        out.insert(number, n);
        offset += n;
        number += 1;
    }
    out
}
