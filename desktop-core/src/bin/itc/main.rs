//! `itc`, Image Time Capsule's command-line client: everything the window does, from a
//! terminal and from scripts, over the same desktop-core and the same library folder.

mod account;
mod ask;
mod capsule;
mod cli;
mod out;
mod outcome;
mod sync;
mod when;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::OnceLock;

use clap::Parser;
use desktop_core::Desktop;

use crate::cli::{Cli, Command};
use crate::out::Out;
use crate::outcome::{Failure, Outcome};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                Failure::usage("").code()
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    logging::Logs {
        filter_var: "ITC_LOG",
        default_filter: "warn",
        format: logging::Format::TextWithoutTime,
        output: logging::Output::Stderr,
    }
    .init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("{}", f.message);
            f.code()
        }
    }
}

fn run(cli: Cli) -> Outcome {
    let dir = data_dir(cli.data_dir)?;
    let d = Desktop::open(&dir, "itc", sync::notifier())?;
    let out = Out { json: cli.json };
    match cli.command {
        Command::Account(c) => account::run(&d, out, &cli.server, c),
        Command::Capsule(c) => capsule::run(&d, out, c),
        Command::Sync { wait } => sync::sync(&d, out, wait),
        Command::Watch => sync::watch(&d, out),
    }
}

/// The library folder: `--data-dir`, or where the desktop app keeps its own.
fn data_dir(given: Option<PathBuf>) -> Outcome<PathBuf> {
    match given {
        Some(d) => Ok(d),
        None => dirs::data_dir()
            // The app's library lives in the platform's data folder under its identifier;
            // `itc` uses the same one by default.
            .map(|d| d.join(desktop_core::APP_ID))
            .ok_or_else(|| Failure::usage("This system has no data folder; pass --data-dir DIR.")),
    }
}

/// The one runtime of this process (the engine's HTTP connections belong to it).
pub fn runtime() -> Outcome<&'static tokio::runtime::Runtime> {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure::refused(format!("Could not start ({e}).")))?;
    Ok(RUNTIME.get_or_init(|| rt))
}
