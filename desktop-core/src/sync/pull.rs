//! Pulling: the change feed from the saved cursor, page by page, each page applied with
//! its cursor in one transaction; then the thumbnails of what this device can show.

use futures_util::StreamExt;
use protocol::{Capsule, Change, SYNC_MAX_LIMIT, SyncResponse};
use uuid::Uuid;

use super::error::SyncError;
use super::{SyncEngine, SyncEvent, store, transfer};
use crate::library::ThumbSize;

/// Thumbnails fetched at once.
const PARALLEL_DOWNLOADS: usize = 4;

impl SyncEngine {
    /// Applies every change since the saved cursor; answers how many there were.
    pub(super) async fn pull(&self) -> Result<usize, SyncError> {
        let mut total = 0;
        loop {
            let cursor: u64 = store::meta(&self.lib.conn(), "cursor")?
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            let page: SyncResponse = self
                .api
                .get(&format!("/v1/sync?since={cursor}&limit={SYNC_MAX_LIMIT}"))
                .await?;
            total += page.changes.len();
            let mut applied = store::Applied::default();
            let mut touched = Vec::new();
            {
                let now = self.clock.now();
                let mut conn = self.lib.conn();
                let tx = conn.transaction()?;
                for change in &page.changes {
                    match change {
                        Change::Capsule { capsule, .. } => {
                            store::apply_capsule(&tx, capsule, now, &mut applied)?;
                            touched.push(capsule.id);
                        }
                        Change::CapsuleDeleted { id, .. } => {
                            store::apply_capsule_deleted(&tx, *id)?;
                            touched.push(*id);
                        }
                        Change::Photo { photo, .. } => {
                            store::apply_photo(&tx, photo)?;
                            touched.push(photo.capsule_id);
                        }
                        Change::PhotoDeleted { id, capsule_id, .. } => {
                            store::apply_photo_deleted(&tx, *id)?;
                            touched.push(*capsule_id);
                        }
                    }
                }
                store::set_meta(&tx, "cursor", &page.cursor.to_string())?;
                tx.commit()?;
            }
            for id in applied.purge {
                self.purge_sealed(id)?;
            }
            touched.dedup();
            for id in touched {
                self.forget_sealed_copy(id)?;
                self.emit(SyncEvent::CapsuleChanged(id));
            }
            if !page.has_more {
                return Ok(total);
            }
        }
    }

    /// Applies one capsule the server answered with (outside the feed).
    pub(super) fn apply_one(&self, c: &Capsule) -> Result<(), SyncError> {
        let mut applied = store::Applied::default();
        {
            let mut conn = self.lib.conn();
            let tx = conn.transaction()?;
            store::apply_capsule(&tx, c, self.clock.now(), &mut applied)?;
            tx.commit()?;
        }
        for id in applied.purge {
            self.purge_sealed(id)?;
        }
        self.emit(SyncEvent::CapsuleChanged(c.id));
        Ok(())
    }

    /// The server holds the sealed capsule: this device lets go of its photos and
    /// Drops this device's sealed copy of a capsule that opened or went: the contents come
    /// from the server from then on.
    fn forget_sealed_copy(&self, id: Uuid) -> Result<(), SyncError> {
        let dir = self.lib.sealed_dir(id);
        if !dir.exists() {
            return Ok(());
        }
        let still_sealed = self
            .lib
            .draft(id)?
            .is_some_and(|c| c.state == protocol::CapsuleState::Sealed);
        if !still_sealed {
            std::fs::remove_dir_all(&dir)?;
        }
        Ok(())
    }

    /// The server holds the sealed capsule: this device lets go of its photos and
    /// thumbnails (those no other visible capsule uses), its note and its recipients, and
    /// empties the database's log of them.
    pub(super) fn purge_sealed(&self, id: Uuid) -> Result<(), SyncError> {
        let shas = store::drop_sealed_photos(&self.lib.conn(), id)?;
        for sha in shas {
            self.lib.forget_photo_if_unused(&sha)?;
        }
        self.lib.scrub()?;
        Ok(())
    }

    /// Fetches the server's thumbnail of every photo this device shows but lacks (opened
    /// capsules, drafts from other devices); answers how many it fetched.
    pub(super) async fn fetch_thumbnails(&self) -> Result<usize, SyncError> {
        let missing: Vec<_> = store::shown_photos(&self.lib.conn())?
            .into_iter()
            .filter(|(_, _, sha)| {
                !self.lib.thumbnail_path(sha, ThumbSize::Grid).exists()
                    && !self.lib.photo_path(sha).exists()
            })
            .collect();
        let results: Vec<Result<Uuid, SyncError>> = futures_util::stream::iter(missing)
            .map(|(capsule_id, photo_id, sha)| async move {
                // The thumbnails the uploading device made (or the server, for a client
                // that sent none): the preview first, so a grid never shows without it.
                for (route, size) in [
                    ("preview", ThumbSize::Preview),
                    ("thumbnail", ThumbSize::Grid),
                ] {
                    let res = self
                        .api
                        .send(
                            reqwest::Method::GET,
                            &format!("/v1/capsules/{capsule_id}/photos/{photo_id}/{route}"),
                            |r| r,
                        )
                        .await?;
                    let dest = self.lib.thumbnail_path(&sha, size);
                    transfer::download_to(res, self.lib.incoming(), &dest, None).await?;
                }
                Ok(capsule_id)
            })
            .buffer_unordered(PARALLEL_DOWNLOADS)
            .collect()
            .await;
        let mut fetched = 0;
        for r in results {
            match r {
                Ok(id) => {
                    fetched += 1;
                    self.emit(SyncEvent::CapsuleChanged(id));
                }
                Err(e @ (SyncError::Offline(_) | SyncError::SignedOut)) => return Err(e),
                Err(e) => tracing::info!(error = %e, "a thumbnail could not be fetched"),
            }
        }
        Ok(fetched)
    }
}
