//! The rules' answers the UI's unit tests use, written by the Rust side: the in-memory
//! backend of those tests looks answers up here instead of repeating the rules (or their
//! sentences) in TypeScript, so a UI test asserts what the UI does with an answer, and the
//! answer is the app's own. `ITC_UPDATE_BINDINGS=1` rewrites the file with the bindings.

use std::collections::BTreeMap;

use desktop_core::DraftError;
use protocol::CapsuleWrite;
use serde::Serialize;

/// Where the fixture lives, from the workspace root.
pub const RULES: &str = "ui/src/lib/testing/rules.gen.json";

/// Addresses the UI tests type; add one here before a test uses it.
const EMAILS: &[&str] = &[
    "ann@",
    "ann@example.com",
    "Ann@Example.com",
    "bob@example.com",
    "a@example.com",
    "b@example.com",
    "me@example.com",
    "not an address",
    // Typed as a list: checked whole while typing, split when committed.
    "Ann@Example.com, bob@example.com",
];

/// Titles the UI tests type.
const TITLES: &[&str] = &[
    "   ",
    "T",
    "Tr",
    "Tri",
    "Trip",
    "Trip to the lake",
    "Typed here",
    "Kept",
    "Too late",
    "New capsule",
];

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
enum EmailAnswer {
    Ok(String),
    Error(String),
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rules {
    /// `check_email`'s answer for each address.
    email: BTreeMap<&'static str, EmailAnswer>,
    /// `check_capsule`'s answer for a draft with each title (and nothing else wrong).
    title: BTreeMap<&'static str, Option<String>>,
    /// Sentences of the app's own errors.
    messages: BTreeMap<&'static str, String>,
}

/// The fixture's text.
pub fn rules() -> String {
    let email = EMAILS
        .iter()
        .map(|a| {
            let answer = match protocol::validate::email(a) {
                Ok(normal) => EmailAnswer::Ok(normal),
                Err(why) => EmailAnswer::Error(why),
            };
            (*a, answer)
        })
        .collect();
    let now = chrono::Utc::now();
    let title = TITLES
        .iter()
        .map(|t| {
            let fields = CapsuleWrite {
                title: (*t).to_owned(),
                note: String::new(),
                open_at: None,
                time_zone: "UTC".into(),
                recipients: Vec::new(),
            };
            (*t, protocol::validate::capsule(&fields, now).err())
        })
        .collect();
    let messages = [("capsuleNotFound", DraftError::NotFound.to_string())]
        .into_iter()
        .collect();
    let mut text = serde_json::to_string_pretty(&Rules {
        email,
        title,
        messages,
    })
    .unwrap_or_default();
    text.push('\n');
    text
}
