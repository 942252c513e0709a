//! One-click unsubscribe links (RFC 8058). A link is the address and a MAC of it under a key
//! derived from the server's token secret: it needs no table, names one address, and cannot
//! be made for another address by someone who holds a link.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The bytes of a MAC a link carries (128 bits).
const TAG_BYTES: usize = 16;

/// The key unsubscribe links are made and checked with.
pub struct UnsubscribeKey(HmacSha256);

impl std::fmt::Debug for UnsubscribeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UnsubscribeKey(…)")
    }
}

impl UnsubscribeKey {
    /// Derives the key from the server's token secret, apart from every other use of it.
    pub fn derive(secret: &[u8]) -> Self {
        let mut kdf = HmacSha256::new_from_slice(secret).expect("HMAC takes a key of any length");
        kdf.update(b"image-time-capsule unsubscribe v1");
        let key = kdf.finalize().into_bytes();
        Self(HmacSha256::new_from_slice(&key).expect("HMAC takes a key of any length"))
    }

    fn tag(&self, address: &str) -> Vec<u8> {
        let mut mac = self.0.clone();
        mac.update(address.as_bytes());
        mac.finalize().into_bytes()[..TAG_BYTES].to_vec()
    }

    /// The token of a link for `address` (already lower-cased).
    pub fn token(&self, address: &str) -> String {
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(address.as_bytes()),
            URL_SAFE_NO_PAD.encode(self.tag(address))
        )
    }

    /// The address a genuine token names; none for anything else.
    pub fn address(&self, token: &str) -> Option<String> {
        let (address, tag) = token.split_once('.')?;
        let address = String::from_utf8(URL_SAFE_NO_PAD.decode(address).ok()?).ok()?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        let mut mac = self.0.clone();
        mac.update(address.as_bytes());
        let full = mac.finalize().into_bytes();
        // Constant time, so the tag cannot be guessed byte by byte.
        let same = tag.len() == TAG_BYTES
            && tag
                .iter()
                .zip(&full[..TAG_BYTES])
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        same.then_some(address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_opens_its_address_and_nothing_else_does() {
        let key = UnsubscribeKey::derive(b"a secret of at least thirty-two bytes!!");
        let token = key.token("friend@example.com");
        assert_eq!(key.address(&token).as_deref(), Some("friend@example.com"));

        let (_, tag) = token.split_once('.').expect("two parts");
        let forged = format!("{}.{tag}", URL_SAFE_NO_PAD.encode("other@example.com"));
        assert_eq!(
            key.address(&forged),
            None,
            "another address with a stolen tag"
        );
        let other = UnsubscribeKey::derive(b"another secret of at least thirty-two bytes");
        assert_eq!(other.address(&token), None, "another server's key");
        for bad in [
            "",
            ".",
            "x",
            "Zm9v.",
            "Zm9v.AAAA",
            &token[..token.len() - 1],
        ] {
            assert_eq!(key.address(bad), None, "{bad}");
        }
        assert!(!format!("{key:?}").contains("secret"));
    }
}
