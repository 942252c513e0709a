use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use protocol::{
    ChangePasswordRequest, CreateAccountRequest, CreateAccountResponse, DeleteAccountRequest,
    ErrorResponse, LoginRequest, RefreshRequest, SessionResponse,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts;
use crate::auth::AuthUser;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ClientAddr};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_account))
        .routes(routes!(log_in))
        .routes(routes!(refresh))
        .routes(routes!(log_out))
        .routes(routes!(change_password))
        .routes(routes!(delete_account))
}

/// Create an account.
#[utoipa::path(post, path = "/v1/accounts", tag = "accounts",
    request_body = CreateAccountRequest,
    responses(
        (status = 201, body = CreateAccountResponse),
        (status = 400, body = ErrorResponse), (status = 409, body = ErrorResponse),
        (status = 422, body = ErrorResponse), (status = 429, body = ErrorResponse)))]
async fn create_account(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    ApiJson(body): ApiJson<CreateAccountRequest>,
) -> ApiResult<(StatusCode, Json<CreateAccountResponse>)> {
    let user_id = accounts::sign_up(&state, &body.email, &body.password, addr).await?;
    Ok((StatusCode::CREATED, Json(CreateAccountResponse { user_id })))
}

/// Log in; answers an access token and a refresh token.
#[utoipa::path(post, path = "/v1/sessions", tag = "accounts",
    request_body = LoginRequest,
    responses(
        (status = 200, body = SessionResponse),
        (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse),
        (status = 429, body = ErrorResponse)))]
async fn log_in(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    ApiJson(body): ApiJson<LoginRequest>,
) -> ApiResult<Json<SessionResponse>> {
    let s = accounts::log_in(
        &state,
        &body.email,
        &body.password,
        body.device_name.as_deref(),
        addr,
    )
    .await?;
    Ok(Json(s))
}

/// Trade a refresh token for a new pair (the old one is spent).
#[utoipa::path(post, path = "/v1/sessions/refresh", tag = "accounts",
    request_body = RefreshRequest,
    responses(
        (status = 200, body = SessionResponse),
        (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse)))]
async fn refresh(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> ApiResult<Json<SessionResponse>> {
    Ok(Json(accounts::refresh(&state, &body.refresh_token).await?))
}

/// Log out this device.
#[utoipa::path(delete, path = "/v1/sessions/current", tag = "accounts",
    security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorResponse)))]
async fn log_out(State(state): State<AppState>, auth: AuthUser) -> ApiResult<StatusCode> {
    accounts::log_out(&state, &auth).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Change the password; every other session ends.
#[utoipa::path(put, path = "/v1/account/password", tag = "accounts",
    security(("bearer" = [])),
    request_body = ChangePasswordRequest,
    responses(
        (status = 204), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 422, body = ErrorResponse),
        (status = 429, body = ErrorResponse)))]
async fn change_password(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiJson(body): ApiJson<ChangePasswordRequest>,
) -> ApiResult<StatusCode> {
    accounts::change_password(&state, &auth, &body.current_password, &body.new_password).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Delete the account with every capsule and photo.
#[utoipa::path(delete, path = "/v1/account", tag = "accounts",
    security(("bearer" = [])),
    request_body = DeleteAccountRequest,
    responses(
        (status = 204), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 429, body = ErrorResponse)))]
async fn delete_account(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiJson(body): ApiJson<DeleteAccountRequest>,
) -> ApiResult<StatusCode> {
    accounts::delete_account(&state, &auth, &body.password).await?;
    Ok(StatusCode::NO_CONTENT)
}
