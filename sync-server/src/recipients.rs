//! What a recipient sees through the link in their email: a server-rendered gallery of the
//! opened capsule, each photo full size and downloadable, and everything as one zip that is
//! streamed as it is written. An unknown, expired or revoked link is a plain 404.

use std::io::Write;

use axum::body::Body;
use bytes::Bytes;
use tokio::sync::mpsc;
use tokio_util::io::SyncIoBridge;

use crate::auth::secret;
use crate::blob::keys;
use crate::clock::from_ms;
use crate::db::capsules::CapsuleRow;
use crate::db::deliveries::DeliveryRow;
use crate::db::photos::PhotoRow;
use crate::error::{ApiError, ApiResult};
use crate::escape::{self, content_disposition};
use crate::state::AppState;

/// An opened capsule reached through a valid link.
pub struct Shared {
    pub delivery: DeliveryRow,
    pub capsule: CapsuleRow,
    pub owner_email: String,
    pub photos: Vec<PhotoRow>,
}

/// Resolves a link token; None for anything that must look like "no such page".
#[tracing::instrument(skip_all, err(level = "info"))]
pub async fn resolve(state: &AppState, token: &str) -> ApiResult<Option<Shared>> {
    if token.len() < 32 || token.len() > 64 {
        return Ok(None);
    }
    let Some(delivery) = state.db.delivery_by_link(&secret::hash(token)).await? else {
        return Ok(None);
    };
    if delivery.link_revoked_at.is_some() || delivery.link_expires_at <= state.now_ms() {
        return Ok(None);
    }
    let Some(capsule) = state.db.capsule(delivery.capsule_id).await? else {
        return Ok(None);
    };
    if capsule.state != protocol::CapsuleState::Opened {
        return Ok(None);
    }
    let owner_email = state
        .db
        .user_by_id(capsule.user_id)
        .await?
        .map(|u| u.email)
        .unwrap_or_default();
    let photos = state
        .db
        .photos_of(capsule.id)
        .await?
        .into_iter()
        .filter(|p| p.state == protocol::PhotoState::Ready)
        .collect();
    Ok(Some(Shared {
        delivery,
        capsule,
        owner_email,
        photos,
    }))
}

fn day(ms: i64) -> String {
    from_ms(ms).format("%-d %B %Y").to_string()
}

fn human_size(bytes: i64) -> String {
    let b = bytes as f64;
    if b >= 1e9 {
        format!("{:.1} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.1} MB", b / 1e6)
    } else {
        format!("{:.0} KB", (b / 1e3).max(1.0))
    }
}

pub(crate) const STYLE: &str = "
:root{color-scheme:light dark;--bg:#fafaf7;--fg:#1d1d1f;--muted:#6b6b70;--card:#fff;--accent:#3b5bdb}
@media (prefers-color-scheme:dark){:root{--bg:#161618;--fg:#f2f2f4;--muted:#a1a1a8;--card:#232326;--accent:#748ffc}}
*{box-sizing:border-box}body{margin:0;background:var(--bg);color:var(--fg);
font:16px/1.55 -apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,sans-serif}
header,main,footer{max-width:1080px;margin:auto;padding:0 24px}
header{padding-top:48px}.eyebrow{color:var(--muted);font-size:14px;margin:0}
h1{font-size:34px;margin:8px 0 16px;overflow-wrap:anywhere}
.note{white-space:pre-wrap;font-size:18px;max-width:720px;overflow-wrap:anywhere}
.actions{margin:24px 0}.button{display:inline-block;background:var(--accent);color:#fff;
padding:12px 20px;border-radius:10px;text-decoration:none;font-weight:600}
.grid{list-style:none;padding:0;display:grid;gap:16px;grid-template-columns:repeat(auto-fill,minmax(220px,1fr))}
.grid li{background:var(--card);border-radius:12px;overflow:hidden;box-shadow:0 1px 3px rgba(0,0,0,.12)}
.grid img{display:block;width:100%;height:220px;object-fit:cover}
.no-thumb{display:flex;align-items:center;justify-content:center;height:220px;padding:12px;color:var(--muted);overflow-wrap:anywhere}
.meta{display:flex;justify-content:space-between;gap:8px;padding:8px 12px;font-size:13px;color:var(--muted)}
.meta span{overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
a{color:var(--accent)}footer{color:var(--muted);font-size:13px;padding:32px 24px 48px}
";

/// Whether every common browser draws this type itself.
fn browsers_show(content_type: &str) -> bool {
    matches!(
        content_type,
        "image/jpeg" | "image/png" | "image/webp" | "image/gif" | "image/bmp"
    )
}

/// The gallery page.
pub fn page(s: &Shared, token: &str) -> String {
    let c = &s.capsule;
    let base = format!("/c/{token}");
    let mut items = String::new();
    for (i, p) in s.photos.iter().enumerate() {
        let name = display_name(p, i);
        // The 256 px thumbnail on ordinary screens, the 1280 px preview on dense ones; a
        // photo whose thumbnails could not be made shows its name instead.
        let picture = if p.thumbnails == protocol::ThumbnailState::Ready {
            format!(
                "<img src=\"{base}/photos/{id}/thumbnail\" \
                 srcset=\"{base}/photos/{id}/thumbnail 256w, {base}/photos/{id}/preview 1280w\" \
                 sizes=\"(max-width: 560px) 100vw, 260px\" alt=\"{alt}\" loading=\"lazy\">",
                id = p.id,
                alt = escape::html(&name),
            )
        } else {
            format!("<span class=\"no-thumb\">{}</span>", escape::html(&name))
        };
        // Browsers other than Safari cannot show HEIC (nor TIFF): those open as the 1280 px
        // preview, and the download says what the file is.
        let shown = browsers_show(&p.content_type);
        let (view, label) = if shown || p.thumbnails != protocol::ThumbnailState::Ready {
            (format!("{base}/photos/{}", p.id), "Download".to_owned())
        } else {
            (
                format!("{base}/photos/{}/preview", p.id),
                format!(
                    "Download original ({})",
                    protocol::names::extension(&p.content_type).to_ascii_uppercase()
                ),
            )
        };
        items.push_str(&format!(
            "<li><a href=\"{view}\" title=\"View full size\">{picture}</a>\
             <div class=\"meta\"><span>{alt}</span>\
             <a href=\"{base}/photos/{id}/download\">{label}</a></div></li>",
            id = p.id,
            alt = escape::html(&name),
        ));
    }
    let total: i64 = s.photos.iter().map(|p| p.size).sum();
    let actions = if s.photos.is_empty() {
        String::new()
    } else {
        format!(
            "<p class=\"actions\"><a class=\"button\" href=\"{base}/download.zip\">\
             Download all ({n} photo{plural}, {size})</a></p>",
            n = s.photos.len(),
            plural = if s.photos.len() == 1 { "" } else { "s" },
            size = human_size(total)
        )
    };
    let sealed = c
        .sealed_at
        .map_or_else(String::new, |t| format!(" · sealed {}", day(t)));
    let opened = c
        .opened_at
        .map_or_else(String::new, |t| format!(" · opened {}", day(t)));
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\"><meta name=\"robots\" content=\"noindex\">\
         <title>{title} · Image Time Capsule</title><style>{STYLE}</style></head><body>\
         <header><p class=\"eyebrow\">A time capsule from {owner}{sealed}{opened}</p>\
         <h1>{title}</h1></header><main><p class=\"note\">{note}</p>{actions}\
         <ul class=\"grid\">{items}</ul></main>\
         <footer>This private link works until {expires}. Anyone with it can see this capsule.</footer>\
         </body></html>",
        title = escape::html(&c.title),
        owner = escape::html(&s.owner_email),
        note = escape::html(&c.note),
        expires = day(s.delivery.link_expires_at),
    )
}

/// The page for any link that does not lead anywhere.
pub fn not_found_page() -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>Link not found · Image Time Capsule</title><style>{STYLE}</style></head><body>\
         <header><h1>This link does not open anything</h1></header><main>\
         <p>It may have expired, been mistyped, or been withdrawn. If someone sent you a \
         time capsule, ask them to check its link.</p></main></body></html>"
    )
}

/// A photo's name for people: its file name, or "Photo N.ext".
pub fn display_name(p: &PhotoRow, index: usize) -> String {
    // One plain name, as on the desktop's export: the zip may be unpacked anywhere.
    protocol::names::safe_file_name(p.file_name.as_deref(), &p.content_type, index + 1)
}

/// One photo of the shared capsule, or 404 when the id is not one of its photos.
pub fn photo<'a>(s: &'a Shared, photo_id: &str) -> ApiResult<(usize, &'a PhotoRow)> {
    s.photos
        .iter()
        .enumerate()
        .find(|(_, p)| Some(p.id) == uuid::Uuid::try_parse(photo_id).ok())
        .ok_or_else(|| ApiError::not_found("photo"))
}

/// Blocking `Write` that hands 64 KiB chunks to the response body.
struct ChannelWriter {
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
    buf: Vec<u8>,
}

impl ChannelWriter {
    fn push(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buf,
            Vec::with_capacity(64 * 1024),
        ));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= 64 * 1024 {
            self.push()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.push()
    }
}

/// Every original of the capsule in one zip (stored, not recompressed: photos are already
/// compressed), written on a blocking thread into a small channel, so memory stays at a few
/// chunks whatever the capsule's size.
pub fn zip_stream(state: &AppState, s: &Shared) -> Body {
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(8);
    let state = state.clone();
    let photos: Vec<(String, String)> = {
        let mut used = std::collections::HashSet::new();
        s.photos
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let name = display_name(p, i);
                let mut unique = name.clone();
                let mut n = 2;
                while !used.insert(unique.clone()) {
                    let (stem, ext) = name.rsplit_once('.').unwrap_or((&name, ""));
                    unique = format!("{stem} ({n}).{ext}");
                    n += 1;
                }
                (unique, keys::original(p.user_id, &p.sha256))
            })
            .collect()
    };
    let handle = tokio::runtime::Handle::current();
    let err_tx = tx.clone();
    tokio::task::spawn_blocking(move || {
        let writer = ChannelWriter {
            tx,
            buf: Vec::with_capacity(64 * 1024),
        };
        let result = (|| -> anyhow::Result<()> {
            let mut zip = zip::ZipWriter::new_stream(writer);
            let options = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Stored)
                .large_file(true);
            for (name, key) in photos {
                let obj = handle
                    .block_on(state.blobs.get(&key))?
                    .ok_or_else(|| anyhow::anyhow!("stored photo {key} is missing"))?;
                zip.start_file(name, options)?;
                let mut reader = SyncIoBridge::new_with_handle(obj.reader, handle.clone());
                std::io::copy(&mut reader, &mut zip)?;
            }
            let mut inner = zip.finish()?.into_inner();
            inner.flush()?;
            Ok(())
        })();
        if let Err(e) = result {
            tracing::warn!(error = format!("{e:#}"), "zip download stopped");
            let _ = err_tx.blocking_send(Err(std::io::Error::other(e.to_string())));
        }
    });
    Body::from_stream(tokio_stream_from(rx))
}

fn tokio_stream_from(
    mut rx: mpsc::Receiver<Result<Bytes, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// The zip's file name, from the title where it is plain enough.
pub fn zip_name(c: &CapsuleRow) -> String {
    let stem: String = c
        .title
        .chars()
        .map(|ch| {
            if ch.is_alphanumeric() || ch == ' ' || ch == '-' {
                ch
            } else {
                '_'
            }
        })
        .take(80)
        .collect();
    let stem = stem.trim();
    let stem = if stem.is_empty() {
        "time-capsule"
    } else {
        stem
    };
    content_disposition("attachment", &format!("{stem}.zip"))
}
