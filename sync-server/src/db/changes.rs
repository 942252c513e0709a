//! The per-user change feed behind `GET /v1/sync`.

use sqlx::{Any, AnyConnection, FromRow};

use super::{Db, DbResult, q};

/// Kinds of entity in the feed.
pub const KIND_CAPSULE: &str = "capsule";
/// Kinds of entity in the feed.
pub const KIND_PHOTO: &str = "photo";

/// One feed entry with the current state of its entity (absent when deleted).
#[derive(Debug, Clone, FromRow)]
pub struct ChangeRow {
    pub seq: i64,
    pub kind: String,
    pub entity_id: String,
    pub capsule_id: String,
    pub deleted: i64,
    // Capsule columns (kind = capsule).
    pub c_id: Option<String>,
    pub c_title: Option<String>,
    pub c_note: Option<String>,
    pub c_open_at: Option<i64>,
    pub c_time_zone: Option<String>,
    pub c_recipients: Option<String>,
    pub c_state: Option<String>,
    pub c_version: Option<i64>,
    pub c_created_at: Option<i64>,
    pub c_updated_at: Option<i64>,
    pub c_sealed_at: Option<i64>,
    pub c_opened_at: Option<i64>,
    pub c_photo_count: Option<i64>,
    // Photo columns (kind = photo), with the state of the photo's capsule.
    pub p_sha256: Option<String>,
    pub p_size: Option<i64>,
    pub p_content_type: Option<String>,
    pub p_file_name: Option<String>,
    pub p_taken_at: Option<i64>,
    pub p_state: Option<String>,
    pub p_width: Option<i64>,
    pub p_height: Option<i64>,
    pub p_created_at: Option<i64>,
    pub p_capsule_state: Option<String>,
}

impl Db {
    /// Up to `limit` changes of a user after `since`, in order, with entity state joined in.
    pub async fn changes_since(
        &self,
        user_id: &str,
        since: i64,
        limit: i64,
    ) -> DbResult<Vec<ChangeRow>> {
        sqlx::query_as::<Any, ChangeRow>(
            "SELECT ch.seq, ch.kind, ch.entity_id, ch.capsule_id, ch.deleted, \
               c.id AS c_id, c.title AS c_title, c.note AS c_note, c.open_at AS c_open_at, \
               c.time_zone AS c_time_zone, c.recipients AS c_recipients, c.state AS c_state, \
               c.version AS c_version, c.created_at AS c_created_at, \
               c.updated_at AS c_updated_at, c.sealed_at AS c_sealed_at, \
               c.opened_at AS c_opened_at, \
               CASE WHEN c.id IS NULL THEN NULL ELSE \
                 (SELECT COUNT(*) FROM photos pp WHERE pp.capsule_id = c.id) END \
                 AS c_photo_count, \
               p.sha256 AS p_sha256, p.size AS p_size, p.content_type AS p_content_type, \
               p.file_name AS p_file_name, p.taken_at AS p_taken_at, p.state AS p_state, \
               p.width AS p_width, p.height AS p_height, p.created_at AS p_created_at, \
               pc.state AS p_capsule_state \
             FROM changes ch \
             LEFT JOIN capsules c ON ch.kind = 'capsule' AND c.id = ch.entity_id \
             LEFT JOIN photos p ON ch.kind = 'photo' AND p.id = ch.entity_id \
             LEFT JOIN capsules pc ON pc.id = p.capsule_id \
             WHERE ch.user_id = $1 AND ch.seq > $2 \
             ORDER BY ch.seq LIMIT $3",
        )
        .bind(user_id)
        .bind(since)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(q)
    }
}

/// Records the latest change of an entity at `seq`, replacing its older entry.
pub async fn record(
    conn: &mut AnyConnection,
    user_id: &str,
    kind: &str,
    entity_id: &str,
    capsule_id: &str,
    seq: i64,
    deleted: bool,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO changes (user_id, kind, entity_id, capsule_id, seq, deleted) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (user_id, kind, entity_id) DO UPDATE SET \
           seq = excluded.seq, deleted = excluded.deleted, capsule_id = excluded.capsule_id",
    )
    .bind(user_id)
    .bind(kind)
    .bind(entity_id)
    .bind(capsule_id)
    .bind(seq)
    .bind(i64::from(deleted))
    .execute(conn)
    .await
    .map_err(q)?;
    Ok(())
}

/// Drops the photo entries of a deleted capsule: its tombstone covers them.
pub async fn forget_photos_of(
    conn: &mut AnyConnection,
    user_id: &str,
    capsule_id: &str,
) -> DbResult<()> {
    sqlx::query("DELETE FROM changes WHERE user_id = $1 AND kind = 'photo' AND capsule_id = $2")
        .bind(user_id)
        .bind(capsule_id)
        .execute(conn)
        .await
        .map_err(q)?;
    Ok(())
}
