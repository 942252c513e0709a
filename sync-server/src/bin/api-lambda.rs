//! The sync server's HTTP API as an AWS Lambda behind a function URL (payload format 2.0,
//! response streaming): the same router as the `sync-server` binary, configured by the same
//! ITC_* environment variables. Originals are redirects to presigned S3 URLs; thumbnails,
//! pages and zips stream through the function. The delivery schedule and the thumbnail
//! queue are the delivery Lambda's, so nothing here runs between requests (a Lambda
//! instance is frozen between them).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use anyhow::bail;
use axum::extract::{ConnectInfo, Request};
use axum::middleware::{self, Next};
use axum::response::Response;
use clap::Parser;
use lambda_http::RequestExt;
use lambda_http::request::RequestContext;
use secrecy::ExposeSecret;
use sync_server::clock::SystemClock;
use sync_server::config::BlobTarget;
use sync_server::{AppState, Flags, Settings};

fn main() -> Result<(), lambda_http::Error> {
    sync_server::alloc::block_on(run())?
}

async fn run() -> Result<(), lambda_http::Error> {
    logging::Logs {
        filter_var: "RUST_LOG",
        default_filter: "info",
        format: logging::Format::JsonWithoutTime,
        output: logging::Output::Stdout,
    }
    .init();
    sync_server::install_crypto_provider();
    let settings = settings()?;
    let state = AppState::build(settings, Arc::new(SystemClock)).await?;
    tracing::info!(public = %state.settings.http.public_url, "api lambda ready");
    let app = sync_server::routes::router(state).layer(middleware::from_fn(source_address));
    lambda_http::run_with_streaming_response(app).await
}

/// The server's settings from the environment, refusing what cannot work on Lambda: an
/// instance's disk lives only as long as the instance, so the database and the photos
/// must be elsewhere.
fn settings() -> anyhow::Result<Settings> {
    // Lambda passes no arguments; /tmp is the only writable folder there.
    let mut flags = Flags::parse_from(["api-lambda"]);
    if flags.data_dir.is_none() {
        flags.data_dir = Some(std::env::temp_dir().join("itc"));
    }
    let settings = Settings::from_flags(flags)?;
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
/// function URL's request context, where a socket's peer would be on a server.
async fn source_address(mut req: Request, next: Next) -> Response {
    let ip = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx
            .http
            .source_ip
            .as_deref()
            .and_then(|ip| ip.parse::<IpAddr>().ok()),
        _ => None,
    };
    if let Some(ip) = ip {
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::new(ip, 0)));
    }
    next.run(req).await
}
