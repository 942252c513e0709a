//! Reminders before the open date: queued when a capsule is sealed with them, sent by the
//! delivery job (the server's ticker or the scheduled Lambda) when due, through a leased
//! outbox like deliveries, so each goes once however many workers run. An address that
//! used a one-click unsubscribe link gets none.

use chrono::{DateTime, Utc};
use protocol::{CapsuleState, Reminders};
use serde::Serialize;
use sqlx::AnyConnection;
use uuid::Uuid;

use crate::clock::{from_ms, to_ms};
use crate::db::DbResult;
use crate::db::reminders::{self, ClaimedReminder, NewReminder, ReminderEnd};
use crate::delivery::{ms, retry_at};
use crate::mail::MailError;
use crate::mail::reminder::{self, ReminderEmail};
use crate::state::AppState;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;
/// A reminder falling sooner than this after sealing is not queued: the seal itself was
/// the moment to know.
const LEAST_AHEAD_MS: i64 = 60 * 60 * 1000;
/// Reminders leased per claim.
const SEND_BATCH: i64 = 128;

/// What one run sent.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ReminderReport {
    pub sent: u64,
    pub retrying: u64,
    /// Ended without an email: failed for good, bounced, unsubscribed, or moot.
    pub ended: u64,
}

/// Queues a capsule's reminders inside its sealing transaction: the owner's (to the
/// account's address) and one per recipient to tell, `days_before` the open date.
pub async fn queue(
    conn: &mut AnyConnection,
    capsule_id: Uuid,
    owner_email: &str,
    choice: &Reminders,
    open_at: i64,
    now: i64,
) -> DbResult<usize> {
    let due_at = open_at.saturating_sub(i64::from(choice.days_before) * DAY_MS);
    if due_at < now + LEAST_AHEAD_MS {
        return Ok(0);
    }
    let owner = (choice.owner && !owner_email.is_empty()).then(|| (owner_email.to_owned(), true));
    let told = choice
        .recipients
        .iter()
        .filter(|r| r.as_str() != owner_email)
        .map(|r| (r.clone(), false));
    let rows: Vec<NewReminder> = owner
        .into_iter()
        .chain(told)
        .map(|(recipient, to_owner)| NewReminder {
            id: Uuid::now_v7(),
            recipient,
            to_owner,
            show_title: choice.show_title,
            due_at,
        })
        .collect();
    reminders::queue(conn, capsule_id, &rows, now).await?;
    Ok(rows.len())
}

/// The link that stops reminders to `address`.
pub fn unsubscribe_link(state: &AppState, address: &str) -> String {
    format!(
        "{}/unsubscribe/{}",
        state.settings.http.public_url,
        state.unsubscribe.token(address)
    )
}

/// Sends every reminder that is due and not leased by another worker.
#[tracing::instrument(skip_all, err(level = "info"))]
pub async fn send_due(state: &AppState, now: DateTime<Utc>) -> anyhow::Result<ReminderReport> {
    let mut report = ReminderReport::default();
    let worker = Uuid::new_v4().to_string();
    let lease = ms(state.settings.delivery.lease);
    loop {
        let claimed = state
            .db
            .claim_reminders(&worker, to_ms(now), to_ms(now) + lease, SEND_BATCH)
            .await?;
        if claimed.is_empty() {
            return Ok(report);
        }
        send_batch(state, &worker, now, claimed, &mut report).await?;
    }
}

async fn send_batch(
    state: &AppState,
    worker: &str,
    now: DateTime<Utc>,
    claimed: Vec<ClaimedReminder>,
    report: &mut ReminderReport,
) -> anyhow::Result<()> {
    let mut ids: Vec<Uuid> = claimed.iter().map(|r| r.capsule_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let capsules = state.db.capsules_for_mail(&ids).await?;
    let addresses: Vec<String> = claimed.iter().map(|r| r.recipient.clone()).collect();
    let unsubscribed = state.db.unsubscribed_among(&addresses).await?;
    let mut sent = Vec::new();
    for r in claimed {
        let capsule = capsules.iter().find(|c| c.capsule.id == r.capsule_id);
        let Some(c) = capsule.filter(|c| {
            c.capsule.state == CapsuleState::Sealed
                && c.capsule.open_at.is_some_and(|at| at > to_ms(now))
        }) else {
            state
                .db
                .reminder_ended(r.id, worker, ReminderEnd::Moot, None)
                .await?;
            report.ended += 1;
            continue;
        };
        if unsubscribed.contains(&r.recipient) {
            state
                .db
                .reminder_ended(r.id, worker, ReminderEnd::Unsubscribed, None)
                .await?;
            report.ended += 1;
            continue;
        }
        let id = r.id.to_string();
        let unsubscribe = unsubscribe_link(state, &r.recipient);
        let email = ReminderEmail {
            reminder_id: &id,
            from: &state.settings.mail.from,
            to: &r.recipient,
            to_owner: r.to_owner != 0,
            owner_email: &c.owner_email,
            title: (r.show_title != 0).then_some(c.capsule.title.as_str()),
            sealed_at: c.capsule.sealed_at.map(from_ms),
            open_at: from_ms(c.capsule.open_at.unwrap_or_default()),
            now,
            unsubscribe: &unsubscribe,
        };
        let outcome = match reminder::build(&email) {
            Ok(message) => state.mailer.send(message, &id).await,
            Err(e) => Err(e),
        };
        match outcome {
            Ok(()) => sent.push(r.id),
            Err(MailError::Refused(reason)) => {
                tracing::warn!(reminder_id = %r.id, %reason, "reminder refused");
                state
                    .db
                    .reminder_ended(r.id, worker, ReminderEnd::Bounced, Some(&reason))
                    .await?;
                report.ended += 1;
            }
            Err(e) => {
                let reason = e.to_string();
                let retry_at = retry_at(state, r.attempts, now);
                tracing::warn!(reminder_id = %r.id, attempts = r.attempts, give_up = retry_at.is_none(), %reason, "reminder failed");
                if let Some(at) = retry_at {
                    state.db.reminder_retry(r.id, worker, &reason, at).await?;
                    report.retrying += 1;
                } else {
                    state
                        .db
                        .reminder_ended(r.id, worker, ReminderEnd::Failed, Some(&reason))
                        .await?;
                    report.ended += 1;
                }
            }
        }
    }
    state
        .db
        .reminders_sent(&sent, worker, to_ms(state.clock.now()))
        .await?;
    report.sent += sent.len() as u64;
    Ok(())
}
