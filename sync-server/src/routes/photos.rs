use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use protocol::{ErrorResponse, PhotoResponse, PhotoUploadResponse, PhotoWrite, ThumbnailSize};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::photos::{self, Download, Variant};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(declare_photo, delete_photo))
        .routes(routes!(complete_photo))
        .routes(routes!(get_original))
        .routes(routes!(get_thumbnail))
        .routes(routes!(get_preview))
}

pub fn upload_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upload_bytes))
        .routes(routes!(upload_part))
        .routes(routes!(upload_thumbnail))
}

/// Declare a photo of a draft, with the thumbnails the client made; answers where to upload
/// the original (one PUT, or parts for a large one, the parts already held listed) and the
/// thumbnails, or nothing when the server already has those bytes.
#[utoipa::path(put, path = "/v1/capsules/{id}/photos/{photo_id}", tag = "photos",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Capsule id"),
           ("photo_id" = Uuid, Path, description = "Photo id (UUIDv7 made by the client)")),
    request_body = PhotoWrite,
    responses(
        (status = 200, body = PhotoUploadResponse), (status = 400, body = ErrorResponse),
        (status = 401, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 409, body = ErrorResponse), (status = 413, body = ErrorResponse),
        (status = 422, body = ErrorResponse)))]
async fn declare_photo(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath((id, photo_id)): ApiPath<(Uuid, Uuid)>,
    ApiJson(body): ApiJson<PhotoWrite>,
) -> ApiResult<Json<PhotoUploadResponse>> {
    Ok(Json(
        photos::declare(&state, &auth, id, photo_id, &body).await?,
    ))
}

/// Remove a photo from a draft.
#[utoipa::path(delete, path = "/v1/capsules/{id}/photos/{photo_id}", tag = "photos",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Capsule id"),
           ("photo_id" = Uuid, Path, description = "Photo id")),
    responses(
        (status = 204), (status = 401, body = ErrorResponse),
        (status = 404, body = ErrorResponse), (status = 409, body = ErrorResponse)))]
async fn delete_photo(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath((id, photo_id)): ApiPath<(Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    photos::remove(&state, &auth, id, photo_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Verify an uploaded photo (size, SHA-256, structure, the client's thumbnails) and make it
/// count.
#[utoipa::path(post, path = "/v1/capsules/{id}/photos/{photo_id}/complete", tag = "photos",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Capsule id"),
           ("photo_id" = Uuid, Path, description = "Photo id")),
    responses(
        (status = 200, body = PhotoResponse), (status = 401, body = ErrorResponse),
        (status = 404, body = ErrorResponse), (status = 409, body = ErrorResponse),
        (status = 422, body = ErrorResponse)))]
async fn complete_photo(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath((id, photo_id)): ApiPath<(Uuid, Uuid)>,
) -> ApiResult<Json<PhotoResponse>> {
    let photo = photos::complete(&state, &auth, id, photo_id).await?;
    Ok(Json(PhotoResponse { photo }))
}

fn download_response(d: Download) -> Response {
    match d {
        Download::Redirect(url) => Redirect::temporary(&url).into_response(),
        Download::Stream {
            body,
            len,
            content_type,
            disposition,
        } => {
            let mut res = Response::new(body);
            let h = res.headers_mut();
            if let Ok(v) = HeaderValue::from_str(&content_type) {
                h.insert(header::CONTENT_TYPE, v);
            }
            h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
            if let Ok(v) = HeaderValue::from_str(&disposition) {
                h.insert(header::CONTENT_DISPOSITION, v);
            }
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, max-age=3600"),
            );
            res
        }
    }
}

/// The original bytes (or a redirect to a short-lived URL); 403 while sealed.
#[utoipa::path(get, path = "/v1/capsules/{id}/photos/{photo_id}/original", tag = "photos",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Capsule id"),
           ("photo_id" = Uuid, Path, description = "Photo id")),
    responses(
        (status = 200, description = "The photo's original bytes, in its own media type", content_type = "image/*"),
        (status = 307, description = "Redirect to a short-lived download URL"),
        (status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse),
        (status = 404, body = ErrorResponse)))]
async fn get_original(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath((id, photo_id)): ApiPath<(Uuid, Uuid)>,
) -> ApiResult<Response> {
    Ok(download_response(
        photos::fetch(&state, &auth, id, photo_id, Variant::Original).await?,
    ))
}

/// The 256 px JPEG thumbnail (or a redirect); 403 while sealed, 404 until it is made.
#[utoipa::path(get, path = "/v1/capsules/{id}/photos/{photo_id}/thumbnail", tag = "photos",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Capsule id"),
           ("photo_id" = Uuid, Path, description = "Photo id")),
    responses(
        (status = 200, description = "A JPEG thumbnail", content_type = "image/jpeg"),
        (status = 307, description = "Redirect to a short-lived download URL"),
        (status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse),
        (status = 404, body = ErrorResponse)))]
async fn get_thumbnail(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath((id, photo_id)): ApiPath<(Uuid, Uuid)>,
) -> ApiResult<Response> {
    Ok(download_response(
        photos::fetch(&state, &auth, id, photo_id, Variant::Thumbnail).await?,
    ))
}

/// The 1280 px JPEG preview (or a redirect); 403 while sealed, 404 until it is made.
#[utoipa::path(get, path = "/v1/capsules/{id}/photos/{photo_id}/preview", tag = "photos",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Capsule id"),
           ("photo_id" = Uuid, Path, description = "Photo id")),
    responses(
        (status = 200, description = "A JPEG preview", content_type = "image/jpeg"),
        (status = 307, description = "Redirect to a short-lived download URL"),
        (status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse),
        (status = 404, body = ErrorResponse)))]
async fn get_preview(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath((id, photo_id)): ApiPath<(Uuid, Uuid)>,
) -> ApiResult<Response> {
    Ok(download_response(
        photos::fetch(&state, &auth, id, photo_id, Variant::Preview).await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct UploadQuery {
    /// The upload token from the photo's upload target.
    token: String,
}

/// Upload a photo's bytes through the server (when the store has no presigned uploads).
#[utoipa::path(put, path = "/v1/uploads/{photo_id}", tag = "photos",
    params(("photo_id" = Uuid, Path, description = "Photo id"), UploadQuery),
    request_body(content = String, content_type = "application/octet-stream",
                 description = "The photo's original bytes"),
    responses(
        (status = 204), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse),
        (status = 404, body = ErrorResponse), (status = 413, body = ErrorResponse),
        (status = 422, body = ErrorResponse)))]
async fn upload_bytes(
    State(state): State<AppState>,
    ApiPath(photo_id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<UploadQuery>,
    body: Body,
) -> ApiResult<StatusCode> {
    photos::receive::original(&state, photo_id, &q.token, body).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Upload one part of a large original through the server (when the store has no
/// presigned uploads).
#[utoipa::path(put, path = "/v1/uploads/{photo_id}/parts/{number}", tag = "photos",
    params(("photo_id" = Uuid, Path, description = "Photo id"),
           ("number" = u32, Path, minimum = 1, maximum = 10000, description = "Part number, from 1"),
           UploadQuery),
    request_body(content = String, content_type = "application/octet-stream",
                 description = "The part's bytes"),
    responses(
        (status = 204), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse),
        (status = 404, body = ErrorResponse), (status = 413, body = ErrorResponse),
        (status = 422, body = ErrorResponse)))]
async fn upload_part(
    State(state): State<AppState>,
    ApiPath((photo_id, number)): ApiPath<(Uuid, u32)>,
    ApiQuery(q): ApiQuery<UploadQuery>,
    body: Body,
) -> ApiResult<StatusCode> {
    photos::receive::part(&state, photo_id, number, &q.token, body).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Upload one of the client's thumbnails through the server (when the store has no
/// presigned uploads).
#[utoipa::path(put, path = "/v1/uploads/{photo_id}/thumbnails/{kind}", tag = "photos",
    params(("photo_id" = Uuid, Path, description = "Photo id"),
           ("kind" = ThumbnailSize, Path, description = "Which thumbnail"),
           UploadQuery),
    request_body(content = String, content_type = "image/jpeg",
                 description = "The thumbnail's bytes"),
    responses(
        (status = 204), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse),
        (status = 404, body = ErrorResponse), (status = 413, body = ErrorResponse),
        (status = 422, body = ErrorResponse)))]
async fn upload_thumbnail(
    State(state): State<AppState>,
    ApiPath((photo_id, kind)): ApiPath<(Uuid, ThumbnailSize)>,
    ApiQuery(q): ApiQuery<UploadQuery>,
    body: Body,
) -> ApiResult<StatusCode> {
    photos::receive::thumbnail(&state, photo_id, kind, &q.token, body).await?;
    Ok(StatusCode::NO_CONTENT)
}
