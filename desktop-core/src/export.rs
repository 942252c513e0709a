//! Exporting an opened capsule's originals into a folder the person picked. File names come
//! from the photos' original names, which another device (or anyone with the account)
//! chose: they are reduced to one plain file name, so none can climb out of the folder,
//! name a device or hide as a dot file, and an existing file is never overwritten.

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

/// Names Windows reserves for devices, in any case and with any extension.
const RESERVED: &[&str] = &[
    "con", "prn", "aux", "nul", "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8",
    "com9", "lpt1", "lpt2", "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
];
/// Longest file name written, in bytes (file systems allow 255).
const MAX_NAME_BYTES: usize = 180;

/// A safe file name for a photo: the last component of `name` with separators, control
/// characters and characters Windows refuses taken out, no leading dots, no trailing dots
/// or spaces, not a device name, and an extension that matches the content. Falls back to
/// `photo-N.ext`.
pub fn safe_file_name(name: Option<&str>, content_type: &str, n: usize) -> String {
    let ext = imaging::extension(content_type);
    let raw = name.unwrap_or_default();
    // Both separators, whatever this platform uses: the name may come from another OS.
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '<' | '>' | ':' | '"' | '|' | '?' | '*'))
        .collect();
    let trimmed = cleaned
        .trim_start_matches(['.', ' '])
        .trim_end_matches(['.', ' ']);
    let (stem, given_ext) = match trimmed.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() => (s, Some(e.to_ascii_lowercase())),
        _ => (trimmed, None),
    };
    let stem = stem.trim_end_matches(['.', ' ']);
    let device = RESERVED.contains(&stem.to_ascii_lowercase().as_str());
    if stem.is_empty() || device {
        return format!("photo-{n}.{ext}");
    }
    let ext = match given_ext.as_deref() {
        // Keep the person's spelling of a matching extension (JPEG, jpeg, jpg).
        Some(e @ ("jpg" | "jpeg")) if ext == "jpg" => e.to_owned(),
        Some(e @ ("tif" | "tiff")) if ext == "tiff" => e.to_owned(),
        _ => ext.to_owned(),
    };
    let mut stem = stem.to_owned();
    while stem.len() + ext.len() + 1 > MAX_NAME_BYTES {
        stem.pop();
    }
    format!("{stem}.{ext}")
}

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
    if draft.state == CapsuleState::Sealed {
        return Err(DraftError::Sealed.into());
    }
    if !std::fs::metadata(dir).is_ok_and(|m| m.is_dir()) {
        return Err(SyncError::Api {
            status: 0,
            code: protocol::ErrorCode::InvalidRequest,
            message: format!("The folder {} does not exist.", dir.display()),
        });
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

#[cfg(test)]
mod tests {
    use super::safe_file_name;

    #[test]
    fn names_cannot_leave_the_folder_or_name_devices() {
        let cases = [
            ("../../etc/passwd", "image/jpeg", "passwd.jpg"),
            ("..\\..\\Windows\\win.ini", "image/png", "win.png"),
            ("/abs/path/IMG_1.JPG", "image/jpeg", "IMG_1.jpg"),
            ("..", "image/jpeg", "photo-3.jpg"),
            (".hidden.png", "image/png", "hidden.png"),
            ("CON.jpg", "image/jpeg", "photo-3.jpg"),
            ("lpt1", "image/gif", "photo-3.gif"),
            ("what?*.jpeg", "image/jpeg", "what.jpeg"),
            ("trail. . .", "image/webp", "trail.webp"),
            ("a\u{0}b\nc.jpg", "image/jpeg", "abc.jpg"),
            ("evil.exe", "image/jpeg", "evil.jpg"),
            ("noext", "image/tiff", "noext.tiff"),
        ];
        for (given, ty, want) in cases {
            assert_eq!(safe_file_name(Some(given), ty, 3), want, "{given:?}");
        }
        assert_eq!(safe_file_name(None, "image/jpeg", 7), "photo-7.jpg");
        let long = "x".repeat(400) + ".jpg";
        assert!(safe_file_name(Some(&long), "image/jpeg", 1).len() <= 180);
    }
}
