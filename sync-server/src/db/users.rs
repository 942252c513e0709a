//! Accounts.

use sqlx::{Any, AnyConnection, FromRow};
use uuid::Uuid;

use super::{Db, DbResult};

/// A stored account.
#[derive(Debug, Clone, FromRow)]
pub struct UserRow {
    #[sqlx(try_from = "String")]
    pub id: Uuid,
    pub email: String,
    pub password_hash: String,
}

impl Db {
    /// Inserts an account; false when the email is taken.
    pub async fn insert_user(
        &self,
        id: Uuid,
        email: &str,
        password_hash: &str,
        now: i64,
    ) -> DbResult<bool> {
        let done = sqlx::query(
            "INSERT INTO users (id, email, password_hash, change_seq, created_at) \
             VALUES ($1, $2, $3, 0, $4) ON CONFLICT (email) DO NOTHING",
        )
        .bind(id.to_string())
        .bind(email)
        .bind(password_hash)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Looks an account up by normalised email.
    pub async fn user_by_email(&self, email: &str) -> DbResult<Option<UserRow>> {
        Ok(sqlx::query_as::<Any, UserRow>(
            "SELECT id, email, password_hash FROM users WHERE email = $1",
        )
        .bind(email)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Looks an account up by id.
    pub async fn user_by_id(&self, id: Uuid) -> DbResult<Option<UserRow>> {
        Ok(sqlx::query_as::<Any, UserRow>(
            "SELECT id, email, password_hash FROM users WHERE id = $1",
        )
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Replaces the password hash.
    pub async fn set_password_hash(&self, id: Uuid, password_hash: &str) -> DbResult<()> {
        sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
            .bind(id.to_string())
            .bind(password_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Deletes an account; every row of it goes by cascade.
    pub async fn delete_user(&self, id: Uuid) -> DbResult<()> {
        sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// Reserves `n` change sequence numbers for a user and returns the first. Must be the first
/// statement of a write transaction: it locks the user's row (PostgreSQL) or takes the write
/// lock (SQLite), so a user's changes commit in sequence order and a pulled cursor never
/// skips a change that commits later.
pub async fn reserve_seq(conn: &mut AnyConnection, user_id: Uuid, n: i64) -> DbResult<i64> {
    let last: i64 = sqlx::query_scalar(
        "UPDATE users SET change_seq = change_seq + $2 WHERE id = $1 RETURNING change_seq",
    )
    .bind(user_id.to_string())
    .bind(n)
    .fetch_one(conn)
    .await?;
    Ok(last - n + 1)
}
