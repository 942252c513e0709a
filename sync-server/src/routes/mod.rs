//! The HTTP surface: one router per area, merged here, with the OpenAPI document generated
//! from the same handler annotations.

mod accounts;
mod capsules;
mod health;
mod openapi;
mod photos;
mod recipients;
mod sealing;
mod sync;
mod unsubscribe;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use protocol::ErrorCode;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use crate::error::ApiError;
use crate::limits::{self, Slots};
use crate::state::AppState;

/// JSON bodies are small; photos take the upload route.
pub const JSON_BODY_LIMIT: usize = 64 * 1024;

#[derive(OpenApi)]
#[openapi(
    info(title = "Image Time Capsule API", version = "1"),
    modifiers(&BearerAuth),
    tags(
        (name = "accounts", description = "Accounts and sessions"),
        (name = "capsules", description = "Capsules"),
        (name = "photos", description = "Photos and uploads"),
        (name = "sealing", description = "The time-locked seal: chain, beacons, sealed files"),
        (name = "sync", description = "Change feed"),
        (name = "health", description = "Probes"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The whole application.
pub fn router(state: AppState) -> Router {
    let s = &state.settings;
    let (api, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(accounts::router())
        .merge(capsules::router())
        .merge(photos::router())
        .merge(sync::router())
        .merge(sealing::router())
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .layer(middleware::from_fn_with_state(
            s.http.request_timeout,
            time_limit,
        ))
        .split_for_parts();
    let (uploads, upload_doc) = photos::upload_router()
        .merge(sealing::upload_router())
        .layer(DefaultBodyLimit::disable())
        .layer(middleware::from_fn_with_state(
            s.http.upload_timeout,
            time_limit,
        ))
        .layer(middleware::from_fn_with_state(
            Slots::new(s.limits.max_upload_streams),
            limits::bounded,
        ))
        .split_for_parts();
    doc.merge(upload_doc);
    // Probes are never shed: a full server is still alive, and says so.
    let (probes, probe_doc) = health::router().split_for_parts();
    doc.merge(probe_doc);
    openapi::document_common_errors(&mut doc);
    openapi::document_photo_limit(&mut doc, s.storage.max_photo_bytes);
    openapi::document_links(&mut doc);
    let doc = Arc::new(openapi::to_json(&doc));
    api.merge(uploads)
        .merge(
            recipients::router(Slots::new(s.limits.max_zip_downloads))
                .merge(unsubscribe::router())
                .layer(middleware::from_fn_with_state(
                    s.http.request_timeout,
                    time_limit,
                )),
        )
        .route(
            "/v1/openapi.json",
            get(move || {
                let doc = doc.clone();
                async move { axum::Json(doc.as_ref().clone()) }
            }),
        )
        .fallback(|| async { ApiError::not_found("route") })
        .layer(middleware::from_fn_with_state(
            Slots::new(s.limits.max_requests_in_flight),
            limits::bounded,
        ))
        .merge(probes)
        .layer(middleware::from_fn_with_state(
            s.http.public_url.starts_with("https://"),
            common_headers,
        ))
        .layer(cors())
        .layer(middleware::from_fn(crate::unread_body::close_if_unread))
        .layer(
            TraceLayer::new_for_http()
                // Path only: query strings may carry upload tokens.
                .make_span_with(|req: &Request| {
                    tracing::info_span!("http", method = %req.method(), path = %req.uri().path())
                })
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .with_state(state)
}

/// Answers 408 in the API's format when a request outlives its limit.
async fn time_limit(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(res) => res,
        Err(_) => ApiError::new(
            ErrorCode::Timeout,
            "The request took too long. Please try again.",
        )
        .into_response(),
    }
}

/// The browser origins of the desktop app's web view (Linux and macOS, then Windows and
/// Android). Nothing else may read the API from a browser; there is no wildcard.
pub const APP_ORIGINS: [&str; 3] = [
    "tauri://localhost",
    "http://tauri.localhost",
    "https://tauri.localhost",
];

fn cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(
            APP_ORIGINS.iter().map(|o| HeaderValue::from_static(o)),
        ))
        .allow_methods([Method::GET, Method::PUT, Method::POST, Method::DELETE])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_MATCH,
        ])
        .expose_headers([header::ETAG, header::RETRY_AFTER])
        .max_age(Duration::from_secs(600))
}

/// Headers every answer carries. The API's JSON is never a page: it may not be framed,
/// run scripts or leak a referrer; pages (the recipient page) set their own policy first.
async fn common_headers(State(https): State<bool>, req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(
            "default-src 'none'; frame-ancestors 'none'",
        ));
    h.entry(header::X_FRAME_OPTIONS)
        .or_insert(HeaderValue::from_static("DENY"));
    h.entry(header::REFERRER_POLICY)
        .or_insert(HeaderValue::from_static("no-referrer"));
    if https {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    res
}
