//! What a command prints on stdout: one JSON document with `--json`, sentences and aligned
//! tables for people otherwise. Progress and questions go to stderr, so stdout stays clean
//! for a pipe.

use std::io::{IsTerminal, Write};

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

/// The output of one command.
#[derive(Debug, Clone, Copy)]
pub struct Out {
    pub json: bool,
}

impl Out {
    /// The command's JSON document (with `--json`).
    pub fn json<T: Serialize + ?Sized>(&self, doc: &T) {
        if self.json {
            let mut stdout = std::io::stdout().lock();
            // A closed pipe (`itc … | head`) is the reader's choice, not a failure.
            let _ = serde_json::to_writer_pretty(&mut stdout, doc);
            let _ = writeln!(stdout);
        }
    }

    /// A sentence for people (without `--json`).
    pub fn say(&self, line: impl AsRef<str>) {
        if !self.json {
            let _ = writeln!(std::io::stdout().lock(), "{}", line.as_ref());
        }
    }

    /// A warning for people, on stderr (also with `--json`, where stdout is the document).
    pub fn warn(&self, line: impl AsRef<str>) {
        let _ = writeln!(std::io::stderr().lock(), "{}", line.as_ref());
    }

    /// Rows under a header, each column as wide as its widest cell (the last one free).
    pub fn table(&self, header: &[&str], rows: &[Vec<String>]) {
        if self.json {
            return;
        }
        let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
        for row in rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |cells: &mut dyn Iterator<Item = &str>| {
            let mut s = String::new();
            for (i, cell) in cells.enumerate() {
                if i + 1 < widths.len() {
                    let pad = widths[i].saturating_sub(cell.chars().count());
                    s.push_str(cell);
                    s.push_str(&" ".repeat(pad + 2));
                } else {
                    s.push_str(cell);
                }
            }
            s.trim_end().to_owned()
        };
        self.say(line(&mut header.iter().copied()));
        for row in rows {
            self.say(line(&mut row.iter().map(String::as_str)));
        }
    }

    /// A progress bar on stderr when a person watches a terminal; hidden otherwise.
    pub fn progress(&self, total: u64, what: &str) -> ProgressBar {
        if self.json || !std::io::stderr().is_terminal() {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(total);
        if let Ok(style) =
            ProgressStyle::with_template(&format!("{what} {{bar:30}} {{pos}}/{{len}} {{wide_msg}}"))
        {
            bar.set_style(style);
        }
        bar
    }
}

/// A byte count as people read it.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if n < 1000 {
        return format!("{n} B");
    }
    let mut v = n as f64;
    let mut unit = "B";
    for u in UNITS {
        if v < 1000.0 {
            break;
        }
        v /= 1000.0;
        unit = u;
    }
    format!("{v:.1} {unit}")
}

/// "1 photo", "3 photos".
pub fn count(n: impl Into<u64>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}
