//! The command line: names fixed by the project's contract (scripts depend on them).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Exit codes: 0 ok, 1 refused (bad input, sealed, wrong password), 2 usage,
3 server unreachable (the work stays queued), 4 library in use by another program.

Passwords come from ITC_PASSWORD (and ITC_NEW_PASSWORD for a new one) or a prompt
that does not echo; never from an argument.";

const WHEN_HELP: &str = "When it opens: YYYY-MM-DD (midnight in --tz), YYYY-MM-DDTHH:MM, \
RFC 3339 (2030-01-01T09:00:00+01:00), or from now: +30d, +2w, +6mo, +5y, +12h, +90min, +45s";

/// Image Time Capsule from a terminal: make capsules of photos, seal them until a date,
/// sync them with your account, and open them when the day comes.
///
/// It works on the same library as the desktop app (not at the same time).
#[derive(Debug, Parser)]
#[command(name = "itc", version, after_help = AFTER_HELP, max_term_width = 100)]
pub struct Cli {
    /// The library folder; the desktop app's by default.
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "ITC_DESKTOP_DATA_DIR",
        value_name = "DIR"
    )]
    pub data_dir: Option<PathBuf>,
    /// The sync server to sign up or log in to.
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "ITC_SERVER_URL",
        value_name = "URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub server: String,
    /// Print one JSON document on stdout (the app's field names) instead of sentences.
    #[arg(long, global = true, help_heading = "Global options")]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Your account on the sync server.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Make, fill, seal, list, show, export, take back and delete capsules.
    #[command(subcommand)]
    Capsule(CapsuleCommand),
    /// Send what waits and fetch what changed, once.
    Sync {
        /// Keep going until nothing waits to be sent.
        #[arg(long)]
        wait: bool,
    },
    /// Stay running: sync in the background and announce capsules as they open.
    ///
    /// Shows a desktop notification when there is a desktop session, and prints a line
    /// either way. Stops cleanly on Ctrl-C or SIGTERM; unsent work stays queued.
    Watch,
}

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Make an account and log this computer in to it.
    Signup { email: String },
    /// Log this computer in to an account.
    Login { email: String },
    /// Log this computer out; capsules stay on this computer.
    Logout,
    /// Who is logged in, and where.
    Status,
    /// Change the account's password; other devices are logged out.
    Password,
    /// Delete the account and everything of it on the server.
    Delete,
}

#[derive(Debug, Subcommand)]
pub enum CapsuleCommand {
    /// Make a draft, with photos from files and folders.
    New {
        /// The capsule's title.
        #[arg(long)]
        title: String,
        #[command(flatten)]
        note: NoteArgs,
        #[arg(long, value_name = "WHEN", help = WHEN_HELP)]
        open_at: Option<String>,
        /// The time zone the date is in (an IANA name); this computer's by default.
        #[arg(long, value_name = "ZONE")]
        tz: Option<String>,
        /// A recipient's email address (repeat for more). You always get one too.
        #[arg(long = "to", value_name = "EMAIL")]
        to: Vec<String>,
        /// Photos, or folders of photos (walked recursively).
        paths: Vec<PathBuf>,
    },
    /// Add photos (files or folders) to a draft.
    Add {
        id: String,
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Take a photo out of a draft.
    RemovePhoto { id: String, photo_id: String },
    /// Change a draft's title, note, date or recipients.
    Edit {
        id: String,
        #[arg(long)]
        title: Option<String>,
        #[command(flatten)]
        note: NoteArgs,
        #[arg(long, value_name = "WHEN", help = WHEN_HELP)]
        open_at: Option<String>,
        /// The time zone the date is in; the capsule's own by default.
        #[arg(long, value_name = "ZONE")]
        tz: Option<String>,
        /// Add a recipient (repeat for more).
        #[arg(long = "to", value_name = "EMAIL")]
        to: Vec<String>,
        /// Remove every recipient first (then --to adds the new ones).
        #[arg(long)]
        clear_recipients: bool,
    },
    /// Seal a draft: nobody, you included, can open or change it before its date.
    Seal {
        id: String,
        /// Do not ask; needed where there is no terminal to ask on.
        #[arg(long)]
        yes: bool,
        /// Lock it with the drand time lock alone: without the server's escrow key, only the
        /// drand beacon of the open date opens it (if drand is gone then, it stays shut).
        /// Without an account every seal is time lock only.
        #[arg(long)]
        time_lock_only: bool,
        #[command(flatten)]
        reminders: ReminderFlags,
    },
    /// List the capsules on this computer.
    List {
        #[arg(long, value_enum)]
        state: Option<StateFilter>,
    },
    /// Show one capsule (an opened one with how its emails went, asked of the server).
    Show { id: String },
    /// Send an opened capsule's email again to a recipient whose email bounced or failed,
    /// with a new link; --to sends it to a corrected address instead.
    Resend {
        id: String,
        /// The address the email went to.
        recipient: String,
        /// Send it here instead; the capsule's recipient list changes with it.
        #[arg(long, value_name = "EMAIL")]
        to: Option<String>,
    },
    /// Copy an opened capsule's original photos into a folder; for a capsule sealed on this
    /// computer, its time-locked files, which open on the date even without this app.
    Export { id: String, dir: PathBuf },
    /// Take back a sealed capsule's folder (what export writes for a sealed capsule): it
    /// joins this library sealed, and opens on this computer on its date.
    ImportSealed { dir: PathBuf },
    /// Delete a capsule here and on the server.
    Delete {
        id: String,
        /// Do not ask; needed where there is no terminal to ask on.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Args)]
#[group(multiple = false)]
pub struct NoteArgs {
    /// The note to the future.
    #[arg(long, value_name = "TEXT")]
    pub note: Option<String>,
    /// Read the note from a file (- for standard input).
    #[arg(long, value_name = "FILE")]
    pub note_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StateFilter {
    Draft,
    Sealed,
    Opened,
}

impl StateFilter {
    pub fn state(self) -> protocol::CapsuleState {
        match self {
            Self::Draft => protocol::CapsuleState::Draft,
            Self::Sealed => protocol::CapsuleState::Sealed,
            Self::Opened => protocol::CapsuleState::Opened,
        }
    }
}

/// Reminders before the open date, sent by the server (so only with an account).
#[derive(Debug, Clone, Args)]
pub struct ReminderFlags {
    /// Days before the open date the reminders go out (1 to 365).
    #[arg(long, value_name = "DAYS", default_value_t = protocol::DEFAULT_REMINDER_DAYS,
          value_parser = clap::value_parser!(u16).range(1..=i64::from(protocol::MAX_REMINDER_DAYS)))]
    pub remind_days: u16,
    /// You get no reminder (you get one by default).
    #[arg(long)]
    pub no_reminder: bool,
    /// The reminders may show the capsule's title; without this they name only the date.
    #[arg(long)]
    pub remind_title: bool,
    /// Tell the recipients too that a capsule is coming. Their addresses then stay readable
    /// by the server until that day (otherwise they are encrypted with the capsule).
    #[arg(long)]
    pub tell_recipients: bool,
}
