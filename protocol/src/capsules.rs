use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Photo;

/// Where a capsule is in its life: draft → sealed → opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum CapsuleState {
    Draft,
    Sealed,
    Opened,
}

stored_names!(CapsuleState, "capsule state", {
    Draft => "draft",
    Sealed => "sealed",
    Opened => "opened",
});

/// Body of `PUT /v1/capsules/{id}`: the editable fields of a draft.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct CapsuleWrite {
    /// One line: at least one visible character, no control characters.
    #[cfg_attr(
        feature = "openapi",
        schema(
            max_length = 200,
            pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
        )
    )]
    pub title: String,
    /// Text; tabs and line breaks are the only control characters allowed.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(
            max_length = 20000,
            pattern = "^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f]*$"
        )
    )]
    pub note: String,
    /// The UTC instant the capsule opens; may be empty while drafting.
    #[serde(default)]
    pub open_at: Option<DateTime<Utc>>,
    /// IANA time zone the owner picked the date in, for display.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Za-z0-9/_+-]{1,64}$"))]
    pub time_zone: String,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::recipients))]
    pub recipients: Vec<String>,
}

/// A capsule as the API shows it. `note`, `recipients` and `photos` are present only while
/// it is a draft or once it has opened; a sealed capsule shows none of them to anyone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Capsule {
    pub id: Uuid,
    pub title: String,
    pub state: CapsuleState,
    pub open_at: Option<DateTime<Utc>>,
    pub time_zone: String,
    pub version: i64,
    pub photo_count: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opened_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipients: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photos: Option<Vec<Photo>>,
    /// Once opened: how the email to each recipient went.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deliveries: Option<Vec<RecipientDelivery>>,
    /// How a capsule sealed on a device is locked (none for a draft, or one the server
    /// sealed itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock: Option<crate::CapsuleLock>,
    /// Once opened: photos that did not pass the server's checks and were not shown.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused_photos: Vec<crate::RefusedPhoto>,
}

/// Where one recipient's email stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting to be sent, or to be retried after a failure.
    Queued,
    /// Handed to the mail server.
    Sent,
    /// Given up after the last attempt; `last_error` says why.
    Failed,
    /// The receiving mail server refused the address for good (it does not exist, or takes
    /// no mail); `last_error` has its words. Never retried by itself.
    Bounced,
}

stored_names!(DeliveryStatus, "delivery status", {
    Queued => "queued",
    Sent => "sent",
    Failed => "failed",
    Bounced => "bounced",
});

impl DeliveryStatus {
    /// Whether the owner may ask for this email to be sent again.
    pub fn can_resend(self) -> bool {
        matches!(self, Self::Failed | Self::Bounced)
    }
}

/// The email to one recipient of an opened capsule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct RecipientDelivery {
    pub recipient: String,
    pub status: DeliveryStatus,
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<DateTime<Utc>>,
}

/// Answer wrapping one capsule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CapsuleResponse {
    pub capsule: Capsule,
}

/// Body of `POST /v1/capsules/{id}/links/revoke`: withdraw one recipient's link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RevokeLinkRequest {
    #[cfg_attr(feature = "openapi", schema(format = Email, max_length = 254))]
    pub recipient: String,
}

/// Body of `POST /v1/capsules/{id}/deliveries/resend`: send a failed or bounced email
/// again, to the same address or, with `to`, to a corrected one. The recipient gets a new
/// link; an earlier link keeps working until it expires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ResendRequest {
    /// The address the email went to.
    #[cfg_attr(feature = "openapi", schema(format = Email, max_length = 254))]
    pub recipient: String,
    /// Where to send it instead; the capsule's recipient list changes with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(format = Email, max_length = 254, nullable = false))]
    pub to: Option<String>,
}

/// The capsule version an `If-Match` header names: `3`, `"3"` or `W/"3"`; none for anything
/// else.
pub fn parse_version(header: &str) -> Option<i64> {
    let text = header.trim();
    let text = text.strip_prefix("W/").unwrap_or(text);
    let text = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text);
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}
