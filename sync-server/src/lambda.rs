//! What both Lambda binaries do before their handler: logs, TLS, and settings.

use clap::Parser;

use crate::{Flags, Settings};

/// JSON logs without a time (CloudWatch stamps each line), the TLS provider, and the
/// settings from the ITC_* variables, with `/tmp/itc` as the data folder unless one is
/// set: Lambda passes no arguments, and /tmp is the only writable folder there.
pub fn start(name: &str) -> anyhow::Result<Settings> {
    logging::Logs {
        filter_var: "RUST_LOG",
        default_filter: "info",
        format: logging::Format::JsonWithoutTime,
        output: logging::Output::Stdout,
    }
    .init();
    crate::install_crypto_provider();
    let mut flags = Flags::parse_from([name]);
    if flags.data_dir.is_none() {
        flags.data_dir = Some(std::env::temp_dir().join("itc"));
    }
    Settings::from_flags(flags)
}
