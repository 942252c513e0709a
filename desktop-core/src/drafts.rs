//! Capsule drafts on this device: made, edited, sealed and deleted with no network at all,
//! with the same rules the server applies (`protocol::validate`). Photos come from the
//! library, each at most once per capsule. Every change is written together with its outbox
//! entry in one transaction, so nothing done offline is forgotten.

use chrono::{DateTime, Utc};
use protocol::{CapsuleState, CapsuleWrite, Reminders};
use rusqlite::{OptionalExtension, params};
use uuid::Uuid;

use crate::library::{Library, LibraryError};
use crate::outbox::{self, OpKind};

/// Why a draft operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum DraftError {
    /// A field is not acceptable; the text says which and why, for a person.
    #[error("{0}")]
    Invalid(String),
    #[error("There is no such capsule on this computer.")]
    NotFound,
    #[error("This capsule is sealed; it cannot be changed before it opens.")]
    Sealed,
    #[error("Add a photo or write a note before sealing.")]
    Empty,
    #[error("Pick the date the capsule opens before sealing.")]
    NoOpenDate,
    #[error("The open date has to be in the future.")]
    OpenDatePassed,
    #[error(transparent)]
    Library(#[from] LibraryError),
}

impl From<rusqlite::Error> for DraftError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Library(LibraryError::Db(e))
    }
}

/// How a draft is sealed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SealOptions {
    /// The files this device encrypts for the server carry no escrow stanza: only the
    /// drand beacon of the open date opens them.
    pub time_lock_only: bool,
    /// Reminders before the open date, sent by the server (so none without an account).
    pub reminders: Option<Reminders>,
}

/// A photo in a capsule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DraftPhoto {
    pub id: Uuid,
    pub sha256: String,
    pub file_name: Option<String>,
    pub size: u64,
    pub content_type: String,
    /// The server holds these bytes, verified.
    pub uploaded: bool,
}

/// A capsule as this device holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    pub id: Uuid,
    pub title: String,
    pub note: String,
    pub open_at: Option<DateTime<Utc>>,
    pub time_zone: String,
    pub recipients: Vec<String>,
    pub state: CapsuleState,
    /// Empty while sealed: this device keeps nothing of a sealed capsule's photos.
    pub photos: Vec<DraftPhoto>,
    /// How many photos it holds, also while sealed.
    pub photo_count: u32,
    pub sealed_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

pub(crate) fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub(crate) fn from_ms(v: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(v).unwrap_or_default()
}

impl Library {
    /// Makes a new draft (its id is a UUIDv7, stable from here to the server).
    pub fn create_draft(
        &self,
        fields: &CapsuleWrite,
        now: DateTime<Utc>,
    ) -> Result<Draft, DraftError> {
        let v = protocol::validate::capsule(fields, now).map_err(DraftError::Invalid)?;
        let id = Uuid::now_v7();
        self.save_fields(id, &v, now)?;
        self.draft(id)?.ok_or(DraftError::NotFound)
    }

    /// Replaces a draft's fields.
    pub fn update_draft(
        &self,
        id: Uuid,
        fields: &CapsuleWrite,
        now: DateTime<Utc>,
    ) -> Result<Draft, DraftError> {
        let v = protocol::validate::capsule(fields, now).map_err(DraftError::Invalid)?;
        self.editable(id)?;
        self.save_fields(id, &v, now)?;
        self.draft(id)?.ok_or(DraftError::NotFound)
    }

    /// Writes a draft's validated fields (making the draft if it is new) together with the
    /// outbox entry that sends them.
    fn save_fields(
        &self,
        id: Uuid,
        v: &protocol::validate::ValidCapsule,
        now: DateTime<Utc>,
    ) -> Result<(), DraftError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO capsules (id, title, note, open_at, time_zone, recipients, state, \
             created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'draft', ?7, ?7) \
             ON CONFLICT (id) DO UPDATE SET title = ?2, note = ?3, open_at = ?4, \
             time_zone = ?5, recipients = ?6, updated_at = ?7",
            params![
                id.to_string(),
                v.title,
                v.note,
                v.open_at.map(ms),
                v.time_zone,
                recipients_json(&v.recipients),
                ms(now)
            ],
        )?;
        outbox::enqueue(&tx, OpKind::PutCapsule, id, None, ms(now))?;
        tx.commit()?;
        self.queued();
        Ok(())
    }

    /// Deletes a capsule here and, through the outbox, everywhere (its photos stay in the
    /// library). A sealed capsule cannot be deleted before it opens: that would be a way
    /// round the seal's promise to its recipients.
    pub fn delete_capsule(&self, id: Uuid, now: DateTime<Utc>) -> Result<(), DraftError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        match state_of(&tx, id)?.as_deref() {
            None => return Err(DraftError::NotFound),
            Some("sealed") => return Err(DraftError::Sealed),
            Some(_) => {}
        }
        tx.execute(
            "DELETE FROM capsules WHERE id = ?1",
            params![id.to_string()],
        )?;
        outbox::forget_capsule(&tx, id)?;
        outbox::enqueue(&tx, OpKind::DeleteCapsule, id, None, ms(now))?;
        tx.commit()?;
        self.queued();
        Ok(())
    }

    /// Seals a draft on this device at once: from here on it cannot be edited, and it is
    /// sent to the server (now, or when the network is back). The rules are checked here
    /// too, so a person learns at once what is missing.
    pub fn seal(&self, id: Uuid, now: DateTime<Utc>) -> Result<Draft, DraftError> {
        self.seal_with(id, now, &SealOptions::default())
    }

    /// [`seal`](Self::seal) as the person chose: the time lock alone, reminders.
    pub fn seal_with(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
        options: &SealOptions,
    ) -> Result<Draft, DraftError> {
        let d = self.draft(id)?.ok_or(DraftError::NotFound)?;
        if let Some(problem) = seal_problem(&d, now) {
            return Err(problem);
        }
        // Checked here, so a choice the server would refuse never waits in the outbox.
        let reminders = options
            .reminders
            .as_ref()
            .map(Reminders::checked)
            .transpose()
            .map_err(DraftError::Invalid)?
            .filter(|r| !r.is_empty())
            .map(|r| serde_json::to_string(&r))
            .transpose()
            .map_err(|e| DraftError::Invalid(e.to_string()))?;
        {
            let mut conn = self.conn();
            let tx = conn.transaction()?;
            tx.execute(
                "UPDATE capsules SET state = 'sealed', sealed_at = ?2, photo_count = ?3, \
                 updated_at = ?2, seal_time_lock_only = ?4, seal_reminders = ?5 \
                 WHERE id = ?1 AND state = 'draft'",
                params![
                    id.to_string(),
                    ms(now),
                    d.photos.len(),
                    options.time_lock_only,
                    reminders
                ],
            )?;
            outbox::enqueue(&tx, OpKind::Seal, id, None, ms(now))?;
            tx.commit()?;
            self.queued();
        }
        self.draft(id)?.ok_or(DraftError::NotFound)
    }

    /// What keeps a draft from being sealed now, if anything (the rules `seal` applies).
    pub fn seal_problem(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<DraftError>, DraftError> {
        let d = self.draft(id)?.ok_or(DraftError::NotFound)?;
        Ok(seal_problem(&d, now))
    }

    /// Adds library photos to a draft; a photo already in it is not added twice. Answers the
    /// draft's photos afterwards.
    pub fn add_photos(
        &self,
        id: Uuid,
        photos: &[(String, Option<String>)],
        now: DateTime<Utc>,
    ) -> Result<Vec<DraftPhoto>, DraftError> {
        self.editable(id)?;
        {
            let mut conn = self.conn();
            let tx = conn.transaction()?;
            for (sha256, file_name) in photos {
                let photo_id = Uuid::now_v7();
                let added = tx.execute(
                    "INSERT OR IGNORE INTO capsule_photos (id, capsule_id, sha256, file_name, \
                     size, content_type, taken_at, added_at) \
                     SELECT ?1, ?2, sha256, ?4, size, content_type, taken_at, ?5 \
                     FROM photos WHERE sha256 = ?3",
                    params![
                        photo_id.to_string(),
                        id.to_string(),
                        sha256,
                        file_name,
                        ms(now)
                    ],
                )?;
                if added == 1 {
                    outbox::enqueue(&tx, OpKind::PutPhoto, id, Some(photo_id), ms(now))?;
                }
            }
            tx.execute(
                "UPDATE capsules SET updated_at = ?2 WHERE id = ?1",
                params![id.to_string(), ms(now)],
            )?;
            tx.commit()?;
            self.queued();
        }
        Ok(self.draft(id)?.ok_or(DraftError::NotFound)?.photos)
    }

    /// Takes a photo out of a draft.
    pub fn remove_photo(
        &self,
        id: Uuid,
        photo_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<(), DraftError> {
        self.editable(id)?;
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let n = tx.execute(
            "DELETE FROM capsule_photos WHERE id = ?1 AND capsule_id = ?2",
            params![photo_id.to_string(), id.to_string()],
        )?;
        if n == 0 {
            return Err(DraftError::NotFound);
        }
        tx.execute(
            "UPDATE capsules SET updated_at = ?2 WHERE id = ?1",
            params![id.to_string(), ms(now)],
        )?;
        outbox::forget_photo(&tx, OpKind::PutPhoto, photo_id)?;
        outbox::enqueue(&tx, OpKind::DeletePhoto, id, Some(photo_id), ms(now))?;
        tx.commit()?;
        self.queued();
        Ok(())
    }

    /// A capsule with its photos.
    pub fn draft(&self, id: Uuid) -> Result<Option<Draft>, DraftError> {
        let conn = self.conn();
        let row = conn
            .query_row(
                "SELECT title, note, open_at, time_zone, recipients, state, updated_at, \
                 photo_count, sealed_at FROM capsules WHERE id = ?1",
                params![id.to_string()],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Option<i64>>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, String>(5)?,
                        r.get::<_, i64>(6)?,
                        r.get::<_, u32>(7)?,
                        r.get::<_, Option<i64>>(8)?,
                    ))
                },
            )
            .optional()?;
        let Some((
            title,
            note,
            open_at,
            time_zone,
            recipients,
            state,
            updated_at,
            photo_count,
            sealed_at,
        )) = row
        else {
            return Ok(None);
        };
        // Photo ids are UUIDv7s made where the photo was added, so their order is the
        // order of adding, on every device (the server's timestamps are of the upload).
        let mut stmt = conn.prepare(
            "SELECT id, sha256, file_name, size, content_type, uploaded FROM capsule_photos \
             WHERE capsule_id = ?1 ORDER BY id",
        )?;
        let photos = stmt
            .query_map(params![id.to_string()], |r| {
                Ok(DraftPhoto {
                    id: Uuid::parse_str(&r.get::<_, String>(0)?).unwrap_or_default(),
                    sha256: r.get(1)?,
                    file_name: r.get(2)?,
                    size: r.get(3)?,
                    content_type: r.get(4)?,
                    uploaded: r.get(5)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let state = CapsuleState::parse(&state).unwrap_or(CapsuleState::Sealed);
        // Sealed means nobody looks, the owner included: until the server has it and this
        // device has deleted its copies, the contents are still here but not shown.
        let (note, photos, photo_count) = if state == CapsuleState::Sealed {
            (String::new(), Vec::new(), photo_count)
        } else {
            let n = u32::try_from(photos.len()).unwrap_or(u32::MAX);
            (note, photos, n)
        };
        Ok(Some(Draft {
            id,
            title,
            note,
            open_at: open_at.map(from_ms),
            time_zone,
            recipients: serde_recipients(&recipients),
            state,
            photos,
            photo_count,
            sealed_at: sealed_at.map(from_ms),
            updated_at: from_ms(updated_at),
        }))
    }

    /// Every capsule on this device, soonest open date first (undated drafts last).
    pub fn capsule_ids(&self) -> Result<Vec<Uuid>, DraftError> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT id FROM capsules ORDER BY open_at IS NULL, open_at, created_at")?;
        let ids = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .filter_map(|r| r.ok().and_then(|s| Uuid::parse_str(&s).ok()))
            .collect();
        Ok(ids)
    }

    /// A draft being changed after the server refused its seal: the refusal has been seen
    /// and acted on, so it no longer shows.
    fn clear_refused_seal(&self, id: Uuid) -> Result<(), DraftError> {
        self.conn().execute(
            "DELETE FROM outbox WHERE capsule_id = ?1 AND kind = 'seal' AND error_kind = 'refused'",
            params![id.to_string()],
        )?;
        Ok(())
    }

    fn editable(&self, id: Uuid) -> Result<(), DraftError> {
        let state = state_of(&self.conn(), id)?;
        match state.as_deref() {
            None => Err(DraftError::NotFound),
            Some("draft") => self.clear_refused_seal(id),
            Some(_) => Err(DraftError::Sealed),
        }
    }
}

/// A capsule's stored state, if it is on this device.
fn state_of(conn: &rusqlite::Connection, id: Uuid) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        "SELECT state FROM capsules WHERE id = ?1",
        params![id.to_string()],
        |r| r.get(0),
    )
    .optional()
}

pub(crate) fn recipients_json(r: &[String]) -> String {
    serde_json::to_string(r).unwrap_or_else(|_| "[]".into())
}

pub(crate) fn serde_recipients(json: &str) -> Vec<String> {
    serde_json::from_str(json).unwrap_or_default()
}

/// The first rule a draft breaks for sealing, if any.
fn seal_problem(d: &Draft, now: DateTime<Utc>) -> Option<DraftError> {
    if d.state != CapsuleState::Draft {
        return Some(DraftError::Sealed);
    }
    if d.photos.is_empty() && d.note.trim().is_empty() {
        return Some(DraftError::Empty);
    }
    match d.open_at {
        None => Some(DraftError::NoOpenDate),
        Some(t) if t <= now => Some(DraftError::OpenDatePassed),
        Some(_) => None,
    }
}
