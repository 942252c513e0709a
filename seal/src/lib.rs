//! The seal of a time capsule: each of its files (an original, a thumbnail, the note, the
//! recipients) becomes an age v1 file whose key is locked twice over. A **time-lock**
//! stanza (tlock, as drand's `tle` and `tlock-js` write it) opens with the signature a drand
//! chain publishes for one round, the round that falls at the open date: before it exists,
//! nobody can open the file, its owner and the service included. An optional **escrow**
//! stanza (X25519) opens with the service's private key, which the service uses only after
//! the open date, so a capsule still opens if the drand network is gone.
//!
//! Signatures are verified (BLS) before they are used, and decryption runs behind a guard:
//! a forged, wrong-round or damaged input is an error, never a panic.

mod beacon;
mod chain;
mod escrow;
mod hashing;
mod lock;
#[cfg(feature = "relays")]
pub mod relay;

pub use beacon::{Beacon, verify};
pub use chain::Chain;
pub use escrow::{EscrowKey, EscrowPublic};
pub use hashing::HashingWriter;
pub use lock::{Locked, inspect, open_with_beacon, open_with_escrow, seal};

/// Why a seal could not be made or opened.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The signature is not the chain's for that round (forged, or another round's).
    #[error("the signature is not this chain's signature for round {round}")]
    BadSignature { round: u64 },
    /// The file is locked to another round or chain than the signature given.
    #[error("this file is locked to round {locked} of its chain, not to round {given}")]
    WrongRound { locked: u64, given: u64 },
    /// The file is locked to another chain.
    #[error("this file is locked to another drand chain")]
    WrongChain,
    /// The file has no stanza this key opens (no escrow stanza, say).
    #[error("this file cannot be opened with that key")]
    NoMatchingStanza,
    /// Not an age file, or a damaged one.
    #[error("this is not a sealed file, or it is damaged ({0})")]
    Damaged(String),
    /// A key or chain parameter that is not one.
    #[error("invalid key or chain parameters: {0}")]
    Invalid(String),
    #[error("reading or writing the sealed file: {0}")]
    Io(#[from] std::io::Error),
}
