//! `/c/{token}`: the recipient page and its photos. HTML, no script, strict headers.

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use tokio_util::io::ReaderStream;

use crate::blob::keys;
use crate::error::ApiError;
use crate::escape::content_disposition;
use crate::limits::{self, Slots};
use crate::recipients::{self, Shared};
use crate::state::AppState;

/// The recipient pages; at most `zips` zip downloads stream at once.
pub fn router(zips: Slots) -> Router<AppState> {
    Router::new()
        .route("/c/{token}", get(page))
        .route(
            "/c/{token}/download.zip",
            get(download_all).layer(middleware::from_fn_with_state(zips, limits::bounded)),
        )
        .route("/c/{token}/photos/{photo_id}", get(full_size))
        .route("/c/{token}/photos/{photo_id}/download", get(download))
        .route("/c/{token}/photos/{photo_id}/thumbnail", get(thumbnail))
        .route("/c/{token}/photos/{photo_id}/preview", get(preview))
        .layer(middleware::from_fn(security_headers))
}

const CSP: &str = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; \
                   base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    strict_headers(&mut res, CSP);
    res
}

/// The headers of a page whose URL holds a token: its policy, no framing, no indexing.
pub(super) fn strict_headers(res: &mut Response, csp: &'static str) {
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
    // The token is in the URL: never let it leave in a Referer.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert("x-robots-tag", HeaderValue::from_static("noindex"));
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, Html(recipients::not_found_page())).into_response()
}

/// Turns lookup failures into the plain 404 page; other errors keep their status.
fn respond(r: Result<Response, ApiError>) -> Response {
    match r {
        Ok(res) => res,
        Err(ApiError::Client { status, .. }) if status == StatusCode::NOT_FOUND => not_found(),
        Err(e) => e.into_response(),
    }
}

async fn shared(state: &AppState, token: &str) -> Result<Shared, ApiError> {
    recipients::resolve(state, token)
        .await?
        .ok_or_else(|| ApiError::not_found("capsule"))
}

async fn page(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    respond(
        async {
            let s = shared(&state, &token).await?;
            let mut res = Html(recipients::page(&s, &token)).into_response();
            res.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, no-store"),
            );
            Ok(res)
        }
        .await,
    )
}

async fn stream(
    state: &AppState,
    key: &str,
    content_type: &str,
    disposition: &str,
) -> Result<Response, ApiError> {
    let obj = state
        .blobs
        .get(key)
        .await?
        .ok_or_else(|| anyhow::anyhow!("stored photo {key} is missing"))?;
    let mut res = axum::body::Body::from_stream(ReaderStream::new(obj.reader)).into_response();
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(obj.len));
    if let Ok(v) = HeaderValue::from_str(disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=3600"),
    );
    Ok(res)
}

async fn original(
    state: &AppState,
    token: &str,
    photo_id: &str,
    kind: &str,
) -> Result<Response, ApiError> {
    let s = shared(state, token).await?;
    let (i, p) = recipients::photo(&s, photo_id)?;
    let key = keys::original(p.user_id, &p.sha256);
    let disposition = content_disposition(kind, &recipients::display_name(p, i));
    if let Some(url) = state
        .blobs
        .presign_get(
            &key,
            std::time::Duration::from_secs(300),
            &p.content_type,
            &disposition,
        )
        .await?
    {
        return Ok(Redirect::temporary(&url).into_response());
    }
    stream(state, &key, &p.content_type, &disposition).await
}

async fn full_size(
    State(state): State<AppState>,
    Path((token, photo_id)): Path<(String, String)>,
) -> Response {
    respond(original(&state, &token, &photo_id, "inline").await)
}

async fn download(
    State(state): State<AppState>,
    Path((token, photo_id)): Path<(String, String)>,
) -> Response {
    respond(original(&state, &token, &photo_id, "attachment").await)
}

async fn picture(
    state: &AppState,
    token: &str,
    photo_id: &str,
    preview: bool,
) -> Result<Response, ApiError> {
    let s = shared(state, token).await?;
    let (_, p) = recipients::photo(&s, photo_id)?;
    if p.thumbnails != protocol::ThumbnailState::Ready {
        return Err(ApiError::not_found("thumbnail"));
    }
    let key = if preview {
        keys::preview(p.user_id, &p.sha256)
    } else {
        keys::thumbnail(p.user_id, &p.sha256)
    };
    stream(state, &key, "image/jpeg", "inline").await
}

async fn thumbnail(
    State(state): State<AppState>,
    Path((token, photo_id)): Path<(String, String)>,
) -> Response {
    respond(picture(&state, &token, &photo_id, false).await)
}

async fn preview(
    State(state): State<AppState>,
    Path((token, photo_id)): Path<(String, String)>,
) -> Response {
    respond(picture(&state, &token, &photo_id, true).await)
}

async fn download_all(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    respond(
        async {
            let s = shared(&state, &token).await?;
            let mut res = recipients::zip_stream(&state, &s).into_response();
            let h = res.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/zip"),
            );
            if let Ok(v) = HeaderValue::from_str(&recipients::zip_name(&s.capsule)) {
                h.insert(header::CONTENT_DISPOSITION, v);
            }
            Ok(res)
        }
        .await,
    )
}
