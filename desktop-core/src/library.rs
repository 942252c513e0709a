//! The local library: a SQLite database (WAL, foreign keys, versioned migrations) and the
//! photo files beside it, content-addressed by SHA-256 so the same photo is stored once.
//! Files reach their final name by rename after they are complete, and a row is written
//! only after its files are in place, so a crash leaves no half photo and no row without
//! its file.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};

/// Errors of the library.
#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    #[error("library database: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("library files: {0}")]
    Io(#[from] std::io::Error),
}

/// The migrations, in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE photos (
        sha256       TEXT PRIMARY KEY,
        size         INTEGER NOT NULL,
        content_type TEXT NOT NULL,
        width        INTEGER NOT NULL,
        height       INTEGER NOT NULL,
        taken_at     INTEGER,
        camera       TEXT,
        imported_at  INTEGER NOT NULL
    );",
    // Capsules as this device knows them; drafts are made and edited here first.
    // `server_version` is 0 until the server has seen the capsule.
    "CREATE TABLE capsules (
        id             TEXT PRIMARY KEY,
        title          TEXT NOT NULL,
        note           TEXT NOT NULL,
        open_at        INTEGER,
        time_zone      TEXT NOT NULL,
        recipients     TEXT NOT NULL,
        state          TEXT NOT NULL,
        server_version INTEGER NOT NULL DEFAULT 0,
        created_at     INTEGER NOT NULL,
        updated_at     INTEGER NOT NULL
    );
    CREATE INDEX capsules_open_at ON capsules (open_at);
    CREATE TABLE capsule_photos (
        id         TEXT PRIMARY KEY,
        capsule_id TEXT NOT NULL REFERENCES capsules(id) ON DELETE CASCADE,
        sha256     TEXT NOT NULL REFERENCES photos(sha256),
        file_name  TEXT,
        added_at   INTEGER NOT NULL,
        UNIQUE (capsule_id, sha256)
    );",
    // Sync. A capsule's photos are no longer tied to local originals: a photo of a capsule
    // from another device, or of a sealed or opened one, may exist only on the server.
    // `base` holds the capsule's fields as the server last confirmed them (JSON), so a
    // conflict is merged field by field. The outbox holds what still has to reach the
    // server; `gen` grows each time an entry is re-armed while it is being sent.
    "CREATE TABLE capsule_photos_v2 (
        id           TEXT PRIMARY KEY,
        capsule_id   TEXT NOT NULL REFERENCES capsules(id) ON DELETE CASCADE,
        sha256       TEXT NOT NULL,
        file_name    TEXT,
        size         INTEGER NOT NULL,
        content_type TEXT NOT NULL,
        taken_at     INTEGER,
        uploaded     INTEGER NOT NULL DEFAULT 0,
        added_at     INTEGER NOT NULL,
        UNIQUE (capsule_id, sha256)
    );
    INSERT INTO capsule_photos_v2
        (id, capsule_id, sha256, file_name, size, content_type, taken_at, added_at)
        SELECT cp.id, cp.capsule_id, cp.sha256, cp.file_name, p.size, p.content_type,
               p.taken_at, cp.added_at
        FROM capsule_photos cp JOIN photos p ON p.sha256 = cp.sha256;
    DROP TABLE capsule_photos;
    ALTER TABLE capsule_photos_v2 RENAME TO capsule_photos;
    CREATE INDEX capsule_photos_sha256 ON capsule_photos (sha256);
    ALTER TABLE capsules ADD COLUMN base TEXT;
    ALTER TABLE capsules ADD COLUMN photo_count INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE capsules ADD COLUMN sealed_at INTEGER;
    ALTER TABLE capsules ADD COLUMN notified_at INTEGER;
    CREATE TABLE outbox (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        kind            TEXT NOT NULL,
        capsule_id      TEXT NOT NULL,
        photo_id        TEXT NOT NULL DEFAULT '',
        gen             INTEGER NOT NULL DEFAULT 0,
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL DEFAULT 0,
        last_error      TEXT,
        error_kind      TEXT,
        created_at      INTEGER NOT NULL,
        UNIQUE (kind, capsule_id, photo_id)
    );
    CREATE TABLE account (
        one         INTEGER PRIMARY KEY CHECK (one = 1),
        server_url  TEXT NOT NULL,
        user_id     TEXT NOT NULL,
        email       TEXT NOT NULL
    );
    CREATE TABLE sync_meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    -- The feed lists a capsule after its photos (a photo change moves its capsule's entry
    -- to the end), so a photo may arrive before its capsule does; it waits here.
    CREATE TABLE held_photos (
        id         TEXT PRIMARY KEY,
        capsule_id TEXT NOT NULL,
        photo      TEXT NOT NULL
    );
    CREATE INDEX held_photos_capsule ON held_photos (capsule_id);",
    // The window: when this device first showed an opened capsule (its reveal plays once),
    // the last delivery report fetched for it (JSON), and the person's settings.
    "ALTER TABLE capsules ADD COLUMN revealed_at INTEGER;
    ALTER TABLE capsules ADD COLUMN deliveries TEXT;
    CREATE TABLE settings (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );",
    // Large originals go up in parts: the upload under way and the parts it has sent, so a
    // cut upload (or an app restart in the middle) sends only what is missing.
    "CREATE TABLE part_uploads (
        photo_id  TEXT PRIMARY KEY,
        upload_id TEXT NOT NULL,
        part_size INTEGER NOT NULL,
        done      TEXT NOT NULL
    );",
    // Sealing with an account encrypts on this device: whether the person chose the time
    // lock alone (no escrow stanza), kept until the seal reaches the server.
    "ALTER TABLE capsules ADD COLUMN seal_time_lock_only INTEGER NOT NULL DEFAULT 0;",
    // How the server says a sealed capsule is locked (JSON: round, chain, escrow).
    "ALTER TABLE capsules ADD COLUMN seal_lock TEXT;",
    // A capsule sealed on this computer only (or taken back from a sealed folder): its
    // files are in its sealed folder and this device opens them with the beacon; and why
    // one whose date has come has not opened yet.
    "ALTER TABLE capsules ADD COLUMN sealed_here INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE capsules ADD COLUMN open_wait TEXT;",
    // The reminders chosen at sealing (JSON `Reminders`), sent with the seal.
    "ALTER TABLE capsules ADD COLUMN seal_reminders TEXT;",
];

/// The two thumbnails every photo gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThumbSize {
    /// Around 256 px, for grids.
    Grid,
    /// Around 1280 px, for the larger preview.
    Preview,
}

impl ThumbSize {
    /// Longest side in pixels.
    pub fn pixels(self) -> u32 {
        match self {
            Self::Grid => 256,
            Self::Preview => 1280,
        }
    }
}

/// A stored photo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhotoRecord {
    pub sha256: String,
    pub size: u64,
    pub content_type: String,
    pub width: u32,
    pub height: u32,
    /// Capture time from EXIF, Unix milliseconds.
    pub taken_at: Option<i64>,
    /// "Make Model" from EXIF.
    pub camera: Option<String>,
}

/// A library folder.
pub struct Library {
    root: PathBuf,
    conn: Mutex<Connection>,
    /// Counts what was queued for the server; the sync engine and the unlock watcher wait
    /// on it, so an action never has to remember to wake them.
    queued: tokio::sync::watch::Sender<u64>,
}

impl std::fmt::Debug for Library {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Library").field("root", &self.root).finish()
    }
}

impl Library {
    /// Opens (and creates) a library in `root`, runs pending migrations and clears what an
    /// interrupted import left in the scratch folder.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, LibraryError> {
        let root = root.into();
        for dir in ["photos", "thumbnails", "incoming"] {
            std::fs::create_dir_all(root.join(dir))?;
        }
        for entry in std::fs::read_dir(root.join("incoming"))? {
            let _ = std::fs::remove_file(entry?.path());
        }
        let mut conn = Connection::open(root.join("library.db"))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // What a seal takes out (a note, addresses) is overwritten, not just unlinked, so
        // the database file keeps none of a sealed capsule's words.
        conn.pragma_update(None, "secure_delete", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        migrate(&mut conn)?;
        Ok(Self {
            root,
            conn: Mutex::new(conn),
            queued: tokio::sync::watch::Sender::new(0),
        })
    }

    /// Says that something was queued for the server (after its transaction committed).
    pub(crate) fn queued(&self) {
        self.queued.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Changes each time something is queued for the server.
    pub fn watch_queue(&self) -> tokio::sync::watch::Receiver<u64> {
        self.queued.subscribe()
    }

    /// Moves everything the write-ahead log holds into the database and empties the log:
    /// after a seal, the log's older page images (which held the note and the recipients)
    /// are gone from disk, not only superseded.
    pub(crate) fn scrub(&self) -> Result<(), LibraryError> {
        self.conn()
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// The library folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where unfinished files are written before they are renamed into place.
    pub(crate) fn incoming(&self) -> PathBuf {
        self.root
            .join("incoming")
            .join(uuid::Uuid::new_v4().to_string())
    }

    /// The age files of a capsule this device sealed, with a manifest and a README on how
    /// to open them without this app: kept until the capsule opens, so the owner holds
    /// something that opens on the date even if the server is gone.
    pub fn sealed_dir(&self, capsule_id: uuid::Uuid) -> PathBuf {
        self.root.join("sealed").join(capsule_id.to_string())
    }

    /// The original of a photo.
    pub fn photo_path(&self, sha256: &str) -> PathBuf {
        self.root.join("photos").join(&sha256[..2]).join(sha256)
    }

    /// A thumbnail of a photo.
    pub fn thumbnail_path(&self, sha256: &str, size: ThumbSize) -> PathBuf {
        self.root
            .join("thumbnails")
            .join(&sha256[..2])
            .join(format!("{sha256}-{}.jpg", size.pixels()))
    }

    pub(crate) fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent (it has its own
        // transactions), so a poisoned lock is still usable.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A stored photo by hash.
    pub fn photo(&self, sha256: &str) -> Result<Option<PhotoRecord>, LibraryError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT sha256, size, content_type, width, height, taken_at, camera \
                 FROM photos WHERE sha256 = ?1",
                params![sha256],
                |r| {
                    Ok(PhotoRecord {
                        sha256: r.get(0)?,
                        size: r.get(1)?,
                        content_type: r.get(2)?,
                        width: r.get(3)?,
                        height: r.get(4)?,
                        taken_at: r.get(5)?,
                        camera: r.get(6)?,
                    })
                },
            )
            .optional()?)
    }

    /// Removes a photo's original, thumbnails and row unless a capsule this device can
    /// show still uses it; answers whether it was removed.
    pub(crate) fn forget_photo_if_unused(&self, sha256: &str) -> Result<bool, LibraryError> {
        let used: bool = self.conn().query_row(
            "SELECT EXISTS (SELECT 1 FROM capsule_photos cp JOIN capsules c \
             ON c.id = cp.capsule_id WHERE cp.sha256 = ?1 AND c.state != 'sealed')",
            params![sha256],
            |r| r.get(0),
        )?;
        if used {
            return Ok(false);
        }
        // Files first: a crash between the two leaves a row whose files are gone, which
        // the next purge removes, never a file nothing points at.
        for path in [
            self.photo_path(sha256),
            self.thumbnail_path(sha256, ThumbSize::Grid),
            self.thumbnail_path(sha256, ThumbSize::Preview),
        ] {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.conn()
            .execute("DELETE FROM photos WHERE sha256 = ?1", params![sha256])?;
        Ok(true)
    }

    /// How many photos the library holds.
    pub fn photo_count(&self) -> Result<u64, LibraryError> {
        Ok(self
            .conn()
            .query_row("SELECT COUNT(*) FROM photos", [], |r| r.get(0))?)
    }

    /// Records a photo whose files are already in place; false if it was already there.
    pub(crate) fn insert_photo(&self, p: &PhotoRecord, now: i64) -> Result<bool, LibraryError> {
        let n = self.conn().execute(
            "INSERT OR IGNORE INTO photos \
             (sha256, size, content_type, width, height, taken_at, camera, imported_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                p.sha256,
                p.size,
                p.content_type,
                p.width,
                p.height,
                p.taken_at,
                p.camera,
                now
            ],
        )?;
        Ok(n == 1)
    }
}

fn migrate(conn: &mut Connection) -> Result<(), LibraryError> {
    let done: usize = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(done) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i + 1)?;
        tx.commit()?;
    }
    Ok(())
}
