use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
}

#[derive(Debug, Serialize, ToSchema)]
struct Health {
    status: &'static str,
    database: &'static str,
    blob_store: &'static str,
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, body = Health)))]
async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok",
        database: "unchecked",
        blob_store: "unchecked",
    })
}

/// Readiness: the database and the blob store answer.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses((status = 200, body = Health), (status = 503, body = Health)))]
async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let (db, blobs) = tokio::join!(state.db.ping(), state.blobs.check());
    let word = |ok: bool| if ok { "ok" } else { "unavailable" };
    let ready = db.is_ok() && blobs.is_ok();
    if let Err(e) = &db {
        tracing::warn!(error = %e, "database not ready");
    }
    if let Err(e) = &blobs {
        tracing::warn!(error = %e, "blob store not ready");
    }
    (
        if ready {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        },
        Json(Health {
            status: word(ready),
            database: word(db.is_ok()),
            blob_store: word(blobs.is_ok()),
        }),
    )
}
