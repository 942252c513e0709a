//! Our files open with drand's own tlock-js, and its files open with ours: a sealed capsule
//! stays openable with public tools if this project is gone. Node runs tlock-js 0.9 from
//! seal/interop (`npm ci` there; scripts/test.sh does it) against the tests' own chain,
//! served as a drand relay.

use std::path::Path;
use std::process::Command;

use seal::{EscrowKey, open_with_beacon, seal};
use testkit::beacon::{LocalChain, Relay};

fn interop_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/interop"))
}

fn node(script: &str, args: &[&str]) -> std::process::Output {
    assert!(
        interop_dir().join("node_modules/tlock-js").is_dir(),
        "tlock-js is not installed: run `npm ci` in seal/interop (scripts/test.sh does)"
    );
    Command::new("node")
        .current_dir(interop_dir())
        .arg(script)
        .args(args)
        .output()
        .expect("node on PATH")
}

fn chain() -> (LocalChain, Relay, String) {
    let local = LocalChain::new(chrono::Utc::now().timestamp() - 600, 3);
    let relay = Relay::start(local.clone());
    let key = local.chain.info_json()["public_key"]
        .as_str()
        .expect("public key")
        .to_owned();
    (local, relay, key)
}

#[test]
fn tlock_js_opens_our_files_with_and_without_the_escrow_stanza() {
    let (local, relay, key) = chain();
    let round = local.chain.current_round(chrono::Utc::now()) - 1;
    relay.publish_up_to(round);
    let tmp = tempfile::tempdir().expect("tmp");
    let plain: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let escrow = EscrowKey::generate().public();
    for (case, escrow) in [("time lock only", None), ("with escrow", Some(&escrow))] {
        let mut sealed = Vec::new();
        seal(plain.as_slice(), &mut sealed, &local.chain, round, escrow).expect("seal");
        let (input, output) = (tmp.path().join("in.age"), tmp.path().join("out"));
        std::fs::write(&input, &sealed).expect("write");
        let hash = local.chain.hash_hex();
        let out = node(
            "open.mjs",
            &[
                &relay.url(),
                &hash,
                &key,
                input.to_str().expect("path"),
                output.to_str().expect("path"),
            ],
        );
        assert!(
            out.status.success(),
            "{case}: tlock-js refused our file: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(std::fs::read(&output).expect("opened"), plain, "{case}");
    }
}

#[test]
fn tlock_js_refuses_our_file_before_its_round_and_we_open_its_files() {
    let (local, relay, key) = chain();
    let now = local.chain.current_round(chrono::Utc::now());
    relay.publish_up_to(now - 1);
    let tmp = tempfile::tempdir().expect("tmp");
    let hash = local.chain.hash_hex();

    // A round still to come: tlock-js cannot open it either.
    let future = now + 1_000;
    let mut sealed = Vec::new();
    seal(&b"not yet"[..], &mut sealed, &local.chain, future, None).expect("seal");
    let (input, output) = (tmp.path().join("future.age"), tmp.path().join("out"));
    std::fs::write(&input, &sealed).expect("write");
    let out = node(
        "open.mjs",
        &[
            &relay.url(),
            &hash,
            &key,
            input.to_str().expect("path"),
            output.to_str().expect("path"),
        ],
    );
    assert!(
        !out.status.success(),
        "tlock-js opened a file before its round"
    );
    assert!(!output.exists());

    // tlock-js seals (armored, as timevault writes); we open it with the round's beacon.
    let round = now - 1;
    let plain = b"written in the browser, opened by the capsule".to_vec();
    let (input, locked) = (tmp.path().join("plain"), tmp.path().join("js.age"));
    std::fs::write(&input, &plain).expect("write");
    let out = node(
        "lock.mjs",
        &[
            &relay.url(),
            &hash,
            &key,
            &round.to_string(),
            input.to_str().expect("path"),
            locked.to_str().expect("path"),
        ],
    );
    assert!(
        out.status.success(),
        "tlock-js could not seal: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file = std::fs::read(&locked).expect("sealed by tlock-js");
    assert!(file.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----"));
    let mut opened = Vec::new();
    open_with_beacon(
        file.as_slice(),
        &mut opened,
        &local.chain,
        &local.sign(round),
    )
    .expect("we open tlock-js's file");
    assert_eq!(opened, plain);
}
