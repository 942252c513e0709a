//! Sessions (refresh-token families) and their rotating refresh tokens.

use sqlx::{Any, FromRow};
use uuid::Uuid;

use super::{Db, DbResult};

/// A refresh token joined with its session.
#[derive(Debug, Clone, FromRow)]
pub struct RefreshRow {
    #[sqlx(try_from = "String")]
    pub session_id: Uuid,
    #[sqlx(try_from = "String")]
    pub user_id: Uuid,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl Db {
    /// Creates a session with its first refresh token.
    pub async fn create_session(
        &self,
        session_id: Uuid,
        user_id: Uuid,
        device_name: Option<&str>,
        token_hash: &str,
        now: i64,
        expires_at: i64,
    ) -> DbResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO sessions (id, user_id, device_name, created_at, last_used_at) \
             VALUES ($1, $2, $3, $4, $4)",
        )
        .bind(session_id.to_string())
        .bind(user_id.to_string())
        .bind(device_name)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        insert_token(&mut tx, token_hash, session_id, now, expires_at).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Finds a refresh token by its hash.
    pub async fn refresh_token(&self, token_hash: &str) -> DbResult<Option<RefreshRow>> {
        Ok(sqlx::query_as::<Any, RefreshRow>(
            "SELECT t.session_id, s.user_id, t.expires_at, t.used_at, s.revoked_at \
             FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id \
             WHERE t.token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Spends a refresh token and issues its successor in one step. False when the token
    /// was spent concurrently (which the caller treats as reuse).
    pub async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        new_hash: &str,
        session_id: Uuid,
        now: i64,
        expires_at: i64,
    ) -> DbResult<bool> {
        let mut tx = self.begin().await?;
        let spent = sqlx::query(
            "UPDATE refresh_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL",
        )
        .bind(old_hash)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if spent.rows_affected() != 1 {
            return Ok(false);
        }
        insert_token(&mut tx, new_hash, session_id, now, expires_at).await?;
        sqlx::query("UPDATE sessions SET last_used_at = $2 WHERE id = $1")
            .bind(session_id.to_string())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Revokes one session (log-out, or reuse detected).
    pub async fn revoke_session(&self, session_id: Uuid, reason: &str, now: i64) -> DbResult<()> {
        sqlx::query(
            "UPDATE sessions SET revoked_at = $2, revoked_reason = $3 \
             WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(session_id.to_string())
        .bind(now)
        .bind(reason)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Revokes every session of a user but one (password change).
    pub async fn revoke_other_sessions(
        &self,
        user_id: Uuid,
        keep: Uuid,
        reason: &str,
        now: i64,
    ) -> DbResult<()> {
        sqlx::query(
            "UPDATE sessions SET revoked_at = $3, revoked_reason = $4 \
             WHERE user_id = $1 AND id <> $2 AND revoked_at IS NULL",
        )
        .bind(user_id.to_string())
        .bind(keep.to_string())
        .bind(now)
        .bind(reason)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// True while the session exists, belongs to the user and is not revoked; checked on
    /// every authenticated request so log-out and account deletion take effect at once.
    pub async fn session_is_active(&self, session_id: Uuid, user_id: Uuid) -> DbResult<bool> {
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM sessions WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL",
        )
        .bind(session_id.to_string())
        .bind(user_id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.is_some())
    }
}

async fn insert_token(
    tx: &mut sqlx::Transaction<'static, Any>,
    token_hash: &str,
    session_id: Uuid,
    now: i64,
    expires_at: i64,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(token_hash)
    .bind(session_id.to_string())
    .bind(now)
    .bind(expires_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
