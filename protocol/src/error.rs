use serde::{Deserialize, Serialize};

/// Every error body the API returns: `{"error": {"code", "message"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorResponse {
    pub error: ErrorDetail,
}

/// A machine-readable code and a sentence for a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    pub code: ErrorCode,
    pub message: String,
}

/// The closed set of error codes; clients switch on these, never on messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// No bearer token, or one that does not validate.
    Unauthorized,
    /// The access token has expired; refresh it.
    TokenExpired,
    /// Wrong email or password (never says which).
    InvalidCredentials,
    /// The refresh token is unknown, expired or revoked.
    InvalidRefreshToken,
    /// A refresh token was used twice; its whole session family is revoked.
    RefreshTokenReused,
    /// Too many failed log-in attempts; retry later.
    TooManyAttempts,
    /// The password is too short, too long or too common.
    WeakPassword,
    /// An account with this email exists.
    EmailTaken,
    /// No such thing, or not yours.
    NotFound,
    /// The request body or a parameter is malformed.
    InvalidRequest,
    /// A field's value is not acceptable.
    ValidationFailed,
    /// The body's media type is not JSON.
    UnsupportedMediaType,
    /// The body is larger than this route accepts.
    PayloadTooLarge,
    /// The write was based on an old version; fetch, merge, retry.
    VersionConflict,
    /// The capsule is sealed: no changes, no content until its open date.
    CapsuleSealed,
    /// The capsule has no photo and no note.
    CapsuleEmpty,
    /// The capsule has not opened: its emails have not gone out yet.
    CapsuleNotOpened,
    /// Only an email that failed or bounced can be sent again (this one is queued or sent,
    /// or was sent again already).
    DeliveryNotResendable,
    /// The address already gets this capsule.
    RecipientExists,
    /// The capsule has no open date.
    OpenAtMissing,
    /// The open date is too close to now (or past).
    OpenAtTooSoon,
    /// A photo of the capsule has not finished uploading.
    PhotoNotUploaded,
    /// The upload never arrived, or arrived incomplete.
    UploadIncomplete,
    /// The uploaded bytes do not have the declared size.
    SizeMismatch,
    /// The uploaded bytes do not have the declared SHA-256.
    HashMismatch,
    /// The file is not an image format the service accepts.
    UnsupportedImageFormat,
    /// A HEIC sequence (burst, animation) was declared; only still photos are accepted.
    HeicNotSupported,
    /// The image is damaged or truncated.
    CorruptImage,
    /// The image's pixel dimensions exceed the limit (decompression bomb guard).
    ImageTooLarge,
    /// A client's thumbnail is not a clean, smaller JPEG of its photo.
    InvalidThumbnail,
    /// The drand round asked for is not published yet.
    TooEarly,
    /// The photo file is larger than the server accepts.
    PhotoTooLarge,
    /// The photo file is empty.
    EmptyPhoto,
    /// The upload link has expired or does not match.
    InvalidUploadToken,
    /// The request took too long.
    Timeout,
    /// A dependency (database, blob store) is unavailable.
    Unavailable,
    /// Something went wrong on the server; the cause is logged there.
    Internal,
}

stored_names!(ErrorCode, "error code", {
    Unauthorized => "unauthorized",
    TokenExpired => "token_expired",
    InvalidCredentials => "invalid_credentials",
    InvalidRefreshToken => "invalid_refresh_token",
    RefreshTokenReused => "refresh_token_reused",
    TooManyAttempts => "too_many_attempts",
    WeakPassword => "weak_password",
    EmailTaken => "email_taken",
    NotFound => "not_found",
    InvalidRequest => "invalid_request",
    ValidationFailed => "validation_failed",
    UnsupportedMediaType => "unsupported_media_type",
    PayloadTooLarge => "payload_too_large",
    VersionConflict => "version_conflict",
    CapsuleSealed => "capsule_sealed",
    CapsuleEmpty => "capsule_empty",
    CapsuleNotOpened => "capsule_not_opened",
    DeliveryNotResendable => "delivery_not_resendable",
    RecipientExists => "recipient_exists",
    OpenAtMissing => "open_at_missing",
    OpenAtTooSoon => "open_at_too_soon",
    PhotoNotUploaded => "photo_not_uploaded",
    UploadIncomplete => "upload_incomplete",
    SizeMismatch => "size_mismatch",
    HashMismatch => "hash_mismatch",
    UnsupportedImageFormat => "unsupported_image_format",
    HeicNotSupported => "heic_not_supported",
    CorruptImage => "corrupt_image",
    ImageTooLarge => "image_too_large",
    InvalidThumbnail => "invalid_thumbnail",
    TooEarly => "too_early",
    PhotoTooLarge => "photo_too_large",
    EmptyPhoto => "empty_photo",
    InvalidUploadToken => "invalid_upload_token",
    Timeout => "timeout",
    Unavailable => "unavailable",
    Internal => "internal",
});
