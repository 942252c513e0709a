//! The sync engine: pushes the outbox, pulls the change feed, fetches what opened
//! capsules show, and keeps the account. Everything it does is resumable from the SQLite
//! state alone, so quitting at any moment loses nothing.

mod account;
mod api;
mod device_seal;
mod error;
mod pull;
mod push;
mod status;
pub(crate) mod store;
mod transfer;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use uuid::Uuid;

pub use api::{Account, Timeouts};
pub use error::SyncError;
pub use status::SyncState;

use crate::clock::Clock;
use crate::library::Library;
use crate::outbox::{self, FailureKind};
use crate::tokens::TokenStore;

/// What the engine tells the shell about, as it happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncEvent {
    /// A capsule changed here because of sync (pulled, confirmed, sync state moved).
    CapsuleChanged(Uuid),
    /// Bytes of a photo upload went out.
    UploadProgress {
        capsule_id: Uuid,
        photo_id: Uuid,
        done: u64,
        total: u64,
    },
    /// The session ended; the person has to log in again.
    SignedOut,
}

/// What one sync pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncReport {
    pub pushed: usize,
    pub pulled: usize,
    pub downloaded: usize,
}

type Listener = Box<dyn Fn(SyncEvent) + Send + Sync>;

/// The sync engine of one library.
pub struct SyncEngine {
    lib: Arc<Library>,
    clock: Arc<dyn Clock>,
    api: api::Api,
    device_name: String,
    pass_lock: tokio::sync::Mutex<()>,
    wake: tokio::sync::Notify,
    /// Photo uploads in flight: bytes handed to the connection so far.
    uploads: Mutex<HashMap<Uuid, Arc<AtomicU64>>>,
    offline: std::sync::atomic::AtomicBool,
    /// [`SyncEngine::stop`] was called: the loop ends after the pass under way.
    stopping: std::sync::atomic::AtomicBool,
    listener: Mutex<Option<Listener>>,
    me: std::sync::Weak<SyncEngine>,
}

impl std::fmt::Debug for SyncEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncEngine")
            .field("library", &self.lib.root())
            .field("account", &self.api.account())
            .finish()
    }
}

impl SyncEngine {
    /// The engine of `lib`, signed in as whoever was signed in last.
    pub fn new(
        lib: Arc<Library>,
        clock: Arc<dyn Clock>,
        tokens: TokenStore,
        device_name: impl Into<String>,
    ) -> Result<Arc<Self>, SyncError> {
        Self::with_timeouts(lib, clock, tokens, device_name, Timeouts::default())
    }

    /// The same, with its own network timeouts.
    pub fn with_timeouts(
        lib: Arc<Library>,
        clock: Arc<dyn Clock>,
        tokens: TokenStore,
        device_name: impl Into<String>,
        timeouts: Timeouts,
    ) -> Result<Arc<Self>, SyncError> {
        let account = store::load_account(&lib.conn())?;
        Ok(Arc::new_cyclic(|me| Self {
            lib,
            clock,
            api: api::Api::new(tokens, account, timeouts),
            device_name: device_name.into(),
            pass_lock: tokio::sync::Mutex::new(()),
            wake: tokio::sync::Notify::new(),
            uploads: Mutex::new(HashMap::new()),
            offline: std::sync::atomic::AtomicBool::new(false),
            stopping: std::sync::atomic::AtomicBool::new(false),
            listener: Mutex::new(None),
            me: me.clone(),
        }))
    }

    /// Calls `f` for every sync event (the shell turns them into UI events).
    pub fn on_event(&self, f: impl Fn(SyncEvent) + Send + Sync + 'static) {
        *self.listener.lock().unwrap_or_else(|p| p.into_inner()) = Some(Box::new(f));
    }

    /// Tells whoever listens that a capsule changed on this device outside sync (opened
    /// here, or waiting for its beacon for a new reason).
    pub(crate) fn changed(&self, id: Uuid) {
        self.emit(SyncEvent::CapsuleChanged(id));
    }

    fn emit(&self, e: SyncEvent) {
        if let Some(f) = self
            .listener
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            f(e);
        }
    }

    fn self_ref(&self) -> std::sync::Weak<SyncEngine> {
        self.me.clone()
    }

    /// The library this engine syncs.
    pub fn library(&self) -> &Arc<Library> {
        &self.lib
    }

    /// Who this device is signed in as.
    pub fn account(&self) -> Option<Account> {
        self.api.account()
    }

    /// Whether the session ended and a refresh could not renew it (log in again).
    pub fn is_signed_out(&self) -> bool {
        self.api.is_signed_out()
    }

    /// Whether the last attempt to reach the server failed.
    pub fn is_offline(&self) -> bool {
        self.offline.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Ends [`SyncEngine::run`] once the pass under way is done (what it did not get to
    /// stays in the outbox for the next start).
    pub fn stop(&self) {
        self.stopping
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.wake.notify_one();
    }

    /// Asks the running engine loop for a pass now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// A pass now, with everything waiting made due ("sync now").
    pub async fn sync_now(&self) -> Result<SyncReport, SyncError> {
        outbox::wake_all(&self.lib.conn())?;
        self.pass().await
    }

    /// Passes until the outbox is empty ("sync and wait"): each waits for the earliest
    /// retry. Ends with [`SyncError::Offline`] as soon as the server cannot be reached,
    /// [`SyncError::Refused`] when the server refused a change for good, and
    /// [`SyncError::Unsent`] when it kept failing to take one; in each case what is left
    /// stays queued.
    pub async fn sync_until_sent(&self) -> Result<SyncReport, SyncError> {
        /// Attempts of one entry, with the server answering but failing, before giving up.
        const SERVER_FAILURES: u32 = 4;
        outbox::wake_all(&self.lib.conn())?;
        let mut total = SyncReport::default();
        loop {
            let r = self.pass().await?;
            total.pushed += r.pushed;
            total.pulled += r.pulled;
            total.downloaded += r.downloaded;
            let ops = outbox::pending(&self.lib.conn())?;
            if ops.is_empty() {
                return Ok(total);
            }
            if let Some(o) = ops.iter().find(|o| o.failure == Some(FailureKind::Refused)) {
                return Err(SyncError::Refused(o.last_error.clone().unwrap_or_default()));
            }
            if let Some(o) = ops
                .iter()
                .find(|o| o.failure.is_some() && o.attempts >= SERVER_FAILURES)
            {
                return Err(SyncError::Unsent(o.last_error.clone().unwrap_or_default()));
            }
            tokio::time::sleep(self.next_due().unwrap_or(Duration::from_millis(200))).await;
        }
    }

    /// One pass: push what is due, pull what changed, fetch what opened capsules show.
    pub async fn pass(&self) -> Result<SyncReport, SyncError> {
        let _one_at_a_time = self.pass_lock.lock().await;
        if self.api.account().is_none() {
            return Err(SyncError::NotLoggedIn);
        }
        let result = async {
            let pushed = self.push().await?;
            let pulled = self.pull().await?;
            let downloaded = self.fetch_thumbnails().await?;
            Ok(SyncReport {
                pushed,
                pulled,
                downloaded,
            })
        }
        .await;
        let offline = matches!(result, Err(SyncError::Offline(_)));
        self.offline
            .store(offline, std::sync::atomic::Ordering::SeqCst);
        if matches!(result, Err(SyncError::SignedOut)) {
            self.emit(SyncEvent::SignedOut);
        }
        result
    }

    /// Runs passes for as long as the app runs: at once, whenever woken, and every
    /// `every` otherwise (sooner while the network is down and something waits).
    pub async fn run(self: Arc<Self>, every: Duration) {
        use std::sync::atomic::Ordering::SeqCst;
        let mut queued = self.lib.watch_queue();
        while !self.stopping.load(SeqCst) {
            match self.pass().await {
                Ok(_) | Err(SyncError::NotLoggedIn) => {}
                Err(e) => tracing::info!(error = %e, "sync pass did not finish"),
            }
            if self.stopping.load(SeqCst) {
                break;
            }
            let wait = [self.next_due(), self.awaiting_open()]
                .into_iter()
                .flatten()
                .fold(every, Duration::min);
            tokio::select! {
                () = self.wake.notified() => {}
                _ = queued.changed() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// How soon to ask the server again while a sealed capsule's date has passed here but
    /// the server has not said it opened yet (its delivery job runs about once a minute):
    /// every few seconds at first, then less often.
    fn awaiting_open(&self) -> Option<Duration> {
        let now = self.clock.now();
        let latest = self.lib.latest_unopened_open_at(now).ok()??;
        let since = (now - latest).to_std().unwrap_or_default();
        Some(if since < Duration::from_secs(10 * 60) {
            Duration::from_secs(3)
        } else {
            Duration::from_secs(60)
        })
    }

    /// The delivery report of an opened capsule, fetched from the server and kept for when
    /// the server cannot be reached.
    pub async fn refresh_deliveries(
        &self,
        capsule_id: Uuid,
    ) -> Result<Vec<protocol::RecipientDelivery>, SyncError> {
        let res: protocol::CapsuleResponse =
            self.api.get(&format!("/v1/capsules/{capsule_id}")).await?;
        self.apply_one(&res.capsule)?;
        let deliveries = res.capsule.deliveries.unwrap_or_default();
        self.lib.save_deliveries(capsule_id, &deliveries)?;
        Ok(deliveries)
    }

    /// Sends a failed or bounced email of an opened capsule again, to the same address or
    /// to `to`; answers the deliveries as they now stand (kept for offline viewing). Not
    /// queued: the person asks for it while the server can be reached, and sees the answer.
    pub async fn resend_delivery(
        &self,
        capsule_id: Uuid,
        recipient: &str,
        to: Option<&str>,
    ) -> Result<Vec<protocol::RecipientDelivery>, SyncError> {
        let body = protocol::ResendRequest {
            recipient: recipient.to_owned(),
            to: to.map(str::to_owned),
        };
        let res = self
            .api
            .send(
                reqwest::Method::POST,
                &format!("/v1/capsules/{capsule_id}/deliveries/resend"),
                |r| r.json(&body),
            )
            .await?;
        let res: protocol::CapsuleResponse = api::json(res).await?;
        self.apply_one(&res.capsule)?;
        let deliveries = res.capsule.deliveries.unwrap_or_default();
        self.lib.save_deliveries(capsule_id, &deliveries)?;
        Ok(deliveries)
    }

    /// How long until the earliest outbox entry is due, if one waits.
    fn next_due(&self) -> Option<Duration> {
        let ops = outbox::pending(&self.lib.conn()).ok()?;
        let now = self.clock.now().timestamp_millis();
        ops.iter()
            .filter(|o| o.failure != Some(FailureKind::Refused))
            .map(|o| o.next_attempt_at)
            .min()
            .map(|t| Duration::from_millis(u64::try_from(t - now).unwrap_or(0).max(200)))
    }

    /// A photo's original on this device, fetched from the server first if needed (an
    /// opened capsule, or a draft made on another device).
    pub async fn original(&self, capsule_id: Uuid, photo_id: Uuid) -> Result<PathBuf, SyncError> {
        let p = store::local_photo(&self.lib.conn(), photo_id)?
            .filter(|p| p.capsule_id == capsule_id)
            .ok_or(SyncError::PhotoNotInCapsule)?;
        let dest = self.lib.photo_path(&p.sha256);
        if dest.exists() {
            return Ok(dest);
        }
        let res = self
            .api
            .send(
                reqwest::Method::GET,
                &format!("/v1/capsules/{capsule_id}/photos/{photo_id}/original"),
                |r| r,
            )
            .await?;
        let scratch = self.lib.incoming();
        transfer::download_to(
            res,
            scratch.clone(),
            &scratch.with_extension("done"),
            Some(&p.sha256),
        )
        .await?;
        // Through import, so the original is recorded and gets both local thumbnails.
        let lib = self.lib.clone();
        let file = scratch.with_extension("done");
        let report = tokio::task::spawn_blocking(move || {
            let r = crate::import::import(
                &lib,
                std::slice::from_ref(&file),
                &|_| {},
                &crate::import::CancelToken::default(),
            );
            let _ = std::fs::remove_file(&file);
            r
        })
        .await
        .map_err(|e| SyncError::Protocol(e.to_string()))?;
        if let Some(f) = report.failed.first() {
            return Err(SyncError::Protocol(f.reason.clone()));
        }
        Ok(dest)
    }
}
