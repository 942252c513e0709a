//! The person's choices on this device, kept in the library database so they travel with
//! the data folder: whether unlock notifications show, and whether the first-run welcome
//! has been answered.

use rusqlite::{OptionalExtension, params};

use crate::library::{Library, LibraryError};

/// The settings of one library.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Show a native notification when a capsule opens.
    pub notifications: bool,
    /// The welcome was answered (offline only, or an account); it is not shown again.
    pub welcomed: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            notifications: true,
            welcomed: false,
        }
    }
}

const NOTIFICATIONS: &str = "notifications";
const WELCOMED: &str = "welcomed";

impl Library {
    /// The current settings (defaults for what was never set).
    pub fn settings(&self) -> Result<Settings, LibraryError> {
        let d = Settings::default();
        Ok(Settings {
            notifications: self.flag(NOTIFICATIONS)?.unwrap_or(d.notifications),
            welcomed: self.flag(WELCOMED)?.unwrap_or(d.welcomed),
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

    fn flag(&self, key: &str) -> Result<Option<bool>, LibraryError> {
        let v: Option<String> = self
            .conn()
            .query_row(
                "SELECT value FROM settings WHERE key = ?1",
                params![key],
                |r| r.get(0),
            )
            .optional()?;
        Ok(v.map(|v| v == "1"))
    }

    fn set_flag(&self, key: &str, on: bool) -> Result<(), LibraryError> {
        self.conn().execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2) \
             ON CONFLICT (key) DO UPDATE SET value = ?2",
            params![key, if on { "1" } else { "0" }],
        )?;
        Ok(())
    }
}
