//! `AuthUser`: a handler that names it in its signature cannot run without a valid access
//! token of a live session.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use protocol::ErrorCode;
use uuid::Uuid;

use super::tokens::{TYPE_ACCESS, TokenError};
use crate::error::ApiError;
use crate::state::AppState;

/// The user (and session) a request acts for.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub user_id: Uuid,
    pub session_id: Uuid,
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| ApiError::unauthorized("Please log in."))?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or_else(|| ApiError::unauthorized("Please log in."))?;
        let claims = state
            .tokens
            .verify(token.trim(), TYPE_ACCESS, state.now_ms())
            .map_err(|e| match e {
                TokenError::Expired => ApiError::new(
                    ErrorCode::TokenExpired,
                    "Your session token has expired; refresh it.",
                ),
                TokenError::Invalid => {
                    ApiError::unauthorized("Your session is not valid. Please log in.")
                }
            })?;
        let (Ok(user_id), Ok(session_id)) =
            (Uuid::try_parse(&claims.sub), Uuid::try_parse(&claims.sid))
        else {
            return Err(ApiError::unauthorized(
                "Your session is not valid. Please log in.",
            ));
        };
        // A logged-out session or a deleted account loses access at once, not at expiry.
        if !state.db.session_is_active(session_id, user_id).await? {
            return Err(ApiError::unauthorized(
                "Your session has ended. Please log in again.",
            ));
        }
        Ok(Self {
            user_id,
            session_id,
        })
    }
}
