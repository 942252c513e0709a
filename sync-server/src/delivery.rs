//! The open-date job. `deliver_due(now)` opens every sealed capsule whose date has passed
//! (one sealed on a device once its files are decrypted, see `sealing::unseal`),
//! queues one delivery per recipient (the owner always among them) in the same transaction,
//! then sends what is due. The server's ticker and the AWS Lambda both call it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use rand::Rng;
use serde::Serialize;
use tokio::io::AsyncReadExt;
use uuid::Uuid;

use crate::auth::secret;
use crate::blob::keys;
use crate::clock::{from_ms, to_ms};
use crate::db::DbResult;
use crate::db::capsules::CapsuleRow;
use crate::db::changes::{self, ChangeEntry, ChangeKind};
use crate::db::deliveries::{self, ClaimedDelivery, NewDelivery, OpenedCapsule};
use crate::db::photos::PhotoRow;
use crate::db::users::reserve_seq;
use crate::mail::compose::{self, CapsuleEmail, MAX_INLINE_PHOTOS};
use crate::mail::{MailError, relay};
use crate::state::AppState;
use protocol::ThumbnailState;

/// Capsules opened per transaction.
const OPEN_BATCH: i64 = 100;
/// Deliveries leased per claim.
const SEND_BATCH: i64 = 128;

/// What one run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DeliveryReport {
    pub opened: u64,
    pub sent: u64,
    pub retrying: u64,
    pub failed: u64,
    /// Refused for good by the receiving server: just now, or since they were handed to the
    /// mail relay.
    pub refused: u64,
    /// Reminders sent before an open date.
    pub reminded: u64,
}

/// Opens what is due and sends what is due, until nothing due is left for this call.
#[tracing::instrument(skip_all, err(level = "info"))]
pub async fn deliver_due(state: &AppState, now: DateTime<Utc>) -> anyhow::Result<DeliveryReport> {
    // Capsules sealed on a device open from their files first; one whose key cannot be had
    // yet stays sealed (open_due passes it by) and is tried again next run.
    crate::sealing::unseal::run_due(state, now).await?;
    let refused = record_refusals(state).await?;
    let opened = open_due(state, now).await?;
    let mut report = send_due(state, now).await?;
    report.opened = opened;
    report.refused += refused;
    report.reminded = crate::reminders::send_due(state, now).await?.sent;
    if report != DeliveryReport::default() {
        tracing::info!(?report, "delivery run");
    }
    Ok(report)
}

/// Records what the mail relay's SMTP server refused for good against its deliveries.
async fn record_refusals(state: &AppState) -> anyhow::Result<u64> {
    if !state.settings.mail.relay {
        return Ok(0);
    }
    let mut recorded = 0;
    for refusal in relay::refusals(state.blobs.as_ref()).await? {
        match Uuid::try_parse(&refusal.name) {
            Ok(id) => {
                if state
                    .db
                    .delivery_refused(id, &crate::mail::refusal(&refusal.reason))
                    .await?
                {
                    recorded += 1;
                    tracing::warn!(delivery_id = %id, reason = %refusal.reason, "delivery refused");
                }
            }
            Err(_) => tracing::warn!(name = %refusal.name, "a refusal of no delivery; dropped"),
        }
        relay::forget(state.blobs.as_ref(), &refusal).await?;
    }
    Ok(recorded)
}

/// Opens every sealed capsule whose date has passed and queues its deliveries.
#[tracing::instrument(skip_all, err(level = "info"))]
pub async fn open_due(state: &AppState, now: DateTime<Utc>) -> anyhow::Result<u64> {
    let mut opened = 0;
    loop {
        let n = open_batch(state, now).await?;
        opened += n;
        if n < OPEN_BATCH as u64 {
            return Ok(opened);
        }
    }
}

/// Sends every delivery that is due and not leased by another worker.
#[tracing::instrument(skip_all, err(level = "info"))]
pub async fn send_due(state: &AppState, now: DateTime<Utc>) -> anyhow::Result<DeliveryReport> {
    let mut report = DeliveryReport::default();
    let worker = Uuid::new_v4().to_string();
    loop {
        let claimed = state
            .db
            .claim_deliveries(
                &worker,
                to_ms(now),
                to_ms(now) + ms(state.settings.delivery.lease),
                SEND_BATCH,
            )
            .await?;
        if claimed.is_empty() {
            return Ok(report);
        }
        let batch = send_batch(state, &worker, now, claimed).await?;
        report.sent += batch.sent;
        report.retrying += batch.retrying;
        report.refused += batch.refused;
        report.failed += batch.failed;
    }
}

pub(crate) fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4)
}

/// A new email to `recipient` with a fresh link, made at `now_ms`.
pub(crate) fn new_delivery(state: &AppState, recipient: String, now_ms: i64) -> NewDelivery {
    let (link_token, link_hash) = secret::new();
    NewDelivery {
        id: Uuid::now_v7(),
        recipient,
        link_hash,
        link_token,
        link_expires_at: now_ms + ms(state.settings.delivery.link_ttl),
    }
}

/// One transaction: open up to a batch of due capsules, queue their deliveries, and put
/// the capsules and their photos back on their owners' change feeds. A handful of
/// statements per batch, whatever its size.
async fn open_batch(state: &AppState, now: DateTime<Utc>) -> DbResult<u64> {
    let now_ms = to_ms(now);
    let mut tx = state.db.begin().await?;
    let mut opened = state
        .db
        .open_due_capsules(&mut tx, now_ms, OPEN_BATCH)
        .await?;
    if opened.is_empty() {
        return Ok(0);
    }
    // Owners in one order, so two workers never wait on each other's rows in a cycle.
    opened.sort_by(|a, b| a.user_id.cmp(&b.user_id).then(a.id.cmp(&b.id)));
    let mut users: Vec<Uuid> = opened.iter().map(|c| c.user_id).collect();
    users.dedup();
    let emails: HashMap<Uuid, String> = deliveries::owner_emails(&mut tx, &users)
        .await?
        .into_iter()
        .map(|o| (o.id, o.email))
        .collect();
    let with_photos: Vec<Uuid> = opened
        .iter()
        .filter(|c| c.photo_count > 0)
        .map(|c| c.id)
        .collect();
    let mut photos: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for p in deliveries::photo_ids_of(&mut tx, &with_photos).await? {
        photos.entry(p.capsule_id).or_default().push(p.id);
    }

    let mut queued = Vec::new();
    for c in &opened {
        let mut recipients: Vec<String> = emails.get(&c.user_id).cloned().into_iter().collect();
        for r in &c.recipients.0 {
            if !recipients.contains(r) {
                recipients.push(r.clone());
            }
        }
        for recipient in recipients {
            queued.push((c.id, new_delivery(state, recipient, now_ms)));
        }
    }
    deliveries::queue_many(&mut tx, &queued, now_ms).await?;

    for user in users {
        let mine: Vec<&OpenedCapsule> = opened.iter().filter(|c| c.user_id == user).collect();
        let n: usize = mine
            .iter()
            .map(|c| photos.get(&c.id).map_or(0, Vec::len) + 1)
            .sum();
        let mut seq = reserve_seq(&mut tx, user, i64::try_from(n).unwrap_or(i64::MAX)).await?;
        let mut entries = Vec::with_capacity(n);
        for c in mine {
            for p in photos.get(&c.id).into_iter().flatten() {
                entries.push(ChangeEntry {
                    kind: ChangeKind::Photo,
                    entity_id: *p,
                    capsule_id: c.id,
                    seq,
                });
                seq += 1;
            }
            entries.push(ChangeEntry {
                kind: ChangeKind::Capsule,
                entity_id: c.id,
                capsule_id: c.id,
                seq,
            });
            seq += 1;
        }
        changes::record_many(&mut tx, user, &entries).await?;
    }
    tx.commit().await?;
    for c in &opened {
        tracing::info!(capsule_id = %c.id, "capsule opened");
    }
    Ok(opened.len() as u64)
}

/// How long a delivery waits for thumbnails the server is still making (for a client that
/// sent none) before it goes without those inline images.
const THUMBNAIL_WAIT: chrono::Duration = chrono::Duration::minutes(3);

/// What an email needs from its capsule, loaded once per batch.
struct CapsuleForMail {
    row: CapsuleRow,
    owner_email: String,
    thumbnails: Vec<Vec<u8>>,
    /// Some of its photos' thumbnails are still being made.
    thumbnails_pending: bool,
}

/// Loads every capsule of a batch (and its first thumbnails) in a few queries.
async fn load_capsules(
    state: &AppState,
    claimed: &[ClaimedDelivery],
) -> anyhow::Result<HashMap<Uuid, Arc<CapsuleForMail>>> {
    let mut ids: Vec<Uuid> = claimed.iter().map(|d| d.capsule_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let rows = state.db.capsules_for_mail(&ids).await?;
    let with_photos: Vec<Uuid> = rows
        .iter()
        .filter(|r| r.capsule.photo_count > 0)
        .map(|r| r.capsule.id)
        .collect();
    let mut photos: HashMap<Uuid, Vec<PhotoRow>> = HashMap::new();
    let mut pending: std::collections::HashSet<Uuid> = std::collections::HashSet::new();
    for p in state.db.photos_of_capsules(&with_photos).await? {
        if p.thumbnails == ThumbnailState::Pending {
            pending.insert(p.capsule_id);
        }
        if p.thumbnails != ThumbnailState::Ready {
            continue;
        }
        let list = photos.entry(p.capsule_id).or_default();
        if list.len() < MAX_INLINE_PHOTOS {
            list.push(p);
        }
    }
    let mut out = HashMap::with_capacity(rows.len());
    for r in rows {
        let mut thumbnails = Vec::new();
        for p in photos.get(&r.capsule.id).into_iter().flatten() {
            if let Some(mut obj) = state
                .blobs
                .get(&keys::thumbnail(p.user_id, &p.sha256))
                .await?
            {
                let mut bytes = Vec::with_capacity(usize::try_from(obj.len).unwrap_or(0));
                obj.reader.read_to_end(&mut bytes).await?;
                thumbnails.push(bytes);
            }
        }
        out.insert(
            r.capsule.id,
            Arc::new(CapsuleForMail {
                thumbnails_pending: pending.contains(&r.capsule.id),
                row: r.capsule,
                owner_email: r.owner_email,
                thumbnails,
            }),
        );
    }
    Ok(out)
}

/// When an email that failed at attempt `attempts` (and not for good) is tried again; none
/// when that was the last attempt. Deliveries and reminders follow the same rule.
pub(crate) fn retry_at(state: &AppState, attempts: i64, now: DateTime<Utc>) -> Option<i64> {
    (attempts < i64::from(state.settings.delivery.max_attempts))
        .then(|| to_ms(now) + ms(backoff(attempts)))
}

/// The wait before attempt `attempts + 1`: 1, 2, 4 … minutes, capped at an hour, ±20 %.
pub fn backoff(attempts: i64) -> Duration {
    let exp = u32::try_from(attempts.clamp(1, 7) - 1).unwrap_or(0);
    let base = Duration::from_secs(60 * 2u64.pow(exp)).min(Duration::from_secs(3600));
    let jitter = rand::thread_rng().gen_range(0.8..1.2);
    base.mul_f64(jitter)
}

async fn send_batch(
    state: &AppState,
    worker: &str,
    now: DateTime<Utc>,
    claimed: Vec<ClaimedDelivery>,
) -> anyhow::Result<DeliveryReport> {
    let capsules = load_capsules(state, &claimed).await?;
    // Thumbnails still being made: wait for them a little, not forever.
    let (wait, claimed): (Vec<ClaimedDelivery>, Vec<ClaimedDelivery>) =
        claimed.into_iter().partition(|d| {
            capsules.get(&d.capsule_id).is_some_and(|c| {
                c.thumbnails_pending
                    && c.row
                        .opened_at
                        .is_some_and(|at| from_ms(at) + THUMBNAIL_WAIT > now)
            })
        });
    if !wait.is_empty() {
        let ids: Vec<Uuid> = wait.iter().map(|d| d.id).collect();
        state
            .db
            .deliveries_postponed(&ids, worker, to_ms(now) + 20_000)
            .await?;
    }
    let results = futures_util::stream::iter(claimed.into_iter().map(|d| {
        let capsule = capsules.get(&d.capsule_id).cloned();
        async move {
            let outcome = match capsule {
                Some(c) => send_one(state, &d, &c).await,
                None => Err(Unsent::retry("the capsule no longer exists")),
            };
            (d, outcome)
        }
    }))
    .buffer_unordered(state.settings.mail.smtp_connections.max(1))
    .collect::<Vec<_>>()
    .await;
    let mut report = DeliveryReport::default();
    let sent: Vec<Uuid> = results
        .iter()
        .filter(|(_, o)| o.is_ok())
        .map(|(d, _)| d.id)
        .collect();
    state
        .db
        .deliveries_sent(&sent, worker, to_ms(state.clock.now()))
        .await?;
    report.sent = sent.len() as u64;
    for (d, outcome) in &results {
        let Err(Unsent { refused, reason }) = outcome else {
            continue;
        };
        if *refused {
            // The address will never take mail: no retry, the owner is told at once.
            tracing::warn!(delivery_id = %d.id, %reason, "delivery refused");
            state.db.delivery_bounced(d.id, worker, reason).await?;
            report.refused += 1;
            continue;
        }
        let retry_at = retry_at(state, d.attempts, now);
        let give_up = retry_at.is_none();
        tracing::warn!(delivery_id = %d.id, attempts = d.attempts, give_up, %reason, "delivery failed");
        state
            .db
            .delivery_failed(d.id, worker, reason, retry_at)
            .await?;
        if give_up {
            report.failed += 1;
        } else {
            report.retrying += 1;
        }
    }
    Ok(report)
}

/// Why an email did not go, and whether trying again can help.
struct Unsent {
    /// The receiving server refused the address for good.
    refused: bool,
    reason: String,
}

impl Unsent {
    fn retry(reason: impl ToString) -> Self {
        Self {
            refused: false,
            reason: reason.to_string(),
        }
    }
}

async fn send_one(state: &AppState, d: &ClaimedDelivery, c: &CapsuleForMail) -> Result<(), Unsent> {
    let token = d
        .link_token
        .as_deref()
        .ok_or_else(|| Unsent::retry("the link of this delivery was already sent"))?;
    let link = format!("{}/c/{token}", state.settings.http.public_url);
    let delivery_id = d.id.to_string();
    let email = CapsuleEmail {
        delivery_id: &delivery_id,
        from: &state.settings.mail.from,
        to: &d.recipient,
        to_owner: d.recipient == c.owner_email,
        owner_email: &c.owner_email,
        title: &c.row.title,
        note: &c.row.note,
        sealed_at: c.row.sealed_at.map(from_ms),
        opened_at: c.row.opened_at.map_or_else(Utc::now, from_ms),
        photo_count: usize::try_from(c.row.photo_count).unwrap_or(0),
        thumbnails: c.thumbnails.clone(),
        link: &link,
        link_expires_at: from_ms(
            c.row.opened_at.unwrap_or_default() + ms(state.settings.delivery.link_ttl),
        ),
        unsubscribe: &crate::reminders::unsubscribe_link(state, &d.recipient),
    };
    let message = compose::build(&email).map_err(Unsent::retry)?;
    state
        .mailer
        .send(message, &delivery_id)
        .await
        .map_err(|e| Unsent {
            refused: matches!(e, MailError::Refused(_)),
            reason: e.to_string(),
        })
}

/// Calls `deliver_due` every `interval` until `stop` resolves.
pub async fn run_ticker(
    state: AppState,
    interval: Duration,
    stop: impl std::future::Future<Output = ()> + Send,
) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => break,
            _ = ticks.tick() => {
                if let Err(e) = deliver_due(&state, state.clock.now()).await {
                    tracing::error!(error = format!("{e:#}"), "delivery run failed; retrying next tick");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_a_minute_and_stops_at_an_hour() {
        for (attempts, lo, hi) in [(1, 48, 72), (2, 96, 144), (3, 192, 288), (10, 2880, 4320)] {
            let s = backoff(attempts).as_secs();
            assert!((lo..=hi).contains(&s), "attempt {attempts}: {s}s");
        }
    }
}
