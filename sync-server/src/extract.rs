//! Extractors whose rejections speak the API's error format.

use std::net::{IpAddr, SocketAddr};

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts};
use axum::http::StatusCode;
use axum::http::request::Parts;
use protocol::ErrorCode;

use crate::error::ApiError;
use crate::state::AppState;

/// JSON body; unknown fields, bad types and oversized bodies become API errors.
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::MissingJsonContentType(_) => ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "Send the body as JSON (Content-Type: application/json).",
            ),
            JsonRejection::BytesRejection(b) if b.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::new(ErrorCode::PayloadTooLarge, "The request body is too large.")
            }
            other => ApiError::bad_request(format!(
                "The request body is not valid: {}",
                other.body_text()
            )),
        }
    }
}

/// Path parameters; a malformed id is as absent as an unknown one.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

impl From<PathRejection> for ApiError {
    fn from(_: PathRejection) -> Self {
        ApiError::not_found("item")
    }
}

/// Query parameters.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::bad_request(format!("The query is not valid: {}", r.body_text()))
    }
}

/// A JSON body that may be left out: no body at all is `None`; a body is read as
/// [`ApiJson`] reads one.
#[derive(Debug)]
pub struct OptionalJson<T>(pub Option<T>);

impl<S, T> FromRequest<S> for OptionalJson<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        let has_body = req
            .headers()
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_none_or(|n| n.trim() != "0");
        let has_type = req.headers().contains_key(axum::http::header::CONTENT_TYPE);
        if !has_body || !has_type {
            // No Content-Type and no bytes: the body was left out. Bytes without a type
            // are refused as ApiJson refuses them.
            let bytes = axum::body::Bytes::from_request(req, state)
                .await
                .map_err(|r| {
                    if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                        ApiError::new(ErrorCode::PayloadTooLarge, "The request body is too large.")
                    } else {
                        ApiError::bad_request("The request body could not be read.")
                    }
                })?;
            if bytes.is_empty() {
                return Ok(Self(None));
            }
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "Send the body as JSON (Content-Type: application/json).",
            ));
        }
        // JSON `null` is the body left out too.
        let ApiJson(v) = ApiJson::<Option<T>>::from_request(req, state).await?;
        Ok(Self(v))
    }
}

/// The version in an `If-Match` header (`3` or `"3"`), if any.
#[derive(Debug, Clone, Copy)]
pub struct IfMatch(pub Option<i64>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let Some(v) = parts.headers.get(axum::http::header::IF_MATCH) else {
            return Ok(Self(None));
        };
        v.to_str()
            .ok()
            .and_then(protocol::parse_version)
            .map(|n| Self(Some(n)))
            .ok_or_else(|| ApiError::bad_request("If-Match must be a capsule version number."))
    }
}

/// The client's address: the socket's peer, or the last X-Forwarded-For hop when the
/// server is told it sits behind a load balancer.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if state.settings.http.trust_forwarded_for {
            let forwarded = parts
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .and_then(|ip| ip.trim().parse().ok());
            if forwarded.is_some() {
                return Ok(Self(forwarded));
            }
        }
        Ok(Self(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}
