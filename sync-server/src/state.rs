//! The one state every handler gets.

use std::sync::Arc;

use secrecy::ExposeSecret;
use tokio::sync::Semaphore;

use crate::auth::tokens::TokenKeys;
use crate::blob::{BlobStore, FolderStore, S3Store};
use crate::clock::Clock;
use crate::config::{BlobTarget, Settings};
use crate::db::Db;
use crate::limits::HashSlots;
use crate::mail::relay::RelayOutbox;
use crate::mail::unsubscribe::UnsubscribeKey;
use crate::mail::{Mailer, OutboxMailer, SmtpMailer};

/// The blob store the settings name; a local S3-compatible server gets its bucket made.
pub async fn open_blobs(target: &BlobTarget) -> anyhow::Result<Arc<dyn BlobStore>> {
    Ok(match target {
        BlobTarget::Folder(dir) => Arc::new(FolderStore::open(dir).await?),
        BlobTarget::S3 {
            bucket,
            prefix,
            endpoint,
        } => {
            let store = S3Store::connect(bucket, prefix, endpoint.as_deref()).await?;
            if endpoint.is_some() {
                // Local S3-compatible servers start empty; AWS buckets come from the
                // infrastructure template.
                store.ensure_bucket().await?;
            }
            Arc::new(store)
        }
    })
}

/// Configuration, database, blob store, token keys and clock.
#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub db: Db,
    pub blobs: Arc<dyn BlobStore>,
    pub tokens: Arc<TokenKeys>,
    /// Makes and checks the emails' one-click unsubscribe links.
    pub unsubscribe: Arc<UnsubscribeKey>,
    pub clock: Arc<dyn Clock>,
    /// Where open-date emails go.
    pub mailer: Arc<dyn Mailer>,
    /// Bounds concurrent password hashing (each argon2id run holds 19 MiB).
    pub hash_slots: Arc<HashSlots>,
    /// Bounds concurrent image decodes (each may hold hundreds of MB of pixels).
    pub decode_permits: Arc<Semaphore>,
    /// Wakes the thumbnail worker when a photo completes without thumbnails.
    pub thumbnail_work: Arc<tokio::sync::Notify>,
}

impl AppState {
    /// Connects to the database and blob store named in the settings.
    pub async fn build(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        anyhow::ensure!(
            settings.auth.jwt_secret.expose_secret().len() >= 32,
            "the token secret must be at least 32 bytes"
        );
        tokio::fs::create_dir_all(settings.data_dir.join("tmp")).await?;
        let db = Db::connect(
            settings.database.url.expose_secret(),
            settings.database.max_connections,
        )
        .await?;
        let blobs = open_blobs(&settings.storage.blob).await?;
        let mailer: Arc<dyn Mailer> = match (&settings.mail.smtp_url, settings.mail.relay) {
            (_, true) => Arc::new(RelayOutbox::new(blobs.clone())),
            (Some(url), false) => Arc::new(SmtpMailer::new(
                url.expose_secret(),
                u32::try_from(settings.mail.smtp_connections).unwrap_or(32),
            )?),
            (None, false) => Arc::new(OutboxMailer::open(settings.data_dir.join("outbox")).await?),
        };
        let hash_slots = Arc::new(HashSlots::new(
            settings.limits.max_password_hashes,
            settings.limits.password_hash_queue,
            settings.http.request_timeout,
        ));
        Ok(Self {
            hash_slots,
            tokens: Arc::new(TokenKeys::new(settings.auth.jwt_secret.expose_secret())),
            unsubscribe: Arc::new(UnsubscribeKey::derive(
                settings.auth.jwt_secret.expose_secret(),
            )),
            settings: Arc::new(settings),
            db,
            blobs,
            clock,
            mailer,
            decode_permits: Arc::new(Semaphore::new(2)),
            thumbnail_work: Arc::new(tokio::sync::Notify::new()),
        })
    }

    /// Now, in stored form.
    pub fn now_ms(&self) -> i64 {
        crate::clock::to_ms(self.clock.now())
    }
}
