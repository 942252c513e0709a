//! The one error every action of the window and of `itc` answers with: a code a program can
//! switch on and a sentence for the person. Unexpected failures are logged here with their
//! cause and reach the person as a plain sentence, never a stack or a raw code.

use serde::Serialize;

use crate::drafts::DraftError;
use crate::library::LibraryError;
use crate::lock::LockError;
use crate::sealed::SealedError;
use crate::sync::SyncError;

/// What went wrong on this computer, or with reaching the server, as a program switches
/// on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum AppCode {
    /// The server cannot be reached; the work stays queued.
    Offline,
    /// The session ended; log in again.
    SignedOut,
    /// No account on this device.
    NotLoggedIn,
    /// Something typed or chosen is not acceptable.
    Invalid,
    /// No such capsule or photo here.
    NotFound,
    /// The capsule is sealed.
    Sealed,
    /// Saving on this computer failed.
    Storage,
    /// Another program has the library open.
    LibraryInUse,
    /// The server is busy and says when to come back.
    Busy,
    /// The server refused a change for good.
    Refused,
    /// The server kept failing to take a change.
    Unsent,
    /// A download was damaged on the way.
    Corrupt,
    /// A failure of the app itself.
    Unexpected,
}

/// An error's code: the app's own, or the server's when the server refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(untagged)]
pub enum ErrorKind {
    App(AppCode),
    Server(protocol::ErrorCode),
}

impl ErrorKind {
    /// The spelling on the wire (`offline`, `capsule_sealed`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::App(c) => match c {
                AppCode::Offline => "offline",
                AppCode::SignedOut => "signed_out",
                AppCode::NotLoggedIn => "not_logged_in",
                AppCode::Invalid => "invalid",
                AppCode::NotFound => "not_found",
                AppCode::Sealed => "sealed",
                AppCode::Storage => "storage",
                AppCode::LibraryInUse => "library_in_use",
                AppCode::Busy => "busy",
                AppCode::Refused => "refused",
                AppCode::Unsent => "unsent",
                AppCode::Corrupt => "corrupt",
                AppCode::Unexpected => "unexpected",
            },
            Self::Server(c) => c.as_str(),
        }
    }

    /// Whether the person has to log in (again) for this to work.
    pub fn needs_log_in(self) -> bool {
        matches!(
            self,
            Self::App(AppCode::SignedOut | AppCode::NotLoggedIn)
                | Self::Server(
                    protocol::ErrorCode::Unauthorized
                        | protocol::ErrorCode::InvalidRefreshToken
                        | protocol::ErrorCode::RefreshTokenReused
                )
        )
    }

    /// Whether the capsule is sealed (here, or on the server).
    pub fn is_sealed(self) -> bool {
        matches!(
            self,
            Self::App(AppCode::Sealed) | Self::Server(protocol::ErrorCode::CapsuleSealed)
        )
    }
}

impl From<AppCode> for ErrorKind {
    fn from(c: AppCode) -> Self {
        Self::App(c)
    }
}

impl PartialEq<&str> for ErrorKind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an action answers when it fails.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
#[error("{message}")]
pub struct CommandError {
    pub code: ErrorKind,
    pub message: String,
}

impl CommandError {
    pub fn new(code: impl Into<ErrorKind>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
        }
    }

    fn storage(e: &LibraryError) -> Self {
        tracing::error!(error = %e, "library storage failed");
        Self::new(
            AppCode::Storage,
            "Something went wrong while saving on this computer. Check that the disk is not \
             full and try again.",
        )
    }
}

impl From<&DraftError> for CommandError {
    fn from(e: &DraftError) -> Self {
        match e {
            DraftError::Library(l) => Self::storage(l),
            DraftError::NotFound => Self::new(AppCode::NotFound, e.to_string()),
            DraftError::Sealed => Self::new(AppCode::Sealed, e.to_string()),
            DraftError::Invalid(_)
            | DraftError::Empty
            | DraftError::NoOpenDate
            | DraftError::OpenDatePassed => Self::new(AppCode::Invalid, e.to_string()),
        }
    }
}

impl From<DraftError> for CommandError {
    fn from(e: DraftError) -> Self {
        Self::from(&e)
    }
}

impl From<LibraryError> for CommandError {
    fn from(e: LibraryError) -> Self {
        Self::storage(&e)
    }
}

impl From<SealedError> for CommandError {
    fn from(e: SealedError) -> Self {
        match e {
            SealedError::Draft(d) => Self::from(d),
            SealedError::MissingPhoto(_) => Self::new(AppCode::NotFound, e.to_string()),
            SealedError::Damaged { .. } => Self::new(AppCode::Corrupt, e.to_string()),
            SealedError::NotSealedFolder(_) => Self::new(AppCode::Invalid, e.to_string()),
            SealedError::AlreadyHere => Self::new(AppCode::Invalid, e.to_string()),
            SealedError::Seal(s) => {
                tracing::warn!(error = %s, "a seal could not be made or read");
                Self::new(AppCode::Corrupt, format!("The capsule's sealed files: {s}"))
            }
            SealedError::Io(io) => Self::storage(&LibraryError::Io(io)),
        }
    }
}

impl From<LockError> for CommandError {
    fn from(e: LockError) -> Self {
        match e {
            LockError::InUse { .. } => Self::new(AppCode::LibraryInUse, e.to_string()),
            LockError::Io(io) => Self::storage(&LibraryError::Io(io)),
        }
    }
}

impl From<SyncError> for CommandError {
    fn from(e: SyncError) -> Self {
        match &e {
            SyncError::Offline(_) => Self::new(AppCode::Offline, e.to_string()),
            SyncError::SignedOut => Self::new(AppCode::SignedOut, e.to_string()),
            SyncError::NotLoggedIn => Self::new(AppCode::NotLoggedIn, e.to_string()),
            SyncError::BadServerAddress(_) | SyncError::NoSuchFolder(_) => {
                Self::new(AppCode::Invalid, e.to_string())
            }
            SyncError::PhotoFileMissing | SyncError::PhotoNotInCapsule => {
                Self::new(AppCode::NotFound, e.to_string())
            }
            SyncError::KeepsChanging => Self::new(AppCode::Unsent, e.to_string()),
            SyncError::Api { code, message, .. } => Self::new(ErrorKind::Server(*code), message),
            SyncError::Library(l) => Self::storage(l),
            SyncError::Draft(d) => Self::from(d),
            SyncError::Tokens(t) => {
                tracing::error!(error = %t, "token store failed");
                Self::new(
                    AppCode::Storage,
                    "Your sign-in could not be kept on this computer. Check the keyring or \
                     the data folder's permissions.",
                )
            }
            SyncError::Corrupt => Self::new(AppCode::Corrupt, e.to_string()),
            SyncError::Busy { .. } => Self::new(AppCode::Busy, e.to_string()),
            SyncError::Refused(_) => Self::new(AppCode::Refused, e.to_string()),
            SyncError::Unsent(_) => Self::new(AppCode::Unsent, e.to_string()),
            SyncError::Protocol(detail) => {
                tracing::warn!(%detail, "unexpected answer");
                Self::new(
                    AppCode::Unexpected,
                    "The server's answer could not be understood. Is this an Image Time \
                     Capsule server of the same version?",
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_failures_reach_the_window_as_a_sentence_not_a_cause() {
        let e: CommandError = DraftError::Library(LibraryError::Io(std::io::Error::other(
            "/home/x/.local/share/db: disk I/O error",
        )))
        .into();
        assert_eq!(e.code, "storage");
        assert!(!e.message.contains("/home/x"), "{}", e.message);
        let api: CommandError = SyncError::Api {
            status: 409,
            code: protocol::ErrorCode::CapsuleSealed,
            message: "This capsule is sealed.".into(),
        }
        .into();
        assert_eq!(
            (api.code.as_str(), api.message.as_str()),
            ("capsule_sealed", "This capsule is sealed.")
        );
    }
}
