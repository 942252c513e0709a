//! Updates of the app itself, through `tauri-plugin-updater`: a static `latest.json` feed
//! (the one the build carries, or one the person chose in Settings) names the newer version,
//! its package and the package's minisign signature. Nothing is downloaded or installed
//! until the person says so, and a package whose signature does not verify against the key
//! built into the app is never installed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Manager, Url};
use tauri_plugin_updater::{Update, UpdaterExt};
use tauri_specta::Event;

use crate::error::{AppCode, CmdResult, CommandError};
use crate::events;
use crate::state::App;

/// How often a running app looks again, when the person leaves automatic checks on.
const CHECK_EVERY: Duration = Duration::from_secs(24 * 60 * 60);
/// The first automatic look waits for the window to settle.
const FIRST_CHECK_AFTER: Duration = Duration::from_secs(3);
/// Feeds are short addresses; anything longer is a mistake.
const FEED_MAX_LEN: usize = 2048;

/// The update the person was last offered, so "Install" installs exactly what they saw, and
/// whether an install is under way.
#[derive(Default)]
pub struct Updates {
    offered: Mutex<Option<Update>>,
    installing: AtomicBool,
}

/// A newer version the feed names.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, tauri_specta::Event)]
#[serde(rename_all = "camelCase")]
pub struct UpdateOffer {
    pub version: String,
    pub current_version: String,
    /// When it was published (RFC 3339), if the feed says.
    pub date: Option<String>,
    /// What changed, as the feed words it.
    pub notes: Option<String>,
}

/// How this copy of the app is updated, for the Settings screen.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct UpdateSettings {
    pub current_version: String,
    /// Why this copy cannot update itself, if it cannot (no update key in this build, or
    /// not installed from one of the app's packages).
    pub unavailable: Option<String>,
    /// The feed the app reads: the person's, else the built-in one.
    pub feed: Option<String>,
    /// The person chose `feed` in Settings.
    pub custom_feed: bool,
    /// The feed this build came with.
    pub built_in_feed: Option<String>,
    /// Look at start and once a day.
    pub automatic: bool,
    /// The newer version found by the last check, not yet installed.
    pub offer: Option<UpdateOffer>,
}

/// What the build's configuration says (`plugins.updater` in tauri.conf.json).
struct BuiltIn {
    has_key: bool,
    feed: Option<Url>,
}

fn built_in(app: &AppHandle) -> BuiltIn {
    let config = app.config().plugins.0.get("updater");
    let has_key = config
        .and_then(|c| c.get("pubkey"))
        .and_then(|k| k.as_str())
        .is_some_and(|k| !k.trim().is_empty());
    let feed = config
        .and_then(|c| c.get("endpoints"))
        .and_then(|e| e.as_array())
        .and_then(|e| e.first())
        .and_then(|e| e.as_str())
        .and_then(|e| Url::parse(e).ok());
    BuiltIn { has_key, feed }
}

/// Why this copy cannot update itself, if it cannot.
fn unavailable(built_in: &BuiltIn) -> Option<String> {
    if !built_in.has_key {
        return Some(
            "This build carries no update key, so it never installs updates itself: update it \
             the way it was installed (or build it again from source)."
                .into(),
        );
    }
    if tauri::utils::platform::bundle_type().is_none() {
        return Some(
            "This copy was not installed from one of the app's packages, so it cannot replace \
             itself: install a package to get updates."
                .into(),
        );
    }
    None
}

/// Checks an address typed as an update feed: an absolute `https` URL with a host and no
/// user name or password in it.
pub fn parse_feed(text: &str) -> Result<Url, CommandError> {
    let text = text.trim();
    let invalid = |why: &str| CommandError::new(AppCode::Invalid, why.to_owned());
    if text.is_empty() {
        return Err(invalid(
            "Type the address of the update feed (its latest.json).",
        ));
    }
    if text.len() > FEED_MAX_LEN {
        return Err(invalid("That address is too long to be an update feed."));
    }
    let url = Url::parse(text)
        .map_err(|_| invalid("That is not a web address; it should start with https://."))?;
    if url.scheme() != "https" {
        return Err(invalid(
            "Update feeds must use https://, so nobody on the way can change what they say.",
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("That address names no server."));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "Leave the user name and password out of the address: update feeds are public.",
        ));
    }
    Ok(url)
}

impl Updates {
    /// The Settings screen's view of updates.
    pub fn settings(app: &AppHandle, state: &App) -> CmdResult<UpdateSettings> {
        let built_in = built_in(app);
        let custom = state.lib.update_feed()?;
        let feed = custom
            .clone()
            .or_else(|| built_in.feed.as_ref().map(Url::to_string));
        Ok(UpdateSettings {
            current_version: app.package_info().version.to_string(),
            unavailable: unavailable(&built_in),
            custom_feed: custom.is_some(),
            feed,
            built_in_feed: built_in.feed.map(|u| u.to_string()),
            automatic: state.lib.settings()?.update_checks,
            offer: state.updates.offered().as_ref().map(offer_of),
        })
    }

    /// What another feed offered is not what the new one offers.
    pub fn forget_offer(&self) {
        *self.offered() = None;
    }

    fn offered(&self) -> MutexGuard<'_, Option<Update>> {
        // The value is replaced whole, so a panic elsewhere cannot leave it half-written.
        self.offered.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Asks the feed whether there is a newer version; keeps it to be installed on request.
    pub async fn check(&self, app: &AppHandle, state: &App) -> CmdResult<Option<UpdateOffer>> {
        let built_in = built_in(app);
        if let Some(why) = unavailable(&built_in) {
            return Err(CommandError::new(AppCode::Invalid, why));
        }
        let feed = match state.lib.update_feed()? {
            Some(custom) => parse_feed(&custom)?,
            None => built_in.feed.ok_or_else(|| {
                CommandError::new(
                    AppCode::Invalid,
                    "This build names no update feed; type one in Settings.",
                )
            })?,
        };
        let found = app
            .updater_builder()
            .endpoints(vec![feed.clone()])
            .and_then(|b| {
                b.configure_client(|c| {
                    c.connect_timeout(Duration::from_secs(15))
                        .read_timeout(Duration::from_secs(60))
                })
                .build()
            })
            .map_err(|e| failure("checking for updates", &e))?
            .check()
            .await
            .map_err(|e| failure("checking for updates", &e))?;
        let offer = found.as_ref().map(offer_of);
        match &offer {
            Some(o) => tracing::info!(version = %o.version, feed = %feed, "update offered"),
            None => tracing::info!(feed = %feed, "no newer version"),
        }
        *self.offered() = found;
        Ok(offer)
    }

    /// Downloads the offered update, verifies its signature and installs it. The caller
    /// restarts the app afterwards (on Windows the installer does, and this never returns).
    pub async fn install(&self, app: &AppHandle) -> CmdResult<String> {
        let Some(update) = self.offered().clone() else {
            return Err(CommandError::new(
                AppCode::Invalid,
                "There is no update to install; check for updates first.",
            ));
        };
        if self.installing.swap(true, Ordering::SeqCst) {
            return Err(CommandError::new(
                AppCode::Invalid,
                "The update is already being installed.",
            ));
        }
        let handle = app.clone();
        let mut received = 0u64;
        let result = update
            .download_and_install(
                |chunk, total| {
                    received += chunk as u64;
                    let _ = events::UpdateProgress {
                        received,
                        total: total.unwrap_or(0),
                    }
                    .emit(&handle);
                },
                || tracing::info!("update downloaded; signature next"),
            )
            .await;
        self.installing.store(false, Ordering::SeqCst);
        match result {
            Ok(()) => {
                tracing::info!(version = %update.version, "update installed");
                *self.offered() = None;
                Ok(update.version)
            }
            Err(e) => Err(failure("installing the update", &e)),
        }
    }
}

fn offer_of(update: &Update) -> UpdateOffer {
    UpdateOffer {
        version: update.version.clone(),
        current_version: update.current_version.clone(),
        date: update.date.and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        }),
        notes: update.body.clone().filter(|b| !b.trim().is_empty()),
    }
}

/// The person's words for an updater failure; the details go to the log.
fn failure(doing: &str, e: &tauri_plugin_updater::Error) -> CommandError {
    use tauri_plugin_updater::Error as E;
    tracing::warn!(error = %e, "{doing} failed");
    let (code, message) = match e {
        E::Minisign(_) | E::Base64(_) | E::SignatureUtf8(_) => (
            AppCode::Corrupt,
            "The downloaded update is not signed with this app's update key, so it was not \
             installed. Nothing on this computer changed.",
        ),
        E::SignedVersionMismatch { .. } | E::MissingSignedVersion => (
            AppCode::Corrupt,
            "The update's signature is for another version than the feed announces, so it was \
             not installed. Nothing on this computer changed.",
        ),
        E::Reqwest(_) | E::Network(_) => (
            AppCode::Offline,
            "The update server could not be reached or answered with an error. Try again later.",
        ),
        E::ReleaseNotFound | E::Serialization(_) | E::Semver(_) => (
            AppCode::Refused,
            "The update feed does not describe a release this app can read.",
        ),
        E::TargetNotFound(_) | E::TargetsNotFound(_) => (
            AppCode::Refused,
            "The update feed has no package for this system.",
        ),
        E::InvalidUpdaterFormat => (
            AppCode::Refused,
            "The downloaded update is not the kind of package this copy was installed from.",
        ),
        E::AuthenticationFailed => (
            AppCode::Refused,
            "Installing the update needs an administrator's permission, which was not given.",
        ),
        E::PackageInstallFailed | E::DebInstallFailed => (
            AppCode::Unexpected,
            "The system's package installer refused the update; the app stays as it was.",
        ),
        _ => (
            AppCode::Unexpected,
            "The update could not be done; the app stays as it was. The log has details.",
        ),
    };
    CommandError::new(code, message)
}

/// Looks for a newer version now and then, when the person leaves it on; an offer goes to the
/// window (which asks before anything is installed).
pub fn watch(app: &AppHandle) {
    if unavailable(&built_in(app)).is_some() {
        return;
    }
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(FIRST_CHECK_AFTER).await;
        loop {
            let state = app.state::<App>();
            let on = state
                .lib
                .settings()
                .map(|s| s.update_checks)
                .unwrap_or(false);
            if on {
                match state.updates.check(&app, &state).await {
                    Ok(Some(offer)) => {
                        let _ = offer.emit(&app);
                    }
                    Ok(None) => {}
                    Err(e) => tracing::info!(error = %e.message, "automatic update check"),
                }
            }
            tokio::time::sleep(CHECK_EVERY).await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::parse_feed;

    #[test]
    fn feeds_must_be_plain_https_addresses() {
        let ok = parse_feed("  https://updates.example.org/itc/latest.json ").expect("https");
        assert_eq!(ok.as_str(), "https://updates.example.org/itc/latest.json");
        assert!(parse_feed("https://127.0.0.1:8443/latest.json").is_ok());
        for bad in [
            "",
            "   ",
            "http://updates.example.org/latest.json",
            "updates.example.org/latest.json",
            "file:///etc/passwd",
            "https://someone:secret@updates.example.org/latest.json",
            "ftp://updates.example.org/latest.json",
        ] {
            let e = parse_feed(bad).expect_err(bad);
            assert!(!e.message.contains("secret"), "{bad}: {}", e.message);
        }
        assert!(parse_feed(&format!("https://example.org/{}", "a".repeat(3000))).is_err());
    }
}
