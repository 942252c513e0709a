//! Commands answer desktop-core's [`CommandError`], the error `itc` prints too: a code the UI
//! can switch on and a sentence for the person.

pub use desktop_core::{AppCode, CommandError, ErrorKind};

/// The result of a command.
pub type CmdResult<T> = Result<T, CommandError>;
