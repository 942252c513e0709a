//! The server's request parsing: a JSON body read into the request type of the route the
//! first byte picks, exactly as the server reads it (unknown fields refused), then checked by
//! the same rules the server applies; and the `If-Match` header's version. Whatever comes
//! in is either refused or comes out within the rules.

#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::{
    CapsuleWrite, ChangePasswordRequest, CreateAccountRequest, DeleteAccountRequest,
    LoginRequest, PhotoWrite, RefreshRequest, RevokeLinkRequest, MAX_NOTE_CHARS,
    MAX_RECIPIENTS, MAX_TITLE_CHARS,
};

fn capsule(body: &[u8]) {
    let Ok(w) = serde_json::from_slice::<CapsuleWrite>(body) else {
        return;
    };
    let now = chrono::Utc::now();
    if let Ok(v) = protocol::validate::capsule(&w, now) {
        assert!(!v.title.is_empty() && v.title.chars().count() <= MAX_TITLE_CHARS);
        assert!(!v.title.chars().any(char::is_control), "{:?}", v.title);
        assert!(v.note.chars().count() <= MAX_NOTE_CHARS);
        assert!(v.recipients.len() <= MAX_RECIPIENTS);
        for r in &v.recipients {
            assert!(!r.contains(['\r', '\n', ',', '<', '>']), "{r:?}");
            assert_eq!(protocol::validate::email(r).as_deref(), Ok(r.as_str()));
        }
        let mut sorted = v.recipients.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), v.recipients.len(), "no recipient twice");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&route, body)) = data.split_first() else {
        return;
    };
    match route % 9 {
        0 => capsule(body),
        1 => {
            let _ = serde_json::from_slice::<PhotoWrite>(body);
        }
        2 => {
            if let Ok(r) = serde_json::from_slice::<CreateAccountRequest>(body) {
                let _ = protocol::validate::email(&r.email);
            }
        }
        3 => {
            let _ = serde_json::from_slice::<LoginRequest>(body);
        }
        4 => {
            let _ = serde_json::from_slice::<RefreshRequest>(body);
        }
        5 => {
            let _ = serde_json::from_slice::<ChangePasswordRequest>(body);
        }
        6 => {
            let _ = serde_json::from_slice::<DeleteAccountRequest>(body);
        }
        7 => {
            if let Ok(r) = serde_json::from_slice::<RevokeLinkRequest>(body) {
                let _ = protocol::validate::email(&r.recipient);
            }
        }
        _ => {
            if let Ok(text) = std::str::from_utf8(body)
                && let Some(v) = protocol::parse_version(text)
            {
                assert!(v >= 0);
            }
        }
    }
});
