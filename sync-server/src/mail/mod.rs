//! Sending the open-date emails: SMTP through lettre, or an outbox folder of .eml files
//! when no SMTP server is configured (the embedded default), so nothing is ever lost.

pub mod compose;
pub mod relay;

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// Why a message was not handed over.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("SMTP: {0}")]
    Smtp(String),
    #[error("outbox: {0}")]
    Outbox(#[from] std::io::Error),
    #[error("message: {0}")]
    Build(String),
    #[error(transparent)]
    Blob(#[from] crate::blob::BlobError),
}

/// An SMTP server's no, and whether it is for good (a 5xx).
#[derive(Debug)]
pub struct SmtpFailure {
    pub permanent: bool,
    pub text: String,
}

/// A name the caller gave, reduced to what is safe in a file name or a key.
fn file_name(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect()
}

/// Something that takes a finished message.
#[async_trait]
pub trait Mailer: Send + Sync + 'static {
    /// Hands one message over; Ok means the server (or the outbox folder) has it.
    async fn send(&self, message: Message, name: &str) -> Result<(), MailError>;
    /// What this mailer is, for logs.
    fn describe(&self) -> String;
}

/// SMTP (smtp://, smtp://…?tls=required for STARTTLS, smtps:// for implicit TLS), with the
/// credentials in the URL; works with Amazon SES's SMTP interface. Sending is bound by
/// round trips (lettre writes the end-of-data marker separately, so each message can wait
/// on a delayed ACK), not CPU: throughput comes from several connections at once.
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    host: String,
}

impl SmtpMailer {
    /// Parses the URL; connects lazily.
    pub fn new(url: &str, connections: u32) -> Result<Self, MailError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| MailError::Smtp(e.to_string()))?
            .timeout(Some(Duration::from_secs(30)))
            .pool_config(PoolConfig::new().max_size(connections.max(1)))
            .build();
        let host = url
            .split_once("://")
            .map(|(_, rest)| rest.rsplit('@').next().unwrap_or(rest))
            .unwrap_or(url)
            .split(['/', '?'])
            .next()
            .unwrap_or_default()
            .to_owned();
        Ok(Self { transport, host })
    }

    /// Sends a message already formatted (the relay's), to the envelope's recipients.
    pub async fn send_raw(
        &self,
        envelope: &lettre::address::Envelope,
        raw: &[u8],
    ) -> Result<(), SmtpFailure> {
        self.transport
            .send_raw(envelope, raw)
            .await
            .map(|_| ())
            .map_err(|e| SmtpFailure {
                permanent: e.is_permanent(),
                text: e.to_string(),
            })
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, message: Message, _name: &str) -> Result<(), MailError> {
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| MailError::Smtp(e.to_string()))
    }

    fn describe(&self) -> String {
        format!("SMTP at {}", self.host)
    }
}

/// Writes each message as `<name>.eml` into a folder, atomically.
pub struct OutboxMailer {
    dir: PathBuf,
}

impl OutboxMailer {
    /// Creates the folder.
    pub async fn open(dir: PathBuf) -> Result<Self, MailError> {
        tokio::fs::create_dir_all(&dir).await?;
        Ok(Self { dir })
    }
}

#[async_trait]
impl Mailer for OutboxMailer {
    async fn send(&self, message: Message, name: &str) -> Result<(), MailError> {
        let safe = file_name(name);
        let tmp = self.dir.join(format!(".{safe}.tmp"));
        tokio::fs::write(&tmp, message.formatted()).await?;
        tokio::fs::rename(&tmp, self.dir.join(format!("{safe}.eml"))).await?;
        Ok(())
    }

    fn describe(&self) -> String {
        format!("outbox folder {}", self.dir.display())
    }
}
