//! The `media:` scheme the window loads photos from: `thumb/<sha256>`, `preview/<sha256>`
//! and `original/<sha256>` out of the library. Each request is checked against the library,
//! so nothing of a sealed capsule is served even while its files are still here, and no
//! path the window names can leave the library's folders.

use std::borrow::Cow;

use desktop_core::ThumbSize;
use tauri::http::{Response, StatusCode, header};
use tauri::{AppHandle, Manager};

use crate::state::App;

/// Originals the web view can draw itself; others are shown through their preview.
const DRAWABLE: &[&str] = &[
    "image/jpeg",
    "image/png",
    "image/webp",
    "image/gif",
    "image/bmp",
];

/// What a request names.
#[derive(Debug, PartialEq, Eq)]
enum Asset {
    Thumb(String),
    Preview(String),
    Original(String),
}

fn parse(path: &str) -> Option<Asset> {
    let decoded = percent_encoding::percent_decode_str(path)
        .decode_utf8()
        .ok()?;
    let (kind, sha) = decoded.trim_start_matches('/').split_once('/')?;
    if sha.len() != 64
        || !sha
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    {
        return None;
    }
    let sha = sha.to_owned();
    match kind {
        "thumb" => Some(Asset::Thumb(sha)),
        "preview" => Some(Asset::Preview(sha)),
        "original" => Some(Asset::Original(sha)),
        _ => None,
    }
}

fn status(code: StatusCode) -> Response<Cow<'static, [u8]>> {
    Response::builder()
        .status(code)
        .body(Cow::Borrowed(&[][..]))
        .unwrap_or_default()
}

/// Answers one request of the window.
pub async fn serve(app: &AppHandle, path: &str) -> Response<Cow<'static, [u8]>> {
    let Some(asset) = parse(path) else {
        return status(StatusCode::NOT_FOUND);
    };
    let state = app.state::<App>();
    let lib = state.lib.clone();
    let sha = match &asset {
        Asset::Thumb(s) | Asset::Preview(s) | Asset::Original(s) => s.clone(),
    };
    match lib.photo_visible(&sha) {
        Ok(true) => {}
        Ok(false) => return status(StatusCode::NOT_FOUND),
        Err(e) => {
            tracing::warn!(error = %e, "media request could not be checked");
            return status(StatusCode::INTERNAL_SERVER_ERROR);
        }
    }
    let (file, content_type) = match asset {
        Asset::Thumb(_) => (
            lib.thumbnail_path(&sha, ThumbSize::Grid),
            "image/jpeg".into(),
        ),
        Asset::Preview(_) => (
            lib.thumbnail_path(&sha, ThumbSize::Preview),
            "image/jpeg".into(),
        ),
        Asset::Original(_) => match lib.photo(&sha) {
            Ok(Some(p)) if DRAWABLE.contains(&p.content_type.as_str()) => {
                (lib.photo_path(&sha), p.content_type)
            }
            Ok(Some(_)) => return status(StatusCode::UNSUPPORTED_MEDIA_TYPE),
            Ok(None) => return status(StatusCode::NOT_FOUND),
            Err(e) => {
                tracing::warn!(error = %e, "media request could not be read");
                return status(StatusCode::INTERNAL_SERVER_ERROR);
            }
        },
    };
    match tokio::fs::read(&file).await {
        Ok(bytes) => Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, content_type)
            // Content-addressed: the bytes behind a name never change.
            .header(header::CACHE_CONTROL, "private, max-age=86400")
            .body(Cow::Owned(bytes))
            .unwrap_or_default(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => status(StatusCode::NOT_FOUND),
        Err(e) => {
            tracing::warn!(error = %e, "media file unreadable");
            status(StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    #[test]
    fn only_library_names_are_accepted() {
        assert_eq!(
            parse(&format!("/thumb/{SHA}")),
            Some(Asset::Thumb(SHA.into()))
        );
        assert_eq!(
            parse(&format!("/original%2F{SHA}")),
            Some(Asset::Original(SHA.into()))
        );
        for bad in [
            format!("/thumb/../{SHA}"),
            format!("/thumb/{}", &SHA[..63]),
            format!("/thumb/{}", SHA.to_uppercase()),
            "/thumb/..%2F..%2Fetc%2Fpasswd".to_owned(),
            format!("/other/{SHA}"),
            format!("/thumb/{SHA}/x"),
        ] {
            assert_eq!(parse(&bad), None, "{bad}");
        }
    }
}
