use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use protocol::{
    Capsule, CapsuleResponse, CapsuleWrite, ErrorResponse, ResendRequest, RevokeLinkRequest,
    SealRequest,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::capsules;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath, IfMatch, OptionalJson};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(put_capsule, get_capsule, delete_capsule))
        .merge(
            // A seal lists every sealed file of the capsule: more than an ordinary body.
            OpenApiRouter::new()
                .routes(routes!(seal_capsule))
                .layer(axum::extract::DefaultBodyLimit::max(SEAL_BODY_LIMIT)),
        )
        .routes(routes!(revoke_link))
        .routes(routes!(resend_delivery))
}

/// A capsule answer with its version as ETag.
fn answer(status: StatusCode, capsule: Capsule) -> Response {
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", capsule.version)) {
        headers.insert(header::ETAG, v);
    }
    (status, headers, Json(CapsuleResponse { capsule })).into_response()
}

/// Create a draft (no If-Match) or update one (If-Match: its version).
#[utoipa::path(put, path = "/v1/capsules/{id}", tag = "capsules",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Capsule id (UUIDv7 made by the client)"),
           ("If-Match" = Option<String>, Header, nullable = false, pattern = r#"^(W/)?("[0-9]{1,18}"|[0-9]{1,18})$"#,
            description = "Version being updated")),
    request_body = CapsuleWrite,
    responses(
        (status = 200, body = CapsuleResponse), (status = 201, body = CapsuleResponse),
        (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse),
        (status = 404, body = ErrorResponse), (status = 409, body = ErrorResponse),
        (status = 422, body = ErrorResponse)))]
async fn put_capsule(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
    IfMatch(version): IfMatch,
    ApiJson(body): ApiJson<CapsuleWrite>,
) -> ApiResult<Response> {
    let (created, capsule) = capsules::put(&state, &auth, id, version, &body).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(answer(status, capsule))
}

/// A capsule; note, recipients and photos only while draft or once opened.
#[utoipa::path(get, path = "/v1/capsules/{id}", tag = "capsules",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Capsule id")),
    responses(
        (status = 200, body = CapsuleResponse), (status = 401, body = ErrorResponse),
        (status = 404, body = ErrorResponse)))]
async fn get_capsule(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Response> {
    Ok(answer(
        StatusCode::OK,
        capsules::get(&state, &auth, id).await?,
    ))
}

/// Delete a capsule with its photos.
#[utoipa::path(delete, path = "/v1/capsules/{id}", tag = "capsules",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Capsule id")),
    responses(
        (status = 204), (status = 401, body = ErrorResponse), (status = 404, body = ErrorResponse)))]
async fn delete_capsule(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    capsules::delete(&state, &auth, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Largest seal body: the names, hashes and sizes of up to 10 000 photos' sealed files.
const SEAL_BODY_LIMIT: usize = 8 * 1024 * 1024;

/// Seal a draft: no changes and no contents until its open date. With a body, the device
/// sealed it: the body lists its sealed files (declared and sent first) and what they are
/// time-locked to, and the server keeps only those from here on, purging the draft's
/// plaintext. Without one, the server seals the draft as it holds it (scripts and clients
/// that cannot encrypt; nothing is time-locked then).
#[utoipa::path(post, path = "/v1/capsules/{id}/seal", tag = "capsules",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Capsule id"),
           ("If-Match" = Option<String>, Header, nullable = false, pattern = r#"^(W/)?("[0-9]{1,18}"|[0-9]{1,18})$"#,
            description = "Version the person confirmed")),
    request_body(content = Option<SealRequest>, description = "The device's sealed files, when it sealed them"),
    responses(
        (status = 200, body = CapsuleResponse), (status = 400, body = ErrorResponse),
        (status = 401, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 409, body = ErrorResponse), (status = 413, body = ErrorResponse),
        (status = 415, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
async fn seal_capsule(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
    IfMatch(version): IfMatch,
    body: OptionalJson<SealRequest>,
) -> ApiResult<Response> {
    let capsule = match body.0 {
        Some(req) => crate::sealing::seal::seal(&state, &auth, id, version, &req).await?,
        None => capsules::seal(&state, &auth, id, version).await?,
    };
    Ok(answer(StatusCode::OK, capsule))
}

/// Withdraw the link one recipient of an opened capsule received.
#[utoipa::path(post, path = "/v1/capsules/{id}/links/revoke", tag = "capsules",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Capsule id")),
    request_body = RevokeLinkRequest,
    responses(
        (status = 204), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse),
        (status = 404, body = ErrorResponse)))]
async fn revoke_link(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<RevokeLinkRequest>,
) -> ApiResult<StatusCode> {
    capsules::revoke_link(&state, &auth, id, &body.recipient).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Send a failed or bounced email of an opened capsule again, to the same address or, with
/// `to`, to a corrected one (the capsule's recipient list changes with it). The recipient
/// gets a new link; an earlier one keeps working until it expires. Each failed email is
/// sent again once: a second request for the same one is refused.
#[utoipa::path(post, path = "/v1/capsules/{id}/deliveries/resend", tag = "capsules",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Capsule id")),
    request_body = ResendRequest,
    responses(
        (status = 200, body = CapsuleResponse, description = "The capsule with its deliveries as they now stand"),
        (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse),
        (status = 404, body = ErrorResponse), (status = 409, body = ErrorResponse),
        (status = 415, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
async fn resend_delivery(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<ResendRequest>,
) -> ApiResult<Response> {
    Ok(answer(
        StatusCode::OK,
        crate::resend::resend(&state, &auth, id, &body).await?,
    ))
}
