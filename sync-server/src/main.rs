use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use secrecy::ExposeSecret;
use sync_server::clock::SystemClock;
use sync_server::config::BlobTarget;
use sync_server::{AppState, Flags, Settings};

fn main() -> anyhow::Result<()> {
    sync_server::alloc::block_on(run())?
}

async fn run() -> anyhow::Result<()> {
    let flags = Flags::parse();
    logging::Logs {
        filter_var: "RUST_LOG",
        default_filter: "info",
        format: if flags.log_json {
            logging::Format::Json
        } else {
            logging::Format::Text
        },
        output: logging::Output::Stdout,
    }
    .init();
    sync_server::install_crypto_provider();
    let settings = Settings::from_flags(flags)?;
    let listener = std::net::TcpListener::bind(settings.http.bind)
        .with_context(|| format!("binding {}", settings.http.bind))?;
    let bound = listener.local_addr()?;
    let blobs = match &settings.storage.blob {
        BlobTarget::Folder(p) => p.display().to_string(),
        BlobTarget::S3 { bucket, prefix, .. } => format!("s3://{bucket}/{prefix}"),
    };
    let database = redact(settings.database.url.expose_secret());
    let data_dir = settings.data_dir.display().to_string();
    let public = settings.http.public_url.clone();
    let state = AppState::build(settings, Arc::new(SystemClock)).await?;
    let mail = state.mailer.describe();
    tracing::info!(%bound, %public, %data_dir, %database, %blobs, %mail, "sync server listening");
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let ticker = state.settings.delivery.ticker.then(|| {
        let mut stop = stop_rx.clone();
        tokio::spawn(sync_server::delivery::run_ticker(
            state.clone(),
            state.settings.delivery.interval,
            async move {
                let _ = stop.wait_for(|s| *s).await;
            },
        ))
    });
    // Thumbnails for clients that send none, off the request path.
    let thumbnails = {
        let mut stop = stop_rx.clone();
        tokio::spawn(sync_server::photos::thumbnail_job::run_worker(
            state.clone(),
            std::time::Duration::from_secs(30),
            async move {
                let _ = stop.wait_for(|s| *s).await;
            },
        ))
    };
    sync_server::serve(state, listener, async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    })
    .await?;
    if let Some(t) = ticker {
        let _ = t.await;
    }
    let _ = thumbnails.await;
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
