//! Everything the desktop app does that is not a window, testable without one. So far: the
//! local library (SQLite and content-addressed photo files) and photo import with
//! thumbnails. Drafts, the sync engine, accounts and the unlock watcher build on these.

pub mod drafts;
pub mod import;
pub mod library;
mod metadata;

pub use drafts::{Draft, DraftError, DraftPhoto};
pub use import::{
    CancelToken, ImportFailure, ImportProgress, ImportReport, ImportedPhoto, MAX_PIXELS,
    Thumbnails, import, thumbnails,
};
pub use library::{Library, LibraryError, PhotoRecord, ThumbSize};
