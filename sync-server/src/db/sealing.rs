//! Capsules sealed on a device: their declared files, the verified drand rounds, the lease
//! of the worker that opens them, and every use of the escrow key.

use sqlx::{Any, AnyConnection, FromRow};
use uuid::Uuid;

use super::{Db, DbResult, Recipients, skip_locked};

/// A sealed file a device declared.
#[derive(Debug, Clone, FromRow)]
pub struct SealedFileRow {
    pub name: String,
    pub sha256: String,
    pub size: i64,
    pub received: i64,
}

/// What a device's seal sets on a capsule.
#[derive(Debug, Clone)]
pub struct DeviceSeal {
    pub round: i64,
    pub chain_hash: String,
    pub escrow: bool,
    pub photo_count: i64,
}

/// What opening a sealed capsule found in its files.
#[derive(Debug, Clone)]
pub struct Unsealed {
    pub note: String,
    pub recipients: Recipients,
    pub photo_count: i64,
    /// JSON list of `RefusedPhoto`, when any.
    pub refused: Option<String>,
}

impl Db {
    /// A declared sealed file.
    pub async fn sealed_file(
        &self,
        capsule_id: Uuid,
        name: &str,
    ) -> DbResult<Option<SealedFileRow>> {
        Ok(sqlx::query_as::<Any, SealedFileRow>(
            "SELECT name, sha256, size, received FROM sealed_files \
             WHERE capsule_id = $1 AND name = $2",
        )
        .bind(capsule_id.to_string())
        .bind(name)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Every declared sealed file of a capsule, by name.
    pub async fn sealed_files(&self, capsule_id: Uuid) -> DbResult<Vec<SealedFileRow>> {
        Ok(sqlx::query_as::<Any, SealedFileRow>(
            "SELECT name, sha256, size, received FROM sealed_files WHERE capsule_id = $1 \
             ORDER BY name",
        )
        .bind(capsule_id.to_string())
        .fetch_all(&self.pool)
        .await?)
    }

    /// Declares a sealed file (again). Answers whether its bytes are already held: the same
    /// hash and size, received before.
    pub async fn declare_sealed_file(
        &self,
        capsule_id: Uuid,
        name: &str,
        sha256: &str,
        size: i64,
    ) -> DbResult<bool> {
        let held = sqlx::query_as::<Any, SealedFileRow>(
            "INSERT INTO sealed_files (capsule_id, name, sha256, size, received) \
             VALUES ($1, $2, $3, $4, 0) \
             ON CONFLICT (capsule_id, name) DO UPDATE SET \
               received = CASE WHEN sealed_files.sha256 = excluded.sha256 \
                 AND sealed_files.size = excluded.size THEN sealed_files.received ELSE 0 END, \
               sha256 = excluded.sha256, size = excluded.size \
             RETURNING name, sha256, size, received",
        )
        .bind(capsule_id.to_string())
        .bind(name)
        .bind(sha256)
        .bind(size)
        .fetch_one(&self.pool)
        .await?;
        Ok(held.received != 0)
    }

    /// Records that a sealed file's bytes arrived, checked.
    pub async fn sealed_file_received(&self, capsule_id: Uuid, name: &str) -> DbResult<()> {
        sqlx::query("UPDATE sealed_files SET received = 1 WHERE capsule_id = $1 AND name = $2")
            .bind(capsule_id.to_string())
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Forgets a capsule's sealed files (their objects are the caller's to delete).
    pub async fn forget_sealed_files(&self, capsule_id: Uuid) -> DbResult<()> {
        sqlx::query("DELETE FROM sealed_files WHERE capsule_id = $1")
            .bind(capsule_id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A verified round's signature (hex), if one is stored.
    pub async fn beacon(&self, chain_hash: &str, round: i64) -> DbResult<Option<String>> {
        Ok(sqlx::query_scalar::<Any, String>(
            "SELECT signature FROM beacons WHERE chain_hash = $1 AND round = $2",
        )
        .bind(chain_hash)
        .bind(round)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Keeps a verified round's signature.
    pub async fn save_beacon(
        &self,
        chain_hash: &str,
        round: i64,
        signature_hex: &str,
        now: i64,
    ) -> DbResult<()> {
        sqlx::query(
            "INSERT INTO beacons (chain_hash, round, signature, fetched_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (chain_hash, round) DO NOTHING",
        )
        .bind(chain_hash)
        .bind(round)
        .bind(signature_hex)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Leases up to `limit` capsules sealed on a device whose date has passed and that
    /// are not opened yet; answers their ids.
    pub async fn lease_sealed_due(
        &self,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> DbResult<Vec<Uuid>> {
        let ids = sqlx::query_scalar::<Any, String>(&format!(
            "UPDATE capsules SET unseal_lease_until = $2 \
             WHERE id IN (SELECT id FROM capsules WHERE state = 'sealed' \
                          AND seal_round IS NOT NULL AND unsealed_at IS NULL \
                          AND open_at <= $1 \
                          AND (unseal_lease_until IS NULL OR unseal_lease_until < $1) \
                          ORDER BY open_at LIMIT $3{}) \
             RETURNING id",
            skip_locked(self.kind)
        ))
        .bind(now)
        .bind(lease_until)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(ids.iter().filter_map(|s| Uuid::parse_str(s).ok()).collect())
    }

    /// Why a leased capsule is not open yet (its round has no beacon), and lets it go
    /// until `retry_at`.
    pub async fn unseal_waiting(&self, id: Uuid, why: &str, retry_at: i64) -> DbResult<()> {
        sqlx::query(
            "UPDATE capsules SET unseal_waiting = $2, unseal_lease_until = $3 WHERE id = $1",
        )
        .bind(id.to_string())
        .bind(why)
        .bind(retry_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records one use of the escrow key.
    pub async fn record_escrow_use(
        &self,
        capsule_id: Uuid,
        user_id: Uuid,
        now: i64,
        reason: &str,
    ) -> DbResult<()> {
        sqlx::query(
            "INSERT INTO escrow_uses (id, capsule_id, user_id, used_at, reason) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(Uuid::now_v7().to_string())
        .bind(capsule_id.to_string())
        .bind(user_id.to_string())
        .bind(now)
        .bind(reason)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// How many times the escrow key opened a capsule.
    pub async fn escrow_uses(&self, capsule_id: Uuid) -> DbResult<i64> {
        Ok(
            sqlx::query_scalar::<Any, i64>(
                "SELECT COUNT(*) FROM escrow_uses WHERE capsule_id = $1",
            )
            .bind(capsule_id.to_string())
            .fetch_one(&self.pool)
            .await?,
        )
    }
}

/// Seals a draft with the files a device sent: the plaintext fields are emptied (the
/// files hold them). False if it is no longer a draft.
pub async fn seal_on_device(
    conn: &mut AnyConnection,
    id: Uuid,
    now: i64,
    s: &DeviceSeal,
) -> DbResult<bool> {
    let done = sqlx::query(
        "UPDATE capsules SET state = 'sealed', sealed_at = $2, version = version + 1, \
         updated_at = $2, note = '', recipients = '[]', seal_round = $3, seal_chain = $4, \
         seal_escrow = $5, photo_count = $6 WHERE id = $1 AND state = 'draft'",
    )
    .bind(id.to_string())
    .bind(now)
    .bind(s.round)
    .bind(&s.chain_hash)
    .bind(i64::from(s.escrow))
    .bind(s.photo_count)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes a capsule's photo rows; answers their id, hash and state.
pub async fn drop_photos(
    conn: &mut AnyConnection,
    capsule_id: Uuid,
) -> DbResult<Vec<(String, String, String)>> {
    Ok(sqlx::query_as::<Any, (String, String, String)>(
        "DELETE FROM photos WHERE capsule_id = $1 RETURNING id, sha256, state",
    )
    .bind(capsule_id.to_string())
    .fetch_all(conn)
    .await?)
}

/// Puts what the sealed files held back on the capsule; it opens with the next delivery
/// run. False if another worker did it first.
pub async fn finish_unseal(
    conn: &mut AnyConnection,
    id: Uuid,
    now: i64,
    u: &Unsealed,
) -> DbResult<bool> {
    let done = sqlx::query(
        "UPDATE capsules SET note = $3, recipients = $4, photo_count = $5, \
         refused_photos = $6, unsealed_at = $2, unseal_waiting = NULL \
         WHERE id = $1 AND state = 'sealed' AND unsealed_at IS NULL",
    )
    .bind(id.to_string())
    .bind(now)
    .bind(&u.note)
    .bind(u.recipients.to_json())
    .bind(u.photo_count)
    .bind(u.refused.as_deref())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
