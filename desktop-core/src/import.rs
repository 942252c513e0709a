//! Importing photos from the paths a drop or a file picker gives: files and folders
//! (recursive). Each file is copied into the library while it is hashed, recognised by its
//! content, decoded once (upright, bomb-guarded) to make both thumbnails, and only then
//! renamed into place and recorded. Files go in parallel; each bad one gets its own reason
//! while the rest go on; progress is reported per file and the import can be cancelled.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use protocol::ErrorCode;
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::library::{Library, LibraryError, PhotoRecord, ThumbSize};
use crate::thumbs::{self, Thumbnails};

/// Largest photo accepted, in pixels, by format (decompression-bomb guards): 250 MP for
/// JPEG and HEIC, decoded reduced; 100 MP for the formats decoded whole.
pub const MAX_PIXELS: imaging::PixelLimits = imaging::PixelLimits::DEFAULT;

/// Progress after each file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportProgress {
    pub done: usize,
    pub total: usize,
    pub current: PathBuf,
}

/// Stops an import between files.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// Asks the import to stop; files already done stay done.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether cancellation was asked for.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// A photo now in the library.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedPhoto {
    pub source: PathBuf,
    /// The source's file name, for showing and for the upload.
    pub file_name: Option<String>,
    pub photo: PhotoRecord,
    /// The library already had these bytes (from this import or an earlier one).
    pub duplicate: bool,
}

/// A file that was not imported, and why, in words for a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportFailure {
    pub path: PathBuf,
    pub code: ErrorCode,
    pub reason: String,
}

/// What an import did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImportReport {
    pub imported: Vec<ImportedPhoto>,
    pub failed: Vec<ImportFailure>,
    pub cancelled: bool,
}

/// Every file under the given paths, folders walked recursively (symlinked folders are not
/// followed, so a loop cannot trap the walk), in a stable order.
fn collect(paths: &[PathBuf], failed: &mut Vec<ImportFailure>) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack: Vec<PathBuf> = paths.iter().rev().cloned().collect();
    while let Some(p) = stack.pop() {
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.is_dir() => match std::fs::read_dir(&p) {
                Ok(entries) => {
                    let mut children: Vec<PathBuf> =
                        entries.filter_map(Result::ok).map(|e| e.path()).collect();
                    children.sort();
                    stack.extend(children.into_iter().rev());
                }
                Err(e) => failed.push(unreadable(&p, &e)),
            },
            Ok(m) if m.file_type().is_symlink() => match std::fs::metadata(&p) {
                Ok(target) if target.is_file() => files.push(p),
                Ok(_) => {}
                Err(e) => failed.push(unreadable(&p, &e)),
            },
            Ok(_) => files.push(p),
            Err(e) => failed.push(unreadable(&p, &e)),
        }
    }
    files
}

fn unreadable(path: &Path, e: &std::io::Error) -> ImportFailure {
    ImportFailure {
        path: path.to_owned(),
        code: ErrorCode::InvalidRequest,
        reason: format!("This file could not be read ({e})."),
    }
}

/// Imports the photos under `paths` into the library.
pub fn import(
    library: &Library,
    paths: &[PathBuf],
    progress: &(dyn Fn(ImportProgress) + Sync),
    cancel: &CancelToken,
) -> ImportReport {
    let mut report = ImportReport::default();
    let files = collect(paths, &mut report.failed);
    let total = files.len();
    let done = AtomicUsize::new(0);
    let results: Vec<Option<Result<ImportedPhoto, ImportFailure>>> = files
        .par_iter()
        .map(|path| {
            if cancel.is_cancelled() {
                return None;
            }
            let outcome = import_one(library, path);
            let n = done.fetch_add(1, Ordering::SeqCst) + 1;
            progress(ImportProgress {
                done: n,
                total,
                current: path.clone(),
            });
            Some(outcome)
        })
        .collect();
    for r in results {
        match r {
            Some(Ok(p)) => report.imported.push(p),
            Some(Err(f)) => report.failed.push(f),
            None => report.cancelled = true,
        }
    }
    report
}

/// Removes a scratch file when dropped unless it was renamed away.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn import_one(library: &Library, path: &Path) -> Result<ImportedPhoto, ImportFailure> {
    let fail = |code: ErrorCode, reason: String| ImportFailure {
        path: path.to_owned(),
        code,
        reason,
    };
    let io = |e: &dyn std::fmt::Display| {
        fail(
            ErrorCode::InvalidRequest,
            format!("This file could not be read ({e})."),
        )
    };
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned());

    // Copy into the library while hashing: the original may move or vanish later.
    let scratch = Scratch(library.incoming());
    let (sha256, size) = copy_hashing(path, &scratch.0).map_err(|e| io(&e))?;
    if size == 0 {
        return Err(fail(ErrorCode::EmptyPhoto, "This file is empty.".into()));
    }
    if let Some(photo) = library.photo(&sha256).map_err(|e| io(&e))? {
        return Ok(ImportedPhoto {
            source: path.to_owned(),
            file_name,
            photo,
            duplicate: true,
        });
    }
    let made = thumbs::make(&scratch.0, MAX_PIXELS).map_err(|r| fail(r.code, r.message))?;
    let Thumbnails {
        preview: preview_jpeg,
        grid: grid_jpeg,
    } = made.thumbnails;
    let record = PhotoRecord {
        sha256: sha256.clone(),
        size,
        content_type: made.content_type.to_owned(),
        width: made.width,
        height: made.height,
        taken_at: made.meta.taken_at,
        camera: made.meta.camera,
    };
    place(&scratch.0, &library.photo_path(&sha256)).map_err(|e| io(&e))?;
    for (size, bytes) in [
        (ThumbSize::Preview, preview_jpeg),
        (ThumbSize::Grid, grid_jpeg),
    ] {
        let tmp = Scratch(library.incoming());
        write_synced(&tmp.0, &bytes).map_err(|e| io(&e))?;
        place(&tmp.0, &library.thumbnail_path(&sha256, size)).map_err(|e| io(&e))?;
    }
    let inserted = library
        .insert_photo(&record, chrono::Utc::now().timestamp_millis())
        .map_err(|e| io(&e))?;
    Ok(ImportedPhoto {
        source: path.to_owned(),
        file_name,
        photo: record,
        // Two copies of new bytes in one import race to the insert; the loser is the copy.
        duplicate: !inserted,
    })
}

/// Copies `src` to `dest` (synced); answers the SHA-256 and size of what was copied.
pub(crate) fn copy_hashing(src: &Path, dest: &Path) -> std::io::Result<(String, u64)> {
    let mut input = File::open(src)?;
    let mut out = File::create(dest)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = input.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n])?;
        size += n as u64;
    }
    out.sync_all()?;
    Ok((hex::encode(hasher.finalize()), size))
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Moves a finished file to its final name in the content-addressed store, making its
/// folder. A file already at that name holds the same bytes (the name is their hash), so if
/// the move fails while one is there, the new copy is dropped and the place counts as done:
/// two copies of one photo imported in parallel both get here, and Windows, unlike Linux,
/// refuses to replace a file that another thread is replacing at the same moment.
pub(crate) fn place(from: &Path, to: &Path) -> Result<(), LibraryError> {
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir)?;
    }
    match std::fs::rename(from, to) {
        Ok(()) => Ok(()),
        Err(_) if to.is_file() => {
            let _ = std::fs::remove_file(from);
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// A file an import into a capsule left out, for the window.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct SkippedFile {
    pub path: PathBuf,
    pub file_name: String,
    pub code: ErrorCode,
    pub reason: String,
}

/// What importing files into a capsule did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct CapsuleImport {
    /// Photos that joined the capsule.
    pub added: u32,
    /// Photos the capsule already held.
    pub already_in: u32,
    pub skipped: Vec<SkippedFile>,
    pub cancelled: bool,
}

impl Library {
    /// Imports the files and folders at `paths` and adds every photo among them to the
    /// draft `capsule_id` (the drop and the file picker both come here). A sealed or
    /// unknown capsule is refused before any file is read.
    pub fn import_into_capsule(
        &self,
        capsule_id: uuid::Uuid,
        paths: &[PathBuf],
        progress: &(dyn Fn(ImportProgress) + Sync),
        cancel: &CancelToken,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<CapsuleImport, crate::DraftError> {
        let before = self.draft(capsule_id)?.ok_or(crate::DraftError::NotFound)?;
        if before.state != protocol::CapsuleState::Draft {
            return Err(crate::DraftError::Sealed);
        }
        let report = import(self, paths, progress, cancel);
        let wanted: Vec<(String, Option<String>)> = report
            .imported
            .iter()
            .map(|p| (p.photo.sha256.clone(), p.file_name.clone()))
            .collect();
        let had = before.photos.len();
        let after = if wanted.is_empty() {
            had
        } else {
            self.add_photos(capsule_id, &wanted, now)?.len()
        };
        let added = after.saturating_sub(had);
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Ok(CapsuleImport {
            added: count(added),
            already_in: count(wanted.len().saturating_sub(added)),
            skipped: report
                .failed
                .into_iter()
                .map(|f| SkippedFile {
                    file_name: f
                        .path
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_else(|| f.path.display().to_string()),
                    path: f.path,
                    code: f.code,
                    reason: f.reason,
                })
                .collect(),
            cancelled: report.cancelled,
        })
    }
}
