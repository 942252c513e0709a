//! `itc account …`: sign up, log in and out, the password and the account itself, through
//! desktop-core as the window's settings do.

use desktop_core::{AccountStatus, Desktop};

use crate::ask;
use crate::cli::AccountCommand;
use crate::out::Out;
use crate::outcome::{Failure, Outcome};

pub fn run(d: &Desktop, out: Out, server: &str, command: AccountCommand) -> Outcome {
    let rt = crate::runtime()?;
    match command {
        AccountCommand::Signup { email } => {
            let password = ask::new_password("ITC_PASSWORD", "Choose a password")?;
            rt.block_on(d.sign_up(server, &email, &password))?;
            out.say(format!("Made the account {email}."));
            status(d, out);
        }
        AccountCommand::Login { email } => {
            let password = ask::password("ITC_PASSWORD", "Password")?;
            rt.block_on(d.log_in(server, &email, &password))?;
            status(d, out);
        }
        AccountCommand::Logout => {
            let was = d.account_status().account;
            rt.block_on(d.engine.log_out())?;
            out.json(&d.account_status());
            match was {
                Some(a) => out.say(format!(
                    "Logged out of {} on {}. Your capsules stay on this computer.",
                    a.email, a.server_url
                )),
                None => out.say("Nobody was logged in."),
            }
        }
        AccountCommand::Status => status(d, out),
        AccountCommand::Password => {
            logged_in(d)?;
            let current = ask::password("ITC_PASSWORD", "Current password")?;
            let new = ask::new_password("ITC_NEW_PASSWORD", "New password")?;
            rt.block_on(d.engine.change_password(&current, &new))?;
            out.json(&d.account_status());
            out.say("The password is changed; your other devices have to log in again.");
        }
        AccountCommand::Delete => {
            let who = logged_in(d)?;
            if ask::interactive()
                && !ask::confirm(
                    &format!(
                        "Delete the account {who} and every capsule and photo of it on the \
                         server? Capsules on this computer stay here as drafts."
                    ),
                    "",
                )?
            {
                return Err(Failure::refused("The account was not deleted."));
            }
            let password = ask::password("ITC_PASSWORD", "Password, to confirm")?;
            rt.block_on(d.engine.delete_account(&password))?;
            out.json(&d.account_status());
            out.say(format!("The account {who} is deleted."));
        }
    }
    Ok(())
}

fn logged_in(d: &Desktop) -> Outcome<String> {
    d.account_status()
        .account
        .map(|a| a.email)
        .ok_or_else(|| Failure::refused("Log in first: itc account login EMAIL"))
}

fn status(d: &Desktop, out: Out) {
    let s: AccountStatus = d.account_status();
    out.json(&s);
    match &s.account {
        Some(a) => {
            out.say(format!("Logged in as {} on {}.", a.email, a.server_url));
            if s.session_ended {
                out.say("The session has ended: log in again to keep syncing.");
            }
        }
        None => out.say("Not logged in: capsules stay on this computer only."),
    }
}
