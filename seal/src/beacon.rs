//! A round's beacon: the chain's BLS signature of the round number, which is the key a
//! time-locked file opens with. It is verified against the chain's public key before use.

use ark_bls12_381::{Bls12_381, G1Affine, G2Affine, g1};
use ark_ec::hashing::HashToCurve;
use ark_ec::hashing::curve_maps::wb::WBMap;
use ark_ec::hashing::map_to_curve_hasher::MapToCurveBasedHasher;
use ark_ec::pairing::Pairing;
use ark_ec::{AffineRepr, short_weierstrass};
use ark_ff::field_hashers::DefaultFieldHasher;
use ark_serialize::CanonicalDeserialize;
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
    let ok = std::panic::catch_unwind(move || pairing_holds(&sig, &msg, &pk).unwrap_or(false))
        .unwrap_or(false);
    if ok {
        Ok(())
    } else {
        Err(SealError::BadSignature {
            round: beacon.round,
        })
    }
}

/// e(signature, g2) == e(H(message), public key), with the points checked to be on their
/// curves and in their subgroups as they are read.
fn pairing_holds(signature: &[u8], message: &[u8], public_key: &[u8]) -> Option<bool> {
    let sig = G1Affine::deserialize_compressed(signature).ok()?;
    let pk = G2Affine::deserialize_compressed(public_key).ok()?;
    let hasher = MapToCurveBasedHasher::<
        short_weierstrass::Projective<g1::Config>,
        DefaultFieldHasher<Sha256, 128>,
        WBMap<g1::Config>,
    >::new(G1_DST)
    .ok()?;
    let h = hasher.hash(message).ok()?;
    let g2 = G2Affine::generator();
    let left = Bls12_381::pairing(sig, g2);
    let right = Bls12_381::pairing(h, pk);
    Some(left == right)
}
