//! The delivery outbox. Claims are single statements (`UPDATE … WHERE id IN (SELECT … FOR
//! UPDATE SKIP LOCKED)` on PostgreSQL; SQLite runs a write statement under its one write
//! lock), and every claim carries a lease, so any number of workers never take the same
//! row at once and a crashed worker's rows come back when its lease runs out.

use protocol::DeliveryStatus;
use sqlx::{Any, AnyConnection, FromRow};
use uuid::Uuid;

use super::capsules::{CAPSULE_COLUMNS, CapsuleRow};
use super::photos::{PHOTO_COLUMNS, PhotoRow};
use super::{Db, DbResult, ROWS_PER_STATEMENT, Recipients, fetch_in, in_list, skip_locked};

/// A capsule that has just been opened by this worker.
#[derive(Debug, Clone, FromRow)]
pub struct OpenedCapsule {
    #[sqlx(try_from = "String")]
    pub id: Uuid,
    #[sqlx(try_from = "String")]
    pub user_id: Uuid,
    #[sqlx(try_from = "String")]
    pub recipients: Recipients,
    pub photo_count: i64,
}

/// A delivery claimed for sending.
#[derive(Debug, Clone, FromRow)]
pub struct ClaimedDelivery {
    #[sqlx(try_from = "String")]
    pub id: Uuid,
    #[sqlx(try_from = "String")]
    pub capsule_id: Uuid,
    pub recipient: String,
    pub link_token: Option<String>,
    pub attempts: i64,
}

/// A delivery as its capsule's owner sees it.
#[derive(Debug, Clone, FromRow)]
pub struct DeliveryRow {
    #[sqlx(try_from = "String")]
    pub id: Uuid,
    #[sqlx(try_from = "String")]
    pub capsule_id: Uuid,
    pub recipient: String,
    #[sqlx(try_from = "String")]
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub sent_at: Option<i64>,
    pub link_expires_at: i64,
    pub link_revoked_at: Option<i64>,
}

/// A capsule and its owner's address.
#[derive(Debug, Clone, FromRow)]
pub struct MailCapsuleRow {
    #[sqlx(flatten)]
    pub capsule: CapsuleRow,
    pub owner_email: String,
}

/// A new row of the outbox.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub id: Uuid,
    pub recipient: String,
    pub link_hash: String,
    pub link_token: String,
    pub link_expires_at: i64,
}

impl Db {
    /// Moves up to `limit` sealed capsules whose open date has passed to `opened`, inside
    /// the caller's transaction, and returns them.
    pub async fn open_due_capsules(
        &self,
        conn: &mut AnyConnection,
        now: i64,
        limit: i64,
    ) -> DbResult<Vec<OpenedCapsule>> {
        Ok(sqlx::query_as::<Any, OpenedCapsule>(&format!(
            "UPDATE capsules SET state = 'opened', opened_at = $1, version = version + 1, \
             updated_at = $1 \
             WHERE id IN (SELECT id FROM capsules WHERE state = 'sealed' AND open_at <= $1 \
                          AND (seal_round IS NULL OR unsealed_at IS NOT NULL) \
                          ORDER BY open_at LIMIT $2{}) \
             RETURNING id, user_id, recipients, photo_count",
            skip_locked(self.kind)
        ))
        .bind(now)
        .bind(limit)
        .fetch_all(conn)
        .await?)
    }

    /// Leases up to `limit` deliveries that are due, counting the attempt.
    pub async fn claim_deliveries(
        &self,
        worker: &str,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> DbResult<Vec<ClaimedDelivery>> {
        Ok(sqlx::query_as::<Any, ClaimedDelivery>(&format!(
            "UPDATE deliveries SET lease_owner = $2, lease_until = $3, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM deliveries WHERE status = 'queued' \
                          AND next_attempt_at <= $1 \
                          AND (lease_until IS NULL OR lease_until < $1) \
                          ORDER BY next_attempt_at LIMIT $4{}) \
             RETURNING id, capsule_id, recipient, link_token, attempts",
            skip_locked(self.kind)
        ))
        .bind(now)
        .bind(worker)
        .bind(lease_until)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Records sent emails in one statement; the raw link tokens are dropped now that they
    /// are in the mail.
    pub async fn deliveries_sent(&self, ids: &[Uuid], worker: &str, now: i64) -> DbResult<()> {
        for chunk in ids.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "UPDATE deliveries SET status = 'sent', sent_at = $2, link_token = NULL, \
                 lease_until = NULL, lease_owner = NULL, last_error = NULL \
                 WHERE lease_owner = $1 AND id IN ({})",
                in_list(chunk.len(), 3)
            );
            let mut query = sqlx::query(&sql).bind(worker).bind(now);
            for id in chunk {
                query = query.bind(id.to_string());
            }
            query.execute(&self.pool).await?;
        }
        Ok(())
    }

    /// Puts claimed deliveries back for `at` without counting the attempt (they waited for
    /// something else, not for the mail server).
    pub async fn deliveries_postponed(&self, ids: &[Uuid], worker: &str, at: i64) -> DbResult<()> {
        for chunk in ids.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "UPDATE deliveries SET next_attempt_at = $2, attempts = attempts - 1, \
                 lease_until = NULL, lease_owner = NULL \
                 WHERE lease_owner = $1 AND id IN ({})",
                in_list(chunk.len(), 3)
            );
            let mut query = sqlx::query(&sql).bind(worker).bind(at);
            for id in chunk {
                query = query.bind(id.to_string());
            }
            query.execute(&self.pool).await?;
        }
        Ok(())
    }

    /// Capsules with their owners' addresses, for composing emails.
    pub async fn capsules_for_mail(&self, ids: &[Uuid]) -> DbResult<Vec<MailCapsuleRow>> {
        let mut conn = self.pool.acquire().await?;
        let sql = format!(
            "SELECT {CAPSULE_COLUMNS}, u.email AS owner_email FROM capsules c \
             JOIN users u ON u.id = c.user_id WHERE c.id IN ({{ids}})"
        );
        fetch_in(&mut conn, &sql, ids).await
    }

    /// The ready photos of these capsules, oldest first.
    pub async fn photos_of_capsules(&self, capsule_ids: &[Uuid]) -> DbResult<Vec<PhotoRow>> {
        let mut conn = self.pool.acquire().await?;
        let sql = format!(
            "SELECT {PHOTO_COLUMNS} FROM photos p WHERE p.state = 'ready' \
             AND p.capsule_id IN ({{ids}}) ORDER BY p.created_at, p.id"
        );
        fetch_in(&mut conn, &sql, capsule_ids).await
    }

    /// Records a failed attempt: back to the queue at `retry_at`, or failed for good.
    pub async fn delivery_failed(
        &self,
        id: Uuid,
        worker: &str,
        error: &str,
        retry_at: Option<i64>,
    ) -> DbResult<()> {
        let query = match retry_at {
            Some(at) => sqlx::query(
                "UPDATE deliveries SET next_attempt_at = $4, last_error = $3, \
                 lease_until = NULL, lease_owner = NULL WHERE id = $1 AND lease_owner = $2",
            )
            .bind(id.to_string())
            .bind(worker)
            .bind(error)
            .bind(at),
            None => sqlx::query(
                "UPDATE deliveries SET status = 'failed', last_error = $3, link_token = NULL, \
                 lease_until = NULL, lease_owner = NULL WHERE id = $1 AND lease_owner = $2",
            )
            .bind(id.to_string())
            .bind(worker)
            .bind(error),
        };
        query.execute(&self.pool).await?;
        Ok(())
    }

    /// A claimed delivery whose address the receiving server refused for good at `RCPT TO`:
    /// bounced, with the server's words, and never tried again by itself.
    pub async fn delivery_bounced(&self, id: Uuid, worker: &str, error: &str) -> DbResult<()> {
        sqlx::query(
            "UPDATE deliveries SET status = 'bounced', last_error = $3, link_token = NULL, \
             lease_until = NULL, lease_owner = NULL WHERE id = $1 AND lease_owner = $2",
        )
        .bind(id.to_string())
        .bind(worker)
        .bind(error)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A handed-over delivery that the receiving server refused for good (reported by the
    /// mail relay): bounced, with the server's words. False when it was not a sent one.
    pub async fn delivery_refused(&self, id: Uuid, error: &str) -> DbResult<bool> {
        let done = sqlx::query(
            "UPDATE deliveries SET status = 'bounced', last_error = $2, sent_at = NULL \
             WHERE id = $1 AND status = 'sent'",
        )
        .bind(id.to_string())
        .bind(error)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The deliveries of a capsule as they stand (the newest of each re-sent chain), in the
    /// order they were queued.
    pub async fn deliveries_of(&self, capsule_id: Uuid) -> DbResult<Vec<DeliveryRow>> {
        let mut conn = self.pool.acquire().await?;
        current_deliveries(&mut conn, capsule_id).await
    }

    /// The delivery a recipient link points at.
    pub async fn delivery_by_link(&self, link_hash: &str) -> DbResult<Option<DeliveryRow>> {
        Ok(sqlx::query_as::<Any, DeliveryRow>(
            "SELECT id, capsule_id, recipient, status, attempts, last_error, sent_at, \
             link_expires_at, link_revoked_at FROM deliveries WHERE link_hash = $1",
        )
        .bind(link_hash)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Withdraws a recipient's links (every email sent to the address, re-sent ones
    /// included); false when the capsule has no delivery to them.
    pub async fn revoke_link(&self, capsule_id: Uuid, recipient: &str, now: i64) -> DbResult<bool> {
        let done = sqlx::query(
            "UPDATE deliveries SET link_revoked_at = COALESCE(link_revoked_at, $3) \
             WHERE capsule_id = $1 AND recipient = $2",
        )
        .bind(capsule_id.to_string())
        .bind(recipient)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Counts deliveries by status (for tests, probes and the benchmark).
    pub async fn delivery_counts(&self) -> DbResult<Vec<(String, i64)>> {
        Ok(sqlx::query_as::<Any, (String, i64)>(
            "SELECT status, COUNT(*) FROM deliveries GROUP BY status ORDER BY status",
        )
        .fetch_all(&self.pool)
        .await?)
    }
}

/// Queues deliveries (a second one for the same capsule and address is ignored).
pub async fn queue_many(
    conn: &mut AnyConnection,
    rows: &[(Uuid, NewDelivery)],
    now: i64,
) -> DbResult<()> {
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        // $1 is `now`, shared by every row; each row adds six values.
        let values = (0..chunk.len())
            .map(|r| {
                let b = 2 + r * 6;
                format!(
                    "(${}, ${}, ${}, ${}, ${}, ${}, 'queued', 0, $1, $1)",
                    b,
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 4,
                    b + 5
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "INSERT INTO deliveries (id, capsule_id, recipient, link_hash, link_token, \
             link_expires_at, status, attempts, next_attempt_at, created_at) VALUES {values} \
             ON CONFLICT (capsule_id, recipient) WHERE resend_of IS NULL DO NOTHING"
        );
        let mut query = sqlx::query(&sql).bind(now);
        for (capsule_id, d) in chunk {
            query = query
                .bind(d.id.to_string())
                .bind(capsule_id.to_string())
                .bind(&d.recipient)
                .bind(&d.link_hash)
                .bind(&d.link_token)
                .bind(d.link_expires_at);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// The deliveries of a capsule as they stand: a row another has sent again is history.
pub async fn current_deliveries(
    conn: &mut AnyConnection,
    capsule_id: Uuid,
) -> DbResult<Vec<DeliveryRow>> {
    Ok(sqlx::query_as::<Any, DeliveryRow>(
        "SELECT d.id, d.capsule_id, d.recipient, d.status, d.attempts, d.last_error, \
         d.sent_at, d.link_expires_at, d.link_revoked_at FROM deliveries d \
         WHERE d.capsule_id = $1 \
         AND NOT EXISTS (SELECT 1 FROM deliveries n WHERE n.resend_of = d.id) \
         ORDER BY d.created_at, d.recipient",
    )
    .bind(capsule_id.to_string())
    .fetch_all(conn)
    .await?)
}

/// Queues `new` as the re-send of delivery `of`; false when `of` was sent again already
/// (by another request that got there first).
pub async fn queue_resend(
    conn: &mut AnyConnection,
    capsule_id: Uuid,
    of: Uuid,
    new: &NewDelivery,
    now: i64,
) -> DbResult<bool> {
    let done = sqlx::query(
        "INSERT INTO deliveries (id, capsule_id, recipient, link_hash, link_token, \
         link_expires_at, status, attempts, next_attempt_at, created_at, resend_of) \
         VALUES ($1, $2, $3, $4, $5, $6, 'queued', 0, $7, $7, $8) \
         ON CONFLICT (resend_of) DO NOTHING",
    )
    .bind(new.id.to_string())
    .bind(capsule_id.to_string())
    .bind(&new.recipient)
    .bind(&new.link_hash)
    .bind(&new.link_token)
    .bind(new.link_expires_at)
    .bind(now)
    .bind(of.to_string())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A user's id and email address.
#[derive(Debug, Clone, FromRow)]
pub struct OwnerEmail {
    #[sqlx(try_from = "String")]
    pub id: Uuid,
    pub email: String,
}

/// Email addresses of these users.
pub async fn owner_emails(
    conn: &mut AnyConnection,
    user_ids: &[Uuid],
) -> DbResult<Vec<OwnerEmail>> {
    fetch_in(
        conn,
        "SELECT id, email FROM users WHERE id IN ({ids})",
        user_ids,
    )
    .await
}

/// A photo's id and its capsule's.
#[derive(Debug, Clone, FromRow)]
pub struct PhotoOfCapsule {
    #[sqlx(try_from = "String")]
    pub id: Uuid,
    #[sqlx(try_from = "String")]
    pub capsule_id: Uuid,
}

/// Every photo of these capsules.
pub async fn photo_ids_of(
    conn: &mut AnyConnection,
    capsule_ids: &[Uuid],
) -> DbResult<Vec<PhotoOfCapsule>> {
    let sql = "SELECT id, capsule_id FROM photos WHERE capsule_id IN ({ids}) \
               ORDER BY created_at, id";
    fetch_in(conn, sql, capsule_ids).await
}
