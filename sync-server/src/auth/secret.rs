//! Opaque secrets handed to clients (refresh tokens, recipients' links): 256 random bits,
//! and the one way they are stored, as a SHA-256, so a database dump opens nothing.

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// A fresh secret (256 random bits, URL-safe) and the hash stored for it.
pub fn new() -> (String, String) {
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
    let stored = hash(&token);
    (token, stored)
}

/// The stored form of a secret.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}
