//! Capsules.

use protocol::CapsuleState;
use sqlx::{Any, AnyConnection, FromRow};
use uuid::Uuid;

use super::{Db, DbResult, Recipients};

/// A stored capsule with its photo count.
#[derive(Debug, Clone, FromRow)]
pub struct CapsuleRow {
    #[sqlx(try_from = "String")]
    pub id: Uuid,
    #[sqlx(try_from = "String")]
    pub user_id: Uuid,
    pub title: String,
    pub note: String,
    pub open_at: Option<i64>,
    pub time_zone: String,
    #[sqlx(try_from = "String")]
    pub recipients: Recipients,
    #[sqlx(try_from = "String")]
    pub state: CapsuleState,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub sealed_at: Option<i64>,
    pub opened_at: Option<i64>,
    pub photo_count: i64,
    /// Sealed on a device: the drand round its files are locked to, the chain, and
    /// whether the escrow key opens them.
    pub seal_round: Option<i64>,
    pub seal_chain: Option<String>,
    pub seal_escrow: i64,
    /// Photos refused when the server opened it (JSON list of `RefusedPhoto`).
    pub refused_photos: Option<String>,
}

impl CapsuleRow {
    /// How its files are locked, when it was sealed on a device.
    pub fn lock(&self) -> Option<protocol::CapsuleLock> {
        Some(protocol::CapsuleLock {
            round: u64::try_from(self.seal_round?).ok()?,
            chain_hash: self.seal_chain.clone()?,
            escrow: self.seal_escrow != 0,
        })
    }
}

/// The editable fields of a draft, already validated.
#[derive(Debug, Clone, PartialEq)]
pub struct CapsuleFields {
    pub title: String,
    pub note: String,
    pub open_at: Option<i64>,
    pub time_zone: String,
    pub recipients: Recipients,
}

pub(crate) const CAPSULE_COLUMNS: &str = "c.id, c.user_id, c.title, c.note, c.open_at, \
    c.time_zone, c.recipients, c.state, c.version, c.created_at, c.updated_at, c.sealed_at, \
    c.opened_at, c.photo_count, c.seal_round, c.seal_chain, c.seal_escrow, c.refused_photos";

impl Db {
    /// One capsule, whoever owns it (callers check ownership).
    pub async fn capsule(&self, id: Uuid) -> DbResult<Option<CapsuleRow>> {
        capsule(&mut *self.pool.acquire().await?, id).await
    }
}

/// One capsule on a given connection (inside a transaction).
pub async fn capsule(conn: &mut AnyConnection, id: Uuid) -> DbResult<Option<CapsuleRow>> {
    Ok(sqlx::query_as::<Any, CapsuleRow>(&format!(
        "SELECT {CAPSULE_COLUMNS} FROM capsules c WHERE c.id = $1"
    ))
    .bind(id.to_string())
    .fetch_optional(conn)
    .await?)
}

/// Inserts a new draft at version 1.
pub async fn insert(
    conn: &mut AnyConnection,
    id: Uuid,
    user_id: Uuid,
    f: &CapsuleFields,
    now: i64,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO capsules (id, user_id, title, note, open_at, time_zone, recipients, \
         state, version, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'draft', 1, $8, $8)",
    )
    .bind(id.to_string())
    .bind(user_id.to_string())
    .bind(&f.title)
    .bind(&f.note)
    .bind(f.open_at)
    .bind(&f.time_zone)
    .bind(f.recipients.to_json())
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Updates a draft if it is still at `version`; false when it moved on or is not a draft.
pub async fn update(
    conn: &mut AnyConnection,
    id: Uuid,
    version: i64,
    f: &CapsuleFields,
    now: i64,
) -> DbResult<bool> {
    let done = sqlx::query(
        "UPDATE capsules SET title = $3, note = $4, open_at = $5, time_zone = $6, \
         recipients = $7, version = version + 1, updated_at = $8 \
         WHERE id = $1 AND version = $2 AND state = 'draft'",
    )
    .bind(id.to_string())
    .bind(version)
    .bind(&f.title)
    .bind(&f.note)
    .bind(f.open_at)
    .bind(&f.time_zone)
    .bind(f.recipients.to_json())
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Replaces the recipient list of an opened capsule (an address corrected when an email
/// is sent again), moving its version on so the owner's other devices hear of it.
pub async fn set_opened_recipients(
    conn: &mut AnyConnection,
    id: Uuid,
    recipients: &crate::db::Recipients,
    now: i64,
) -> DbResult<()> {
    sqlx::query(
        "UPDATE capsules SET recipients = $2, version = version + 1, updated_at = $3 \
         WHERE id = $1 AND state = 'opened'",
    )
    .bind(id.to_string())
    .bind(recipients.to_json())
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Seals a draft; false if it is no longer a draft.
pub async fn seal(conn: &mut AnyConnection, id: Uuid, now: i64) -> DbResult<bool> {
    let done = sqlx::query(
        "UPDATE capsules SET state = 'sealed', sealed_at = $2, version = version + 1, \
         updated_at = $2 WHERE id = $1 AND state = 'draft'",
    )
    .bind(id.to_string())
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes a capsule; its photos go by cascade.
pub async fn delete(conn: &mut AnyConnection, id: Uuid) -> DbResult<()> {
    sqlx::query("DELETE FROM capsules WHERE id = $1")
        .bind(id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// Moves a capsule's photo count by `delta` (a photo added or removed).
pub async fn count_photos(conn: &mut AnyConnection, id: Uuid, delta: i64) -> DbResult<()> {
    sqlx::query("UPDATE capsules SET photo_count = photo_count + $2 WHERE id = $1")
        .bind(id.to_string())
        .bind(delta)
        .execute(conn)
        .await?;
    Ok(())
}
