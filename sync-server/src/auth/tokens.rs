//! Access tokens (JWT, HS256 pinned) and upload tokens.

use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// Issuer of every token this server signs.
pub const ISSUER: &str = "image-time-capsule";
/// Audience of every token this server signs.
pub const AUDIENCE: &str = "image-time-capsule-api";
/// Token type claim of access tokens.
pub const TYPE_ACCESS: &str = "access";
/// Token type claim of upload tokens.
pub const TYPE_UPLOAD: &str = "upload";
/// Token type claim of sealed-file upload tokens (the subject is the capsule).
pub const TYPE_SEALED_UPLOAD: &str = "sealed-upload";

/// Tolerated clock difference between servers, in seconds.
const LEEWAY_SECS: i64 = 5;

/// Claims of every signed token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub exp: i64,
    pub nbf: i64,
    pub iat: i64,
    /// Token type: a token of one type never passes as another.
    pub typ: String,
    /// Access: the session (refresh family) id. Upload: the photo id.
    pub sid: String,
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    Expired,
    Invalid,
}

/// Signing and validation keys with the pinned validation rules.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKeys(..)")
    }
}

impl TokenKeys {
    /// Keys from the shared secret.
    pub fn new(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        // Times are checked in `verify` against the app's clock, not the library's.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    /// Signs a token of a type for a subject, valid from `now` for `ttl`.
    pub fn sign(
        &self,
        typ: &str,
        sub: impl std::fmt::Display,
        sid: impl std::fmt::Display,
        now: i64,
        ttl: Duration,
    ) -> anyhow::Result<String> {
        let now_s = now / 1000;
        let claims = Claims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: sub.to_string(),
            exp: now_s + i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2),
            nbf: now_s,
            iat: now_s,
            typ: typ.into(),
            sid: sid.to_string(),
        };
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.encoding,
        )?)
    }

    /// Validates a token, its type and its times at `now` (Unix milliseconds).
    pub fn verify(&self, token: &str, typ: &str, now: i64) -> Result<Claims, TokenError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })?;
        let c = data.claims;
        if c.typ != typ {
            return Err(TokenError::Invalid);
        }
        let now_s = now / 1000;
        if c.nbf > now_s + LEEWAY_SECS {
            return Err(TokenError::Invalid);
        }
        if c.exp <= now_s - LEEWAY_SECS {
            return Err(TokenError::Expired);
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> i64 {
        chrono::Utc::now().timestamp_millis()
    }

    #[test]
    fn a_token_of_one_type_never_passes_as_another() {
        let keys = TokenKeys::new(&[7u8; 32]);
        let t = keys
            .sign(TYPE_UPLOAD, "u", "p", now(), Duration::from_secs(60))
            .expect("sign");
        assert_eq!(
            keys.verify(&t, TYPE_ACCESS, now()).err(),
            Some(TokenError::Invalid)
        );
        assert!(keys.verify(&t, TYPE_UPLOAD, now()).is_ok());
    }

    #[test]
    fn expired_and_foreign_tokens_are_refused() {
        let keys = TokenKeys::new(&[7u8; 32]);
        let old = keys
            .sign(
                TYPE_ACCESS,
                "u",
                "s",
                now() - 3_600_000,
                Duration::from_secs(60),
            )
            .expect("sign");
        assert_eq!(
            keys.verify(&old, TYPE_ACCESS, now()).err(),
            Some(TokenError::Expired)
        );
        // Not yet valid: signed for a time ahead of now.
        let early = keys
            .sign(
                TYPE_ACCESS,
                "u",
                "s",
                now() + 600_000,
                Duration::from_secs(60),
            )
            .expect("sign");
        assert_eq!(
            keys.verify(&early, TYPE_ACCESS, now()).err(),
            Some(TokenError::Invalid)
        );
        let other = TokenKeys::new(&[8u8; 32])
            .sign(TYPE_ACCESS, "u", "s", now(), Duration::from_secs(60))
            .expect("sign");
        assert_eq!(
            keys.verify(&other, TYPE_ACCESS, now()).err(),
            Some(TokenError::Invalid)
        );
    }
}
