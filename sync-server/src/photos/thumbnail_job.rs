//! The server's own thumbnails, for photos whose client sent none: a queue in the database
//! worked off the request path, a few at a time (each decode may hold hundreds of MB), by
//! the server's worker or the scheduled Lambda. A job is claimed with a lease, retried with
//! backoff, and after its last attempt the photo is marked as having no thumbnail.

use std::time::Duration;

use chrono::{DateTime, Utc};
use protocol::ThumbnailState;
use uuid::Uuid;

use super::receive::TempFile;
use crate::blob::keys;
use crate::clock::to_ms;
use crate::db::changes::{self, ChangeEntry, ChangeKind};
use crate::db::thumbnail_jobs::{self, ThumbnailJob};
use crate::db::{photos, users};
use crate::state::AppState;

/// Attempts before a photo is given up on (it then shows without a thumbnail).
const MAX_ATTEMPTS: i64 = 5;
/// How long a worker holds a claimed job.
const LEASE: Duration = Duration::from_secs(300);

/// Makes the thumbnails of every job that is due and not leased by another worker; answers
/// how many were made.
#[tracing::instrument(skip_all, err(level = "info"))]
pub async fn run_due(state: &AppState, now: DateTime<Utc>) -> anyhow::Result<u64> {
    let worker = Uuid::new_v4().to_string();
    let batch = i64::try_from(state.decode_permits.available_permits().max(1)).unwrap_or(1);
    let mut made = 0;
    loop {
        let lease_until = to_ms(now) + i64::try_from(LEASE.as_millis()).unwrap_or(i64::MAX / 4);
        let jobs = state
            .db
            .claim_thumbnail_jobs(&worker, to_ms(now), lease_until, batch)
            .await?;
        if jobs.is_empty() {
            return Ok(made);
        }
        let results = futures_util::future::join_all(
            jobs.iter()
                .map(|job| async move { (job, make(state, job).await) }),
        )
        .await;
        for (job, result) in results {
            match result {
                Ok(()) => {
                    settle(state, job, &worker, ThumbnailState::Ready).await?;
                    made += 1;
                }
                Err(reason) if job.attempts >= MAX_ATTEMPTS => {
                    tracing::warn!(user_id = %job.user_id, sha256 = %job.sha256, %reason, "thumbnails given up");
                    settle(state, job, &worker, ThumbnailState::Failed).await?;
                }
                Err(reason) => {
                    tracing::info!(user_id = %job.user_id, sha256 = %job.sha256, %reason, "thumbnails failed; retrying later");
                    let wait =
                        60_000 * 2i64.pow(u32::try_from(job.attempts.clamp(1, 6) - 1).unwrap_or(0));
                    state
                        .db
                        .thumbnail_job_failed(job, &worker, &reason, to_ms(now) + wait)
                        .await?;
                }
            }
        }
    }
}

/// Decodes the original (reduced where its format allows) and stores both thumbnails.
async fn make(state: &AppState, job: &ThumbnailJob) -> Result<(), String> {
    let key = keys::original(job.user_id, &job.sha256);
    let Some(mut obj) = state.blobs.get(&key).await.map_err(|e| e.to_string())? else {
        // The photo went meanwhile; nothing to make.
        return Ok(());
    };
    let tmp = TempFile::new(state);
    let mut file = tokio::fs::File::create(&tmp.0)
        .await
        .map_err(|e| e.to_string())?;
    tokio::io::copy(&mut obj.reader, &mut file)
        .await
        .map_err(|e| e.to_string())?;
    drop(file);
    let permit = state
        .decode_permits
        .clone()
        .acquire_owned()
        .await
        .map_err(|e| e.to_string())?;
    let path = tmp.0.clone();
    let max_pixels = state.settings.storage.max_photo_pixels;
    let made = tokio::task::spawn_blocking(move || {
        let r = imaging::server_thumbnails(&path, max_pixels);
        drop(permit);
        r
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|r| r.message)?;
    state
        .blobs
        .put_bytes(
            &keys::preview(job.user_id, &job.sha256),
            made.preview.into(),
            "image/jpeg",
        )
        .await
        .map_err(|e| e.to_string())?;
    state
        .blobs
        .put_bytes(
            &keys::thumbnail(job.user_id, &job.sha256),
            made.grid.into(),
            "image/jpeg",
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// Records the outcome of a job for the blob and its photos, puts the photos on the feed
/// again (other devices learn their thumbnails are there), and removes the job.
async fn settle(
    state: &AppState,
    job: &ThumbnailJob,
    worker: &str,
    outcome: ThumbnailState,
) -> anyhow::Result<()> {
    let mut tx = state.db.begin().await?;
    // First: the user's row lock, as in every write that records changes.
    users::reserve_seq(&mut tx, job.user_id, 0).await?;
    if !thumbnail_jobs::finish(&mut tx, job.user_id, &job.sha256, worker).await? {
        // Another worker took it over after our lease ran out; it settles it.
        return Ok(());
    }
    let photos = photos::set_thumbnails(&mut tx, job.user_id, &job.sha256, outcome).await?;
    if !photos.is_empty() {
        let n = i64::try_from(photos.len()).unwrap_or(i64::MAX);
        let first = users::reserve_seq(&mut tx, job.user_id, n).await?;
        let entries: Vec<ChangeEntry> = photos
            .iter()
            .enumerate()
            .map(|(i, (photo, capsule))| ChangeEntry {
                kind: ChangeKind::Photo,
                entity_id: *photo,
                capsule_id: *capsule,
                seq: first + i64::try_from(i).unwrap_or(0),
            })
            .collect();
        changes::record_many(&mut tx, job.user_id, &entries).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Works the queue for as long as the server runs: whenever a photo completes without
/// thumbnails, and every `every` otherwise.
pub async fn run_worker(
    state: AppState,
    every: Duration,
    stop: impl std::future::Future<Output = ()> + Send,
) {
    tokio::pin!(stop);
    loop {
        if let Err(e) = run_due(&state, state.clock.now()).await {
            tracing::error!(error = format!("{e:#}"), "thumbnail run failed; retrying");
        }
        tokio::select! {
            () = &mut stop => break,
            () = state.thumbnail_work.notified() => {}
            () = tokio::time::sleep(every) => {}
        }
    }
}
