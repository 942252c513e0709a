//! One library folder opened for acting on, as the window and `itc` both do: the library,
//! its sync engine and unlock watcher, and the folder's lock, so only one program at a time
//! acts on it. Every action a person can take goes through here, so the two faces cannot
//! drift apart: each change is written with its outbox entry, and queueing it wakes
//! whoever has to act on it (the engine to send it, the watcher to learn a new open date).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use protocol::CapsuleWrite;
use serde::Serialize;
use uuid::Uuid;

use crate::clock::{Clock, SystemClock};
use crate::drafts::SealOptions;
use crate::error::{AppCode, CommandError};
use crate::export::{ExportProgress, ExportReport, export_originals};
use crate::import::{CancelToken, CapsuleImport, ImportProgress};
use crate::library::Library;
use crate::lock::LibraryLock;
use crate::sealed::{Drand, OpenOutcome, open_due_here};
use crate::sync::{SyncEngine, SyncReport};
use crate::tokens::TokenStore;
use crate::unlock::{Notifier, UnlockWatcher};
use crate::view::{CapsuleDetail, CapsuleSummary, capsule_detail, capsule_list};

/// Who is signed in, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct AccountInfo {
    pub email: String,
    pub server_url: String,
}

/// Where this device stands with its account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct AccountStatus {
    pub account: Option<AccountInfo>,
    /// The account's session ended; the person must log in again to sync.
    pub session_ended: bool,
    /// The last attempt to reach the server failed.
    pub offline: bool,
}

/// A library folder open for one program.
pub struct Desktop {
    pub lib: Arc<Library>,
    pub engine: Arc<SyncEngine>,
    pub watcher: Arc<UnlockWatcher>,
    pub clock: Arc<dyn Clock>,
    pub data_dir: PathBuf,
    /// The drand chain capsules sealed on this computer are locked to, and its relays.
    pub drand: Drand,
    _lock: LibraryLock,
}

impl std::fmt::Debug for Desktop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Desktop")
            .field("data_dir", &self.data_dir)
            .finish()
    }
}

type Result<T> = std::result::Result<T, CommandError>;

impl Desktop {
    /// Opens (and creates) the library in `data_dir` for `program` (how a second program
    /// is told who has it), with the system clock, the OS keyring, and the drand chain of
    /// the environment ([`Drand::from_env`]). Nothing runs until the caller runs the engine
    /// or the watcher.
    pub fn open(data_dir: &Path, program: &str, notifier: Arc<dyn Notifier>) -> Result<Self> {
        let drand = Drand::from_env().map_err(|e| CommandError::new(AppCode::Invalid, e))?;
        let lock = LibraryLock::acquire(data_dir, program)?;
        let lib = Arc::new(Library::open(data_dir)?);
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let engine = SyncEngine::new(
            lib.clone(),
            clock.clone(),
            TokenStore::system(data_dir),
            device_name(),
        )?;
        let watcher = Arc::new(
            UnlockWatcher::new(lib.clone(), clock.clone(), notifier).with_drand(drand.clone()),
        );
        Ok(Self {
            lib,
            engine,
            watcher,
            clock,
            data_dir: data_dir.to_owned(),
            drand,
            _lock: lock,
        })
    }

    /// Who is signed in on this device.
    pub fn account_status(&self) -> AccountStatus {
        AccountStatus {
            account: self.engine.account().map(|a| AccountInfo {
                email: a.email,
                server_url: a.server_url,
            }),
            session_ended: self.engine.is_signed_out(),
            offline: self.engine.is_offline(),
        }
    }

    /// Makes an account on `server` and signs this device in.
    pub async fn sign_up(&self, server: &str, email: &str, password: &str) -> Result<()> {
        self.engine.sign_up(server, email, password).await?;
        self.lib.set_welcomed()?;
        Ok(())
    }

    /// Signs this device in to an account on `server`.
    pub async fn log_in(&self, server: &str, email: &str, password: &str) -> Result<()> {
        self.engine.log_in(server, email, password).await?;
        self.lib.set_welcomed()?;
        Ok(())
    }

    /// Every capsule on this device, soonest open date first.
    pub fn capsules(&self) -> Result<Vec<CapsuleSummary>> {
        Ok(capsule_list(&self.engine)?)
    }

    /// One capsule as its screen shows it.
    pub fn capsule(&self, id: Uuid) -> Result<CapsuleDetail> {
        Ok(capsule_detail(&self.engine, id)?)
    }

    /// Makes a draft.
    pub fn create_capsule(&self, fields: &CapsuleWrite) -> Result<CapsuleDetail> {
        let d = self.lib.create_draft(fields, self.clock.now())?;
        self.capsule(d.id)
    }

    /// Replaces a draft's fields.
    pub fn update_capsule(&self, id: Uuid, fields: &CapsuleWrite) -> Result<CapsuleDetail> {
        self.lib.update_draft(id, fields, self.clock.now())?;
        self.capsule(id)
    }

    /// Deletes a capsule here and, through the outbox, on the server.
    pub fn delete_capsule(&self, id: Uuid) -> Result<()> {
        self.lib.delete_capsule(id, self.clock.now())?;
        Ok(())
    }

    /// Seals a draft here at once; it is sent (with its photos) now or when the server is
    /// reachable, and the watcher learns the new open date.
    pub fn seal(&self, id: Uuid) -> Result<CapsuleDetail> {
        self.seal_with(id, &SealOptions::default())
    }

    /// [`seal`](Self::seal) as chosen. With `time_lock_only`, a capsule sealed with an
    /// account can be opened by the drand beacon of its date alone, not by the server's
    /// escrow key; `reminders` go with the seal to the server, which sends them.
    /// Without an account it is sealed on this computer at once (time lock only: there is
    /// no server to hold a key, nor to send reminders): encrypted, its readable copies
    /// removed, and opened here by the beacon of its date.
    pub fn seal_with(&self, id: Uuid, options: &SealOptions) -> Result<CapsuleDetail> {
        if self.engine.account().is_none() {
            self.lib.seal_here(id, self.clock.now(), &self.drand)?;
        } else {
            self.lib.seal_with(id, self.clock.now(), options)?;
        }
        self.capsule(id)
    }

    /// Takes back a sealed capsule's folder (as "export" writes it for a sealed capsule):
    /// it joins the library sealed, and opens on this computer on its date.
    pub fn import_sealed(&self, folder: &Path) -> Result<CapsuleDetail> {
        let id = self.lib.import_sealed(folder, self.clock.now())?;
        self.watcher.wake();
        self.capsule(id)
    }

    /// Why a draft cannot be sealed now, in the words the seal would use; none when it can.
    pub fn seal_problem(&self, id: Uuid) -> Result<Option<String>> {
        Ok(self
            .lib
            .seal_problem(id, self.clock.now())?
            .map(|p| p.to_string()))
    }

    /// Takes a photo out of a draft.
    pub fn remove_photo(&self, capsule_id: Uuid, photo_id: Uuid) -> Result<()> {
        self.lib
            .remove_photo(capsule_id, photo_id, self.clock.now())?;
        Ok(())
    }

    /// Imports files and folders into a draft (blocking: hashing, decoding and thumbnails
    /// are CPU and disk work), reporting progress per file.
    pub fn import_photos(
        &self,
        capsule_id: Uuid,
        paths: &[PathBuf],
        progress: &(dyn Fn(ImportProgress) + Sync),
        cancel: &CancelToken,
    ) -> Result<CapsuleImport> {
        let outcome =
            self.lib
                .import_into_capsule(capsule_id, paths, progress, cancel, self.clock.now())?;
        Ok(outcome)
    }

    /// Writes an opened capsule's originals into `dir`, fetching those not here yet.
    pub async fn export(
        &self,
        capsule_id: Uuid,
        dir: &Path,
        progress: &(dyn Fn(ExportProgress) + Send + Sync),
        cancel: &CancelToken,
    ) -> Result<ExportReport> {
        Ok(export_originals(&self.engine, capsule_id, dir, progress, cancel).await?)
    }

    /// Opens the capsules sealed on this computer whose date has come and whose round drand
    /// has published; answers what became of each one due.
    pub async fn open_due_here(&self) -> Vec<(Uuid, OpenOutcome)> {
        open_due_here(&self.lib, &self.drand, self.clock.now()).await
    }

    /// The email report of an opened capsule from the server (the one kept here when the
    /// server cannot be reached).
    pub async fn deliveries(&self, capsule_id: Uuid) -> Result<Vec<protocol::RecipientDelivery>> {
        Ok(self.engine.refresh_deliveries(capsule_id).await?)
    }

    /// Sends a failed or bounced email of an opened capsule again, to the same address or
    /// to a corrected one (`to`); answers the emails as they now stand.
    pub async fn resend_delivery(
        &self,
        capsule_id: Uuid,
        recipient: &str,
        to: Option<&str>,
    ) -> Result<Vec<protocol::RecipientDelivery>> {
        if let Some(to) = to {
            protocol::validate::email(to).map_err(|e| CommandError::new(AppCode::Invalid, e))?;
        }
        Ok(self
            .engine
            .resend_delivery(capsule_id, recipient, to)
            .await?)
    }

    /// One sync pass now, with everything waiting made due.
    pub async fn sync_now(&self) -> Result<SyncReport> {
        Ok(self.engine.sync_now().await?)
    }

    /// Sync passes until nothing waits to be sent.
    pub async fn sync_until_sent(&self) -> Result<SyncReport> {
        Ok(self.engine.sync_until_sent().await?)
    }
}

/// This computer's name, shown to the person in the server's list of sessions.
pub fn device_name() -> String {
    let from_env = ["COMPUTERNAME", "HOSTNAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()));
    from_env
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
        })
        .unwrap_or_else(|| "This computer".into())
}
