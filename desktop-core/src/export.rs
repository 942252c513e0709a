//! Exporting an opened capsule's originals into a folder the person picked. File names come
//! from the photos' original names, which another device (or anyone with the account)
//! chose: they are reduced to one plain file name (`protocol::names`), so none can climb out
//! of the folder, name a device or hide as a dot file, and an existing file is never
//! overwritten.

use std::io::Write;
use std::path::{Path, PathBuf};

use protocol::CapsuleState;
use serde::Serialize;
use uuid::Uuid;

use crate::drafts::DraftError;
use crate::import::CancelToken;
use crate::sync::{SyncEngine, SyncError};

/// Progress after each photo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct ExportProgress {
    pub done: u32,
    pub total: u32,
}

/// A photo that could not be exported, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct ExportFailure {
    pub name: String,
    pub reason: String,
}

/// What an export did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct ExportReport {
    /// The files written, in the capsule's order.
    pub written: Vec<PathBuf>,
    pub failed: Vec<ExportFailure>,
    pub cancelled: bool,
}

pub use protocol::names::safe_file_name;

/// `dir/name`, or `dir/stem (2).ext` and so on if that exists; the file is created here
/// (exclusively, so an existing file or a link planted in the folder is never written
/// through) and answered open.
fn create_unique(dir: &Path, name: &str) -> std::io::Result<(PathBuf, std::fs::File)> {
    let (stem, ext) = name.rsplit_once('.').unwrap_or((name, ""));
    for i in 1..10_000 {
        let candidate = if i == 1 {
            name.to_owned()
        } else if ext.is_empty() {
            format!("{stem} ({i})")
        } else {
            format!("{stem} ({i}).{ext}")
        };
        let path = dir.join(candidate);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(f) => return Ok((path, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AlreadyExists,
        "too many files of that name",
    ))
}

fn copy_into(src: &Path, dir: &Path, name: &str) -> std::io::Result<PathBuf> {
    let (path, mut out) = create_unique(dir, name)?;
    let result = (|| {
        let mut input = std::fs::File::open(src)?;
        std::io::copy(&mut input, &mut out)?;
        out.flush()?;
        out.sync_all()
    })();
    match result {
        Ok(()) => Ok(path),
        Err(e) => {
            // A half-written copy must not look like a photo.
            let _ = std::fs::remove_file(&path);
            Err(e)
        }
    }
}

/// Copies a sealed capsule's age files, its manifest and the README on opening them into a
/// new folder in `dir`: a copy that opens on the date with drand's tools alone.
fn export_sealed(src: &Path, dir: &Path, id: Uuid) -> Result<ExportReport, SyncError> {
    let Ok(entries) = std::fs::read_dir(src) else {
        return Err(DraftError::Sealed.into());
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    let short = id.simple().to_string();
    let mut folder = dir.join(format!("sealed capsule {}", &short[..8]));
    for i in 2..10_000 {
        match std::fs::create_dir(&folder) {
            Ok(()) => break,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                folder = dir.join(format!("sealed capsule {} ({i})", &short[..8]));
            }
            Err(e) => return Err(e.into()),
        }
    }
    let mut report = ExportReport::default();
    for f in files {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match copy_into(&f, &folder, &name) {
            Ok(path) => report.written.push(path),
            Err(e) => report.failed.push(ExportFailure {
                name,
                reason: format!("It could not be written ({e})."),
            }),
        }
    }
    Ok(report)
}

/// Writes the originals of an opened capsule into `dir`, fetching from the server those
/// this device does not hold yet.
pub async fn export_originals(
    engine: &SyncEngine,
    capsule_id: Uuid,
    dir: &Path,
    progress: &(dyn Fn(ExportProgress) + Send + Sync),
    cancel: &CancelToken,
) -> Result<ExportReport, SyncError> {
    let lib = engine.library();
    let draft = lib.draft(capsule_id)?.ok_or(DraftError::NotFound)?;
    if !std::fs::metadata(dir).is_ok_and(|m| m.is_dir()) {
        return Err(SyncError::NoSuchFolder(dir.to_owned()));
    }
    if draft.state == CapsuleState::Sealed {
        let src = lib.sealed_dir(capsule_id);
        let dir = dir.to_owned();
        return tokio::task::spawn_blocking(move || export_sealed(&src, &dir, capsule_id))
            .await
            .map_err(|e| SyncError::Protocol(e.to_string()))?;
    }
    let total = u32::try_from(draft.photos.len()).unwrap_or(u32::MAX);
    let mut report = ExportReport::default();
    for (i, p) in draft.photos.iter().enumerate() {
        if cancel.is_cancelled() {
            report.cancelled = true;
            break;
        }
        let name = safe_file_name(p.file_name.as_deref(), &p.content_type, i + 1);
        match engine.original(capsule_id, p.id).await {
            Ok(src) => {
                let (src, dir, n) = (src, dir.to_owned(), name.clone());
                let copied = tokio::task::spawn_blocking(move || copy_into(&src, &dir, &n))
                    .await
                    .map_err(|e| SyncError::Protocol(e.to_string()))?;
                match copied {
                    Ok(path) => report.written.push(path),
                    Err(e) => report.failed.push(ExportFailure {
                        name,
                        reason: format!("It could not be written ({e})."),
                    }),
                }
            }
            // Offline or signed out: the rest would fail the same way.
            Err(e @ (SyncError::Offline(_) | SyncError::SignedOut | SyncError::NotLoggedIn)) => {
                return Err(e);
            }
            Err(e) => report.failed.push(ExportFailure {
                name,
                reason: e.to_string(),
            }),
        }
        progress(ExportProgress {
            done: u32::try_from(i + 1).unwrap_or(u32::MAX),
            total,
        });
    }
    Ok(report)
}
