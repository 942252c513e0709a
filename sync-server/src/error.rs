//! The one error type of the HTTP API. Client errors carry a code and a sentence;
//! everything unexpected becomes an opaque 500 (or 503 for a dependency that is down) with
//! the cause logged, never sent.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use protocol::{ErrorCode, ErrorDetail, ErrorResponse};

use crate::blob::BlobError;
use crate::db::DbError;

/// An error answer of the API.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{code:?}: {message}")]
    Client {
        status: StatusCode,
        code: ErrorCode,
        message: String,
        retry_after: Option<u64>,
    },
    #[error("dependency unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// Shorthand for handler results.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// A client error with its status, code and sentence.
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Client {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// 404: absent, or someone else's (the two are never told apart).
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            format!("No such {what}."),
        )
    }

    /// 422 for a field that is not acceptable.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::ValidationFailed,
            message,
        )
    }

    /// 400 for a malformed request.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest, message)
    }

    /// 401 for a missing or bad token.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized, message)
    }

    /// 409 because the capsule is sealed.
    pub fn sealed() -> Self {
        Self::new(
            StatusCode::CONFLICT,
            ErrorCode::CapsuleSealed,
            "This capsule is sealed; it cannot be changed before it opens.",
        )
    }

    /// 429 with the seconds to wait.
    pub fn too_many(retry_after: u64) -> Self {
        Self::Client {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: ErrorCode::TooManyAttempts,
            message: "Too many failed attempts. Please wait a few minutes and try again.".into(),
            retry_after: Some(retry_after),
        }
    }

    /// 503 because the server is full (hashing slots, requests in flight, streams): come
    /// back in `retry_after` seconds.
    pub fn busy(retry_after: u64) -> Self {
        Self::Client {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: ErrorCode::Unavailable,
            message: "The server is busy right now. Please try again in a few seconds.".into(),
            retry_after: Some(retry_after),
        }
    }

    /// 429 for too many sign-ups from one address, with the seconds to wait.
    pub fn too_many_sign_ups(retry_after: u64) -> Self {
        Self::Client {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: ErrorCode::TooManyAttempts,
            message: "Too many accounts were made from this network. Please try again later."
                .into(),
            retry_after: Some(retry_after),
        }
    }

    /// The code, for tests and logs.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Client { code, .. } => *code,
            Self::Unavailable(_) => ErrorCode::Unavailable,
            Self::Internal(_) => ErrorCode::Internal,
        }
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Unavailable(inner) => Self::Unavailable(inner.to_string()),
            other => Self::Internal(other.into()),
        }
    }
}

impl From<BlobError> for ApiError {
    fn from(e: BlobError) -> Self {
        match e {
            BlobError::Unavailable(m) => Self::Unavailable(m),
            other => Self::Internal(other.into()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message, retry_after) = match self {
            Self::Client {
                status,
                code,
                message,
                retry_after,
            } => (status, code, message, retry_after),
            Self::Unavailable(cause) => {
                tracing::warn!(%cause, "dependency unavailable");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorCode::Unavailable,
                    "The service is temporarily unavailable. Please try again shortly.".into(),
                    Some(5),
                )
            }
            Self::Internal(cause) => {
                tracing::error!(cause = format!("{cause:#}"), "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    ErrorCode::Internal,
                    "Something went wrong on the server.".into(),
                    None,
                )
            }
        };
        let mut res = (
            status,
            Json(ErrorResponse {
                error: ErrorDetail { code, message },
            }),
        )
            .into_response();
        if let Some(secs) = retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        res
    }
}
