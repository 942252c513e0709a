//! Capsule drafts on this device: made, edited and deleted with no network at all, with
//! the same rules the server applies (`protocol::validate`). Photos come from the library,
//! each at most once per capsule.

use chrono::{DateTime, Utc};
use protocol::{CapsuleState, CapsuleWrite};
use rusqlite::{OptionalExtension, params};
use uuid::Uuid;

use crate::library::{Library, LibraryError};

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
    #[error(transparent)]
    Library(#[from] LibraryError),
}

impl From<rusqlite::Error> for DraftError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Library(LibraryError::Db(e))
    }
}

/// A photo in a capsule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DraftPhoto {
    pub id: Uuid,
    pub sha256: String,
    pub file_name: Option<String>,
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
    pub photos: Vec<DraftPhoto>,
    pub updated_at: DateTime<Utc>,
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn from_ms(v: i64) -> DateTime<Utc> {
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
        self.conn().execute(
            "INSERT INTO capsules (id, title, note, open_at, time_zone, recipients, state, \
             created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'draft', ?7, ?7)",
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
        self.conn().execute(
            "UPDATE capsules SET title = ?2, note = ?3, open_at = ?4, time_zone = ?5, \
             recipients = ?6, updated_at = ?7 WHERE id = ?1",
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
        self.draft(id)?.ok_or(DraftError::NotFound)
    }

    /// Deletes a capsule from this device (its photos stay in the library).
    pub fn delete_capsule(&self, id: Uuid) -> Result<(), DraftError> {
        let n = self.conn().execute(
            "DELETE FROM capsules WHERE id = ?1",
            params![id.to_string()],
        )?;
        if n == 0 {
            return Err(DraftError::NotFound);
        }
        Ok(())
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
                tx.execute(
                    "INSERT OR IGNORE INTO capsule_photos (id, capsule_id, sha256, file_name, \
                     added_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![
                        Uuid::now_v7().to_string(),
                        id.to_string(),
                        sha256,
                        file_name,
                        ms(now)
                    ],
                )?;
            }
            tx.execute(
                "UPDATE capsules SET updated_at = ?2 WHERE id = ?1",
                params![id.to_string(), ms(now)],
            )?;
            tx.commit()?;
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
        let n = self.conn().execute(
            "DELETE FROM capsule_photos WHERE id = ?1 AND capsule_id = ?2",
            params![photo_id.to_string(), id.to_string()],
        )?;
        if n == 0 {
            return Err(DraftError::NotFound);
        }
        self.conn().execute(
            "UPDATE capsules SET updated_at = ?2 WHERE id = ?1",
            params![id.to_string(), ms(now)],
        )?;
        Ok(())
    }

    /// A capsule with its photos.
    pub fn draft(&self, id: Uuid) -> Result<Option<Draft>, DraftError> {
        let conn = self.conn();
        let row = conn
            .query_row(
                "SELECT title, note, open_at, time_zone, recipients, state, updated_at \
                 FROM capsules WHERE id = ?1",
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
                    ))
                },
            )
            .optional()?;
        let Some((title, note, open_at, time_zone, recipients, state, updated_at)) = row else {
            return Ok(None);
        };
        let mut stmt = conn.prepare(
            "SELECT id, sha256, file_name FROM capsule_photos WHERE capsule_id = ?1 \
             ORDER BY added_at, id",
        )?;
        let photos = stmt
            .query_map(params![id.to_string()], |r| {
                Ok(DraftPhoto {
                    id: Uuid::parse_str(&r.get::<_, String>(0)?).unwrap_or_default(),
                    sha256: r.get(1)?,
                    file_name: r.get(2)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(Draft {
            id,
            title,
            note,
            open_at: open_at.map(from_ms),
            time_zone,
            recipients: serde_recipients(&recipients),
            state: CapsuleState::parse(&state).unwrap_or(CapsuleState::Sealed),
            photos,
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

    fn editable(&self, id: Uuid) -> Result<(), DraftError> {
        let state: Option<String> = self
            .conn()
            .query_row(
                "SELECT state FROM capsules WHERE id = ?1",
                params![id.to_string()],
                |r| r.get(0),
            )
            .optional()?;
        match state.as_deref() {
            None => Err(DraftError::NotFound),
            Some("draft") => Ok(()),
            Some(_) => Err(DraftError::Sealed),
        }
    }
}

fn recipients_json(r: &[String]) -> String {
    serde_json::to_string(r).unwrap_or_else(|_| "[]".into())
}

fn serde_recipients(json: &str) -> Vec<String> {
    serde_json::from_str(json).unwrap_or_default()
}
