//! The rules for what a person may type into a capsule, shared by the desktop (which checks
//! as the person types, offline) and the server (which checks again). Pure functions.

use chrono::{DateTime, Duration, Utc};

use crate::{CapsuleWrite, MAX_NOTE_CHARS, MAX_RECIPIENTS, MAX_TITLE_CHARS};

/// Furthest open date accepted: a century ahead.
pub const MAX_YEARS_AHEAD: i64 = 100;

/// A capsule's editable fields, checked and normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidCapsule {
    pub title: String,
    pub note: String,
    pub open_at: Option<DateTime<Utc>>,
    pub time_zone: String,
    /// Lower-cased, deduplicated, in the order given.
    pub recipients: Vec<String>,
}

fn has_bad_controls(s: &str, allow_newlines: bool) -> bool {
    s.chars()
        .any(|c| c.is_control() && !(allow_newlines && matches!(c, '\n' | '\r' | '\t')))
}

/// Checks one email address; answers it lower-cased, or a sentence saying what is wrong.
/// Only a plain address is taken (`name@example.com`): no display name, no quoted or
/// commented parts, no IP-literal domain, so nothing but the address can reach a header.
pub fn email(address: &str) -> Result<String, String> {
    let a = address.trim().to_lowercase();
    let options = email_address::Options::default()
        .without_display_text()
        .without_domain_literal()
        .with_required_tld();
    let plain = !a
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || "\"(),:;<>[\\]".contains(c));
    if a.len() > 254
        || !plain
        || email_address::EmailAddress::parse_with_options(&a, options).is_err()
    {
        let shown: String = address
            .chars()
            .filter(|c| !c.is_control())
            .take(80)
            .collect();
        return Err(format!("“{shown}” is not a valid email address."));
    }
    Ok(a)
}

/// Checks a capsule's fields at `now`; the error is a sentence for a person.
pub fn capsule(w: &CapsuleWrite, now: DateTime<Utc>) -> Result<ValidCapsule, String> {
    let title = w.title.trim();
    if title.is_empty() {
        return Err("Give the capsule a title.".into());
    }
    if title.chars().count() > MAX_TITLE_CHARS || has_bad_controls(title, false) {
        return Err(format!(
            "The title must be one line of at most {MAX_TITLE_CHARS} characters."
        ));
    }
    if w.note.chars().count() > MAX_NOTE_CHARS || has_bad_controls(&w.note, true) {
        return Err(format!(
            "The note must be text of at most {MAX_NOTE_CHARS} characters."
        ));
    }
    let tz = w.time_zone.trim();
    if tz.is_empty()
        || tz.len() > 64
        || !tz
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'+'))
    {
        return Err("The time zone must be an IANA name such as Europe/Paris.".into());
    }
    if let Some(t) = w.open_at
        && t > now + Duration::days(365 * MAX_YEARS_AHEAD)
    {
        return Err(format!(
            "The open date must be within {MAX_YEARS_AHEAD} years."
        ));
    }
    if w.recipients.len() > MAX_RECIPIENTS {
        return Err(format!(
            "A capsule can have at most {MAX_RECIPIENTS} recipients."
        ));
    }
    let mut recipients: Vec<String> = Vec::with_capacity(w.recipients.len());
    for r in &w.recipients {
        let a = email(r)?;
        if !recipients.contains(&a) {
            recipients.push(a);
        }
    }
    Ok(ValidCapsule {
        title: title.to_owned(),
        note: w.note.clone(),
        open_at: w.open_at,
        time_zone: tz.to_owned(),
        recipients,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(title: &str, recipients: &[&str]) -> CapsuleWrite {
        CapsuleWrite {
            title: title.into(),
            note: "n".into(),
            open_at: None,
            time_zone: "Europe/Paris".into(),
            recipients: recipients.iter().map(|r| (*r).to_owned()).collect(),
        }
    }

    #[test]
    fn recipients_are_normalised_and_bad_ones_named() {
        let v = capsule(
            &write(" Trip ", &[" Ann@Example.com", "ann@example.com"]),
            Utc::now(),
        )
        .expect("valid");
        assert_eq!(
            (v.title.as_str(), v.recipients),
            ("Trip", vec!["ann@example.com".to_owned()])
        );
        let e = capsule(
            &write("t", &["a@b.example\r\nBcc: x@y.example"]),
            Utc::now(),
        )
        .err();
        assert!(e.is_some_and(|m| m.contains("not a valid email")));
        assert!(capsule(&write("", &[]), Utc::now()).is_err());
        assert!(capsule(&write("a\nb", &[]), Utc::now()).is_err());
    }
}
