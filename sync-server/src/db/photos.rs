//! Photos of capsules and the verified blobs they point at.

use protocol::{PhotoState, ThumbnailState, ThumbnailWrite};
use sqlx::{Any, AnyConnection, FromRow};
use uuid::Uuid;

use super::{Db, DbResult};

/// The thumbnails a client declared for a photo, until it completes (stored as JSON).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeclaredThumbnails(pub Vec<ThumbnailWrite>);

impl DeclaredThumbnails {
    /// The stored form (NULL when none).
    pub fn to_json(&self) -> Option<String> {
        (!self.0.is_empty()).then(|| serde_json::to_string(&self.0).unwrap_or_default())
    }
}

impl TryFrom<Option<String>> for DeclaredThumbnails {
    type Error = serde_json::Error;
    fn try_from(json: Option<String>) -> Result<Self, Self::Error> {
        match json {
            None => Ok(Self::default()),
            Some(j) => serde_json::from_str(&j).map(Self),
        }
    }
}

/// A stored photo.
#[derive(Debug, Clone, FromRow)]
pub struct PhotoRow {
    #[sqlx(try_from = "String")]
    pub id: Uuid,
    #[sqlx(try_from = "String")]
    pub capsule_id: Uuid,
    #[sqlx(try_from = "String")]
    pub user_id: Uuid,
    pub sha256: String,
    pub size: i64,
    pub content_type: String,
    pub file_name: Option<String>,
    pub taken_at: Option<i64>,
    #[sqlx(try_from = "String")]
    pub state: PhotoState,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub created_at: i64,
    #[sqlx(try_from = "String")]
    pub thumbnails: ThumbnailState,
    #[sqlx(try_from = "Option<String>")]
    pub declared_thumbnails: DeclaredThumbnails,
}

/// A verified original.
#[derive(Debug, Clone, FromRow)]
pub struct BlobRow {
    pub sha256: String,
    pub size: i64,
    pub content_type: String,
    pub width: i64,
    pub height: i64,
    #[sqlx(try_from = "String")]
    pub thumbnails: ThumbnailState,
}

pub(crate) const PHOTO_COLUMNS: &str = "p.id, p.capsule_id, p.user_id, p.sha256, p.size, \
    p.content_type, p.file_name, p.taken_at, p.state, p.width, p.height, p.created_at, \
    p.thumbnails, p.declared_thumbnails";

impl Db {
    /// One photo, whoever owns it.
    pub async fn photo(&self, id: Uuid) -> DbResult<Option<PhotoRow>> {
        Ok(sqlx::query_as::<Any, PhotoRow>(&format!(
            "SELECT {PHOTO_COLUMNS} FROM photos p WHERE p.id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?)
    }

    /// The photos of a capsule in the order they were added (their ids are UUIDv7s the
    /// client made when adding them).
    pub async fn photos_of(&self, capsule_id: Uuid) -> DbResult<Vec<PhotoRow>> {
        Ok(sqlx::query_as::<Any, PhotoRow>(&format!(
            "SELECT {PHOTO_COLUMNS} FROM photos p WHERE p.capsule_id = $1 \
             ORDER BY p.id"
        ))
        .bind(capsule_id.to_string())
        .fetch_all(&self.pool)
        .await?)
    }

    /// The verified blob of a user with this hash, if any.
    pub async fn blob(&self, user_id: Uuid, sha256: &str) -> DbResult<Option<BlobRow>> {
        Ok(sqlx::query_as::<Any, BlobRow>(
            "SELECT sha256, size, content_type, width, height, thumbnails FROM blobs \
             WHERE user_id = $1 AND sha256 = $2",
        )
        .bind(user_id.to_string())
        .bind(sha256)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Forgets a blob row once nothing points at it (its bytes are deleted by the caller).
    /// False when a photo took a reference in the meantime.
    pub async fn delete_blob_if_unreferenced(&self, user_id: Uuid, sha256: &str) -> DbResult<bool> {
        let done = sqlx::query(
            "DELETE FROM blobs WHERE user_id = $1 AND sha256 = $2 AND NOT EXISTS \
             (SELECT 1 FROM photos WHERE user_id = $1 AND sha256 = $2)",
        )
        .bind(user_id.to_string())
        .bind(sha256)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

/// One photo on a connection.
pub async fn photo(conn: &mut AnyConnection, id: Uuid) -> DbResult<Option<PhotoRow>> {
    Ok(sqlx::query_as::<Any, PhotoRow>(&format!(
        "SELECT {PHOTO_COLUMNS} FROM photos p WHERE p.id = $1"
    ))
    .bind(id.to_string())
    .fetch_optional(conn)
    .await?)
}

/// Inserts a declared photo.
pub async fn insert(conn: &mut AnyConnection, p: &PhotoRow) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO photos (id, capsule_id, user_id, sha256, size, content_type, file_name, \
         taken_at, state, width, height, created_at, thumbnails, declared_thumbnails) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(p.id.to_string())
    .bind(p.capsule_id.to_string())
    .bind(p.user_id.to_string())
    .bind(&p.sha256)
    .bind(p.size)
    .bind(&p.content_type)
    .bind(&p.file_name)
    .bind(p.taken_at)
    .bind(p.state.as_str())
    .bind(p.width)
    .bind(p.height)
    .bind(p.created_at)
    .bind(p.thumbnails.as_str())
    .bind(p.declared_thumbnails.to_json())
    .execute(conn)
    .await?;
    Ok(())
}

/// Replaces a pending photo's declaration (the client re-declared it).
pub async fn redeclare(conn: &mut AnyConnection, p: &PhotoRow) -> DbResult<()> {
    sqlx::query(
        "UPDATE photos SET sha256 = $2, size = $3, content_type = $4, file_name = $5, \
         taken_at = $6, state = $7, width = $8, height = $9, thumbnails = $10, \
         declared_thumbnails = $11 WHERE id = $1",
    )
    .bind(p.id.to_string())
    .bind(&p.sha256)
    .bind(p.size)
    .bind(&p.content_type)
    .bind(&p.file_name)
    .bind(p.taken_at)
    .bind(p.state.as_str())
    .bind(p.width)
    .bind(p.height)
    .bind(p.thumbnails.as_str())
    .bind(p.declared_thumbnails.to_json())
    .execute(conn)
    .await?;
    Ok(())
}

/// Records a verified blob (no-op if it is already known).
pub async fn insert_blob(
    conn: &mut AnyConnection,
    user_id: Uuid,
    b: &BlobRow,
    now: i64,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO blobs (user_id, sha256, size, content_type, width, height, created_at, \
         thumbnails) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (user_id, sha256) DO NOTHING",
    )
    .bind(user_id.to_string())
    .bind(&b.sha256)
    .bind(b.size)
    .bind(&b.content_type)
    .bind(b.width)
    .bind(b.height)
    .bind(now)
    .bind(b.thumbnails.as_str())
    .execute(conn)
    .await?;
    Ok(())
}

/// Marks a photo ready with what verification found.
pub async fn mark_ready(conn: &mut AnyConnection, id: Uuid, b: &BlobRow) -> DbResult<()> {
    sqlx::query(
        "UPDATE photos SET state = 'ready', content_type = $2, width = $3, height = $4, \
         thumbnails = $5, declared_thumbnails = NULL WHERE id = $1",
    )
    .bind(id.to_string())
    .bind(&b.content_type)
    .bind(b.width)
    .bind(b.height)
    .bind(b.thumbnails.as_str())
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes a photo row.
pub async fn delete(conn: &mut AnyConnection, id: Uuid) -> DbResult<()> {
    sqlx::query("DELETE FROM photos WHERE id = $1")
        .bind(id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// Counts a capsule's photos that are not yet ready.
pub async fn pending_count(conn: &mut AnyConnection, capsule_id: Uuid) -> DbResult<i64> {
    Ok(
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM photos WHERE capsule_id = $1 AND state <> 'ready'",
        )
        .bind(capsule_id.to_string())
        .fetch_one(conn)
        .await?,
    )
}

/// Distinct hashes a capsule's photos point at (for blob clean-up after deletion).
pub async fn hashes_of(conn: &mut AnyConnection, capsule_id: Uuid) -> DbResult<Vec<String>> {
    Ok(
        sqlx::query_scalar("SELECT DISTINCT sha256 FROM photos WHERE capsule_id = $1")
            .bind(capsule_id.to_string())
            .fetch_all(conn)
            .await?,
    )
}

/// Sets the thumbnail state of a user's blob and of every photo of it; answers those
/// photos (id, capsule id) so their change can go on the feed.
pub async fn set_thumbnails(
    conn: &mut AnyConnection,
    user_id: Uuid,
    sha256: &str,
    state: ThumbnailState,
) -> DbResult<Vec<(Uuid, Uuid)>> {
    sqlx::query("UPDATE blobs SET thumbnails = $3 WHERE user_id = $1 AND sha256 = $2")
        .bind(user_id.to_string())
        .bind(sha256)
        .bind(state.as_str())
        .execute(&mut *conn)
        .await?;
    let rows: Vec<PhotoOfBlob> = sqlx::query_as(
        "UPDATE photos SET thumbnails = $3 WHERE user_id = $1 AND sha256 = $2 \
         AND state = 'ready' RETURNING id, capsule_id",
    )
    .bind(user_id.to_string())
    .bind(sha256)
    .bind(state.as_str())
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.id, r.capsule_id)).collect())
}

#[derive(FromRow)]
struct PhotoOfBlob {
    #[sqlx(try_from = "String")]
    id: Uuid,
    #[sqlx(try_from = "String")]
    capsule_id: Uuid,
}
