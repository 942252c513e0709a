//! Storage of accounts, sessions, capsules, photos and the change feed. All SQL lives in
//! this module; the same statements run on SQLite and PostgreSQL through sqlx's `Any`
//! driver, which is why the schema sticks to TEXT and BIGINT.

pub mod capsules;
pub mod changes;
pub mod deliveries;
pub mod photos;
pub mod reminders;
pub mod sealing;
pub mod sessions;
pub mod throttle;
pub mod thumbnail_jobs;
pub mod uploads;
pub mod users;

use std::time::Duration;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor};
use uuid::Uuid;

/// Errors from the database layer.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    #[error("database error: {0}")]
    Query(#[source] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl DbError {
    /// Sorts connection-level failures (pool timeout, I/O) apart from query errors so the
    /// API can answer 503 instead of 500 while the database is down.
    pub fn classify(err: sqlx::Error) -> Self {
        let connection_failed = match &err {
            // A connection that breaks while it is opened (a reset in the TLS or start-up
            // exchange) surfaces as a protocol or TLS error, not as I/O.
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_) => true,
            // PostgreSQL's "connection exception" class and its shutdown codes.
            sqlx::Error::Database(db) => db
                .code()
                .is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
            _ => false,
        };
        if connection_failed {
            Self::Unavailable(err)
        } else {
            Self::Query(err)
        }
    }
}

impl From<sqlx::Error> for DbError {
    fn from(err: sqlx::Error) -> Self {
        Self::classify(err)
    }
}

/// Shorthand for database results.
pub type DbResult<T> = Result<T, DbError>;

/// A capsule's recipients: normalised addresses, stored as a JSON array of strings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recipients(pub Vec<String>);

impl Recipients {
    /// The stored form.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.0).unwrap_or_else(|_| "[]".into())
    }
}

impl TryFrom<String> for Recipients {
    type Error = serde_json::Error;
    fn try_from(json: String) -> Result<Self, Self::Error> {
        serde_json::from_str(&json).map(Self)
    }
}

/// Which engine the URL named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbKind {
    Sqlite,
    Postgres,
}

/// The connection pool and its engine.
#[derive(Debug, Clone)]
pub struct Db {
    pub pool: AnyPool,
    pub kind: DbKind,
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Rows a worker claims are locked without waiting on another's (SQLite has one writer).
pub(crate) fn skip_locked(kind: DbKind) -> &'static str {
    match kind {
        DbKind::Postgres => " FOR UPDATE SKIP LOCKED",
        DbKind::Sqlite => "",
    }
}

impl Db {
    /// Connects, tunes SQLite for concurrent use, and runs the migrations.
    pub async fn connect(url: &str, max_connections: Option<u32>) -> DbResult<Self> {
        install_default_drivers();
        let kind = if url.starts_with("sqlite:") {
            DbKind::Sqlite
        } else {
            DbKind::Postgres
        };
        // Few connections beat many: requests wait in the pool's queue instead of
        // contending for the CPU (measured: p99 of a sync page fell from 36 to 25 ms going
        // from 16 to 4 connections on 2 cores).
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get() as u32);
        let max = max_connections.unwrap_or(match kind {
            DbKind::Sqlite => 4,
            DbKind::Postgres => (2 * cores).max(4),
        });
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(Duration::from_secs(5))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if kind == DbKind::Sqlite {
                        // WAL lets readers run beside the one writer; the busy timeout
                        // makes writers queue instead of failing.
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                        conn.execute("PRAGMA busy_timeout = 15000").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool, kind })
    }

    /// Readiness probe.
    pub async fn ping(&self) -> DbResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Starts a transaction.
    pub async fn begin(&self) -> DbResult<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(self.pool.begin().await?)
    }
}

/// `$start, $start+1, …` for an `IN (…)` list of `n` values.
pub(crate) fn in_list(n: usize, start: usize) -> String {
    (start..start + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Rows per multi-row statement: well under both engines' parameter limits.
pub(crate) const ROWS_PER_STATEMENT: usize = 500;

/// Runs a query whose `{ids}` stands for an `IN` list, once per chunk of ids, and collects
/// the rows (ordering holds within a chunk only).
pub(crate) async fn fetch_in<T>(
    conn: &mut sqlx::AnyConnection,
    sql: &str,
    ids: &[Uuid],
) -> DbResult<Vec<T>>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
{
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(ROWS_PER_STATEMENT) {
        let sql = sql.replace("{ids}", &in_list(chunk.len(), 1));
        let mut query = sqlx::query_as::<sqlx::Any, T>(&sql);
        for id in chunk {
            query = query.bind(id.to_string());
        }
        out.extend(query.fetch_all(&mut *conn).await?);
    }
    Ok(out)
}
