//! Reminders a capsule's owner asks for when sealing: a note to themselves, and a word to
//! the recipients that something is coming, some days before the open date. They carry no
//! content: the date, and the title only when the owner allows it.

use serde::{Deserialize, Serialize};

use crate::validate;

/// Most days before the open date a reminder may go out.
pub const MAX_REMINDER_DAYS: u16 = 365;
/// The days before the open date a reminder goes out unless the owner picks otherwise.
pub const DEFAULT_REMINDER_DAYS: u16 = 7;
/// Most addresses told that something is coming (as many as a capsule has recipients).
pub const MAX_NOTICE_RECIPIENTS: usize = 50;

/// What the owner chose at sealing. Sent with the seal (`SealRequest.reminders`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct Reminders {
    /// How many days before the open date they go out.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 365))]
    #[serde(deserialize_with = "whole_days")]
    #[cfg_attr(feature = "specta", specta(type = u16))]
    pub days_before: u16,
    /// The owner is reminded (at the account's address).
    #[serde(default)]
    pub owner: bool,
    /// The title may appear in them; without it they name only the date and the sender.
    #[serde(default)]
    pub show_title: bool,
    /// Recipients told that a capsule is coming. Their addresses are kept readable by the
    /// server until then, which a capsule sealed on the device otherwise keeps encrypted.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::recipients))]
    pub recipients: Vec<String>,
}

/// A whole number of days, also when written `7.0` (JSON Schema's integers admit it); one
/// too large for `u16` becomes `u16::MAX`, which [`Reminders::checked`] refuses in words.
fn whole_days<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
    crate::photos::whole_number(d).map(|n| u16::try_from(n).unwrap_or(u16::MAX))
}

impl Reminders {
    /// Checks the choice; answers it with addresses lower-cased and each once, or a
    /// sentence saying what is wrong.
    pub fn checked(&self) -> Result<Reminders, String> {
        if !(1..=MAX_REMINDER_DAYS).contains(&self.days_before) {
            return Err(format!(
                "A reminder goes out between 1 and {MAX_REMINDER_DAYS} days before the open date."
            ));
        }
        if self.recipients.len() > MAX_NOTICE_RECIPIENTS {
            return Err(format!(
                "At most {MAX_NOTICE_RECIPIENTS} recipients can be told that a capsule is coming."
            ));
        }
        let mut recipients: Vec<String> = Vec::with_capacity(self.recipients.len());
        for r in &self.recipients {
            let r = validate::email(r)?;
            if !recipients.contains(&r) {
                recipients.push(r);
            }
        }
        Ok(Reminders {
            days_before: self.days_before,
            owner: self.owner,
            show_title: self.show_title,
            recipients,
        })
    }

    /// Nobody is to be reminded.
    pub fn is_empty(&self) -> bool {
        !self.owner && self.recipients.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(days: u16, recipients: &[&str]) -> Reminders {
        Reminders {
            days_before: days,
            owner: true,
            show_title: false,
            recipients: recipients.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn days_are_bounded_and_addresses_checked_and_kept_once() {
        assert!(r(0, &[]).checked().is_err());
        assert!(r(366, &[]).checked().is_err());
        assert!(r(7, &["not an address"]).checked().is_err());
        let ok = r(7, &["A@Example.com", "a@example.com", "b@example.org"])
            .checked()
            .expect("valid");
        assert_eq!(ok.recipients, ["a@example.com", "b@example.org"]);
    }

    #[test]
    fn a_choice_without_fields_is_refused_and_unknown_fields_too() {
        assert!(serde_json::from_str::<Reminders>("{}").is_err());
        assert!(serde_json::from_str::<Reminders>(r#"{"days_before":7,"x":1}"#).is_err());
        let only_days: Reminders = serde_json::from_str(r#"{"days_before":7}"#).expect("parse");
        assert!(only_days.is_empty());
        let written_as_float: Reminders =
            serde_json::from_str(r#"{"days_before":93.0,"owner":true}"#).expect("parse");
        assert_eq!(written_as_float.days_before, 93);
        let huge: Reminders = serde_json::from_str(r#"{"days_before":1e9}"#).expect("parse");
        assert!(
            huge.checked().is_err(),
            "refused in words, not as a parse error"
        );
    }
}
