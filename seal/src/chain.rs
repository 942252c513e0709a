//! A drand chain: its public key and clock. Rounds are numbered from 1 at the genesis time,
//! one every `period` seconds; a round's signature is published at its time and not before.

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::SealError;

/// The scheme every chain used here signs with: unchained BLS, signatures on G1 (RFC 9380
/// hashing), the public key on G2.
pub const SCHEME: &str = "bls-unchained-g1-rfc9380";

/// A drand chain's public parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chain {
    /// The chain hash (identifies the chain in sealed files and relay URLs).
    #[serde(with = "hex::serde")]
    pub hash: Vec<u8>,
    /// The group's public key, on G2 (96 bytes compressed).
    #[serde(with = "hex::serde")]
    pub public_key: Vec<u8>,
    /// Unix seconds of round 1.
    pub genesis: i64,
    /// Seconds between rounds.
    pub period: u64,
}

impl Chain {
    /// drand's quicknet on the League of Entropy mainnet: 3 s rounds since 23 August 2023.
    pub fn quicknet() -> Self {
        Self {
            hash: hex_const("52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971"),
            public_key: hex_const(
                "83cf0f2896adee7eb8b5f01fcad3912212c437e0073e911fb90022d3e760183c8c4b450b6a0a6c3ac6a5776a2d1064510d1fec758c921cc22b0e17e63aaf4bcb5ed66304de9cf809bd274ca73bab4af5a6e9c76a4bc09e76eae8991ef5ece45a",
            ),
            genesis: 1_692_803_367,
            period: 3,
        }
    }

    /// A chain from its parameters, checked.
    pub fn new(hash: &str, public_key: &str, genesis: i64, period: u64) -> Result<Self, SealError> {
        let hash =
            hex::decode(hash.trim()).map_err(|e| SealError::Invalid(format!("chain hash: {e}")))?;
        let public_key = hex::decode(public_key.trim())
            .map_err(|e| SealError::Invalid(format!("chain public key: {e}")))?;
        if hash.len() != 32 {
            return Err(SealError::Invalid("a chain hash has 32 bytes".into()));
        }
        if public_key.len() != 96 {
            return Err(SealError::Invalid(
                "the public key of a chain signing on G1 has 96 bytes".into(),
            ));
        }
        if period == 0 {
            return Err(SealError::Invalid(
                "a chain's period is at least a second".into(),
            ));
        }
        Ok(Self {
            hash,
            public_key,
            genesis,
            period,
        })
    }

    /// The chain hash in hex, as relays and sealed files name it.
    pub fn hash_hex(&self) -> String {
        hex::encode(&self.hash)
    }

    /// The first round published at or after `t`: a capsule locked to it opens at `t` (or
    /// at most one period later).
    pub fn round_at(&self, t: DateTime<Utc>) -> u64 {
        let since = t.timestamp_millis() - self.genesis.saturating_mul(1000);
        if since <= 0 {
            return 1;
        }
        let period = i64::try_from(self.period.saturating_mul(1000)).unwrap_or(i64::MAX);
        u64::try_from((since + period - 1) / period + 1).unwrap_or(u64::MAX)
    }

    /// When a round is published.
    pub fn round_time(&self, round: u64) -> DateTime<Utc> {
        let secs = self.genesis.saturating_add(
            i64::try_from(round.saturating_sub(1).saturating_mul(self.period))
                .unwrap_or(i64::MAX / 2),
        );
        Utc.timestamp_opt(secs, 0)
            .single()
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// The latest round published at `now`.
    pub fn current_round(&self, now: DateTime<Utc>) -> u64 {
        let since = now.timestamp() - self.genesis;
        if since < 0 {
            return 0;
        }
        u64::try_from(since).unwrap_or(0) / self.period + 1
    }

    /// A chain from its `/info` document (as [`info_json`](Self::info_json) writes it and
    /// relays serve it), checked like [`new`](Self::new). A document that pairs one
    /// chain's hash with another's key gains nothing: files open only with a signature
    /// under the key they were locked to.
    pub fn from_info_json(info: &serde_json::Value) -> Result<Self, SealError> {
        let text = |k: &str| {
            info.get(k)
                .and_then(serde_json::Value::as_str)
                .ok_or_else(|| SealError::Invalid(format!("chain info lacks {k}")))
        };
        let number = |k: &str| {
            info.get(k)
                .and_then(serde_json::Value::as_i64)
                .ok_or_else(|| SealError::Invalid(format!("chain info lacks {k}")))
        };
        let period = u64::try_from(number("period")?)
            .map_err(|_| SealError::Invalid("a chain's period is at least a second".into()))?;
        Self::new(
            text("hash")?,
            text("public_key")?,
            number("genesis_time")?,
            period,
        )
    }

    /// The chain's `/info` document, as a drand relay serves it.
    pub fn info_json(&self) -> serde_json::Value {
        serde_json::json!({
            "public_key": hex::encode(&self.public_key),
            "period": self.period,
            "genesis_time": self.genesis,
            "hash": self.hash_hex(),
            "groupHash": hex::encode(sha2_digest(&self.public_key)),
            "schemeID": SCHEME,
            "metadata": { "beaconID": "quicknet" },
        })
    }
}

fn sha2_digest(b: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(b).to_vec()
}

fn hex_const(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_date_falls_to_the_first_round_at_or_after_it() {
        let c = Chain::quicknet();
        assert_eq!(c.round_at(c.round_time(1000)), 1000);
        assert_eq!(
            c.round_at(c.round_time(1000) + chrono::Duration::milliseconds(1)),
            1001
        );
        assert_eq!(c.round_at(Utc.timestamp_opt(0, 0).single().expect("t")), 1);
        let t = c.round_time(12_345_678);
        assert_eq!(c.current_round(t), 12_345_678);
        assert_eq!(
            c.current_round(t - chrono::Duration::seconds(1)),
            12_345_677
        );
    }

    #[test]
    fn a_chain_reads_back_from_its_info_document() {
        let c = Chain::quicknet();
        assert_eq!(Chain::from_info_json(&c.info_json()).expect("info"), c);
        let mut bad = c.info_json();
        bad["period"] = serde_json::json!(0);
        assert!(Chain::from_info_json(&bad).is_err());
        assert!(Chain::from_info_json(&serde_json::json!({"hash": "00"})).is_err());
    }
}
