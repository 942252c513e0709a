//! Everything the desktop app does that is not a window, testable without one: the local
//! library (SQLite and content-addressed photo files), photo import with thumbnails,
//! offline drafts and the outbox, the sync engine with its account and token storage, and
//! the unlock watcher with native notifications.

pub mod clock;
pub mod desktop;
pub mod drafts;
pub mod error;
pub mod export;
pub mod import;
pub mod library;
pub mod lock;
mod outbox;
pub mod sealed;
pub mod settings;
pub mod sync;
pub mod thumbs;
pub mod tokens;
pub mod unlock;
pub mod view;

pub use clock::{Clock, ManualClock, SystemClock};
pub use desktop::{AccountInfo, AccountStatus, Desktop};
pub use drafts::{Draft, DraftError, DraftPhoto, SealOptions};
pub use error::{AppCode, CommandError, ErrorKind};
pub use export::{ExportFailure, ExportProgress, ExportReport, export_originals};
pub use import::{
    CancelToken, CapsuleImport, ImportFailure, ImportProgress, ImportReport, ImportedPhoto,
    MAX_PIXELS, SkippedFile, import,
};
pub use library::{Library, LibraryError, PhotoRecord, ThumbSize};
pub use lock::{LibraryLock, LockError};
pub use sealed::{Drand, Manifest, OpenOutcome, SealedError, open_due_here};
pub use settings::Settings;
pub use sync::{Account, SyncEngine, SyncError, SyncEvent, SyncReport, SyncState, Timeouts};
pub use thumbs::{Made, Thumbnails};
pub use tokens::{TokenBackend, TokenStore, TokenStoreError};
pub use unlock::{APP_ID, DesktopNotifier, Notifier, UnlockWatcher, Unlocked};
pub use view::{CapsuleDetail, CapsuleSummary, PhotoView, capsule_detail, capsule_list};
