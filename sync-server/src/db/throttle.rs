//! Failed log-in counters in fixed windows.

use super::{Db, DbResult};

impl Db {
    /// Failures recorded for `key` in the window that started at or after `window_start`.
    pub async fn throttle_failures(&self, key: &str, window_start: i64) -> DbResult<i64> {
        let n: Option<i64> = sqlx::query_scalar(
            "SELECT failures FROM auth_throttle WHERE key = $1 AND window_start >= $2",
        )
        .bind(key)
        .bind(window_start)
        .fetch_optional(&self.pool)
        .await?;
        Ok(n.unwrap_or(0))
    }

    /// Counts one failure, starting a new window when the old one has run out.
    pub async fn throttle_record_failure(
        &self,
        key: &str,
        now: i64,
        window_start: i64,
    ) -> DbResult<()> {
        sqlx::query(
            "INSERT INTO auth_throttle (key, window_start, failures) VALUES ($1, $2, 1) \
             ON CONFLICT (key) DO UPDATE SET \
               failures = CASE WHEN auth_throttle.window_start < $3 THEN 1 \
                               ELSE auth_throttle.failures + 1 END, \
               window_start = CASE WHEN auth_throttle.window_start < $3 THEN $2 \
                                   ELSE auth_throttle.window_start END",
        )
        .bind(key)
        .bind(now)
        .bind(window_start)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Forgets the failures of a key (after a successful log-in).
    pub async fn throttle_clear(&self, key: &str) -> DbResult<()> {
        sqlx::query("DELETE FROM auth_throttle WHERE key = $1")
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
