//! Image Time Capsule sync server: the v1 HTTP API over a database (SQLite or PostgreSQL)
//! and a blob store (folder or S3).

pub mod access;
pub mod accounts;
pub mod alloc;
pub mod auth;
pub mod blob;
pub mod capsules;
pub mod clock;
pub mod config;
pub mod db;
pub mod delivery;
pub mod error;
pub mod escape;
pub mod extract;
pub mod lambda;
pub mod limits;
pub mod mail;
pub mod photos;
pub mod recipients;
pub mod reminders;
pub mod resend;
pub mod routes;
pub mod sealing;
pub mod state;
pub mod sync;
pub mod unread_body;
pub mod views;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;

pub use config::{Flags, Settings};
pub use state::AppState;

/// Installs the process-wide TLS crypto provider (both rustls users link aws-lc-rs).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// Serves the app on a bound listener until `shutdown` resolves, then drains requests in
/// flight (up to 30 s).
pub async fn serve(
    state: AppState,
    listener: std::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    listener.set_nonblocking(true)?;
    let tls = state.settings.http.tls.clone();
    let app = routes::router(state).into_make_service_with_connect_info::<SocketAddr>();
    let handle = axum_server::Handle::new();
    let on_stop = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        on_stop.graceful_shutdown(Some(Duration::from_secs(30)));
    });
    match tls {
        None => {
            axum_server::from_tcp(listener)
                .handle(handle)
                .serve(app)
                .await?;
        }
        Some((cert, key)) => {
            install_crypto_provider();
            let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(&cert, &key)
                .await
                .with_context(|| format!("loading TLS certificate {}", cert.display()))?;
            axum_server::from_tcp_rustls(listener, config)
                .handle(handle)
                .serve(app)
                .await?;
        }
    }
    Ok(())
}
