//! The person's choices on this device, kept in the library database so they travel with
//! the data folder: whether unlock notifications show, whether the first-run welcome
//! has been answered, and where and whether the app looks for a newer version of itself.

use rusqlite::{OptionalExtension, params};

use crate::library::{Library, LibraryError};

/// The settings of one library.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Show a native notification when a capsule opens.
    pub notifications: bool,
    /// The welcome was answered (offline only, or an account); it is not shown again.
    pub welcomed: bool,
    /// Look for a newer version of the app at start and once a day (it is never installed
    /// without asking).
    pub update_checks: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            notifications: true,
            welcomed: false,
            update_checks: true,
        }
    }
}

const NOTIFICATIONS: &str = "notifications";
const WELCOMED: &str = "welcomed";
const UPDATE_CHECKS: &str = "update_checks";
const UPDATE_FEED: &str = "update_feed";

impl Library {
    /// The current settings (defaults for what was never set).
    pub fn settings(&self) -> Result<Settings, LibraryError> {
        let d = Settings::default();
        Ok(Settings {
            notifications: self.flag(NOTIFICATIONS)?.unwrap_or(d.notifications),
            welcomed: self.flag(WELCOMED)?.unwrap_or(d.welcomed),
            update_checks: self.flag(UPDATE_CHECKS)?.unwrap_or(d.update_checks),
        })
    }

    /// Turns unlock notifications on or off.
    pub fn set_notifications(&self, on: bool) -> Result<Settings, LibraryError> {
        self.set_flag(NOTIFICATIONS, on)?;
        self.settings()
    }

    /// Records that the welcome was answered.
    pub fn set_welcomed(&self) -> Result<Settings, LibraryError> {
        self.set_flag(WELCOMED, true)?;
        self.settings()
    }

    /// Turns the automatic look for updates on or off.
    pub fn set_update_checks(&self, on: bool) -> Result<Settings, LibraryError> {
        self.set_flag(UPDATE_CHECKS, on)?;
        self.settings()
    }

    /// The update feed (a `latest.json` address) the person chose instead of the one the app
    /// was built with, if any. Checked by the caller: this only keeps it.
    pub fn update_feed(&self) -> Result<Option<String>, LibraryError> {
        self.value(UPDATE_FEED)
    }

    /// Keeps the person's update feed, or forgets it (`None`: back to the built-in one).
    pub fn set_update_feed(&self, url: Option<&str>) -> Result<(), LibraryError> {
        match url {
            Some(url) => self.set_value(UPDATE_FEED, url),
            None => {
                self.conn()
                    .execute("DELETE FROM settings WHERE key = ?1", params![UPDATE_FEED])?;
                Ok(())
            }
        }
    }

    fn flag(&self, key: &str) -> Result<Option<bool>, LibraryError> {
        Ok(self.value(key)?.map(|v| v == "1"))
    }

    fn set_flag(&self, key: &str, on: bool) -> Result<(), LibraryError> {
        self.set_value(key, if on { "1" } else { "0" })
    }

    fn value(&self, key: &str) -> Result<Option<String>, LibraryError> {
        let v: Option<String> = self
            .conn()
            .query_row(
                "SELECT value FROM settings WHERE key = ?1",
                params![key],
                |r| r.get(0),
            )
            .optional()?;
        Ok(v)
    }

    fn set_value(&self, key: &str, value: &str) -> Result<(), LibraryError> {
        self.conn().execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2) \
             ON CONFLICT (key) DO UPDATE SET value = ?2",
            params![key, value],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Choices survive closing the library; forgetting the feed goes back to the built-in one.
    #[test]
    fn update_choices_are_kept_and_forgotten() {
        let dir = tempfile::tempdir().expect("tmp");
        let lib = Library::open(dir.path()).expect("open");
        assert!(lib.settings().expect("settings").update_checks);
        assert_eq!(lib.update_feed().expect("feed"), None);
        lib.set_update_checks(false).expect("off");
        lib.set_update_feed(Some("https://updates.example.org/latest.json"))
            .expect("feed");
        lib.set_update_feed(Some("https://mirror.example.org/itc/latest.json"))
            .expect("feed again");
        drop(lib);

        let lib = Library::open(dir.path()).expect("open again");
        let s = lib.settings().expect("settings");
        assert!(!s.update_checks);
        assert!(s.notifications, "other settings keep their defaults");
        assert_eq!(
            lib.update_feed().expect("feed").as_deref(),
            Some("https://mirror.example.org/itc/latest.json")
        );
        lib.set_update_feed(None).expect("forget");
        assert_eq!(lib.update_feed().expect("feed"), None);
    }
}
