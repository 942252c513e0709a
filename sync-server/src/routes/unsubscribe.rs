//! `/unsubscribe/{token}`: the link in every email's `List-Unsubscribe` header. A POST (the
//! mail provider's one click, RFC 8058, or the page's button) stops reminders to the
//! address the token names; a GET only shows the button, since link scanners fetch links.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use crate::error::ApiError;
use crate::escape;
use crate::recipients::{STYLE, not_found_page};
use crate::state::AppState;

use super::recipients::strict_headers;

/// The unsubscribe page and its one-click POST.
pub fn router() -> Router<AppState> {
    Router::new().route("/unsubscribe/{token}", get(ask).post(confirm))
}

const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; \
                   form-action 'self'; frame-ancestors 'none'";

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let mut res = (
        status,
        Html(format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
             <title>{title} · Image Time Capsule</title><style>{STYLE}</style></head><body>\
             <header><h1>{title}</h1></header><main>{body}</main></body></html>"
        )),
    )
        .into_response();
    strict_headers(&mut res, CSP);
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

fn forged() -> Response {
    let mut res = (StatusCode::NOT_FOUND, Html(not_found_page())).into_response();
    strict_headers(&mut res, CSP);
    res
}

async fn ask(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let Some(address) = state.unsubscribe.address(&token) else {
        return forged();
    };
    page(
        StatusCode::OK,
        "Stop reminders?",
        &format!(
            "<p>Reminders before a time capsule opens will no longer be sent to \
             <strong>{}</strong>. The capsules themselves still arrive on their dates.</p>\
             <form method=\"post\" class=\"actions\"><button class=\"button\" type=\"submit\" style=\"border:0;font:inherit;cursor:pointer\">Stop reminders</button></form>",
            escape::html(&address)
        ),
    )
}

async fn confirm(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let Some(address) = state.unsubscribe.address(&token) else {
        return forged();
    };
    match state.db.unsubscribe(&address, state.now_ms()).await {
        Ok(()) => {
            tracing::info!("reminders stopped for an address");
            page(
                StatusCode::OK,
                "No more reminders",
                &format!(
                    "<p>Reminders will no longer be sent to <strong>{}</strong>. The capsules \
                     themselves still arrive on their dates.</p>",
                    escape::html(&address)
                ),
            )
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}
