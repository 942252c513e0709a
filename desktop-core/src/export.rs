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
    /// `index.html`: the exported photos with the title, date and note, for any browser.
    pub gallery: Option<PathBuf>,
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
    if !report.cancelled && !report.written.is_empty() {
        let page = gallery(&draft, &report.written);
        let dir = dir.to_owned();
        let written = tokio::task::spawn_blocking(move || {
            let (path, mut f) = create_unique(&dir, "index.html")?;
            f.write_all(page.as_bytes())?;
            f.sync_all()?;
            Ok::<_, std::io::Error>(path)
        })
        .await
        .map_err(|e| SyncError::Protocol(e.to_string()))?;
        match written {
            Ok(path) => report.gallery = Some(path),
            Err(e) => report.failed.push(ExportFailure {
                name: "index.html".into(),
                reason: format!("It could not be written ({e})."),
            }),
        }
    }
    Ok(report)
}

/// A page that shows the exported photos with the capsule's title, date and note, from the
/// folder itself: no script, no network, opened by any browser years from now.
fn gallery(draft: &crate::drafts::Draft, photos: &[PathBuf]) -> String {
    use protocol::names::html_escape as esc;
    let opened = draft
        .open_at
        .map(|t| t.format("%-d %B %Y").to_string())
        .unwrap_or_default();
    let mut figures = String::new();
    for p in photos {
        let Some(name) = p.file_name().map(|n| n.to_string_lossy().into_owned()) else {
            continue;
        };
        // A file name as a relative URL: escaped for the attribute, with the characters a
        // URL path gives meaning to encoded.
        let href: String = name
            .chars()
            .map(|c| match c {
                '%' => "%25".into(),
                '#' => "%23".into(),
                '?' => "%3F".into(),
                ' ' => "%20".into(),
                c => c.to_string(),
            })
            .collect();
        figures.push_str(&format!(
            "<figure><a href=\"{href}\"><img src=\"{href}\" alt=\"{alt}\" loading=\"lazy\"></a>\
             <figcaption>{alt}</figcaption></figure>\n",
            href = esc(&href),
            alt = esc(&name),
        ));
    }
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>\
         body{{font-family:system-ui,sans-serif;margin:0;padding:32px;background:#f8f7f4;color:#1f2937}}\
         h1{{margin:0 0 4px}}.when{{color:#6b7280;margin:0 0 16px}}\
         .note{{white-space:pre-wrap;max-width:70ch;line-height:1.5}}\
         main{{display:grid;grid-template-columns:repeat(auto-fill,minmax(220px,1fr));gap:16px;margin-top:24px}}\
         figure{{margin:0}}img{{width:100%;aspect-ratio:4/3;object-fit:cover;border-radius:8px;background:#e5e7eb}}\
         figcaption{{font-size:12px;color:#6b7280;overflow-wrap:anywhere}}\
         </style></head><body>\n<h1>{title}</h1><p class=\"when\">Opened {opened}</p>\n\
         <p class=\"note\">{note}</p>\n<main>\n{figures}</main>\n</body></html>\n",
        title = esc(&draft.title),
        note = esc(&draft.note),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gallery_escapes_what_people_wrote_and_links_the_files_relatively() {
        let draft = crate::drafts::Draft {
            id: Uuid::nil(),
            title: "<script>alert(1)</script>".into(),
            note: "a \"note\" <img src=x onerror=alert(2)>".into(),
            open_at: None,
            time_zone: "UTC".into(),
            recipients: vec![],
            state: CapsuleState::Opened,
            photos: vec![],
            photo_count: 1,
            sealed_at: None,
            updated_at: chrono::Utc::now(),
        };
        let page = gallery(&draft, &[PathBuf::from("/x/a #1?.png")]);
        assert!(!page.contains("<script>") && !page.contains("<img src=x"));
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(page.contains("src=\"a%20%231%3F.png\""), "{page}");
    }
}
