//! The unlock watcher: knows when the next sealed capsule opens (from this device's own
//! open dates, so it works offline), and at that moment, or at start-up for any that opened
//! while the app was closed, shows one native notification per capsule, records that it
//! did, and asks the sync engine to fetch the contents.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::params;
use uuid::Uuid;

use crate::clock::Clock;
use crate::drafts::{from_ms, ms};
use crate::library::{Library, LibraryError};
use crate::sealed::{Drand, OpenOutcome, open_due_here};
use crate::sync::SyncEngine;

/// Capsules that opened longer ago than this are not announced (a new device pulling an
/// old account's history should not light up with notifications).
const ANNOUNCE_WINDOW: chrono::Duration = chrono::Duration::days(30);
/// The watcher looks again at least this often, so a clock change or a capsule sealed
/// meanwhile is noticed.
const MAX_SLEEP: Duration = Duration::from_secs(30);
/// How soon a capsule sealed here whose date has come is tried again (drand publishes
/// the round up to one period after the date; offline, a relay may answer any time).
const RETRY_HERE: Duration = Duration::from_secs(10);

/// Shows a notification.
pub trait Notifier: Send + Sync + 'static {
    /// Shows "capsule opened"; an error says why it could not be shown.
    fn capsule_opened(&self, capsule_id: Uuid, title: &str) -> Result<(), String>;
}

/// Called with the capsule's id when the person clicks its notification.
pub type ClickHandler = Arc<dyn Fn(Uuid) + Send + Sync>;

/// Native notifications through notify-rust (D-Bus on Linux, the notification centres of
/// macOS and Windows).
/// The app's identifier, as `identifier` in tauri.conf.json (the window passes that one;
/// `itc` uses this, also for the name of the library's folder, and a unit test holds the
/// two equal).
pub const APP_ID: &str = "app.imagetimecapsule.desktop";

#[derive(Clone)]
pub struct DesktopNotifier {
    pub app_name: String,
    /// The installed app's identity (`identifier` in tauri.conf.json): on Windows the
    /// AppUserModelID the installer gives the Start-menu shortcut, on macOS the bundle
    /// identifier, so the notification shows the app's name and icon (without it, Windows
    /// shows PowerShell's and macOS the Terminal's).
    pub app_id: String,
    /// Where the platform reports clicks (the freedesktop servers of Linux and the BSDs),
    /// a click on the notification calls this.
    pub on_click: Option<ClickHandler>,
}

impl std::fmt::Debug for DesktopNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DesktopNotifier")
            .field("app_name", &self.app_name)
            .field("app_id", &self.app_id)
            .field("on_click", &self.on_click.is_some())
            .finish()
    }
}

impl Default for DesktopNotifier {
    fn default() -> Self {
        Self {
            app_name: "Image Time Capsule".into(),
            app_id: APP_ID.into(),
            on_click: None,
        }
    }
}

impl Notifier for DesktopNotifier {
    fn capsule_opened(&self, capsule_id: Uuid, title: &str) -> Result<(), String> {
        let mut n = notify_rust::Notification::new();
        #[cfg(target_os = "windows")]
        n.app_id(&self.app_id);
        #[cfg(target_os = "macos")]
        {
            // The bundle the notification centre attributes notifications to; it can be
            // set once per process.
            static SET: std::sync::Once = std::sync::Once::new();
            SET.call_once(|| {
                if let Err(e) = notify_rust::set_application(&self.app_id) {
                    tracing::warn!(error = %e, "notifications will show under another app's name");
                }
            });
        }
        n.appname(&self.app_name)
            .summary(&format!("“{title}” has opened"))
            .body("The time capsule you sealed is open. Its photos are ready to see.");
        #[cfg(all(unix, not(target_os = "macos")))]
        {
            n.hint(notify_rust::Hint::Category("im.received".into()));
            if self.on_click.is_some() {
                // "default" is the action a click on the notification's body invokes.
                n.action("default", "Open");
            }
        }
        let handle = n.show().map_err(|e| e.to_string())?;
        #[cfg(all(unix, not(target_os = "macos")))]
        if let Some(on_click) = self.on_click.clone() {
            // The server reports the click on the bus until the notification closes; a
            // thread waits for it so the watcher goes on.
            let spawned = std::thread::Builder::new()
                .name("notification-click".into())
                .spawn(move || {
                    handle.wait_for_action(|action| {
                        if action == "default" {
                            on_click(capsule_id);
                        }
                    });
                });
            if let Err(e) = spawned {
                tracing::warn!(error = %e, "cannot wait for a click on the notification");
            }
        }
        #[cfg(not(all(unix, not(target_os = "macos"))))]
        let _ = (handle, capsule_id);
        Ok(())
    }
}

/// A capsule whose open date has come.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unlocked {
    pub id: Uuid,
    pub title: String,
    pub open_at: DateTime<Utc>,
}

type Listener = Box<dyn Fn(&Unlocked) + Send + Sync>;

/// The watcher of one library.
pub struct UnlockWatcher {
    lib: Arc<Library>,
    clock: Arc<dyn Clock>,
    notifier: Arc<dyn Notifier>,
    wake: tokio::sync::Notify,
    listener: std::sync::Mutex<Option<Listener>>,
    /// Where rounds come from for capsules sealed on this computer; none: they are not
    /// opened here (tests of the announcements alone).
    drand: Option<Drand>,
}

impl std::fmt::Debug for UnlockWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnlockWatcher")
            .field("library", &self.lib.root())
            .finish()
    }
}

impl UnlockWatcher {
    pub fn new(lib: Arc<Library>, clock: Arc<dyn Clock>, notifier: Arc<dyn Notifier>) -> Self {
        Self {
            lib,
            clock,
            notifier,
            wake: tokio::sync::Notify::new(),
            listener: std::sync::Mutex::new(None),
            drand: None,
        }
    }

    /// Opens capsules sealed on this computer when their round is published, fetching it
    /// from `drand`'s relays.
    pub fn with_drand(mut self, drand: Drand) -> Self {
        self.drand = Some(drand);
        self
    }

    /// Calls `f` for every capsule as its opening is announced (the shell tells the window),
    /// whether or not notifications are turned on.
    pub fn on_unlocked(&self, f: impl Fn(&Unlocked) + Send + Sync + 'static) {
        *self.listener.lock().unwrap_or_else(|p| p.into_inner()) = Some(Box::new(f));
    }

    /// The next open date of a capsule not yet announced (a capsule sealed here whose date
    /// has passed waits for its beacon, not for the clock).
    pub fn next_open_at(&self) -> Result<Option<DateTime<Utc>>, LibraryError> {
        let next: Option<i64> = self.lib.conn().query_row(
            "SELECT MIN(open_at) FROM capsules WHERE state IN ('sealed', 'opened') \
             AND notified_at IS NULL AND open_at IS NOT NULL \
             AND NOT (state = 'sealed' AND sealed_here = 1 AND open_at <= ?1)",
            params![ms(self.clock.now())],
            |r| r.get(0),
        )?;
        Ok(next.map(from_ms))
    }

    /// Announces every capsule whose open date has passed and that was not announced yet;
    /// answers them. Each is recorded before the next, so none is announced twice. A
    /// capsule sealed on this computer is announced once it has opened, not at its date:
    /// the clock alone opens nothing.
    pub fn fire_due(&self) -> Result<Vec<Unlocked>, LibraryError> {
        let now = self.clock.now();
        let due: Vec<Unlocked> = {
            let conn = self.lib.conn();
            let mut stmt = conn.prepare(
                "SELECT id, title, open_at FROM capsules WHERE state IN ('sealed', 'opened') \
                 AND notified_at IS NULL AND open_at IS NOT NULL AND open_at <= ?1 \
                 AND NOT (state = 'sealed' AND sealed_here = 1) ORDER BY open_at",
            )?;
            stmt.query_map(params![ms(now)], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })?
            .filter_map(|r| r.ok())
            .filter_map(|(id, title, at)| {
                Some(Unlocked {
                    id: Uuid::parse_str(&id).ok()?,
                    title,
                    open_at: from_ms(at),
                })
            })
            .collect()
        };
        let show = due.is_empty() || self.lib.settings()?.notifications;
        for u in &due {
            // Record first: a crash after showing must not show it again at next start.
            self.lib.conn().execute(
                "UPDATE capsules SET notified_at = ?2 WHERE id = ?1 AND notified_at IS NULL",
                params![u.id.to_string(), ms(now)],
            )?;
            if now - u.open_at > ANNOUNCE_WINDOW {
                continue;
            }
            if let Some(f) = self
                .listener
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .as_ref()
            {
                f(u);
            }
            if !show {
                continue;
            }
            if let Err(e) = self.notifier.capsule_opened(u.id, &u.title) {
                tracing::warn!(capsule = %u.id, error = %e, "the unlock notification could not be shown");
            }
        }
        Ok(due)
    }

    /// When a capsule was announced on this device.
    pub fn notified_at(&self, id: Uuid) -> Result<Option<DateTime<Utc>>, LibraryError> {
        let at: Option<i64> = self.lib.conn().query_row(
            "SELECT notified_at FROM capsules WHERE id = ?1",
            params![id.to_string()],
            |r| r.get(0),
        )?;
        Ok(at.map(from_ms))
    }

    /// Tells the watcher the open dates changed (a capsule was sealed or pulled).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Runs for as long as the app runs: announces what is due (at once, for what opened
    /// while the app was closed), then sleeps until the next open date, and after each
    /// announcement wakes the sync engine to fetch the contents.
    pub async fn run(self: Arc<Self>, engine: Option<Arc<SyncEngine>>) {
        // A seal is queued for the server: its open date is new to the watcher too.
        let mut queued = self.lib.watch_queue();
        loop {
            let mut waiting_here = false;
            if let Some(drand) = &self.drand {
                for (id, outcome) in open_due_here(&self.lib, drand, self.clock.now()).await {
                    waiting_here |= outcome != OpenOutcome::Opened;
                    if let Some(e) = &engine {
                        e.changed(id);
                    }
                }
            }
            let me = self.clone();
            let fired = tokio::task::spawn_blocking(move || me.fire_due()).await;
            match fired {
                Err(e) => tracing::warn!(error = %e, "unlock watcher stopped a round"),
                Ok(Ok(fired)) if !fired.is_empty() => {
                    if let Some(e) = &engine {
                        e.wake();
                    }
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "unlock watcher could not read the library")
                }
            }
            let wait = match self.next_open_at() {
                Ok(Some(at)) => (at - self.clock.now())
                    .to_std()
                    .unwrap_or(Duration::ZERO)
                    .min(MAX_SLEEP),
                _ => MAX_SLEEP,
            };
            let wait = if waiting_here {
                wait.min(RETRY_HERE)
            } else {
                wait
            };
            tokio::select! {
                () = self.wake.notified() => {}
                _ = queued.changed() => {}
                () = tokio::time::sleep(wait.max(Duration::from_millis(50))) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_app_id_is_the_identifier_the_installers_give_the_app() {
        let conf = include_str!("../../tauri.conf.json");
        let conf: serde_json::Value = serde_json::from_str(conf).expect("tauri.conf.json");
        assert_eq!(conf["identifier"], super::APP_ID);
    }
}
