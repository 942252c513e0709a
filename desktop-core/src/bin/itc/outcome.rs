//! How a command ends: its exit code, and the sentence it leaves on stderr (the same the
//! window shows, from desktop-core's [`CommandError`]).

use std::process::ExitCode;

use desktop_core::CommandError;

/// The exit codes scripts rely on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Bad input, a sealed capsule, a wrong password: the person has to change something.
    Refused = 1,
    /// The command line itself is wrong (clap's own code for usage errors).
    Usage = 2,
    /// The server cannot be reached; what was asked stays queued.
    Unreachable = 3,
    /// Another program (the app, another `itc`) has the library open.
    InUse = 4,
}

/// A command that did not do what was asked.
#[derive(Debug)]
pub struct Failure {
    pub exit: Exit,
    pub message: String,
}

impl Failure {
    pub fn refused(message: impl Into<String>) -> Self {
        Self {
            exit: Exit::Refused,
            message: message.into(),
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            exit: Exit::Usage,
            message: message.into(),
        }
    }

    pub fn code(&self) -> ExitCode {
        ExitCode::from(self.exit as u8)
    }
}

impl From<CommandError> for Failure {
    fn from(e: CommandError) -> Self {
        let exit = match e.code.as_str() {
            "offline" | "unsent" | "busy" => Exit::Unreachable,
            "library_in_use" => Exit::InUse,
            _ => Exit::Refused,
        };
        Self {
            exit,
            message: e.message,
        }
    }
}

impl From<desktop_core::SyncError> for Failure {
    fn from(e: desktop_core::SyncError) -> Self {
        CommandError::from(e).into()
    }
}

impl From<desktop_core::DraftError> for Failure {
    fn from(e: desktop_core::DraftError) -> Self {
        CommandError::from(e).into()
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Self::refused(format!("{e:#}"))
    }
}

pub type Outcome<T = ()> = Result<T, Failure>;
