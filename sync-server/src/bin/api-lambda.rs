//! The sync server's HTTP API as an AWS Lambda behind a function URL (payload format 2.0,
//! response streaming): the same router as the `sync-server` binary, configured by the same
//! ITC_* environment variables. Originals are redirects to presigned S3 URLs; thumbnails,
//! pages and zips stream through the function. The delivery schedule and the thumbnail
//! queue are the delivery Lambda's, so nothing here runs between requests (a Lambda
//! instance is frozen between them).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use anyhow::bail;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use lambda_http::RequestExt;
use lambda_http::request::RequestContext;
use secrecy::ExposeSecret;
use sync_server::clock::SystemClock;
use sync_server::config::BlobTarget;
use sync_server::{AppState, Settings};

fn main() -> Result<(), lambda_http::Error> {
    sync_server::alloc::block_on(run())?
}

async fn run() -> Result<(), lambda_http::Error> {
    let mut settings = settings()?;
    // Behind CloudFront the function's caller is an edge server; the viewer's address comes
    // in CloudFront's own header instead of X-Forwarded-For (whose last hop is not the viewer).
    let behind_cloudfront = std::mem::take(&mut settings.http.trust_forwarded_for);
    let state = AppState::build(settings, Arc::new(SystemClock)).await?;
    tracing::info!(public = %state.settings.http.public_url, behind_cloudfront, "api lambda ready");
    let app = sync_server::routes::router(state).layer(middleware::from_fn_with_state(
        behind_cloudfront,
        source_address,
    ));
    lambda_http::run_with_streaming_response(app).await
}

/// The server's settings from the environment, refusing what cannot work on Lambda: an
/// instance's disk lives only as long as the instance, so the database and the photos
/// must be elsewhere.
fn settings() -> anyhow::Result<Settings> {
    let settings = sync_server::lambda::start("api-lambda")?;
    let url = settings.database.url.expose_secret();
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        bail!("the API Lambda needs PostgreSQL: set ITC_DATABASE_URL to a postgres:// URL");
    }
    if !matches!(settings.storage.blob, BlobTarget::S3 { .. }) {
        bail!("the API Lambda needs S3 for photos: set ITC_BLOB_STORE to s3://bucket/prefix");
    }
    Ok(settings)
}

/// Gives the router the caller's address (for sign-up and log-in limits) from the
/// function URL's request context, where a socket's peer would be on a server; behind
/// CloudFront (ITC_TRUST_FORWARDED_FOR), from `CloudFront-Viewer-Address`.
async fn source_address(
    State(behind_cloudfront): State<bool>,
    mut req: Request,
    next: Next,
) -> Response {
    let viewer = behind_cloudfront
        .then(|| req.headers().get("cloudfront-viewer-address"))
        .flatten()
        .and_then(|v| v.to_str().ok())
        .and_then(viewer_ip);
    let ip = viewer.or_else(|| match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx
            .http
            .source_ip
            .as_deref()
            .and_then(|ip| ip.parse::<IpAddr>().ok()),
        _ => None,
    });
    if let Some(ip) = ip {
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::new(ip, 0)));
    }
    next.run(req).await
}

/// The address in `CloudFront-Viewer-Address`: `IP:PORT`, the IP v4 or v6 (unbracketed).
fn viewer_ip(value: &str) -> Option<IpAddr> {
    let (ip, port) = value.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    ip.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::viewer_ip;

    #[test]
    fn viewer_addresses_of_both_families_parse() {
        assert_eq!(
            viewer_ip("198.51.100.7:46532"),
            Some("198.51.100.7".parse().expect("ip"))
        );
        assert_eq!(
            viewer_ip("2001:db8:85a3::8a2e:370:7334:443"),
            Some("2001:db8:85a3::8a2e:370:7334".parse().expect("ip"))
        );
        assert_eq!(viewer_ip("198.51.100.7"), None);
        assert_eq!(viewer_ip("not an address:80"), None);
    }
}
