//! `itc sync` and `itc watch`: the engine's passes once, until the outbox is empty, or for
//! as long as the command runs, with the unlock watcher announcing capsules as they open.

use std::sync::Arc;
use std::time::Duration;

use desktop_core::{Desktop, DesktopNotifier, Notifier, OpenOutcome, SyncEvent, SyncState};
use uuid::Uuid;

use crate::out::{self, Out};
use crate::outcome::Outcome;

/// How often `watch` syncs when nothing asks it to sooner (as the app does).
const SYNC_EVERY: Duration = Duration::from_secs(60);
/// How long a stopping `watch` lets the pass under way finish before it cuts it (an
/// interrupted upload resumes at the next start).
const STOP_GRACE: Duration = Duration::from_secs(10);

pub fn sync(d: &Desktop, out: Out, wait: bool) -> Outcome {
    let rt = crate::runtime()?;
    // Capsules sealed here open with drand's beacon, with or without an account.
    opened_here(d, out, rt);
    let report = if wait {
        rt.block_on(d.sync_until_sent())?
    } else {
        rt.block_on(d.sync_now())?
    };
    out.json(&report);
    out.say(format!(
        "Sent {}, received {}.",
        out::count(report.pushed as u64, "change", "changes"),
        out::count(report.pulled as u64, "change", "changes"),
    ));
    let waiting = d
        .capsules()?
        .into_iter()
        .filter(|c| !matches!(c.sync, SyncState::Synced))
        .count();
    if waiting > 0 {
        out.say(format!(
            "{} still waiting (see `itc capsule list`); `itc sync --wait` keeps going until all is sent.",
            out::count(waiting as u64, "capsule has changes", "capsules have changes")
        ));
    }
    Ok(())
}

/// Opens what was sealed on this computer and is due, and says what became of each.
fn opened_here(d: &Desktop, out: Out, rt: &tokio::runtime::Runtime) {
    for (id, outcome) in rt.block_on(d.open_due_here()) {
        let title = d.capsule(id).map(|c| c.title).unwrap_or_default();
        match outcome {
            OpenOutcome::Opened => out.say(format!("Opened “{title}” ({id}).")),
            OpenOutcome::Waiting(why) => out.warn(format!("“{title}” is still sealed. {why}")),
        }
    }
}

pub fn watch(d: &Desktop, out: Out) -> Outcome {
    let rt = crate::runtime()?;
    let watcher = d.watcher.clone();
    d.watcher.on_unlocked(move |u| {
        if out.json {
            println!(
                "{}",
                serde_json::json!({ "event": "opened", "id": u.id, "title": u.title, "openAt": u.open_at })
            );
        } else {
            println!("Opened: “{}” ({})", u.title, u.id);
        }
    });
    d.engine.on_event(move |e| match e {
        // A pulled or confirmed capsule may bring a new open date.
        SyncEvent::CapsuleChanged(_) => watcher.wake(),
        SyncEvent::SignedOut => out
            .warn("Your session has ended. Log in again to keep syncing: itc account login EMAIL"),
        SyncEvent::UploadProgress { .. } => {}
    });
    let status = d.account_status();
    out.warn(match &status.account {
        Some(a) => format!(
            "Watching {} for {} on {}; Ctrl-C stops.",
            d.data_dir.display(),
            a.email,
            a.server_url
        ),
        None => format!(
            "Watching {} (not logged in: nothing is synced); Ctrl-C stops.",
            d.data_dir.display()
        ),
    });
    rt.block_on(async {
        let engine = tokio::spawn(d.engine.clone().run(SYNC_EVERY));
        let watcher = tokio::spawn(d.watcher.clone().run(Some(d.engine.clone())));
        stop_signal().await;
        out.warn("Stopping: finishing what is under way…");
        watcher.abort();
        d.engine.stop();
        let abort = engine.abort_handle();
        if tokio::time::timeout(STOP_GRACE, engine).await.is_err() {
            abort.abort();
            out.warn("Stopped in the middle of a transfer; it resumes at the next sync.");
        }
    });
    Ok(())
}

/// Ctrl-C, or SIGTERM (how systemd and `kill` stop a service); on Windows also Ctrl-Break,
/// the console window closed, and log-off or shutdown (how Task Scheduler and Windows stop a
/// console program).
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "SIGTERM cannot be caught; only Ctrl-C stops cleanly");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(windows)]
    {
        use tokio::signal::windows::{ctrl_break, ctrl_close, ctrl_logoff, ctrl_shutdown};
        match (ctrl_break(), ctrl_close(), ctrl_logoff(), ctrl_shutdown()) {
            (Ok(mut brk), Ok(mut close), Ok(mut logoff), Ok(mut shutdown)) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = brk.recv() => {}
                    _ = close.recv() => {}
                    _ = logoff.recv() => {}
                    _ = shutdown.recv() => {}
                }
            }
            _ => {
                tracing::warn!("console events cannot be caught; only Ctrl-C stops cleanly");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(any(unix, windows)))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Native notifications where a desktop session can show them; elsewhere (a server, a
/// NAS, a cron job) the printed line is the announcement.
pub fn notifier() -> Arc<dyn Notifier> {
    let desktop = if cfg!(all(unix, not(target_os = "macos"))) {
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some_and(|a| !a.is_empty())
    } else {
        true
    };
    if desktop {
        Arc::new(DesktopNotifier::default())
    } else {
        Arc::new(PrintedOnly)
    }
}

/// No desktop to notify on.
struct PrintedOnly;

impl Notifier for PrintedOnly {
    fn capsule_opened(&self, _capsule_id: Uuid, _title: &str) -> Result<(), String> {
        Ok(())
    }
}
