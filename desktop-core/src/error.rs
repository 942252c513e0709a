//! The one error every action of the window and of `itc` answers with: a code a program can
//! switch on and a sentence for the person. Unexpected failures are logged here with their
//! cause and reach the person as a plain sentence, never a stack or a raw code.

use serde::Serialize;

use crate::drafts::DraftError;
use crate::library::LibraryError;
use crate::lock::LockError;
use crate::sync::SyncError;

/// What an action answers when it fails.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
#[error("{message}")]
pub struct CommandError {
    /// `offline`, `signed_out`, `not_logged_in`, `invalid`, `not_found`, `sealed`,
    /// `storage`, `library_in_use`, `busy`, `refused`, `unsent`, `unexpected`, or the server's own
    /// error code.
    pub code: String,
    pub message: String,
}

impl CommandError {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
        }
    }

    fn storage(e: &LibraryError) -> Self {
        tracing::error!(error = %e, "library storage failed");
        Self::new(
            "storage",
            "Something went wrong while saving on this computer. Check that the disk is not \
             full and try again.",
        )
    }
}

impl From<&DraftError> for CommandError {
    fn from(e: &DraftError) -> Self {
        match e {
            DraftError::Library(l) => Self::storage(l),
            DraftError::NotFound => Self::new("not_found", e.to_string()),
            DraftError::Sealed => Self::new("sealed", e.to_string()),
            DraftError::Invalid(_)
            | DraftError::Empty
            | DraftError::NoOpenDate
            | DraftError::OpenDatePassed => Self::new("invalid", e.to_string()),
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

impl From<LockError> for CommandError {
    fn from(e: LockError) -> Self {
        match e {
            LockError::InUse { .. } => Self::new("library_in_use", e.to_string()),
            LockError::Io(io) => Self::storage(&LibraryError::Io(io)),
        }
    }
}

impl From<SyncError> for CommandError {
    fn from(e: SyncError) -> Self {
        match &e {
            SyncError::Offline(_) => Self::new("offline", e.to_string()),
            SyncError::SignedOut => Self::new("signed_out", e.to_string()),
            SyncError::NotLoggedIn => Self::new("not_logged_in", e.to_string()),
            SyncError::Api { code, message, .. } => {
                let code = serde_json::to_value(code)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_else(|| "server".into());
                Self {
                    code,
                    message: message.clone(),
                }
            }
            SyncError::Library(l) => Self::storage(l),
            SyncError::Draft(d) => Self::from(d),
            SyncError::Tokens(t) => {
                tracing::error!(error = %t, "token store failed");
                Self::new(
                    "storage",
                    "Your sign-in could not be kept on this computer. Check the keyring or \
                     the data folder's permissions.",
                )
            }
            SyncError::Corrupt => Self::new("corrupt", e.to_string()),
            SyncError::Busy { .. } => Self::new("busy", e.to_string()),
            SyncError::Refused(_) => Self::new("refused", e.to_string()),
            SyncError::Unsent(_) => Self::new("unsent", e.to_string()),
            SyncError::Protocol(detail) => {
                tracing::warn!(%detail, "unexpected answer");
                Self::new(
                    "unexpected",
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
