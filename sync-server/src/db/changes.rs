//! The per-user change feed behind `GET /v1/sync`.

use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, FromRow, Row};
use uuid::Uuid;

use super::capsules::{CAPSULE_COLUMNS, CapsuleRow};
use super::photos::{PHOTO_COLUMNS, PhotoRow};
use super::{Db, DbResult, ROWS_PER_STATEMENT, in_list};

/// What a feed entry is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Capsule,
    Photo,
}

impl ChangeKind {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Capsule => "capsule",
            Self::Photo => "photo",
        }
    }
}

impl TryFrom<String> for ChangeKind {
    type Error = protocol::UnknownName;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        match s.as_str() {
            "capsule" => Ok(Self::Capsule),
            "photo" => Ok(Self::Photo),
            _ => Err(protocol::UnknownName {
                kind: "change kind",
                name: s,
            }),
        }
    }
}

/// One feed entry; a capsule entry carries the capsule as it is now (none once deleted).
#[derive(Debug, Clone)]
pub struct ChangeRow {
    pub seq: i64,
    pub kind: ChangeKind,
    pub entity_id: Uuid,
    pub capsule_id: Uuid,
    pub deleted: bool,
    pub capsule: Option<CapsuleRow>,
}

impl FromRow<'_, AnyRow> for ChangeRow {
    fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        let decode = |column: &str, e: &dyn std::fmt::Display| sqlx::Error::ColumnDecode {
            index: column.into(),
            source: e.to_string().into(),
        };
        let uuid = |column: &str| -> Result<Uuid, sqlx::Error> {
            let text: String = row.try_get(column)?;
            Uuid::try_parse(&text).map_err(|e| decode(column, &e))
        };
        let kind: String = row.try_get("kind")?;
        let kind = ChangeKind::try_from(kind).map_err(|e| decode("kind", &e))?;
        // The capsule's own columns come from the LEFT JOIN: present for a capsule entry
        // whose capsule still exists.
        let joined: Option<String> = row.try_get("id")?;
        let capsule = match joined {
            Some(_) => Some(CapsuleRow::from_row(row)?),
            None => None,
        };
        Ok(Self {
            seq: row.try_get("seq")?,
            kind,
            entity_id: uuid("entity_id")?,
            capsule_id: uuid("change_capsule_id")?,
            deleted: row.try_get::<i64, _>("deleted")? != 0,
            capsule,
        })
    }
}

/// A photo with the state of its capsule (which decides whether it may be shown).
#[derive(Debug, Clone, FromRow)]
pub struct FeedPhotoRow {
    #[sqlx(flatten)]
    pub photo: PhotoRow,
    #[sqlx(try_from = "String")]
    pub capsule_state: protocol::CapsuleState,
}

impl Db {
    /// Up to `limit` changes of a user after `since`, in order, each capsule entry with its
    /// capsule. Photo entries carry only their ids; [`Db::feed_photos`] loads them.
    pub async fn changes_since(
        &self,
        user_id: Uuid,
        since: i64,
        limit: i64,
    ) -> DbResult<Vec<ChangeRow>> {
        Ok(sqlx::query_as::<Any, ChangeRow>(&format!(
            "SELECT ch.seq, ch.kind, ch.entity_id, ch.capsule_id AS change_capsule_id, \
               ch.deleted, {CAPSULE_COLUMNS} \
             FROM changes ch \
             LEFT JOIN capsules c ON ch.kind = 'capsule' AND c.id = ch.entity_id \
             WHERE ch.user_id = $1 AND ch.seq > $2 \
             ORDER BY ch.seq LIMIT $3"
        ))
        .bind(user_id.to_string())
        .bind(since)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The photos of a user with these ids, with their capsules' states.
    pub async fn feed_photos(&self, user_id: Uuid, ids: &[Uuid]) -> DbResult<Vec<FeedPhotoRow>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let list = in_list(ids.len(), 2);
        let sql = format!(
            "SELECT {PHOTO_COLUMNS}, c.state AS capsule_state FROM photos p \
             JOIN capsules c ON c.id = p.capsule_id WHERE p.user_id = $1 AND p.id IN ({list})"
        );
        let mut query = sqlx::query_as::<Any, FeedPhotoRow>(&sql).bind(user_id.to_string());
        for id in ids {
            query = query.bind(id.to_string());
        }
        Ok(query.fetch_all(&self.pool).await?)
    }
}

/// Records the latest change of an entity at `seq`, replacing its older entry.
pub async fn record(
    conn: &mut AnyConnection,
    user_id: Uuid,
    kind: ChangeKind,
    entity_id: Uuid,
    capsule_id: Uuid,
    seq: i64,
    deleted: bool,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO changes (user_id, kind, entity_id, capsule_id, seq, deleted) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (user_id, kind, entity_id) DO UPDATE SET \
           seq = excluded.seq, deleted = excluded.deleted, capsule_id = excluded.capsule_id",
    )
    .bind(user_id.to_string())
    .bind(kind.as_str())
    .bind(entity_id.to_string())
    .bind(capsule_id.to_string())
    .bind(seq)
    .bind(i64::from(deleted))
    .execute(conn)
    .await?;
    Ok(())
}

/// Records a photo's change at `seq` and its capsule's (whose photos changed) at `seq + 1`.
pub async fn record_photo(
    conn: &mut AnyConnection,
    user_id: Uuid,
    photo_id: Uuid,
    capsule_id: Uuid,
    seq: i64,
    photo_deleted: bool,
) -> DbResult<()> {
    record(
        conn,
        user_id,
        ChangeKind::Photo,
        photo_id,
        capsule_id,
        seq,
        photo_deleted,
    )
    .await?;
    record(
        conn,
        user_id,
        ChangeKind::Capsule,
        capsule_id,
        capsule_id,
        seq + 1,
        false,
    )
    .await
}

/// One entry for [`record_many`].
#[derive(Debug, Clone)]
pub struct ChangeEntry {
    pub kind: ChangeKind,
    pub entity_id: Uuid,
    pub capsule_id: Uuid,
    pub seq: i64,
}

/// Records many (non-deletion) changes of one user in few statements.
pub async fn record_many(
    conn: &mut AnyConnection,
    user_id: Uuid,
    entries: &[ChangeEntry],
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
        let mut query = sqlx::query(&sql).bind(user_id.to_string());
        for e in chunk {
            query = query
                .bind(e.kind.as_str())
                .bind(e.entity_id.to_string())
                .bind(e.capsule_id.to_string())
                .bind(e.seq);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Drops the photo entries of a deleted capsule: its tombstone covers them.
pub async fn forget_photos_of(
    conn: &mut AnyConnection,
    user_id: Uuid,
    capsule_id: Uuid,
) -> DbResult<()> {
    sqlx::query("DELETE FROM changes WHERE user_id = $1 AND kind = 'photo' AND capsule_id = $2")
        .bind(user_id.to_string())
        .bind(capsule_id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}
