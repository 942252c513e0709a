use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use protocol::{ErrorResponse, SyncResponse};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::AuthUser;
use crate::error::ApiResult;
use crate::extract::ApiQuery;
use crate::state::AppState;
use crate::sync;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(pull))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct SyncQuery {
    /// The cursor from the previous pull (0 for everything).
    #[param(minimum = 0)]
    since: Option<u64>,
    /// Page size, 1 to 500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
}

/// What changed since a cursor, oldest first.
#[utoipa::path(get, path = "/v1/sync", tag = "sync",
    security(("bearer" = [])),
    params(SyncQuery),
    responses(
        (status = 200, body = SyncResponse), (status = 400, body = ErrorResponse),
        (status = 401, body = ErrorResponse)))]
async fn pull(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiQuery(q): ApiQuery<SyncQuery>,
) -> ApiResult<Response> {
    let page = sync::pull(&state, &auth, q.since.unwrap_or(0), q.limit).await?;
    // Sized up front: a page of 100 capsules is ~45 KB, and growing by doubling copies it
    // several times.
    let mut body = Vec::with_capacity(512 + page.changes.len() * 600);
    serde_json::to_writer(&mut body, &page)?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response())
}
