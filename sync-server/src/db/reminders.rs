//! The reminder outbox and the addresses that asked for no more reminders. Claims work as
//! the delivery outbox's do: one statement, a lease, so three workers send one email each.

use sqlx::{Any, AnyConnection, FromRow};
use uuid::Uuid;

use super::{Db, DbResult, ROWS_PER_STATEMENT, in_list, skip_locked};

/// A reminder to queue at sealing.
#[derive(Debug, Clone)]
pub struct NewReminder {
    pub id: Uuid,
    pub recipient: String,
    pub to_owner: bool,
    pub show_title: bool,
    pub due_at: i64,
}

/// A reminder claimed for sending.
#[derive(Debug, Clone, FromRow)]
pub struct ClaimedReminder {
    #[sqlx(try_from = "String")]
    pub id: Uuid,
    #[sqlx(try_from = "String")]
    pub capsule_id: Uuid,
    pub recipient: String,
    pub to_owner: i64,
    pub show_title: i64,
    pub attempts: i64,
}

/// How a reminder ended, when it was not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReminderEnd {
    /// The mail server could not be reached after the last attempt.
    Failed,
    /// The receiving server refused the address for good.
    Bounced,
    /// The address asked for no more reminders.
    Unsubscribed,
    /// The capsule opened (or was sealed again) before its reminder could go.
    Moot,
}

impl ReminderEnd {
    fn as_str(self) -> &'static str {
        match self {
            Self::Failed => "failed",
            Self::Bounced => "bounced",
            Self::Unsubscribed => "unsubscribed",
            Self::Moot => "moot",
        }
    }
}

/// Queues a capsule's reminders inside the sealing transaction.
pub async fn queue(
    conn: &mut AnyConnection,
    capsule_id: Uuid,
    rows: &[NewReminder],
    now: i64,
) -> DbResult<()> {
    for r in rows {
        sqlx::query(
            "INSERT INTO reminders (id, capsule_id, recipient, to_owner, show_title, status, \
             attempts, next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, 'queued', 0, $6, $7) \
             ON CONFLICT (capsule_id, recipient) DO NOTHING",
        )
        .bind(r.id.to_string())
        .bind(capsule_id.to_string())
        .bind(&r.recipient)
        .bind(i64::from(r.to_owner))
        .bind(i64::from(r.show_title))
        .bind(r.due_at)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

impl Db {
    /// Leases up to `limit` reminders that are due, counting the attempt.
    pub async fn claim_reminders(
        &self,
        worker: &str,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> DbResult<Vec<ClaimedReminder>> {
        Ok(sqlx::query_as::<Any, ClaimedReminder>(&format!(
            "UPDATE reminders SET lease_owner = $2, lease_until = $3, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM reminders WHERE status = 'queued' \
                          AND next_attempt_at <= $1 \
                          AND (lease_until IS NULL OR lease_until < $1) \
                          ORDER BY next_attempt_at LIMIT $4{}) \
             RETURNING id, capsule_id, recipient, to_owner, show_title, attempts",
            skip_locked(self.kind)
        ))
        .bind(now)
        .bind(worker)
        .bind(lease_until)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Records sent reminders (only those this worker still holds).
    pub async fn reminders_sent(&self, ids: &[Uuid], worker: &str, now: i64) -> DbResult<()> {
        for chunk in ids.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "UPDATE reminders SET status = 'sent', sent_at = $2, lease_until = NULL, \
                 lease_owner = NULL, last_error = NULL WHERE lease_owner = $1 AND id IN ({})",
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

    /// A failed attempt to be tried again at `at`.
    pub async fn reminder_retry(
        &self,
        id: Uuid,
        worker: &str,
        error: &str,
        at: i64,
    ) -> DbResult<()> {
        sqlx::query(
            "UPDATE reminders SET next_attempt_at = $4, last_error = $3, lease_until = NULL, \
             lease_owner = NULL WHERE id = $1 AND lease_owner = $2",
        )
        .bind(id.to_string())
        .bind(worker)
        .bind(error)
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A reminder that will not go, and why.
    pub async fn reminder_ended(
        &self,
        id: Uuid,
        worker: &str,
        end: ReminderEnd,
        error: Option<&str>,
    ) -> DbResult<()> {
        sqlx::query(
            "UPDATE reminders SET status = $3, last_error = $4, lease_until = NULL, \
             lease_owner = NULL WHERE id = $1 AND lease_owner = $2",
        )
        .bind(id.to_string())
        .bind(worker)
        .bind(end.as_str())
        .bind(error)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records that `address` wants no more reminders (again is fine).
    pub async fn unsubscribe(&self, address: &str, now: i64) -> DbResult<()> {
        sqlx::query(
            "INSERT INTO unsubscribed (address, at) VALUES ($1, $2) \
             ON CONFLICT (address) DO NOTHING",
        )
        .bind(address)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Those of `addresses` that asked for no more reminders.
    pub async fn unsubscribed_among(&self, addresses: &[String]) -> DbResult<Vec<String>> {
        let mut out = Vec::new();
        for chunk in addresses.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "SELECT address FROM unsubscribed WHERE address IN ({})",
                in_list(chunk.len(), 1)
            );
            let mut query = sqlx::query_scalar::<Any, String>(&sql);
            for a in chunk {
                query = query.bind(a);
            }
            out.extend(query.fetch_all(&self.pool).await?);
        }
        Ok(out)
    }
}
