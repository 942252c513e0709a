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

/// The one status each error code answers with; the few deliberate exceptions are the
/// named constructors below that set their own.
pub fn status_of(code: ErrorCode) -> StatusCode {
    use ErrorCode as C;
    match code {
        C::Unauthorized
        | C::TokenExpired
        | C::InvalidCredentials
        | C::InvalidRefreshToken
        | C::RefreshTokenReused
        | C::InvalidUploadToken => StatusCode::UNAUTHORIZED,
        C::TooManyAttempts => StatusCode::TOO_MANY_REQUESTS,
        C::NotFound => StatusCode::NOT_FOUND,
        C::InvalidRequest => StatusCode::BAD_REQUEST,
        C::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        C::PayloadTooLarge | C::PhotoTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        C::EmailTaken
        | C::VersionConflict
        | C::CapsuleSealed
        | C::CapsuleNotOpened
        | C::DeliveryNotResendable
        | C::RecipientExists => StatusCode::CONFLICT,
        C::WeakPassword
        | C::ValidationFailed
        | C::CapsuleEmpty
        | C::OpenAtMissing
        | C::OpenAtTooSoon
        | C::PhotoNotUploaded
        | C::UploadIncomplete
        | C::SizeMismatch
        | C::HashMismatch
        | C::UnsupportedImageFormat
        | C::HeicNotSupported
        | C::CorruptImage
        | C::ImageTooLarge
        | C::InvalidThumbnail
        | C::EmptyPhoto => StatusCode::UNPROCESSABLE_ENTITY,
        C::Timeout => StatusCode::REQUEST_TIMEOUT,
        C::TooEarly => StatusCode::TOO_EARLY,
        C::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        C::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl ApiError {
    /// A client error: the code's status, and a sentence for the person.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::with_status(status_of(code), code, message)
    }

    fn with_status(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Client {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// 404: absent, or someone else's (the two are never told apart).
    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("No such {what}."))
    }

    /// 422 for a field that is not acceptable.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ValidationFailed, message)
    }

    /// 400 for a malformed request.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, message)
    }

    /// 401 for a missing or bad token.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthorized, message)
    }

    /// 409 because the capsule is sealed.
    pub fn sealed() -> Self {
        Self::new(
            ErrorCode::CapsuleSealed,
            "This capsule is sealed; it cannot be changed before it opens.",
        )
    }

    /// 403: a sealed capsule's contents are asked for. Not a conflict with the request's
    /// state, but a refusal to show, to anyone.
    pub fn sealed_contents() -> Self {
        Self::with_status(
            StatusCode::FORBIDDEN,
            ErrorCode::CapsuleSealed,
            "This capsule is sealed; its photos can be seen once it opens.",
        )
    }

    /// 403: the signed-in person gave a wrong current password. Their session is valid
    /// (not 401); the action is refused.
    pub fn wrong_current_password() -> Self {
        Self::with_status(
            StatusCode::FORBIDDEN,
            ErrorCode::InvalidCredentials,
            "Your current password is not correct.",
        )
    }

    /// 409: a photo id already names other bytes (ids are the client's; reusing one is a
    /// conflict, not a bad field).
    pub fn photo_id_taken() -> Self {
        Self::with_status(
            StatusCode::CONFLICT,
            ErrorCode::ValidationFailed,
            "This photo id already holds other bytes; use a new id.",
        )
    }

    /// 400: the upload's body broke off while it was being received.
    pub fn upload_interrupted(cause: impl std::fmt::Display) -> Self {
        Self::with_status(
            StatusCode::BAD_REQUEST,
            ErrorCode::UploadIncomplete,
            format!("The upload was interrupted ({cause}); send it again."),
        )
    }

    /// 413: more bytes arrive than were declared (the stream is cut at once).
    pub fn upload_too_long(declared: u64) -> Self {
        Self::with_status(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::SizeMismatch,
            format!("The upload is larger than the {declared} bytes declared."),
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

    /// The status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Client { status, .. } => *status,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
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

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        DbError::classify(e).into()
    }
}

impl From<std::io::Error> for ApiError {
    fn from(e: std::io::Error) -> Self {
        Self::Internal(e.into())
    }
}

impl From<serde_json::Error> for ApiError {
    fn from(e: serde_json::Error) -> Self {
        Self::Internal(e.into())
    }
}

impl From<tokio::sync::AcquireError> for ApiError {
    fn from(e: tokio::sync::AcquireError) -> Self {
        Self::Internal(e.into())
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        Self::Internal(e.into())
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
