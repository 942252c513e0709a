//! The per-user change feed behind `GET /v1/sync`.

use sqlx::{Any, AnyConnection, FromRow};

use super::photos::{PHOTO_COLUMNS, PhotoRow};
use super::{Db, DbResult, ROWS_PER_STATEMENT, q};

/// Kinds of entity in the feed.
pub const KIND_CAPSULE: &str = "capsule";
/// Kinds of entity in the feed.
pub const KIND_PHOTO: &str = "photo";

/// One feed entry, with its capsule's current state when it is a capsule entry.
#[derive(Debug, Clone, FromRow)]
pub struct ChangeRow {
    pub seq: i64,
    pub kind: String,
    pub entity_id: String,
    pub capsule_id: String,
    pub deleted: i64,
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
}

/// A photo with the state of its capsule (which decides whether it may be shown).
#[derive(Debug, Clone, FromRow)]
pub struct FeedPhotoRow {
    #[sqlx(flatten)]
    pub photo: PhotoRow,
    pub capsule_state: String,
}

impl Db {
    /// Up to `limit` changes of a user after `since`, in order, with capsule state joined
    /// in. Photo entries carry only their ids; [`Db::feed_photos`] loads them.
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
               c.opened_at AS c_opened_at, c.photo_count AS c_photo_count \
             FROM changes ch \
             LEFT JOIN capsules c ON ch.kind = 'capsule' AND c.id = ch.entity_id \
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

    /// The photos of a user with these ids, with their capsules' states.
    pub async fn feed_photos(&self, user_id: &str, ids: &[&str]) -> DbResult<Vec<FeedPhotoRow>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let list = (0..ids.len())
            .map(|i| format!("${}", i + 2))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT {PHOTO_COLUMNS}, c.state AS capsule_state FROM photos p \
             JOIN capsules c ON c.id = p.capsule_id WHERE p.user_id = $1 AND p.id IN ({list})"
        );
        let mut query = sqlx::query_as::<Any, FeedPhotoRow>(&sql).bind(user_id);
        for id in ids {
            query = query.bind(*id);
        }
        query.fetch_all(&self.pool).await.map_err(q)
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

/// Records a photo's change at `seq` and its capsule's (whose photos changed) at `seq + 1`.
pub async fn record_photo(
    conn: &mut AnyConnection,
    user_id: &str,
    photo_id: &str,
    capsule_id: &str,
    seq: i64,
    photo_deleted: bool,
) -> DbResult<()> {
    record(
        conn,
        user_id,
        KIND_PHOTO,
        photo_id,
        capsule_id,
        seq,
        photo_deleted,
    )
    .await?;
    record(
        conn,
        user_id,
        KIND_CAPSULE,
        capsule_id,
        capsule_id,
        seq + 1,
        false,
    )
    .await
}

/// One entry for [`record_many`].
#[derive(Debug, Clone)]
pub struct ChangeEntry<'a> {
    pub kind: &'a str,
    pub entity_id: &'a str,
    pub capsule_id: &'a str,
    pub seq: i64,
}

/// Records many (non-deletion) changes of one user in few statements.
pub async fn record_many(
    conn: &mut AnyConnection,
    user_id: &str,
    entries: &[ChangeEntry<'_>],
) -> DbResult<()> {
    for chunk in entries.chunks(ROWS_PER_STATEMENT) {
        // $1 is the user, shared by every row; each row adds four values.
        let values = (0..chunk.len())
            .map(|r| {
                let b = 2 + r * 4;
                format!("($1, ${}, ${}, ${}, ${}, 0)", b, b + 1, b + 2, b + 3)
            })
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "INSERT INTO changes (user_id, kind, entity_id, capsule_id, seq, deleted) \
             VALUES {values} \
             ON CONFLICT (user_id, kind, entity_id) DO UPDATE SET \
               seq = excluded.seq, deleted = 0, capsule_id = excluded.capsule_id"
        );
        let mut query = sqlx::query(&sql).bind(user_id);
        for e in chunk {
            query = query
                .bind(e.kind)
                .bind(e.entity_id)
                .bind(e.capsule_id)
                .bind(e.seq);
        }
        query.execute(&mut *conn).await.map_err(q)?;
    }
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
