//! The seal against a chain of the tests' own: nothing opens before its round's signature,
//! everything opens after, byte for byte; forged and wrong-round signatures are refused;
//! the escrow key opens what carries an escrow stanza and nothing else.

use seal::{Beacon, Chain, EscrowKey, SealError, inspect, open_with_beacon, open_with_escrow};
use testkit::beacon::LocalChain;

fn sealed(plain: &[u8], chain: &Chain, round: u64, escrow: Option<&EscrowKey>) -> Vec<u8> {
    let mut out = Vec::new();
    let public = escrow.map(EscrowKey::public);
    seal::seal(plain, &mut out, chain, round, public.as_ref()).expect("seal");
    out
}

fn opened(file: &[u8], chain: &Chain, beacon: &Beacon) -> Result<Vec<u8>, SealError> {
    let mut out = Vec::new();
    open_with_beacon(file, &mut out, chain, beacon)?;
    Ok(out)
}

#[test]
fn a_sealed_file_opens_with_its_rounds_signature_and_nothing_else() {
    let local = LocalChain::new(1_700_000_000, 3);
    let chain = &local.chain;
    let plain: Vec<u8> = (0..200_000u32).map(|i| (i * 31 % 251) as u8).collect();
    let file = sealed(&plain, chain, 1000, None);
    assert!(
        !file
            .windows(64)
            .any(|w| plain.windows(64).next() == Some(w)),
        "no plaintext in the file"
    );
    let locked = inspect(file.as_slice()).expect("header");
    assert_eq!((locked.round, locked.escrow), (1000, false));
    assert_eq!(locked.chain_hash, chain.hash);

    assert_eq!(
        opened(&file, chain, &local.sign(1000)).expect("opens"),
        plain
    );
    assert!(matches!(
        opened(&file, chain, &local.sign(999)),
        Err(SealError::WrongRound {
            locked: 1000,
            given: 999
        })
    ));
    assert!(matches!(
        opened(&file, chain, &local.forged(1000)),
        Err(SealError::BadSignature { round: 1000 })
    ));
    let garbage = Beacon {
        round: 1000,
        signature: vec![0xAB; 48],
    };
    assert!(matches!(
        opened(&file, chain, &garbage),
        Err(SealError::BadSignature { .. })
    ));
    let other = LocalChain::new(1_700_000_000, 3);
    assert!(matches!(
        opened(&file, &other.chain, &other.sign(1000)),
        Err(SealError::WrongChain)
    ));
}

#[test]
fn the_escrow_key_opens_only_files_sealed_for_it() {
    let local = LocalChain::new(1_700_000_000, 3);
    let key = EscrowKey::generate();
    let plain = b"a note for the future".to_vec();
    let with = sealed(&plain, &local.chain, 5, Some(&key));
    assert!(inspect(with.as_slice()).expect("header").escrow);
    let mut out = Vec::new();
    open_with_escrow(with.as_slice(), &mut out, &key).expect("escrow opens it");
    assert_eq!(out, plain);
    // The time lock still opens it too.
    assert_eq!(
        opened(&with, &local.chain, &local.sign(5)).expect("beacon"),
        plain
    );

    let without = sealed(&plain, &local.chain, 5, None);
    assert!(matches!(
        open_with_escrow(without.as_slice(), &mut Vec::new(), &key),
        Err(SealError::NoMatchingStanza)
    ));
    let stranger = EscrowKey::generate();
    assert!(matches!(
        open_with_escrow(with.as_slice(), &mut Vec::new(), &stranger),
        Err(SealError::NoMatchingStanza)
    ));
    // The key survives being written down.
    let again = EscrowKey::parse(&key.to_secret_text()).expect("parse");
    assert_eq!(again.public().to_string(), key.public().to_string());
    assert!(!format!("{key:?}").contains("SECRET"));
}

#[test]
fn damaged_files_are_errors_not_crashes() {
    let local = LocalChain::new(1_700_000_000, 3);
    let plain = vec![7u8; 100_000];
    let file = sealed(&plain, &local.chain, 42, None);
    // A flipped byte in the stanza body, and one in the payload.
    for at in [file.len() / 20, file.len() - 100] {
        let mut bad = file.clone();
        bad[at] ^= 0x40;
        assert!(
            opened(&bad, &local.chain, &local.sign(42)).is_err(),
            "byte {at}"
        );
    }
    assert!(matches!(
        opened(b"not an age file at all", &local.chain, &local.sign(42)),
        Err(SealError::Damaged(_))
    ));
}

#[test]
fn quicknet_rounds_follow_its_clock() {
    let q = Chain::quicknet();
    assert_eq!(q.round_time(1).timestamp(), 1_692_803_367);
    assert_eq!(q.round_time(2).timestamp(), 1_692_803_370);
}

#[test]
fn an_escrow_key_derived_from_a_stored_secret_is_stable_and_works() {
    let secret = "Zq3k9XbLr7T2mWc8Yp4sVn6Hd1Fg5Jk0Aa";
    let a = EscrowKey::from_secret(secret).expect("derived");
    let b = EscrowKey::from_secret(&format!("  {secret}\n")).expect("derived again");
    assert_eq!(a.public(), b.public());
    assert_eq!(
        EscrowKey::from_secret(&a.to_secret_text())
            .expect("as age key")
            .public(),
        a.public()
    );
    assert!(EscrowKey::from_secret("short").is_err());
    let local = LocalChain::new(1_700_000_000, 3);
    let file = sealed(b"hello", &local.chain, 5, Some(&a));
    let mut out = Vec::new();
    open_with_escrow(file.as_slice(), &mut out, &b).expect("opens");
    assert_eq!(out, b"hello");
}
