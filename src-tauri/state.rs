//! The app's one state: the library, the sync engine and the unlock watcher of the data
//! folder, wired to the window's events. Commands reach desktop-core through it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use desktop_core::{
    CancelToken, Clock, DesktopNotifier, Library, SyncEngine, SyncEvent, SystemClock, TokenStore,
    UnlockWatcher,
};
use tauri::{AppHandle, Manager};
use tauri_specta::Event;

use crate::events;

/// How often the engine syncs when nothing asks it to sooner.
const SYNC_EVERY: Duration = Duration::from_secs(60);

/// Everything the commands work with.
pub struct App {
    pub lib: Arc<Library>,
    pub engine: Arc<SyncEngine>,
    pub watcher: Arc<UnlockWatcher>,
    pub clock: Arc<dyn Clock>,
    pub data_dir: PathBuf,
    pub default_server: String,
    /// The running import, so "Stop" can cancel it.
    pub import_cancel: Mutex<CancelToken>,
    pub export_cancel: Mutex<CancelToken>,
    /// When this process started, for the start-up time the window reports.
    pub started: Instant,
}

impl App {
    /// Opens the library in `data_dir` and the engine and watcher over it; nothing runs
    /// until [`App::start`].
    pub fn open(
        app: &AppHandle,
        data_dir: &Path,
        default_server: String,
        started: Instant,
    ) -> anyhow::Result<Self> {
        std::fs::create_dir_all(data_dir)?;
        let lib = Arc::new(Library::open(data_dir)?);
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let engine = SyncEngine::new(
            lib.clone(),
            clock.clone(),
            TokenStore::system(data_dir),
            device_name(),
        )?;
        let handle = app.clone();
        let notifier = DesktopNotifier {
            on_click: Some(Arc::new(move |id| {
                crate::window::show(&handle);
                let _ = events::ShowCapsule { id }.emit(&handle);
            })),
            ..DesktopNotifier::default()
        };
        let watcher = Arc::new(UnlockWatcher::new(
            lib.clone(),
            clock.clone(),
            Arc::new(notifier),
        ));
        Ok(Self {
            lib,
            engine,
            watcher,
            clock,
            data_dir: data_dir.to_owned(),
            default_server,
            import_cancel: Mutex::new(CancelToken::default()),
            export_cancel: Mutex::new(CancelToken::default()),
            started,
        })
    }

    /// Turns engine and watcher happenings into window events and starts both loops.
    pub fn start(&self, app: &AppHandle) {
        let handle = app.clone();
        let watcher = self.watcher.clone();
        let engine = self.engine.clone();
        self.engine.on_event(move |e| match e {
            SyncEvent::CapsuleChanged(id) => {
                // A pulled or confirmed capsule may bring a new open date.
                watcher.wake();
                let _ = events::CapsuleChanged { id }.emit(&handle);
            }
            SyncEvent::UploadProgress {
                capsule_id,
                photo_id,
                done,
                total,
            } => {
                let _ = events::UploadProgress {
                    capsule_id,
                    photo_id,
                    done,
                    total,
                }
                .emit(&handle);
            }
            SyncEvent::SignedOut => {
                let email = engine.account().map(|a| a.email);
                let _ = events::SignedOut { email }.emit(&handle);
            }
        });
        let handle = app.clone();
        self.watcher.on_unlocked(move |u| {
            let _ = events::CapsuleUnlocked {
                id: u.id,
                title: u.title.clone(),
            }
            .emit(&handle);
        });
        tauri::async_runtime::spawn(self.engine.clone().run(SYNC_EVERY));
        tauri::async_runtime::spawn(self.watcher.clone().run(Some(self.engine.clone())));
    }

    /// A fresh cancel token for a new import (or export), replacing the last one.
    pub fn fresh_token(slot: &Mutex<CancelToken>) -> CancelToken {
        let t = CancelToken::default();
        *slot.lock().unwrap_or_else(|p| p.into_inner()) = t.clone();
        t
    }

    /// Cancels the running import or export in `slot`.
    pub fn cancel(slot: &Mutex<CancelToken>) {
        slot.lock().unwrap_or_else(|p| p.into_inner()).cancel();
    }
}

/// The state of the running app.
pub fn of(app: &AppHandle) -> tauri::State<'_, App> {
    app.state::<App>()
}

/// This computer's name, shown to the person in the server's list of sessions.
fn device_name() -> String {
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
