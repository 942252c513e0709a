use protocol::ErrorCode;

use crate::drafts::DraftError;
use crate::library::LibraryError;
use crate::tokens::TokenStoreError;

/// Why a sync step, a log-in or a download did not happen; each says what to do, for a
/// person.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The server could not be reached, or the connection broke.
    #[error(
        "The server cannot be reached right now ({0}). Your changes are kept and will be sent when it is back."
    )]
    Offline(String),
    /// A server address that cannot be one.
    #[error("{0}")]
    BadServerAddress(String),
    /// A folder that is not there (an export's destination).
    #[error("The folder {} does not exist.", .0.display())]
    NoSuchFolder(std::path::PathBuf),
    /// A photo of a draft whose original has gone from this computer.
    #[error(
        "This photo's file is no longer on this computer; remove it from the capsule and add it again."
    )]
    PhotoFileMissing,
    /// A photo asked for by a capsule that does not hold it.
    #[error("This photo is not in that capsule.")]
    PhotoNotInCapsule,
    /// A draft kept changing on another device while this one merged and sent it.
    #[error("This capsule keeps changing on another device; it will be tried again.")]
    KeepsChanging,
    /// The server answered with an error.
    #[error("{message}")]
    Api {
        status: u16,
        code: ErrorCode,
        message: String,
    },
    /// The session ended (refresh refused); the person has to log in again.
    #[error("Your session has ended. Log in again to keep syncing.")]
    SignedOut,
    /// No account on this device.
    #[error("Log in to a server to sync this computer's capsules.")]
    NotLoggedIn,
    /// The server sent something this version does not understand.
    #[error("The server's answer could not be read: {0}")]
    Protocol(String),
    /// The server is full (503) or limits this client (429) and says when to come back.
    #[error("{message}")]
    Busy {
        retry_after: std::time::Duration,
        message: String,
    },
    /// The server refused a change for good; the person has to change something first.
    #[error("{0}")]
    Refused(String),
    /// The server kept failing to take a change; it stays queued and is tried again later.
    #[error("{0} It stays queued and will be sent later.")]
    Unsent(String),
    /// A downloaded photo did not match its hash.
    #[error("A downloaded photo was damaged on the way; it will be fetched again.")]
    Corrupt,
    /// What was asked is not possible for this capsule (sealed, gone, not valid).
    #[error(transparent)]
    Draft(DraftError),
    #[error(transparent)]
    Library(#[from] LibraryError),
    #[error(transparent)]
    Tokens(#[from] TokenStoreError),
}

impl From<rusqlite::Error> for SyncError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Library(LibraryError::Db(e))
    }
}

impl From<std::io::Error> for SyncError {
    fn from(e: std::io::Error) -> Self {
        Self::Library(LibraryError::Io(e))
    }
}

impl From<DraftError> for SyncError {
    fn from(e: DraftError) -> Self {
        match e {
            DraftError::Library(l) => Self::Library(l),
            other => Self::Draft(other),
        }
    }
}

impl From<reqwest::Error> for SyncError {
    fn from(e: reqwest::Error) -> Self {
        if e.is_decode() {
            Self::Protocol(e.to_string())
        } else {
            // Connect, timeout, a body cut mid-way: all mean "try again later".
            Self::Offline(short(&e))
        }
    }
}

/// The innermost cause, which is the part a person can act on ("connection refused").
fn short(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

impl SyncError {
    /// How long the server asked this client to wait before trying again.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            Self::Busy { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    /// The server's error code, if the server answered.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Self::Api { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Whether trying again later may work without the person doing anything.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Offline(_) | Self::Corrupt | Self::Busy { .. } | Self::KeepsChanging => true,
            Self::Api { status, code, .. } => {
                *status >= 500
                    || *status == 429
                    || *status == 408
                    || matches!(
                        code,
                        ErrorCode::UploadIncomplete
                            | ErrorCode::SizeMismatch
                            | ErrorCode::HashMismatch
                            | ErrorCode::InvalidUploadToken
                            | ErrorCode::Timeout
                    )
            }
            _ => false,
        }
    }
}
