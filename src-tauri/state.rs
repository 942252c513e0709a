//! The app's one state: the library, the sync engine and the unlock watcher of the data
//! folder, wired to the window's events. Commands reach desktop-core through it.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use desktop_core::{CancelToken, CommandError, Desktop, DesktopNotifier, SyncEvent};
use tauri::{AppHandle, Manager};
use tauri_specta::Event;

use crate::events;
use crate::updates::Updates;

/// How often the engine syncs when nothing asks it to sooner.
const SYNC_EVERY: Duration = Duration::from_secs(60);

/// Everything the commands work with: desktop-core's [`Desktop`] (reached through `Deref`)
/// and what only the window has.
pub struct App {
    pub core: Desktop,
    pub default_server: String,
    /// The running import, so "Stop" can cancel it.
    pub import_cancel: Mutex<CancelToken>,
    pub export_cancel: Mutex<CancelToken>,
    /// When this process started, for the start-up time the window reports.
    pub started: Instant,
    /// The app's own updates: what was offered, whether one is installing.
    pub updates: Updates,
}

impl std::ops::Deref for App {
    type Target = Desktop;
    fn deref(&self) -> &Desktop {
        &self.core
    }
}

impl App {
    /// Opens the library in `data_dir` (refused while `itc` has it) and the engine and
    /// watcher over it; nothing runs until [`App::start`].
    pub fn open(
        app: &AppHandle,
        data_dir: &Path,
        default_server: String,
        started: Instant,
    ) -> Result<Self, CommandError> {
        let handle = app.clone();
        let notifier = DesktopNotifier {
            on_click: Some(Arc::new(move |id| {
                crate::window::show(&handle);
                let _ = events::ShowCapsule { id }.emit(&handle);
            })),
            app_id: app.config().identifier.clone(),
            ..DesktopNotifier::default()
        };
        let core = Desktop::open(data_dir, "the Image Time Capsule app", Arc::new(notifier))?;
        Ok(Self {
            core,
            default_server,
            import_cancel: Mutex::new(CancelToken::default()),
            export_cancel: Mutex::new(CancelToken::default()),
            started,
            updates: Updates::default(),
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
