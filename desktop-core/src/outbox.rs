//! The durable outbox: every local change that still has to reach the server, in order,
//! in SQLite, so it survives a quit, a crash or a week offline. An entry is coalesced per
//! thing it is about (one "send this capsule's fields" however many edits), re-armed when
//! the thing changes again while it is in flight, and retried with exponential backoff and
//! jitter until it goes through or the server refuses it for good.

use std::time::Duration;

use rand::Rng;
use rusqlite::{Connection, params};
use uuid::Uuid;

/// What an outbox entry asks the server to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpKind {
    PutCapsule,
    PutPhoto,
    DeletePhoto,
    Seal,
    DeleteCapsule,
}

impl OpKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::PutCapsule => "put_capsule",
            Self::PutPhoto => "put_photo",
            Self::DeletePhoto => "delete_photo",
            Self::Seal => "seal",
            Self::DeleteCapsule => "delete_capsule",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "put_capsule" => Self::PutCapsule,
            "put_photo" => Self::PutPhoto,
            "delete_photo" => Self::DeletePhoto,
            "seal" => Self::Seal,
            "delete_capsule" => Self::DeleteCapsule,
            _ => return None,
        })
    }
}

/// Why the last attempt of an entry failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailureKind {
    /// The server could not be reached.
    Network,
    /// The server answered with a temporary failure (5xx, 429, a broken upload).
    Server,
    /// The server refused for good; the entry waits for the person to change something.
    Refused,
}

impl FailureKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Network => "network",
            Self::Server => "server",
            Self::Refused => "refused",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "network" => Self::Network,
            "server" => Self::Server,
            "refused" => Self::Refused,
            _ => return None,
        })
    }
}

/// One outbox entry.
#[derive(Debug, Clone)]
pub(crate) struct Op {
    pub id: i64,
    pub kind: OpKind,
    pub capsule_id: Uuid,
    pub photo_id: Option<Uuid>,
    pub generation: i64,
    pub attempts: u32,
    pub next_attempt_at: i64,
    pub failure: Option<FailureKind>,
    pub last_error: Option<String>,
}

/// Adds an entry, or re-arms the one already waiting for the same thing (so it is sent
/// again with what is current, and tried at once).
pub(crate) fn enqueue(
    conn: &Connection,
    kind: OpKind,
    capsule_id: Uuid,
    photo_id: Option<Uuid>,
    now_ms: i64,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO outbox (kind, capsule_id, photo_id, created_at) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (kind, capsule_id, photo_id) DO UPDATE SET gen = gen + 1, attempts = 0, \
         next_attempt_at = 0, last_error = NULL, error_kind = NULL",
        params![
            kind.as_str(),
            capsule_id.to_string(),
            photo_id.map(|p| p.to_string()).unwrap_or_default(),
            now_ms
        ],
    )?;
    Ok(())
}

/// Drops one entry about a photo (it no longer needs sending).
pub(crate) fn forget_photo(
    conn: &Connection,
    kind: OpKind,
    photo_id: Uuid,
) -> rusqlite::Result<()> {
    conn.execute(
        "DELETE FROM outbox WHERE kind = ?1 AND photo_id = ?2",
        params![kind.as_str(), photo_id.to_string()],
    )?;
    Ok(())
}

/// Drops every entry about a capsule but its deletion.
pub(crate) fn forget_capsule(conn: &Connection, capsule_id: Uuid) -> rusqlite::Result<()> {
    conn.execute(
        "DELETE FROM outbox WHERE capsule_id = ?1 AND kind != 'delete_capsule'",
        params![capsule_id.to_string()],
    )?;
    Ok(())
}

/// Every entry, oldest first.
pub(crate) fn pending(conn: &Connection) -> rusqlite::Result<Vec<Op>> {
    let mut stmt = conn.prepare(
        "SELECT id, kind, capsule_id, photo_id, gen, attempts, next_attempt_at, error_kind, \
         last_error FROM outbox ORDER BY id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, i64>(4)?,
            r.get::<_, u32>(5)?,
            r.get::<_, i64>(6)?,
            r.get::<_, Option<String>>(7)?,
            r.get::<_, Option<String>>(8)?,
        ))
    })?;
    let mut ops = Vec::new();
    for row in rows {
        let (id, kind, capsule, photo, generation, attempts, next, failure, last_error) = row?;
        let (Some(kind), Ok(capsule_id)) = (OpKind::parse(&kind), Uuid::parse_str(&capsule)) else {
            tracing::warn!(
                id,
                kind,
                "skipping an outbox entry this version cannot read"
            );
            continue;
        };
        ops.push(Op {
            id,
            kind,
            capsule_id,
            photo_id: Uuid::parse_str(&photo).ok(),
            generation,
            attempts,
            next_attempt_at: next,
            failure: failure.as_deref().and_then(FailureKind::parse),
            last_error,
        });
    }
    Ok(ops)
}

/// The entry went through. If it was re-armed meanwhile it stays, to send the newer state.
pub(crate) fn done(conn: &Connection, op: &Op) -> rusqlite::Result<()> {
    conn.execute(
        "DELETE FROM outbox WHERE id = ?1 AND gen = ?2",
        params![op.id, op.generation],
    )?;
    Ok(())
}

/// Longest wait between two attempts.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(10 * 60);
const FIRST_BACKOFF: Duration = Duration::from_secs(2);

/// The wait before attempt `attempts + 1`: doubling from 2 s up to 10 min, ±20 % so that
/// many clients coming back online together do not arrive in step.
pub(crate) fn backoff(attempts: u32) -> Duration {
    let base = FIRST_BACKOFF
        .saturating_mul(1u32 << attempts.min(16))
        .min(MAX_BACKOFF);
    base.mul_f64(rand::thread_rng().gen_range(0.8..1.2))
}

/// Records a failed attempt: a refusal waits for the person, anything else is retried
/// after the backoff, or after the server's own `Retry-After` when that is longer.
pub(crate) fn failed(
    conn: &Connection,
    op: &Op,
    kind: FailureKind,
    message: &str,
    now_ms: i64,
    retry_after: Option<Duration>,
) -> rusqlite::Result<()> {
    let next = if kind == FailureKind::Refused {
        i64::MAX
    } else {
        let wait = backoff(op.attempts).max(retry_after.unwrap_or_default());
        now_ms.saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX))
    };
    conn.execute(
        "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?3, last_error = ?4, \
         error_kind = ?5 WHERE id = ?1 AND gen = ?2",
        params![op.id, op.generation, next, message, kind.as_str()],
    )?;
    Ok(())
}

/// Makes every waiting entry due now ("sync now", or the network came back), except those
/// the server refused.
pub(crate) fn wake_all(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE outbox SET next_attempt_at = 0 WHERE error_kind IS NULL OR error_kind != 'refused'",
        [],
    )?;
    Ok(())
}
