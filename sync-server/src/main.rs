use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use sync_server::clock::SystemClock;
use sync_server::config::BlobTarget;
use sync_server::{AppState, Flags, Settings};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    sync_server::alloc::return_freed_memory_at_once();
    let flags = Flags::parse();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    if flags.log_json {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).init();
    }
    sync_server::install_crypto_provider();
    let settings = Settings::from_flags(flags)?;
    let listener = std::net::TcpListener::bind(settings.bind)
        .with_context(|| format!("binding {}", settings.bind))?;
    let bound = listener.local_addr()?;
    let blobs = match &settings.blob {
        BlobTarget::Folder(p) => p.display().to_string(),
        BlobTarget::S3 { bucket, prefix, .. } => format!("s3://{bucket}/{prefix}"),
    };
    let database = redact(&settings.database_url);
    let data_dir = settings.data_dir.display().to_string();
    let public = settings.public_url.clone();
    let state = AppState::build(settings, Arc::new(SystemClock)).await?;
    let mail = state.mailer.describe();
    tracing::info!(%bound, %public, %data_dir, %database, %blobs, %mail, "sync server listening");
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let ticker = state.settings.delivery_ticker.then(|| {
        let mut stop = stop_rx.clone();
        tokio::spawn(sync_server::delivery::run_ticker(
            state.clone(),
            state.settings.delivery_interval,
            async move {
                let _ = stop.wait_for(|s| *s).await;
            },
        ))
    });
    sync_server::serve(state, listener, async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    })
    .await?;
    if let Some(t) = ticker {
        let _ = t.await;
    }
    tracing::info!("stopped");
    Ok(())
}

/// Hides the password of a database URL in logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            let user = creds.split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &url[..s + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down; finishing requests in flight");
}
