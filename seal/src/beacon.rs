//! A round's beacon: the chain's BLS signature of the round number, which is the key a
//! time-locked file opens with. It is verified against the chain's public key before use.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Chain, SealError};

/// The domain separation tag of signatures on G1 (RFC 9380 hashing).
const G1_DST: &[u8] = b"BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_";

/// One round's signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Beacon {
    pub round: u64,
    #[serde(with = "hex::serde")]
    pub signature: Vec<u8>,
}

/// The message a chain signs for a round (unchained: the round alone).
pub fn message(round: u64) -> [u8; 32] {
    Sha256::digest(round.to_be_bytes()).into()
}

/// Checks that `beacon` is `chain`'s signature of its round. Never panics on hostile input.
pub fn verify(chain: &Chain, beacon: &Beacon) -> Result<(), SealError> {
    if beacon.signature.len() != 48 {
        return Err(SealError::BadSignature {
            round: beacon.round,
        });
    }
    let msg = message(beacon.round);
    let (sig, pk) = (beacon.signature.clone(), chain.public_key.clone());
    let ok = std::panic::catch_unwind(move || {
        drand_core::bls_signatures::verify(G1_DST, &sig, &msg, &pk).unwrap_or(false)
    })
    .unwrap_or(false);
    if ok {
        Ok(())
    } else {
        Err(SealError::BadSignature {
            round: beacon.round,
        })
    }
}
