//! Multipart uploads of large originals under way, one per photo.

use sqlx::{Any, FromRow};
use uuid::Uuid;

use super::{Db, DbResult};

/// An upload in parts the store holds open for a photo.
#[derive(Debug, Clone, FromRow)]
pub struct MultipartRow {
    #[sqlx(try_from = "String")]
    pub photo_id: Uuid,
    #[sqlx(try_from = "String")]
    pub user_id: Uuid,
    pub upload_id: String,
    pub object_key: String,
    pub sha256: String,
    pub size: i64,
    pub part_size: i64,
    pub created_at: i64,
}

impl Db {
    /// The upload under way for a photo, if any.
    pub async fn multipart(&self, photo_id: Uuid) -> DbResult<Option<MultipartRow>> {
        Ok(sqlx::query_as::<Any, MultipartRow>(
            "SELECT photo_id, user_id, upload_id, object_key, sha256, size, part_size, \
             created_at FROM multipart_uploads WHERE photo_id = $1",
        )
        .bind(photo_id.to_string())
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Records a new upload for a photo, replacing one for other bytes.
    pub async fn save_multipart(&self, m: &MultipartRow) -> DbResult<()> {
        sqlx::query(
            "INSERT INTO multipart_uploads (photo_id, user_id, upload_id, object_key, sha256, \
             size, part_size, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (photo_id) DO UPDATE SET upload_id = excluded.upload_id, \
             object_key = excluded.object_key, sha256 = excluded.sha256, size = excluded.size, \
             part_size = excluded.part_size, created_at = excluded.created_at",
        )
        .bind(m.photo_id.to_string())
        .bind(m.user_id.to_string())
        .bind(&m.upload_id)
        .bind(&m.object_key)
        .bind(&m.sha256)
        .bind(m.size)
        .bind(m.part_size)
        .bind(m.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Forgets a photo's upload (finished, or replaced).
    pub async fn forget_multipart(&self, photo_id: Uuid) -> DbResult<()> {
        sqlx::query("DELETE FROM multipart_uploads WHERE photo_id = $1")
            .bind(photo_id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
