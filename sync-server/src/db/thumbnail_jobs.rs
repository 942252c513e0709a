//! The queue of thumbnails the server has to make (for clients that send none). Claims are
//! single statements with a lease, as for deliveries, so workers on any replica share the
//! queue and a crashed worker's jobs come back when the lease runs out.

use sqlx::{Any, AnyConnection, FromRow};
use uuid::Uuid;

use super::{Db, DbKind, DbResult};

/// A job claimed by a worker.
#[derive(Debug, Clone, FromRow)]
pub struct ThumbnailJob {
    #[sqlx(try_from = "String")]
    pub user_id: Uuid,
    pub sha256: String,
    pub attempts: i64,
}

impl Db {
    /// Leases up to `limit` jobs that are due, counting the attempt.
    pub async fn claim_thumbnail_jobs(
        &self,
        worker: &str,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> DbResult<Vec<ThumbnailJob>> {
        let lock = match self.kind {
            DbKind::Postgres => " FOR UPDATE SKIP LOCKED",
            DbKind::Sqlite => "",
        };
        Ok(sqlx::query_as::<Any, ThumbnailJob>(&format!(
            "UPDATE thumbnail_jobs SET lease_owner = $2, lease_until = $3, \
             attempts = attempts + 1 \
             WHERE (user_id, sha256) IN (SELECT user_id, sha256 FROM thumbnail_jobs \
                    WHERE next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until < $1) \
                    ORDER BY next_attempt_at LIMIT $4{lock}) \
             RETURNING user_id, sha256, attempts"
        ))
        .bind(now)
        .bind(worker)
        .bind(lease_until)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Puts a failed job back in the queue for `retry_at`.
    pub async fn thumbnail_job_failed(
        &self,
        job: &ThumbnailJob,
        worker: &str,
        error: &str,
        retry_at: i64,
    ) -> DbResult<()> {
        sqlx::query(
            "UPDATE thumbnail_jobs SET next_attempt_at = $4, last_error = $5, \
             lease_until = NULL, lease_owner = NULL \
             WHERE user_id = $1 AND sha256 = $2 AND lease_owner = $3",
        )
        .bind(job.user_id.to_string())
        .bind(&job.sha256)
        .bind(worker)
        .bind(retry_at)
        .bind(error)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Jobs waiting (for tests, probes and the benchmark).
    pub async fn thumbnail_jobs_waiting(&self) -> DbResult<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM thumbnail_jobs")
            .fetch_one(&self.pool)
            .await?)
    }
}

/// Queues a job for a user's blob (once).
pub async fn enqueue(
    conn: &mut AnyConnection,
    user_id: Uuid,
    sha256: &str,
    now: i64,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO thumbnail_jobs (user_id, sha256, attempts, next_attempt_at, created_at) \
         VALUES ($1, $2, 0, $3, $3) ON CONFLICT (user_id, sha256) DO NOTHING",
    )
    .bind(user_id.to_string())
    .bind(sha256)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Removes a finished (or abandoned) job, if this worker still holds it.
pub async fn finish(
    conn: &mut AnyConnection,
    user_id: Uuid,
    sha256: &str,
    worker: &str,
) -> DbResult<bool> {
    let done = sqlx::query(
        "DELETE FROM thumbnail_jobs WHERE user_id = $1 AND sha256 = $2 AND lease_owner = $3",
    )
    .bind(user_id.to_string())
    .bind(sha256)
    .bind(worker)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
