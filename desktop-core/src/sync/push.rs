//! Pushing the outbox: oldest first; an entry that fails holds back the later entries of
//! its capsule (a seal never overtakes its photos) but not other capsules'.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use futures_util::StreamExt;

use protocol::{
    CapsuleResponse, CapsuleState, ErrorCode, PhotoResponse, PhotoUploadResponse, PhotoWrite,
    ThumbnailSize, ThumbnailWrite,
};
use reqwest::Method;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::error::SyncError;
use super::{SyncEngine, SyncEvent, api, store, transfer};
use crate::drafts::from_ms;
use crate::library::ThumbSize;
use crate::outbox::{self, FailureKind, Op, OpKind};

/// How many times a stale write is merged and retried in one go.
const MERGE_ROUNDS: usize = 5;
/// Upload slots: a photo takes more of them the larger it is, so many small photos go up
/// at once and a few large ones share the link (uploads stream from disk; the bound is on
/// the link and the server, not on memory).
const UPLOAD_SLOTS: u32 = 16;
/// Parts of one large original in flight at once: enough to fill a link, few enough that
/// a cut loses little (at most this many part-sized pieces are sent again).
const PARALLEL_PARTS: usize = 3;

/// The slots a photo of `size` bytes takes.
fn upload_weight(size: u64) -> u32 {
    match size {
        0..=2_000_000 => 1,
        2_000_001..=16_000_000 => 2,
        _ => 4,
    }
}

impl SyncEngine {
    /// Sends every due outbox entry; answers how many went through. Runs of photo uploads
    /// go several at a time (the network and the server's checks overlap); everything
    /// else goes one by one, in order.
    pub(super) async fn push(&self) -> Result<usize, SyncError> {
        let ops = outbox::pending(&self.lib.conn())?;
        let mut held: HashSet<Uuid> = HashSet::new();
        let mut sent = 0;
        let mut uploads: Vec<Op> = Vec::new();
        for op in ops {
            let now = self.clock.now().timestamp_millis();
            if held.contains(&op.capsule_id) {
                continue;
            }
            if op.failure == Some(FailureKind::Refused) || op.next_attempt_at > now {
                held.insert(op.capsule_id);
                continue;
            }
            if op.kind == OpKind::PutPhoto {
                uploads.push(op);
                continue;
            }
            sent += self
                .send_batch(std::mem::take(&mut uploads), &mut held)
                .await?;
            if held.contains(&op.capsule_id) {
                continue;
            }
            sent += self.send_batch(vec![op], &mut held).await?;
        }
        sent += self.send_batch(uploads, &mut held).await?;
        Ok(sent)
    }

    /// Sends entries concurrently and records each outcome; answers how many went
    /// through. A failed entry holds back the rest of its capsule.
    async fn send_batch(&self, ops: Vec<Op>, held: &mut HashSet<Uuid>) -> Result<usize, SyncError> {
        if ops.is_empty() {
            return Ok(0);
        }
        let slots = tokio::sync::Semaphore::new(UPLOAD_SLOTS as usize);
        let results: Vec<(Op, Result<(), SyncError>)> = futures_util::stream::iter(ops)
            .map(|op| {
                let slots = &slots;
                async move {
                    let size = match op.photo_id {
                        Some(pid) if op.kind == OpKind::PutPhoto => {
                            store::local_photo(&self.lib.conn(), pid)
                                .ok()
                                .flatten()
                                .map_or(0, |p| p.size)
                        }
                        _ => 0,
                    };
                    let _slots = slots.acquire_many(upload_weight(size)).await;
                    let r = self.send_op(&op).await;
                    (op, r)
                }
            })
            .buffer_unordered(UPLOAD_SLOTS as usize)
            .collect()
            .await;
        let mut sent = 0;
        let mut stop = None;
        for (op, result) in results {
            match self.settle(&op, result) {
                Ok(true) => sent += 1,
                Ok(false) => {
                    held.insert(op.capsule_id);
                }
                Err(e) => {
                    held.insert(op.capsule_id);
                    stop.get_or_insert(e);
                }
            }
        }
        match stop {
            Some(e) => Err(e),
            None => Ok(sent),
        }
    }

    /// Records how an entry went: true if done, false if it failed and waits; an error
    /// when the whole pass should stop (offline, signed out, the library unwritable).
    fn settle(&self, op: &Op, result: Result<(), SyncError>) -> Result<bool, SyncError> {
        let now = self.clock.now().timestamp_millis();
        match result {
            Ok(()) => {
                outbox::done(&self.lib.conn(), op)?;
                Ok(true)
            }
            Err(e @ SyncError::Offline(_)) => {
                outbox::failed(
                    &self.lib.conn(),
                    op,
                    FailureKind::Network,
                    &e.to_string(),
                    now,
                    None,
                )?;
                self.emit(SyncEvent::CapsuleChanged(op.capsule_id));
                Err(e)
            }
            Err(
                e @ (SyncError::SignedOut
                | SyncError::NotLoggedIn
                | SyncError::Library(_)
                | SyncError::Tokens(_)),
            ) => Err(e),
            Err(e) => {
                let kind = if e.is_transient() {
                    FailureKind::Server
                } else {
                    FailureKind::Refused
                };
                tracing::info!(op = ?op.kind, capsule = %op.capsule_id, error = %e, "outbox entry failed");
                let message = refusal_message(op, &e);
                let conn = self.lib.conn();
                outbox::failed(&conn, op, kind, &message, now, e.retry_after())?;
                if kind == FailureKind::Refused {
                    // A capsule sealed here but refused by the server becomes a draft
                    // again, so the person can fix it.
                    store::unseal(&conn, op.capsule_id, now)?;
                }
                drop(conn);
                self.emit(SyncEvent::CapsuleChanged(op.capsule_id));
                Ok(false)
            }
        }
    }

    async fn send_op(&self, op: &Op) -> Result<(), SyncError> {
        match op.kind {
            OpKind::PutCapsule => self.put_capsule(op.capsule_id).await,
            OpKind::PutPhoto => match op.photo_id {
                Some(pid) => self.put_photo(pid).await,
                None => Ok(()),
            },
            OpKind::DeletePhoto => {
                let Some(pid) = op.photo_id else {
                    return Ok(());
                };
                let path = format!("/v1/capsules/{}/photos/{pid}", op.capsule_id);
                gone_is_fine(self.api.send(Method::DELETE, &path, |r| r).await).await
            }
            OpKind::Seal => self.seal(op.capsule_id).await,
            OpKind::DeleteCapsule => {
                let path = format!("/v1/capsules/{}", op.capsule_id);
                gone_is_fine(self.api.send(Method::DELETE, &path, |r| r).await).await
            }
        }
    }

    /// Sends a capsule's fields; on a stale version, merges with the server's and retries.
    async fn put_capsule(&self, id: Uuid) -> Result<(), SyncError> {
        for _ in 0..MERGE_ROUNDS {
            let Some(local) = store::local_capsule(&self.lib.conn(), id)? else {
                return Ok(());
            };
            let path = format!("/v1/capsules/{id}");
            let version = local.server_version;
            let res = self
                .api
                .send(Method::PUT, &path, |r| {
                    let r = r.json(&local.fields);
                    if version > 0 {
                        r.header("If-Match", version.to_string())
                    } else {
                        r
                    }
                })
                .await?;
            match api::json::<CapsuleResponse>(res).await {
                Ok(c) => {
                    store::record_pushed(&self.lib.conn(), &c.capsule)?;
                    self.emit(SyncEvent::CapsuleChanged(id));
                    return Ok(());
                }
                Err(SyncError::Api {
                    code: ErrorCode::VersionConflict,
                    ..
                }) => {
                    let server: CapsuleResponse = self.api.get(&path).await?;
                    if server.capsule.state != CapsuleState::Draft {
                        self.apply_one(&server.capsule)?;
                        return Ok(());
                    }
                    let merged = store::merge(
                        &local.fields,
                        local.base.as_ref(),
                        &store::fields_of(&server.capsule),
                    );
                    store::write_merged(&self.lib.conn(), id, &merged, &server.capsule)?;
                }
                // Sealed on another device: the pull brings its state.
                Err(SyncError::Api {
                    code: ErrorCode::CapsuleSealed,
                    ..
                }) => return Ok(()),
                // Deleted on another device: deletion wins over this edit.
                Err(SyncError::Api {
                    code: ErrorCode::NotFound,
                    ..
                }) if version > 0 => {
                    store::apply_capsule_deleted(&self.lib.conn(), id)?;
                    self.emit(SyncEvent::CapsuleChanged(id));
                    return Ok(());
                }
                Err(e) => return Err(e),
            }
        }
        Err(SyncError::KeepsChanging)
    }

    /// Declares a photo with its thumbnails, sends what the server lacks, and completes
    /// it. A whole-file upload cut off is sent again whole to a fresh target; a large
    /// original goes up in parts, and after a cut (or a restart) only the parts the server
    /// does not hold are sent. No half upload can ever count: the server checks size, hash
    /// and structure before it does.
    async fn put_photo(&self, photo_id: Uuid) -> Result<(), SyncError> {
        let Some(p) = store::local_photo(&self.lib.conn(), photo_id)? else {
            return Ok(());
        };
        // Sealed before this photo went up: the seal carries it encrypted, so its plaintext
        // never leaves this computer (a refused seal queues it again).
        if store::seal_here(&self.lib.conn(), p.capsule_id)?.sealed {
            return Ok(());
        }
        let file = self.lib.photo_path(&p.sha256);
        if !file.exists() {
            return Err(SyncError::PhotoFileMissing);
        }
        let cid = p.capsule_id;
        let base = format!("/v1/capsules/{cid}/photos/{photo_id}");
        let thumbnails = self.declared_thumbnails(&p.sha256).await?;
        let declare = PhotoWrite {
            sha256: p.sha256.clone(),
            size: p.size,
            content_type: p.content_type.clone(),
            file_name: p.file_name.clone(),
            taken_at: p.taken_at.map(from_ms),
            thumbnails: thumbnails.iter().map(|(t, _)| t.clone()).collect(),
        };
        let res = self
            .api
            .send(Method::PUT, &base, |r| r.json(&declare))
            .await?;
        let declared = match api::json::<PhotoUploadResponse>(res).await {
            Ok(d) => d,
            Err(SyncError::Api {
                code: ErrorCode::CapsuleSealed,
                ..
            }) => return Ok(()),
            Err(e) => return Err(e),
        };
        let nothing_to_send = declared.upload.is_none() && declared.multipart.is_none();
        if !nothing_to_send || !declared.thumbnails.is_empty() {
            let sent = Arc::new(AtomicU64::new(0));
            self.uploads
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(photo_id, sent.clone());
            let progress = self.report_progress(cid, photo_id, sent.clone(), p.size);
            let result = self
                .send_bytes(photo_id, &file, p.size, &declared, &thumbnails, &sent)
                .await;
            progress.abort();
            self.uploads
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&photo_id);
            result?;
            let res = self
                .api
                .send(Method::POST, &format!("{base}/complete"), |r| r)
                .await?;
            let _: PhotoResponse = api::json(res).await?;
            store::forget_parts(&self.lib.conn(), photo_id)?;
        }
        store::mark_uploaded(&self.lib.conn(), photo_id)?;
        self.emit(SyncEvent::CapsuleChanged(cid));
        Ok(())
    }

    /// This device's two thumbnails of a photo, as declared (hash and size), with their
    /// files; none when either is missing (the server then makes its own).
    async fn declared_thumbnails(
        &self,
        sha256: &str,
    ) -> Result<Vec<(ThumbnailWrite, std::path::PathBuf)>, SyncError> {
        let mut out = Vec::new();
        for (kind, size) in [
            (ThumbnailSize::Grid, ThumbSize::Grid),
            (ThumbnailSize::Preview, ThumbSize::Preview),
        ] {
            let path = self.lib.thumbnail_path(sha256, size);
            let Ok(bytes) = tokio::fs::read(&path).await else {
                return Ok(Vec::new());
            };
            out.push((
                ThumbnailWrite {
                    kind,
                    sha256: hex::encode(Sha256::digest(&bytes)),
                    size: bytes.len() as u64,
                },
                path,
            ));
        }
        Ok(out)
    }

    /// Sends what a declaration asks for: the thumbnails, and the original whole or in
    /// parts (several at once).
    async fn send_bytes(
        &self,
        photo_id: Uuid,
        file: &std::path::Path,
        size: u64,
        declared: &PhotoUploadResponse,
        thumbnails: &[(ThumbnailWrite, std::path::PathBuf)],
        sent: &Arc<AtomicU64>,
    ) -> Result<(), SyncError> {
        for t in &declared.thumbnails {
            let Some((w, path)) = thumbnails.iter().find(|(w, _)| w.kind == t.kind) else {
                continue;
            };
            let quiet = Arc::new(AtomicU64::new(0));
            transfer::upload(&self.api.http, &t.upload, path, w.size, quiet).await?;
        }
        if let Some(target) = &declared.upload {
            return transfer::upload(&self.api.http, target, file, size, sent.clone()).await;
        }
        let Some(m) = &declared.multipart else {
            return Ok(());
        };
        // What the server holds is what counts; this device's record of it is kept for a
        // restart and to say how much was resumed.
        let before = store::parts_sent(&self.lib.conn(), photo_id, &m.upload_id)?;
        if !before.is_empty() {
            tracing::info!(photo = %photo_id, held = m.done.len(), "resuming an upload in parts");
        }
        let done = std::sync::Mutex::new(m.done.clone());
        store::record_parts(
            &self.lib.conn(),
            photo_id,
            &m.upload_id,
            m.part_size,
            &m.done,
        )?;
        sent.store(
            m.part_size.saturating_mul(m.done.len() as u64).min(size),
            std::sync::atomic::Ordering::Relaxed,
        );
        let results: Vec<Result<(), SyncError>> = futures_util::stream::iter(m.parts.clone())
            .map(|part| {
                let done = &done;
                async move {
                    let offset = u64::from(part.number - 1) * m.part_size;
                    transfer::upload_range(
                        &self.api.http,
                        &part.method,
                        &part.url,
                        &part.headers,
                        file,
                        offset,
                        part.size,
                        sent,
                    )
                    .await?;
                    let now_done = {
                        let mut d = done.lock().unwrap_or_else(|e| e.into_inner());
                        d.push(part.number);
                        d.clone()
                    };
                    store::record_parts(
                        &self.lib.conn(),
                        photo_id,
                        &m.upload_id,
                        m.part_size,
                        &now_done,
                    )?;
                    Ok(())
                }
            })
            .buffer_unordered(PARALLEL_PARTS)
            .collect()
            .await;
        results.into_iter().collect()
    }

    /// Emits upload progress a few times a second while an upload runs.
    fn report_progress(
        &self,
        capsule_id: Uuid,
        photo_id: Uuid,
        sent: Arc<AtomicU64>,
        total: u64,
    ) -> tokio::task::JoinHandle<()> {
        let listener = self
            .listener
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some();
        let engine = self.self_ref();
        tokio::spawn(async move {
            if !listener {
                return;
            }
            loop {
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                let Some(engine) = engine.upgrade() else {
                    return;
                };
                engine.emit(SyncEvent::UploadProgress {
                    capsule_id,
                    photo_id,
                    done: sent.load(std::sync::atomic::Ordering::Relaxed),
                    total,
                });
            }
        })
    }
}

/// A delete of something already gone has done its job.
async fn gone_is_fine(res: Result<reqwest::Response, SyncError>) -> Result<(), SyncError> {
    match api::check(res?).await {
        Ok(_)
        | Err(SyncError::Api {
            code: ErrorCode::NotFound,
            ..
        }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// The reason kept on a refused entry, naming what it was about.
fn refusal_message(op: &Op, e: &SyncError) -> String {
    match op.kind {
        OpKind::Seal => format!("The server did not seal this capsule: {e}"),
        OpKind::PutPhoto => format!("A photo could not be sent: {e}"),
        _ => e.to_string(),
    }
}
