//! The seal's routes: what a device seals to, verified drand rounds, and a draft's sealed
//! files (declared, then sent through the server when the store has no presigned uploads).

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use protocol::{BeaconResponse, ErrorResponse, SealConfig, SealedItemResponse, SealedItemWrite};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::sealing;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(seal_config))
        .routes(routes!(beacon))
        .routes(routes!(declare_sealed_file))
}

pub fn upload_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(upload_sealed_file))
}

/// What a device seals capsules to for this server: the drand chain (its hash, public key,
/// genesis and period), the relays that serve it, and the escrow public key (null when the
/// server keeps none, and capsules are time-locked only).
#[utoipa::path(get, path = "/v1/seal/config", tag = "sealing",
    responses((status = 200, body = SealConfig)))]
async fn seal_config(State(state): State<AppState>) -> Json<SealConfig> {
    Json(sealing::config(&state))
}

/// A round's signature of the server's drand chain, verified by the server: the key that
/// opens files time-locked to that round. 425 before the round is published.
#[utoipa::path(get, path = "/v1/beacon/{round}", tag = "sealing",
    params(("round" = u64, Path, minimum = 1, maximum = 9223372036854775807_u64, description = "drand round")),
    responses(
        (status = 200, body = BeaconResponse), (status = 400, body = ErrorResponse),
        (status = 404, body = ErrorResponse), (status = 422, body = ErrorResponse),
        (status = 425, body = ErrorResponse), (status = 503, body = ErrorResponse)))]
async fn beacon(
    State(state): State<AppState>,
    ApiPath(round): ApiPath<u64>,
) -> ApiResult<Json<BeaconResponse>> {
    if round == 0 || i64::try_from(round).is_err() {
        return Err(crate::error::ApiError::invalid(
            "A drand round is a whole number from 1 to 9223372036854775807.",
        ));
    }
    let b = sealing::beacon::round(&state, round).await?;
    Ok(Json(BeaconResponse {
        round: b.round,
        signature: hex::encode(&b.signature),
    }))
}

/// Declare one sealed file of a draft being sealed on its device; answers where to send
/// it, or null when the server holds those bytes already.
#[utoipa::path(put, path = "/v1/capsules/{id}/sealed/{name}", tag = "sealing",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Capsule id"),
           ("name" = String, Path, pattern = "^(index|note|recipients)\\.age$|^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(-grid|-preview)?\\.age$", description = "index.age, note.age, recipients.age, <photo id>.age, <photo id>-grid.age or <photo id>-preview.age")),
    request_body = SealedItemWrite,
    responses(
        (status = 200, body = SealedItemResponse), (status = 400, body = ErrorResponse),
        (status = 401, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 409, body = ErrorResponse), (status = 413, body = ErrorResponse),
        (status = 422, body = ErrorResponse)))]
async fn declare_sealed_file(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath((id, name)): ApiPath<(Uuid, String)>,
    ApiJson(body): ApiJson<SealedItemWrite>,
) -> ApiResult<Json<SealedItemResponse>> {
    Ok(Json(
        sealing::files::declare(&state, &auth, id, &name, &body).await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct SealedUploadQuery {
    /// The upload token from the sealed file's upload target.
    token: String,
}

/// Upload a sealed file through the server (when the store has no presigned uploads).
#[utoipa::path(put, path = "/v1/sealed-uploads/{id}/{name}", tag = "sealing",
    params(("id" = Uuid, Path, description = "Capsule id"),
           ("name" = String, Path, pattern = "^(index|note|recipients)\\.age$|^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(-grid|-preview)?\\.age$", description = "The sealed file's name"),
           SealedUploadQuery),
    request_body(content = String, content_type = "application/octet-stream",
                 description = "The sealed file's bytes"),
    responses(
        (status = 204), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse),
        (status = 404, body = ErrorResponse), (status = 409, body = ErrorResponse),
        (status = 413, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
async fn upload_sealed_file(
    State(state): State<AppState>,
    ApiPath((id, name)): ApiPath<(Uuid, String)>,
    ApiQuery(q): ApiQuery<SealedUploadQuery>,
    body: Body,
) -> ApiResult<StatusCode> {
    sealing::files::receive(&state, id, &name, &q.token, body).await?;
    Ok(StatusCode::NO_CONTENT)
}
