//! Questions on the terminal: passwords without echo, and confirmations. Where there is no
//! terminal to ask on, a password comes from the environment and a confirmation from
//! `--yes`, never silently.

use std::io::{BufRead, IsTerminal, Write};

use crate::outcome::{Failure, Outcome};

/// Whether a person is there to answer.
pub fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// A password from `var`, or asked for on the terminal.
pub fn password(var: &str, prompt: &str) -> Outcome<String> {
    if let Ok(p) = std::env::var(var) {
        return Ok(p);
    }
    if !interactive() {
        return Err(Failure::refused(format!(
            "A password is needed: set {var}, or run this on a terminal to be asked."
        )));
    }
    rpassword::prompt_password(format!("{prompt}: "))
        .map_err(|e| Failure::refused(format!("The password could not be read ({e}).")))
}

/// A new password from `var`, or asked for twice on the terminal.
pub fn new_password(var: &str, prompt: &str) -> Outcome<String> {
    if let Ok(p) = std::env::var(var) {
        return Ok(p);
    }
    let first = password(var, prompt)?;
    let again = password(var, "The same again")?;
    if first != again {
        return Err(Failure::refused("The two passwords are not the same."));
    }
    Ok(first)
}

/// Asks a yes/no question on the terminal (no by default). Without a terminal, the answer
/// has to come from `--yes`: `refusal` says so.
pub fn confirm(question: &str, refusal: &str) -> Outcome<bool> {
    if !interactive() {
        return Err(Failure::refused(refusal));
    }
    let mut err = std::io::stderr();
    let _ = write!(err, "{question} [y/N] ");
    let _ = err.flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| Failure::refused(format!("The answer could not be read ({e}).")))?;
    Ok(matches!(answer.trim().to_lowercase().as_str(), "y" | "yes"))
}
