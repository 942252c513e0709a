//! A capsule's sealed files on this device: the age files a seal writes (each original and
//! its thumbnails, the index, the note, the recipients), the `manifest.json` and
//! `README.txt` beside them, and what this device does with them when it has no server:
//! seal on this computer only, open with the drand beacon of the date, take back a sealed
//! folder someone exported.

mod files;
mod here;
mod reimport;

pub(crate) use files::{About, Lock, Plain, encrypt_file, plain_files, readme, write_kept};
pub use files::{Drand, Manifest};
pub use here::{OpenOutcome, open_due_here};

/// Why sealing or opening on this device failed.
#[derive(Debug, thiserror::Error)]
pub enum SealedError {
    #[error(transparent)]
    Draft(#[from] crate::drafts::DraftError),
    /// A photo of the capsule is not on this computer any more.
    #[error("The photo “{0}” of this capsule is no longer on this computer.")]
    MissingPhoto(String),
    /// A sealed file is damaged, or is not the one the manifest names.
    #[error("The sealed file {file} is damaged: {why}")]
    Damaged { file: String, why: String },
    /// The folder is not a sealed capsule's.
    #[error("{0}")]
    NotSealedFolder(String),
    /// The capsule is already in this library.
    #[error("This capsule is already in the library.")]
    AlreadyHere,
    #[error("sealing: {0}")]
    Seal(#[from] seal::SealError),
    #[error("library files: {0}")]
    Io(#[from] std::io::Error),
}

impl From<rusqlite::Error> for SealedError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Draft(e.into())
    }
}

impl From<crate::library::LibraryError> for SealedError {
    fn from(e: crate::library::LibraryError) -> Self {
        Self::Draft(e.into())
    }
}
