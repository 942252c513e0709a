//! Password hashing (argon2id at OWASP's parameters) and strength rules.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use protocol::{PASSWORD_MAX_CHARS, PASSWORD_MIN_CHARS};

/// OWASP's argon2id minimum: 19 MiB, 2 iterations, 1 lane.
fn hasher() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password into a PHC string. CPU-heavy: call from a blocking thread.
pub fn hash(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing password: {e}"))
}

/// A PHC string made by `hash` of a password nobody is told: a log-in for an unknown email
/// is checked against it, so it takes as long as a wrong password. A constant, so a fresh
/// process (a Lambda's cold start) spends no hash on making one; a test keeps its
/// parameters equal to `hash`'s.
pub const DECOY: &str = "$argon2id$v=19$m=19456,t=2,p=1$TVv3Ux69GdcP0RMue5/VGQ$/BRYnX5OyzCGYXh5Vm/nH+/15Qlv3CKdAJ31nag9CQI";

/// Checks a password against a PHC string. CPU-heavy: call from a blocking thread.
pub fn verify(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => hasher()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Why a new password is refused, as a sentence for a person; None when it is acceptable.
pub fn weakness(password: &str, email: &str) -> Option<String> {
    let chars = password.chars().count();
    if chars < PASSWORD_MIN_CHARS {
        return Some(format!(
            "Use at least {PASSWORD_MIN_CHARS} characters for your password."
        ));
    }
    if chars > PASSWORD_MAX_CHARS {
        return Some(format!(
            "Use at most {PASSWORD_MAX_CHARS} characters for your password."
        ));
    }
    let local = email.split('@').next().unwrap_or_default();
    let estimate = zxcvbn::zxcvbn(password, &[email, local]);
    // Scores 0 and 1 are passwords found near the top of breach lists and dictionaries.
    if u8::from(estimate.score()) < 2 {
        let hint = estimate
            .feedback()
            .and_then(|f| f.warning())
            .map(|w| format!(" ({w})"))
            .unwrap_or_default();
        return Some(format!(
            "This password is too common or too easy to guess{hint}. Try a longer phrase."
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_decoy_costs_what_a_real_hash_costs() {
        let real = hash("any password at all").expect("hash");
        let params = |phc: &str| phc.split('$').take(4).collect::<Vec<_>>().join("$");
        assert_eq!(params(DECOY), params(&real));
        assert!(!verify("any password at all", DECOY));
    }

    #[test]
    fn hashes_verify_and_reject_other_passwords() {
        let h = hash("correct horse battery staple").expect("hash");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify("correct horse battery staple", &h));
        assert!(!verify("correct horse battery stapler", &h));
        assert!(!verify("anything", "not a phc string"));
    }

    #[test]
    fn common_short_and_long_passwords_are_refused() {
        assert!(weakness("password", "a@b.example").is_some());
        assert!(weakness("123456789", "a@b.example").is_some());
        assert!(weakness("qwertyuiop", "a@b.example").is_some());
        assert!(weakness("Sh0rt!", "a@b.example").is_some());
        assert!(weakness(&"x".repeat(129), "a@b.example").is_some());
        assert!(weakness("glacier-otter-lamp-71", "a@b.example").is_none());
    }
}
