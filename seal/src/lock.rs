//! Sealing a stream into an age file and opening one, with a beacon or the escrow key.

use std::io::{Read, Write};
use std::sync::Mutex;

use age_core::format::{FileKey, Stanza};

use crate::{Beacon, Chain, EscrowKey, EscrowPublic, SealError, verify};

/// The tag of a time-lock stanza (tlock's).
const TLOCK: &str = "tlock";
/// The tag of an X25519 stanza (age's).
const X25519: &str = "X25519";

/// What a sealed file's header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locked {
    /// The round it is locked to.
    pub round: u64,
    /// The chain's hash.
    pub chain_hash: Vec<u8>,
    /// Whether it also opens with an escrow key.
    pub escrow: bool,
}

/// Seals `src` into `dst`: an age v1 file locked to `round` of `chain`, and to the escrow
/// key when one is given.
pub fn seal<R: Read, W: Write>(
    mut src: R,
    dst: W,
    chain: &Chain,
    round: u64,
    escrow: Option<&EscrowPublic>,
) -> Result<(), SealError> {
    let time_lock = tlock_age::internal::Recipient::new(&chain.hash, &chain.public_key, round);
    let mut recipients: Vec<&dyn age::Recipient> = vec![&time_lock];
    if let Some(e) = escrow {
        recipients.push(&e.0);
    }
    let encryptor = age::Encryptor::with_recipients(recipients.into_iter())
        .map_err(|e| SealError::Invalid(e.to_string()))?;
    let mut w = encryptor.wrap_output(dst)?;
    std::io::copy(&mut src, &mut w)?;
    w.finish()?;
    Ok(())
}

/// Records the stanzas of a header, opening nothing.
#[derive(Default)]
struct Reader {
    locked: Mutex<Option<(u64, Vec<u8>)>>,
    escrow: Mutex<bool>,
}

impl age::Identity for Reader {
    fn unwrap_stanza(&self, stanza: &Stanza) -> Option<Result<FileKey, age::DecryptError>> {
        match stanza.tag.as_str() {
            TLOCK => {
                if let Some(parsed) = tlock_args(stanza) {
                    *self.locked.lock().unwrap_or_else(|p| p.into_inner()) = Some(parsed);
                }
            }
            X25519 => *self.escrow.lock().unwrap_or_else(|p| p.into_inner()) = true,
            _ => {}
        }
        None
    }
}

fn tlock_args(stanza: &Stanza) -> Option<(u64, Vec<u8>)> {
    if stanza.args.len() != 2 {
        return None;
    }
    let round = stanza.args[0].parse::<u64>().ok()?;
    let hash = hex::decode(&stanza.args[1]).ok()?;
    Some((round, hash))
}

/// Reads what a sealed file is locked to, from its header. Here and in the openers, a file
/// may be binary or ASCII-armored (as tlock-js and `tle --armor` write them).
pub fn inspect<R: Read>(src: R) -> Result<Locked, SealError> {
    let reader = Reader::default();
    let decryptor = age::Decryptor::new(age::armor::ArmoredReader::new(src))
        .map_err(|e| SealError::Damaged(e.to_string()))?;
    // No key matches: the identity only looks at the stanzas.
    let _ = decryptor.decrypt(std::iter::once(&reader as &dyn age::Identity));
    let (round, chain_hash) = reader
        .locked
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .ok_or_else(|| SealError::Damaged("no time-lock stanza".into()))?;
    Ok(Locked {
        round,
        chain_hash,
        escrow: reader
            .escrow
            .into_inner()
            .unwrap_or_else(|p| p.into_inner()),
    })
}

/// Opens a time-lock stanza with a verified beacon, and notes a file locked elsewhere.
struct WithBeacon<'a> {
    chain: &'a Chain,
    beacon: &'a Beacon,
    mismatch: Mutex<Option<SealError>>,
}

impl age::Identity for WithBeacon<'_> {
    fn unwrap_stanza(&self, stanza: &Stanza) -> Option<Result<FileKey, age::DecryptError>> {
        if stanza.tag != TLOCK {
            return None;
        }
        let Some((round, hash)) = tlock_args(stanza) else {
            return Some(Err(age::DecryptError::InvalidHeader));
        };
        let note = |e: SealError| {
            *self.mismatch.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
        };
        if hash != self.chain.hash {
            note(SealError::WrongChain);
            return None;
        }
        if round != self.beacon.round {
            note(SealError::WrongRound {
                locked: round,
                given: self.beacon.round,
            });
            return None;
        }
        let identity = tlock_age::internal::Identity::new(&hash, &self.beacon.signature);
        // tlock asserts (panics) on a ciphertext that does not check out: a damaged stanza
        // is an error here, not a crash.
        match std::panic::catch_unwind(move || age::Identity::unwrap_stanza(&identity, stanza)) {
            Ok(r) => r,
            Err(_) => Some(Err(age::DecryptError::DecryptionFailed)),
        }
    }
}

/// Copies a decrypting reader to `dst`; a payload that fails its checks is `Damaged`.
fn copy_out<R: Read, W: Write>(
    decryptor: age::Decryptor<R>,
    identity: &dyn age::Identity,
    mut dst: W,
    mismatch: impl FnOnce() -> Option<SealError>,
) -> Result<(), SealError> {
    let mut reader = match decryptor.decrypt(std::iter::once(identity)) {
        Ok(r) => r,
        Err(age::DecryptError::NoMatchingKeys) => {
            return Err(mismatch().unwrap_or(SealError::NoMatchingStanza));
        }
        Err(e) => return Err(mismatch().unwrap_or(SealError::Damaged(e.to_string()))),
    };
    std::io::copy(&mut reader, &mut dst).map_err(|e| {
        if e.kind() == std::io::ErrorKind::InvalidData {
            SealError::Damaged(e.to_string())
        } else {
            SealError::Io(e)
        }
    })?;
    dst.flush()?;
    Ok(())
}

/// Opens a sealed file with the beacon of its round, verified first against `chain`.
/// What is written to `dst` is only whole once this returns Ok: write to a scratch file
/// and keep it only then.
pub fn open_with_beacon<R: Read, W: Write>(
    src: R,
    dst: W,
    chain: &Chain,
    beacon: &Beacon,
) -> Result<(), SealError> {
    verify(chain, beacon)?;
    let decryptor = age::Decryptor::new(age::armor::ArmoredReader::new(src))
        .map_err(|e| SealError::Damaged(e.to_string()))?;
    let identity = WithBeacon {
        chain,
        beacon,
        mismatch: Mutex::new(None),
    };
    copy_out(decryptor, &identity, dst, || {
        identity
            .mismatch
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    })
}

/// Opens a sealed file with the escrow key (the caller checks the date first).
pub fn open_with_escrow<R: Read, W: Write>(
    src: R,
    dst: W,
    key: &EscrowKey,
) -> Result<(), SealError> {
    let decryptor = age::Decryptor::new(age::armor::ArmoredReader::new(src))
        .map_err(|e| SealError::Damaged(e.to_string()))?;
    copy_out(decryptor, &key.0, dst, || None)
}
