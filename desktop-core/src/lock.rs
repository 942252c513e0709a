//! One program at a time on a library folder. The window and `itc` share the folder format,
//! and SQLite would let both write at once; but the engine, the watcher and the outbox
//! assume they are the only ones acting on it (a second engine would send the same upload
//! twice, a second watcher would announce an opening twice). So whoever opens the library
//! holds an OS file lock on `library.lock` for as long as it runs, and writes who it is
//! into `library.lock.owner`, for the sentence the second one shows.
//!
//! The lock is the operating system's (flock on Unix, LockFileEx on Windows): it goes
//! with the process, so a crash never leaves a library locked. The holder's name is a
//! separate file because Windows refuses reads of a locked file.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};

const LOCK_FILE: &str = "library.lock";
const OWNER_FILE: &str = "library.lock.owner";

/// Why the library could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another program has the library open; `holder` says which, as it wrote itself.
    #[error(
        "The library in {} is in use by {holder}. Close it first, or use another --data-dir.",
        dir.display()
    )]
    InUse { dir: PathBuf, holder: String },
    #[error("the library's lock file: {0}")]
    Io(#[from] std::io::Error),
}

/// The held lock; released when dropped (or when the process ends, however it ends).
#[derive(Debug)]
pub struct LibraryLock {
    _file: File,
}

impl LibraryLock {
    /// Locks the library in `dir` for this process, which calls itself `program` ("itc",
    /// "the Image Time Capsule app"); fails at once if another process holds it.
    pub fn acquire(dir: &Path, program: &str) -> Result<Self, LockError> {
        std::fs::create_dir_all(dir)?;
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(LOCK_FILE))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let holder = std::fs::read_to_string(dir.join(OWNER_FILE))
                    .ok()
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| "another program".into());
                return Err(LockError::InUse {
                    dir: dir.to_owned(),
                    holder,
                });
            }
            Err(TryLockError::Error(e)) => return Err(e.into()),
        }
        let mut owner = File::create(dir.join(OWNER_FILE))?;
        writeln!(owner, "{program} (process {})", std::process::id())?;
        Ok(Self { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_told_who_has_the_library_and_can_take_it_once_released() {
        let dir = tempfile::tempdir().expect("dir");
        let first = LibraryLock::acquire(dir.path(), "itc").expect("first lock");
        let err = LibraryLock::acquire(dir.path(), "the app").expect_err("second lock");
        let text = err.to_string();
        assert!(
            text.contains(&format!("itc (process {})", std::process::id())),
            "{text}"
        );
        drop(first);
        LibraryLock::acquire(dir.path(), "the app").expect("lock after release");
    }
}
