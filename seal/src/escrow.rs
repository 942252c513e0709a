//! The escrow key: an X25519 key pair of the service. Files sealed with an escrow stanza open
//! with its private key too, which the service keeps secret and uses only after the date.

use std::str::FromStr;

use age::secrecy::ExposeSecret;

use crate::SealError;

/// The service's escrow private key. Its `Debug` prints nothing of it.
pub struct EscrowKey(pub(crate) age::x25519::Identity);

impl std::fmt::Debug for EscrowKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EscrowKey(..)")
    }
}

impl EscrowKey {
    /// A fresh key.
    pub fn generate() -> Self {
        Self(age::x25519::Identity::generate())
    }

    /// Parses an `AGE-SECRET-KEY-1…` string.
    pub fn parse(text: &str) -> Result<Self, SealError> {
        age::x25519::Identity::from_str(text.trim())
            .map(Self)
            .map_err(|_| SealError::Invalid("not an age X25519 secret key".into()))
    }

    /// A key from a stored secret: an `AGE-SECRET-KEY-1…` string as is, or any other secret
    /// of at least 32 characters (what a secret store generates), from which the key is
    /// derived (SHA-256 with a label of its own), so the same secret gives the same key.
    pub fn from_secret(text: &str) -> Result<Self, SealError> {
        let text = text.trim();
        if text.starts_with("AGE-SECRET-KEY-1") {
            return Self::parse(text);
        }
        if text.chars().count() < 32 {
            return Err(SealError::Invalid(
                "an escrow secret has at least 32 characters".into(),
            ));
        }
        use bech32::ToBase32;
        use sha2::Digest;
        let scalar = sha2::Sha256::new()
            .chain_update(b"image-time-capsule escrow key v1\0")
            .chain_update(text.as_bytes())
            .finalize();
        let encoded = bech32::encode(
            "age-secret-key-",
            scalar.to_base32(),
            bech32::Variant::Bech32,
        )
        .map_err(|e| SealError::Invalid(e.to_string()))?;
        Self::parse(&encoded.to_uppercase())
    }

    /// The `AGE-SECRET-KEY-1…` string (to be kept in a secret store or a 0600 file).
    pub fn to_secret_text(&self) -> String {
        self.0.to_string().expose_secret().to_owned()
    }

    /// The public half, which sealing devices encrypt to.
    pub fn public(&self) -> EscrowPublic {
        EscrowPublic(self.0.to_public())
    }
}

/// The escrow public key (`age1…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscrowPublic(pub(crate) age::x25519::Recipient);

impl std::fmt::Display for EscrowPublic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for EscrowPublic {
    type Err = SealError;
    fn from_str(s: &str) -> Result<Self, SealError> {
        age::x25519::Recipient::from_str(s.trim())
            .map(Self)
            .map_err(|_| SealError::Invalid("not an age X25519 public key".into()))
    }
}
