//! The one log set-up every program of the project uses (the sync server, the delivery
//! Lambda, the desktop app and `itc`): `tracing` events, filtered by an environment
//! variable in `EnvFilter` syntax, as text for people or as JSON lines for log services.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Text for a person: colours on a terminal, a time on each line.
    Text,
    /// Text without times (the caller's surroundings add them, or a person reads a
    /// command's own output).
    TextWithoutTime,
    /// One JSON object per line.
    Json,
    /// JSON without times (AWS Lambda adds its own).
    JsonWithoutTime,
}

/// Where log lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Stdout,
    Stderr,
}

/// A program's logging.
#[derive(Debug, Clone, Copy)]
pub struct Logs {
    /// The environment variable holding the filter (`info`, `sync_server=debug,warn`, …).
    pub filter_var: &'static str,
    /// The filter when that variable is unset or not valid.
    pub default_filter: &'static str,
    pub format: Format,
    pub output: Output,
}

impl Logs {
    /// Installs this set-up as the process's subscriber. A second call does nothing (a
    /// test harness may have installed one).
    pub fn init(self) {
        let filter = EnvFilter::try_from_env(self.filter_var)
            .unwrap_or_else(|_| EnvFilter::new(self.default_filter));
        let builder = tracing_subscriber::fmt().with_env_filter(filter);
        let result = match (self.output, self.format) {
            (Output::Stdout, f) => {
                let b = builder
                    .with_writer(std::io::stdout)
                    .with_ansi(std::io::stdout().is_terminal());
                match f {
                    Format::Text => b.try_init(),
                    Format::TextWithoutTime => b.without_time().try_init(),
                    Format::Json => b.json().try_init(),
                    Format::JsonWithoutTime => b.json().without_time().try_init(),
                }
            }
            (Output::Stderr, f) => {
                let b = builder
                    .with_writer(std::io::stderr)
                    .with_ansi(std::io::stderr().is_terminal());
                match f {
                    Format::Text => b.try_init(),
                    Format::TextWithoutTime => b.without_time().try_init(),
                    Format::Json => b.json().try_init(),
                    Format::JsonWithoutTime => b.json().without_time().try_init(),
                }
            }
        };
        // Already installed: keep the first.
        drop(result);
    }
}
