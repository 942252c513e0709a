//! The mail relay, for a server whose network has no way out to SMTP: the small AWS shape
//! runs its Lambdas in a VPC whose only way out is the free S3 gateway endpoint, and an
//! SES interface endpoint would cost more than the rest of that shape's network.
//!
//! The server hands each message to the blob store under [`OUTBOX`] (one object, the
//! envelope as a JSON line before the message). The relay runs where SMTP is reachable,
//! needs no database, sends the object and purges it. An address the receiving side
//! refuses for good (`mail::refuses_recipient`) goes under [`REFUSED`] with the server's
//! words, and the delivery job records it against its delivery. A message the relay could
//! not hand over (the server down, our credentials, its policy) stays in the outbox for the
//! next try, and the failed invocation raises the relay's alarm.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use lettre::Message;
use lettre::address::{Address, Envelope};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncReadExt;

use super::{MailError, Mailer, SmtpFailure, SmtpMailer, file_name};
use crate::blob::{BlobError, BlobStore};

/// Messages waiting for the relay.
pub const OUTBOX: &str = "mail/outbox/";
/// Refusals waiting for the delivery job.
pub const REFUSED: &str = "mail/refused/";
/// Outbox objects taken per sweep, and refusals per delivery run.
const PAGE: usize = 1000;
/// Larger objects are not messages this server wrote (an email carries a few thumbnails).
const MAX_MESSAGE_BYTES: u64 = 40 * 1024 * 1024;

/// Why a relay step failed; the message stays where it was.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error(transparent)]
    Blob(#[from] BlobError),
    #[error("reading {0}: {1}")]
    Read(String, std::io::Error),
    #[error("{0} is not a message of the outbox")]
    NotOutbox(String),
    #[error("{0} is not a message this server wrote: {1}")]
    Malformed(String, String),
    #[error("SMTP, will try again: {0}")]
    Smtp(String),
}

/// Who the message goes to, as SMTP sees it.
#[derive(Serialize, Deserialize)]
struct EnvelopeLine {
    from: Option<String>,
    to: Vec<String>,
}

fn outbox_key(name: &str) -> String {
    format!("{OUTBOX}{}.eml", file_name(name))
}

/// The server's side: a [`Mailer`] whose "sent" means "in the relay's outbox".
pub struct RelayOutbox {
    blobs: Arc<dyn BlobStore>,
}

impl RelayOutbox {
    pub fn new(blobs: Arc<dyn BlobStore>) -> Self {
        Self { blobs }
    }
}

#[async_trait]
impl Mailer for RelayOutbox {
    async fn send(&self, message: Message, name: &str) -> Result<(), MailError> {
        let envelope = message.envelope();
        let line = EnvelopeLine {
            from: envelope.from().map(ToString::to_string),
            to: envelope.to().iter().map(ToString::to_string).collect(),
        };
        let mut bytes = serde_json::to_vec(&line).map_err(|e| MailError::Build(e.to_string()))?;
        bytes.push(b'\n');
        bytes.extend_from_slice(&message.formatted());
        self.blobs
            .put_bytes(&outbox_key(name), Bytes::from(bytes), "message/rfc822")
            .await?;
        Ok(())
    }

    fn describe(&self) -> String {
        format!("the mail relay's outbox ({OUTBOX} in the blob store)")
    }
}

/// What became of one outbox object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Relayed {
    /// The SMTP server took it; it left the outbox.
    Sent,
    /// The SMTP server refused its recipient for good; the refusal is recorded, it left the
    /// outbox.
    Refused(String),
    /// Nothing there: sent by an earlier try (events can come twice).
    Gone,
}

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RelayReport {
    pub sent: u64,
    pub refused: u64,
    pub gone: u64,
    /// Named by an event but not outbox messages.
    pub ignored: u64,
    /// Still in the outbox: the SMTP server or the store could not take them now.
    pub waiting: u64,
}

impl RelayReport {
    fn add(&mut self, outcome: &Result<Relayed, RelayError>) {
        match outcome {
            Ok(Relayed::Sent) => self.sent += 1,
            Ok(Relayed::Refused(_)) => self.refused += 1,
            Ok(Relayed::Gone) => self.gone += 1,
            Err(RelayError::NotOutbox(_)) => self.ignored += 1,
            Err(_) => self.waiting += 1,
        }
    }
}

/// The relay's side: from the outbox to SMTP.
pub struct Relay {
    blobs: Arc<dyn BlobStore>,
    smtp: SmtpMailer,
    connections: usize,
}

impl Relay {
    pub fn new(blobs: Arc<dyn BlobStore>, smtp: SmtpMailer, connections: usize) -> Self {
        Self {
            blobs,
            smtp,
            connections: connections.max(1),
        }
    }

    /// Sends one outbox object (a key as the store names it, or as an S3 event does: with
    /// the store's own prefix in front).
    #[tracing::instrument(skip(self), err(level = "warn"))]
    pub async fn relay(&self, key: &str) -> Result<Relayed, RelayError> {
        let Some(start) = key.find(OUTBOX) else {
            return Err(RelayError::NotOutbox(key.to_owned()));
        };
        let key = &key[start..];
        let Some(name) = key
            .strip_prefix(OUTBOX)
            .and_then(|n| n.strip_suffix(".eml"))
            .filter(|n| !n.contains('/'))
        else {
            return Err(RelayError::NotOutbox(key.to_owned()));
        };
        let Some(object) = self.blobs.get(key).await? else {
            return Ok(Relayed::Gone);
        };
        if object.len > MAX_MESSAGE_BYTES {
            return Err(RelayError::Malformed(
                key.to_owned(),
                format!("{} bytes", object.len),
            ));
        }
        let mut bytes = Vec::with_capacity(usize::try_from(object.len).unwrap_or(0));
        object
            .reader
            .take(MAX_MESSAGE_BYTES)
            .read_to_end(&mut bytes)
            .await
            .map_err(|e| RelayError::Read(key.to_owned(), e))?;
        let (envelope, message) =
            split(&bytes).map_err(|why| RelayError::Malformed(key.to_owned(), why))?;
        match self.smtp.send_raw(&envelope, message).await {
            Ok(()) => {
                self.blobs.purge(key).await?;
                tracing::info!(name, "relayed");
                Ok(Relayed::Sent)
            }
            Err(SmtpFailure {
                refused: true,
                text,
            }) => {
                // The refusal is kept before the message goes, so a crash between the two
                // sends nothing twice and loses no refusal (the next try finds the message
                // and is refused again; the refusal is written once more, the same).
                self.blobs
                    .put_bytes(
                        &format!("{REFUSED}{name}.txt"),
                        Bytes::from(text.clone().into_bytes()),
                        "text/plain",
                    )
                    .await?;
                self.blobs.purge(key).await?;
                tracing::warn!(name, reason = %text, "refused by the SMTP server");
                Ok(Relayed::Refused(text))
            }
            Err(SmtpFailure { text, .. }) => Err(RelayError::Smtp(text)),
        }
    }

    /// Sends what the outbox holds, several at once.
    pub async fn sweep(&self) -> Result<RelayReport, RelayError> {
        let keys = self.blobs.list(OUTBOX, PAGE).await?;
        Ok(self.relay_all(keys).await)
    }

    /// Sends the named objects, several at once.
    pub async fn relay_all(&self, keys: Vec<String>) -> RelayReport {
        futures_util::stream::iter(keys)
            .map(|key| async move { self.relay(&key).await })
            .buffer_unordered(self.connections)
            .fold(RelayReport::default(), |mut report, outcome| async move {
                report.add(&outcome);
                report
            })
            .await
    }
}

/// The envelope line, then the message as it goes out.
fn split(bytes: &[u8]) -> Result<(Envelope, &[u8]), String> {
    let end = bytes
        .iter()
        .position(|&b| b == b'\n')
        .ok_or("no envelope line")?;
    let line: EnvelopeLine =
        serde_json::from_slice(&bytes[..end]).map_err(|e| format!("envelope line: {e}"))?;
    let address = |a: &str| {
        a.parse::<Address>()
            .map_err(|e| format!("address {a:?}: {e}"))
    };
    let from = line.from.as_deref().map(address).transpose()?;
    let to = line
        .to
        .iter()
        .map(|a| address(a))
        .collect::<Result<Vec<_>, _>>()?;
    let envelope = Envelope::new(from, to).map_err(|e| format!("envelope: {e}"))?;
    Ok((envelope, &bytes[end + 1..]))
}

/// A refusal the relay recorded, for the delivery job.
#[derive(Debug, Clone)]
pub struct Refusal {
    key: String,
    /// The name the message was handed over with (the delivery's id).
    pub name: String,
    /// What the SMTP server said.
    pub reason: String,
}

/// The refusals waiting, oldest names first.
pub async fn refusals(blobs: &dyn BlobStore) -> Result<Vec<Refusal>, RelayError> {
    let mut out = Vec::new();
    for key in blobs.list(REFUSED, PAGE).await? {
        let Some(name) = key
            .strip_prefix(REFUSED)
            .and_then(|n| n.strip_suffix(".txt"))
        else {
            continue;
        };
        let Some(object) = blobs.get(&key).await? else {
            continue;
        };
        let mut reason = String::new();
        object
            .reader
            .take(4096)
            .read_to_string(&mut reason)
            .await
            .map_err(|e| RelayError::Read(key.clone(), e))?;
        out.push(Refusal {
            name: name.to_owned(),
            reason,
            key,
        });
    }
    Ok(out)
}

/// Drops a refusal once it is recorded.
pub async fn forget(blobs: &dyn BlobStore, refusal: &Refusal) -> Result<(), RelayError> {
    Ok(blobs.delete(&refusal.key).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_line_comes_off_and_the_message_stays_byte_for_byte() {
        let raw =
            b"{\"from\":\"a@example.com\",\"to\":[\"b@example.com\"]}\nSubject: x\r\n\r\nbody\r\n";
        let (envelope, message) = split(raw).expect("split");
        assert_eq!(
            envelope.from().map(ToString::to_string).as_deref(),
            Some("a@example.com")
        );
        assert_eq!(envelope.to().len(), 1);
        assert_eq!(message, b"Subject: x\r\n\r\nbody\r\n");
    }

    #[test]
    fn objects_that_are_not_relay_messages_are_refused_with_a_reason() {
        for (raw, why) in [
            (&b"Subject: no envelope"[..], "no envelope line"),
            (b"{\"to\":[]}\nx", "envelope"),
            (b"{\"to\":[\"not an address\"]}\nx", "address"),
            (b"[1,2]\nx", "envelope line"),
        ] {
            let err = split(raw).expect_err("refused");
            assert!(err.contains(why), "{err}");
        }
    }
}
