//! What the window shows, read in as few queries as the screen needs: the library as one
//! list of capsule summaries (one query for a thousand capsules, one for the outbox), and
//! one capsule with its photos, sync state and last delivery report. Sealed capsules show
//! title, dates and count only, as everywhere else.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use protocol::{CapsuleState, RecipientDelivery};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use uuid::Uuid;

use crate::drafts::{DraftError, from_ms, ms};
use crate::library::{Library, ThumbSize};
use crate::sync::{SyncEngine, SyncError, SyncState};

/// A capsule as the library screen shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct CapsuleSummary {
    pub id: Uuid,
    pub title: String,
    pub state: CapsuleState,
    pub open_at: Option<DateTime<Utc>>,
    pub time_zone: String,
    pub photo_count: u32,
    /// Hash of the photo whose grid thumbnail is the card's cover; none while sealed or
    /// until a thumbnail is on this device.
    pub cover: Option<String>,
    pub sealed_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub sync: SyncState,
}

/// A photo of a capsule this device can show.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct PhotoView {
    pub id: Uuid,
    pub sha256: String,
    pub file_name: Option<String>,
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub size: u64,
    pub content_type: String,
    /// Pixel size, once the original has been on this device.
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub taken_at: Option<DateTime<Utc>>,
    /// The server holds the verified bytes.
    pub uploaded: bool,
    /// The grid thumbnail is on this device.
    pub thumbnail: bool,
    /// The larger preview is on this device (it comes with the original).
    pub preview: bool,
}

/// One capsule, as its screen shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct CapsuleDetail {
    pub id: Uuid,
    pub title: String,
    /// Empty while sealed.
    pub note: String,
    pub open_at: Option<DateTime<Utc>>,
    pub time_zone: String,
    /// Empty while sealed.
    pub recipients: Vec<String>,
    pub state: CapsuleState,
    /// Empty while sealed.
    pub photos: Vec<PhotoView>,
    pub photo_count: u32,
    pub sealed_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub sync: SyncState,
    /// The reveal of this opened capsule has played on this device.
    pub revealed: bool,
    /// When this device announced the opening.
    pub notified_at: Option<DateTime<Utc>>,
    /// The last report of how each recipient's email went (opened capsules, once fetched).
    pub deliveries: Option<Vec<RecipientDelivery>>,
    /// How the server says it is locked, once it holds the sealed files.
    pub lock: Option<protocol::CapsuleLock>,
    /// The person chose the time lock alone when sealing here (before the server confirms).
    pub time_lock_only: bool,
    /// Sealed on this computer (no server has it): this device opens it with the beacon.
    pub sealed_here: bool,
    /// Why a capsule sealed here whose date has come has not opened yet.
    pub waiting_for: Option<String>,
}

/// What only this device knows of a capsule's display.
struct Extras {
    revealed: bool,
    notified_at: Option<i64>,
    deliveries: Option<Vec<RecipientDelivery>>,
    lock: Option<protocol::CapsuleLock>,
    time_lock_only: bool,
    sealed_here: bool,
    waiting_for: Option<String>,
}

/// The fields of a capsule row the list needs.
struct Row {
    id: Uuid,
    title: String,
    state: CapsuleState,
    open_at: Option<i64>,
    time_zone: String,
    photo_count: u32,
    first_photo: Option<String>,
    sealed_at: Option<i64>,
    updated_at: i64,
}

impl Library {
    fn summary_rows(&self) -> Result<Vec<Row>, DraftError> {
        let conn = self.conn();
        // Counts and covers per capsule in one pass: the list is the app's first screen
        // and must stay quick with thousands of capsules.
        let mut stmt = conn.prepare(
            "SELECT c.id, c.title, c.state, c.open_at, c.time_zone, c.photo_count, \
             c.sealed_at, c.updated_at, p.n, p.first \
             FROM capsules c LEFT JOIN ( \
               SELECT capsule_id, COUNT(*) AS n, \
                 (SELECT sha256 FROM capsule_photos f WHERE f.capsule_id = cp.capsule_id \
                  ORDER BY id LIMIT 1) AS first \
               FROM capsule_photos cp GROUP BY capsule_id \
             ) p ON p.capsule_id = c.id \
             ORDER BY c.open_at IS NULL, c.open_at, c.created_at",
        )?;
        let rows = stmt
            .query_map([], |r| {
                let state =
                    CapsuleState::parse(&r.get::<_, String>(2)?).unwrap_or(CapsuleState::Sealed);
                let sealed = state == CapsuleState::Sealed;
                let counted: Option<u32> = r.get(8)?;
                Ok(Row {
                    id: Uuid::parse_str(&r.get::<_, String>(0)?).unwrap_or_default(),
                    title: r.get(1)?,
                    state,
                    open_at: r.get(3)?,
                    time_zone: r.get(4)?,
                    // A sealed capsule's photos may already be gone from here; its count
                    // is the one recorded at sealing.
                    photo_count: if sealed {
                        r.get(5)?
                    } else {
                        counted.unwrap_or(0)
                    },
                    sealed_at: r.get(6)?,
                    updated_at: r.get(7)?,
                    first_photo: if sealed { None } else { r.get(9)? },
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Whether a photo may be shown: some capsule that is not sealed holds it. The window's
    /// image requests are checked with this, so nothing of a sealed capsule is served even
    /// before its files are deleted.
    pub fn photo_visible(&self, sha256: &str) -> Result<bool, DraftError> {
        Ok(self.conn().query_row(
            "SELECT EXISTS (SELECT 1 FROM capsule_photos cp JOIN capsules c \
             ON c.id = cp.capsule_id WHERE cp.sha256 = ?1 AND c.state != 'sealed')",
            params![sha256],
            |r| r.get(0),
        )?)
    }

    /// The latest open date that has passed of a capsule still sealed here (within a day:
    /// older ones are the server's delivery job's business, not worth polling for).
    pub(crate) fn latest_unopened_open_at(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, DraftError> {
        let at: Option<i64> = self.conn().query_row(
            "SELECT MAX(open_at) FROM capsules WHERE state = 'sealed'              AND open_at <= ?1 AND open_at > ?2",
            params![ms(now), ms(now - chrono::Duration::days(1))],
            |r| r.get(0),
        )?;
        Ok(at.map(from_ms))
    }

    /// Records that the reveal of an opened capsule has played here.
    pub fn mark_revealed(&self, id: Uuid, now: DateTime<Utc>) -> Result<(), DraftError> {
        let n = self.conn().execute(
            "UPDATE capsules SET revealed_at = COALESCE(revealed_at, ?2) \
             WHERE id = ?1 AND state = 'opened'",
            params![id.to_string(), ms(now)],
        )?;
        if n == 0 {
            return Err(DraftError::NotFound);
        }
        Ok(())
    }

    /// Keeps the delivery report of an opened capsule.
    pub(crate) fn save_deliveries(
        &self,
        id: Uuid,
        deliveries: &[RecipientDelivery],
    ) -> Result<(), DraftError> {
        self.conn().execute(
            "UPDATE capsules SET deliveries = ?2 WHERE id = ?1",
            params![
                id.to_string(),
                serde_json::to_string(deliveries).unwrap_or_else(|_| "[]".into())
            ],
        )?;
        Ok(())
    }

    fn display_extras(&self, id: Uuid) -> Result<Extras, DraftError> {
        let row = self
            .conn()
            .query_row(
                "SELECT revealed_at, notified_at, deliveries, seal_lock, seal_time_lock_only, \
                 sealed_here, open_wait FROM capsules WHERE id = ?1",
                params![id.to_string()],
                |r| {
                    Ok((
                        r.get::<_, Option<i64>>(0)?,
                        r.get::<_, Option<i64>>(1)?,
                        r.get::<_, Option<String>>(2)?,
                        r.get::<_, Option<String>>(3)?,
                        r.get::<_, bool>(4)?,
                        r.get::<_, bool>(5)?,
                        r.get::<_, Option<String>>(6)?,
                    ))
                },
            )
            .optional()?
            .ok_or(DraftError::NotFound)?;
        Ok(Extras {
            revealed: row.0.is_some(),
            notified_at: row.1,
            deliveries: row.2.and_then(|j| serde_json::from_str(&j).ok()),
            lock: row.3.and_then(|j| serde_json::from_str(&j).ok()),
            time_lock_only: row.4,
            sealed_here: row.5,
            waiting_for: row.6,
        })
    }

    /// Pixel sizes of the photos this device holds, by hash.
    fn dimensions(&self, shas: &[&str]) -> Result<HashMap<String, (u32, u32)>, DraftError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("SELECT width, height FROM photos WHERE sha256 = ?1")?;
        let mut out = HashMap::new();
        for sha in shas {
            if let Some(wh) = stmt
                .query_row(params![sha], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?
            {
                out.insert((*sha).to_owned(), wh);
            }
        }
        Ok(out)
    }
}

/// Every capsule on this device for the library screen, soonest open date first (undated
/// drafts last), each with where it stands with the server.
pub fn capsule_list(engine: &SyncEngine) -> Result<Vec<CapsuleSummary>, SyncError> {
    let lib = engine.library();
    let rows = lib.summary_rows()?;
    let states = engine.sync_states()?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let cover = r
                .first_photo
                .filter(|sha| lib.thumbnail_path(sha, ThumbSize::Grid).exists());
            CapsuleSummary {
                sync: states.get(&r.id).cloned().unwrap_or(SyncState::Synced),
                id: r.id,
                title: r.title,
                state: r.state,
                open_at: r.open_at.map(from_ms),
                time_zone: r.time_zone,
                photo_count: r.photo_count,
                cover,
                sealed_at: r.sealed_at.map(from_ms),
                updated_at: from_ms(r.updated_at),
            }
        })
        .collect())
}

/// One capsule for its screen.
pub fn capsule_detail(engine: &SyncEngine, id: Uuid) -> Result<CapsuleDetail, SyncError> {
    let lib = engine.library();
    let d = lib.draft(id)?.ok_or(DraftError::NotFound)?;
    let Extras {
        revealed,
        notified_at,
        deliveries,
        lock,
        time_lock_only,
        sealed_here,
        waiting_for,
    } = lib.display_extras(id)?;
    let shas: Vec<&str> = d.photos.iter().map(|p| p.sha256.as_str()).collect();
    let dims = lib.dimensions(&shas)?;
    let taken = lib.taken_at(id)?;
    let photos = d
        .photos
        .iter()
        .map(|p| {
            let wh = dims.get(&p.sha256);
            PhotoView {
                id: p.id,
                sha256: p.sha256.clone(),
                file_name: p.file_name.clone(),
                size: p.size,
                content_type: p.content_type.clone(),
                width: wh.map(|d| d.0),
                height: wh.map(|d| d.1),
                taken_at: taken.get(&p.id).copied().map(from_ms),
                uploaded: p.uploaded,
                thumbnail: lib.thumbnail_path(&p.sha256, ThumbSize::Grid).exists(),
                preview: lib.thumbnail_path(&p.sha256, ThumbSize::Preview).exists(),
            }
        })
        .collect();
    Ok(CapsuleDetail {
        sync: engine.sync_state(id)?,
        id,
        title: d.title,
        note: d.note,
        open_at: d.open_at,
        time_zone: d.time_zone,
        recipients: d.recipients,
        state: d.state,
        photos,
        photo_count: d.photo_count,
        sealed_at: d.sealed_at,
        updated_at: d.updated_at,
        revealed,
        notified_at: notified_at.map(from_ms),
        deliveries,
        lock,
        time_lock_only,
        sealed_here,
        waiting_for,
    })
}

impl Library {
    /// Capture times of a capsule's photos, by photo id.
    fn taken_at(&self, id: Uuid) -> Result<HashMap<Uuid, i64>, DraftError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id, taken_at FROM capsule_photos WHERE capsule_id = ?1 AND taken_at IS NOT NULL",
        )?;
        let rows = stmt
            .query_map(params![id.to_string()], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })?
            .filter_map(Result::ok)
            .filter_map(|(id, t)| Some((Uuid::parse_str(&id).ok()?, t)))
            .collect();
        Ok(rows)
    }
}
