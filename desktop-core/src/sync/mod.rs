//! The sync engine: pushes the outbox, pulls the change feed, fetches what opened
//! capsules show, and keeps the account. Everything it does is resumable from the SQLite
//! state alone, so quitting at any moment loses nothing.

mod api;
mod error;
mod pull;
mod push;
mod store;
mod transfer;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use protocol::{CreateAccountRequest, CreateAccountResponse, LoginRequest, SessionResponse};
use uuid::Uuid;

pub use api::{Account, Timeouts};
pub use error::SyncError;

use crate::clock::Clock;
use crate::library::Library;
use crate::outbox::{self, FailureKind, OpKind};
use crate::tokens::TokenStore;

/// Where a capsule stands with the server, in terms a person understands.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum SyncState {
    /// No account on this device: the capsule exists only here.
    LocalOnly,
    /// Being sent; `bytes_done` of `bytes_total` photo bytes so far.
    Syncing {
        #[cfg_attr(feature = "specta", specta(type = u32))]
        bytes_done: u64,
        #[cfg_attr(feature = "specta", specta(type = u32))]
        bytes_total: u64,
    },
    /// The server has everything this device has.
    Synced,
    /// Waiting for the server to be reachable.
    WaitingForNetwork,
    /// The session ended; log in to go on.
    NeedsLogin,
    /// Something needs the person, or the server keeps failing; the reason says which.
    Error { reason: String },
}

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

/// Normalises a server address the way it is stored: no trailing slash, http(s) only.
fn server_url(url: &str) -> Result<String, SyncError> {
    let u = url.trim().trim_end_matches('/');
    let parsed = reqwest::Url::parse(u).map_err(|_| SyncError::Api {
        status: 0,
        code: protocol::ErrorCode::InvalidRequest,
        message: format!("“{u}” is not a server address; it looks like https://example.com."),
    })?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err(SyncError::Api {
            status: 0,
            code: protocol::ErrorCode::InvalidRequest,
            message: "The server address must start with https:// (or http:// on this computer)."
                .into(),
        });
    }
    Ok(u.to_owned())
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

    /// Makes an account on `server` and signs this device in to it.
    pub async fn sign_up(
        &self,
        server: &str,
        email: &str,
        password: &str,
    ) -> Result<Account, SyncError> {
        let server = server_url(server)?;
        let url = format!("{server}/v1/accounts");
        let body = CreateAccountRequest {
            email: email.into(),
            password: password.into(),
        };
        let res = api::with_busy_retries(|| self.api.http.post(&url).json(&body).send()).await?;
        let _: CreateAccountResponse = api::json(res).await?;
        self.log_in(&server, email, password).await
    }

    /// Signs this device in. If another account synced here before, what came from it
    /// leaves this device; drafts never sent stay and go to this account.
    pub async fn log_in(
        &self,
        server: &str,
        email: &str,
        password: &str,
    ) -> Result<Account, SyncError> {
        let server = server_url(server)?;
        let url = format!("{server}/v1/sessions");
        let body = LoginRequest {
            email: email.into(),
            password: password.into(),
            device_name: Some(self.device_name.clone()),
        };
        let res = api::with_busy_retries(|| self.api.http.post(&url).json(&body).send()).await?;
        let s: SessionResponse = api::json(res).await?;
        let account = Account {
            server_url: server,
            user_id: s.user_id,
            email: email.trim().to_lowercase(),
        };
        let (key, refresh) = (account.token_key(), s.refresh_token.clone());
        self.api
            .with_tokens(move |t| t.save(&key, &refresh))
            .await?;
        {
            let mut conn = self.lib.conn();
            let owner = format!("{}|{}", account.server_url, account.user_id);
            store::adopt_owner(&mut conn, &owner)?;
            store::save_account(&conn, &account)?;
        }
        self.api.set_session(Some(account.clone()), Some(&s));
        self.wake();
        Ok(account)
    }

    /// Signs this device out: the server revokes the session (when reachable), the token
    /// is forgotten. Capsules stay on this device.
    pub async fn log_out(&self) -> Result<(), SyncError> {
        let Some(account) = self.api.account() else {
            return Ok(());
        };
        match self
            .api
            .send(reqwest::Method::DELETE, "/v1/sessions/current", |r| r)
            .await
        {
            Ok(_) | Err(SyncError::SignedOut) => {}
            // Offline: the token is forgotten here anyway and expires on the server.
            Err(e) => tracing::info!(error = %e, "could not tell the server about the log-out"),
        }
        let key = account.token_key();
        self.api.with_tokens(move |t| t.delete(&key)).await?;
        store::clear_account(&self.lib.conn())?;
        self.api.set_session(None, None);
        Ok(())
    }

    /// Changes the account's password; the server ends every other session.
    pub async fn change_password(&self, current: &str, new: &str) -> Result<(), SyncError> {
        let body = protocol::ChangePasswordRequest {
            current_password: current.into(),
            new_password: new.into(),
        };
        let res = self
            .api
            .send(reqwest::Method::PUT, "/v1/account/password", |r| {
                r.json(&body)
            })
            .await?;
        api::check(res).await?;
        Ok(())
    }

    /// Deletes the account and everything of it on the server, then signs out here.
    /// Capsules on this device stay, as drafts only on this computer.
    pub async fn delete_account(&self, password: &str) -> Result<(), SyncError> {
        let body = protocol::DeleteAccountRequest {
            password: password.into(),
        };
        let res = self
            .api
            .send(reqwest::Method::DELETE, "/v1/account", |r| r.json(&body))
            .await?;
        api::check(res).await?;
        if let Some(account) = self.api.account() {
            let key = account.token_key();
            self.api.with_tokens(move |t| t.delete(&key)).await?;
        }
        store::clear_account(&self.lib.conn())?;
        self.api.set_session(None, None);
        Ok(())
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

    /// Where a capsule stands with the server.
    pub fn sync_state(&self, capsule_id: Uuid) -> Result<SyncState, SyncError> {
        let mut states = self.states_of(Some(capsule_id))?;
        Ok(states.remove(&capsule_id).unwrap_or(SyncState::Synced))
    }

    /// Where every capsule with something still to send stands; a capsule not in the map
    /// is synced (or only on this computer, without an account).
    pub fn sync_states(&self) -> Result<HashMap<Uuid, SyncState>, SyncError> {
        if self.api.account().is_none() {
            let ids = self.lib.capsule_ids()?;
            return Ok(ids
                .into_iter()
                .map(|id| (id, SyncState::LocalOnly))
                .collect());
        }
        self.states_of(None)
    }

    /// The states of the capsules with outbox entries (of `only`, when given), from one
    /// read of the outbox.
    fn states_of(&self, only: Option<Uuid>) -> Result<HashMap<Uuid, SyncState>, SyncError> {
        if self.api.account().is_none() {
            return Ok(only
                .map(|id| (id, SyncState::LocalOnly))
                .into_iter()
                .collect());
        }
        let mut by_capsule: HashMap<Uuid, Vec<outbox::Op>> = HashMap::new();
        for o in outbox::pending(&self.lib.conn())? {
            if only.is_none_or(|id| id == o.capsule_id) {
                by_capsule.entry(o.capsule_id).or_default().push(o);
            }
        }
        let in_flight = self
            .uploads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let mut out = HashMap::with_capacity(by_capsule.len());
        for (id, ops) in by_capsule {
            out.insert(id, self.state_from(&ops, &in_flight)?);
        }
        Ok(out)
    }

    fn state_from(
        &self,
        ops: &[outbox::Op],
        in_flight: &HashMap<Uuid, Arc<AtomicU64>>,
    ) -> Result<SyncState, SyncError> {
        if let Some(o) = ops.iter().find(|o| o.failure == Some(FailureKind::Refused)) {
            return Ok(SyncState::Error {
                reason: o.last_error.clone().unwrap_or_default(),
            });
        }
        if self.api.is_signed_out() {
            return Ok(SyncState::NeedsLogin);
        }
        if self.is_offline() || ops.iter().any(|o| o.failure == Some(FailureKind::Network)) {
            return Ok(SyncState::WaitingForNetwork);
        }
        if let Some(o) = ops
            .iter()
            .find(|o| o.failure == Some(FailureKind::Server) && o.attempts >= 3)
        {
            return Ok(SyncState::Error {
                reason: format!(
                    "{} It will be tried again.",
                    o.last_error.clone().unwrap_or_default()
                ),
            });
        }
        let mut total = 0;
        let mut done = 0;
        for o in ops.iter().filter(|o| o.kind == OpKind::PutPhoto) {
            let Some(pid) = o.photo_id else { continue };
            let Some(p) = store::local_photo(&self.lib.conn(), pid)? else {
                continue;
            };
            total += p.size;
            if let Some(sent) = in_flight.get(&pid) {
                done += sent.load(std::sync::atomic::Ordering::Relaxed).min(p.size);
            }
        }
        Ok(SyncState::Syncing {
            bytes_done: done,
            bytes_total: total,
        })
    }

    /// A photo's original on this device, fetched from the server first if needed (an
    /// opened capsule, or a draft made on another device).
    pub async fn original(&self, capsule_id: Uuid, photo_id: Uuid) -> Result<PathBuf, SyncError> {
        let p = store::local_photo(&self.lib.conn(), photo_id)?
            .filter(|p| p.capsule_id == capsule_id)
            .ok_or_else(|| SyncError::Api {
                status: 404,
                code: protocol::ErrorCode::NotFound,
                message: "This photo is not in that capsule.".into(),
            })?;
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
