//! The app's command line, parsed once at start (a second launch's arguments go to the
//! first instance, which only uses them to come to the front).

use std::path::PathBuf;

/// Image Time Capsule: seal photos until a date, then share them.
#[derive(Debug, Clone, clap::Parser)]
#[command(version, about)]
pub struct Args {
    /// Folder for the library (database, photos, thumbnails); the platform's app-data
    /// folder by default.
    #[arg(long, env = "ITC_DESKTOP_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Sync server offered on the welcome and log-in screens.
    #[arg(long, env = "ITC_SERVER_URL", default_value = "http://127.0.0.1:8080")]
    pub server: String,
    /// Start in the tray without showing the window (how start-at-login launches it).
    #[arg(long)]
    pub hidden: bool,
}

impl Args {
    /// The arguments of this process; unknown ones (a platform's launcher may add some)
    /// are logged and ignored rather than stopping the app.
    pub fn from_env() -> Self {
        use clap::Parser;
        match Self::try_parse() {
            Ok(a) => a,
            Err(e)
                if matches!(
                    e.kind(),
                    clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
                ) =>
            {
                e.exit()
            }
            Err(e) => {
                tracing::warn!(error = %e, "ignoring the command line");
                Self::try_parse_from(["image-time-capsule"]).unwrap_or(Self {
                    data_dir: None,
                    server: "http://127.0.0.1:8080".into(),
                    hidden: false,
                })
            }
        }
    }
}
