//! A drand-style relay of a chain of its own, for runs that start a real server outside the
//! Rust tests (the API conformance run): round 1 an hour ago, a round every 3 seconds, each
//! published when its time comes. Prints one JSON line with the relay's URL and the chain's
//! hash, public key, genesis and period, then serves until killed. With `--hold FILE`, no new
//! round is published while FILE exists (the drand network stalled, for a run that must see
//! a capsule wait for its beacon).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use testkit::beacon::{LocalChain, Relay};

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn main() {
    let mut args = std::env::args().skip(1);
    let hold = match (args.next().as_deref(), args.next()) {
        (Some("--hold"), Some(file)) => Some(std::path::PathBuf::from(file)),
        (None, _) => None,
        _ => {
            eprintln!("usage: drand-relay [--hold FILE]");
            std::process::exit(2);
        }
    };
    let genesis = now() - 3600;
    let period = 3;
    let local = LocalChain::new(genesis, period);
    let relay = Relay::start(local.clone());
    let info = local.chain.info_json();
    println!(
        "{}",
        serde_json::json!({
            "url": relay.url(),
            "chain_hash": info["hash"],
            "public_key": info["public_key"],
            "genesis": genesis,
            "period": period,
        })
    );
    loop {
        if hold.as_ref().is_some_and(|h| h.exists()) {
            std::thread::sleep(Duration::from_millis(200));
            continue;
        }
        let since = u64::try_from(now() - genesis).unwrap_or(0);
        relay.publish_up_to(since / period + 1);
        std::thread::sleep(Duration::from_secs(1));
    }
}
