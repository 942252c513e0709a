//! Wire types of the Image Time Capsule HTTP API (v1), shared by the desktop app and the
//! sync server. Serde only: no I/O lives here.

#[macro_use]
mod stored;

pub mod accounts;
pub mod capsules;
pub mod error;
pub mod names;
#[cfg(feature = "openapi")]
pub mod openapi;
pub mod photos;
pub mod reminders;
pub mod sealing;
pub mod sync;
pub mod validate;

pub use accounts::*;
pub use capsules::*;
pub use error::*;
pub use photos::*;
pub use reminders::*;
pub use sealing::*;
pub use stored::UnknownName;
pub use sync::*;

/// The API version, the first path segment of every versioned route.
pub const API_VERSION: &str = "v1";

/// Password length bounds, in characters.
pub const PASSWORD_MIN_CHARS: usize = 8;
/// Upper bound keeps argon2 input bounded and matches what people can type.
pub const PASSWORD_MAX_CHARS: usize = 128;
/// At most this many recipients on a capsule.
pub const MAX_RECIPIENTS: usize = 20;
/// Longest capsule title, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// Longest capsule note, in characters.
pub const MAX_NOTE_CHARS: usize = 20_000;
