//! Sending the open-date emails: SMTP through lettre, or an outbox folder of .eml files
//! when no SMTP server is configured (the embedded default), so nothing is ever lost.

pub mod compose;
pub mod headers;
pub mod relay;
pub mod reminder;
pub mod unsubscribe;

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
    /// The receiving server says this address will never take mail.
    #[error("{}", refusal(.0))]
    Refused(String),
    #[error("outbox: {0}")]
    Outbox(#[from] std::io::Error),
    #[error("message: {0}")]
    Build(String),
    #[error(transparent)]
    Blob(#[from] crate::blob::BlobError),
}

/// An SMTP server's no, and whether it refuses the recipient for good.
#[derive(Debug)]
pub struct SmtpFailure {
    /// The address will never take mail ([`refuses_recipient`]); anything else (the server
    /// down, our credentials, its policy) may pass on a later try or after an operator's fix.
    pub refused: bool,
    pub text: String,
}

impl SmtpFailure {
    fn of(e: &lettre::transport::smtp::Error) -> Self {
        let text = e.to_string();
        Self {
            refused: e.is_permanent()
                && e.status()
                    .is_some_and(|code| refuses_recipient(&code.to_string(), &text)),
            text,
        }
    }
}

/// What the owner reads beside a recipient whose address was refused.
pub fn refusal(server_said: &str) -> String {
    format!("The recipient's mail server refused this address: {server_said}")
}

/// Whether a permanent SMTP answer refuses the recipient's address (RFC 3463 5.1.x
/// statuses other than the sender's 5.1.7 and 5.1.8; without an enhanced status, the basic
/// 550, 551 and 553). A 535 (our credentials), a 554 or a 5.7.x (policy) must not fail
/// every delivery at once: those wait for a retry and raise an alarm instead.
pub fn refuses_recipient(code: &str, text: &str) -> bool {
    let enhanced = text.split_whitespace().find(|w| {
        let parts: Vec<&str> = w.trim_end_matches([':', ',', ';']).split('.').collect();
        parts.len() == 3
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    });
    match enhanced.map(|e| e.trim_end_matches([':', ',', ';'])) {
        Some(e) => e.starts_with("5.1.") && !matches!(e, "5.1.7" | "5.1.8"),
        None => matches!(code, "550" | "551" | "553"),
    }
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
            .map_err(|e| SmtpFailure::of(&e))
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, message: Message, _name: &str) -> Result<(), MailError> {
        self.transport.send(message).await.map(|_| ()).map_err(|e| {
            let failure = SmtpFailure::of(&e);
            if failure.refused {
                MailError::Refused(failure.text)
            } else {
                MailError::Smtp(failure.text)
            }
        })
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

#[cfg(test)]
mod tests {
    use super::refuses_recipient;

    #[test]
    fn only_answers_about_the_recipients_address_refuse_it() {
        for (code, text) in [
            (
                "550",
                "permanent error (550): 5.1.1 <a@b.example>: Recipient address rejected: User unknown",
            ),
            (
                "550",
                "permanent error (550): Requested action not taken: mailbox unavailable",
            ),
            ("553", "permanent error (553): mailbox name not allowed"),
            (
                "554",
                "permanent error (554): 5.1.2 bad destination system address",
            ),
        ] {
            assert!(refuses_recipient(code, text), "{text}");
        }
        for (code, text) in [
            (
                "535",
                "permanent error (535): 5.7.8 Authentication Credentials Invalid",
            ),
            (
                "554",
                "permanent error (554): Message rejected: Email address is not verified.",
            ),
            ("550", "permanent error (550): 5.7.1 Relaying denied"),
            (
                "553",
                "permanent error (553): 5.1.8 sender domain does not exist",
            ),
            (
                "552",
                "permanent error (552): message size exceeds fixed maximum",
            ),
        ] {
            assert!(!refuses_recipient(code, text), "{text}");
        }
    }
}
