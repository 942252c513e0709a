//! A server that is full says so with 503 or 429 and `Retry-After`: the desktop waits a
//! short wait out and tries again by itself, and puts a long one to the person in words.

mod support;

use futures_util::future::join_all;
use support::{Device, PASSWORD, Server, itc};

#[tokio::test(flavor = "multi_thread")]
async fn sign_ups_turned_away_by_a_full_server_wait_out_retry_after_and_go_through() {
    // One argon2 run at a time and nobody waiting: every sign-up that meets another one
    // is answered 503 with Retry-After.
    let server =
        Server::start_with(&["--max-password-hashes", "1", "--password-hash-queue", "0"]).await;
    let root = tempfile::tempdir().expect("root");
    let devices: Vec<Device> = (0..4)
        .map(|i| Device::open(&root.path().join(i.to_string())))
        .collect();
    let sign_ups = devices.iter().enumerate().map(|(i, d)| {
        let url = server.url.clone();
        async move {
            d.engine
                .sign_up(&url, &format!("busy{i}@example.com"), PASSWORD)
                .await
        }
    });
    for (i, r) in join_all(sign_ups).await.into_iter().enumerate() {
        r.unwrap_or_else(|e| panic!("sign-up {i} did not go through: {e}"));
    }
    let log = plain(&server.log());
    assert!(
        log.contains("status=503"),
        "the sign-ups met and some were turned away first:\n{log}"
    );
}

/// Text without its terminal colour codes.
fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn a_long_wait_reaches_the_person_in_words_and_itc_says_try_later() {
    let server = Server::start_with(&["--max-sign-ups-per-address", "1"]).await;
    let root = tempfile::tempdir().expect("root");
    let first = itc(&root.path().join("a"))
        .args([
            "--server",
            &server.url,
            "account",
            "signup",
            "first@example.com",
        ])
        .output()
        .expect("itc");
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let second = itc(&root.path().join("b"))
        .args([
            "--server",
            &server.url,
            "account",
            "signup",
            "second@example.com",
        ])
        .output()
        .expect("itc");
    let said = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(3), "{said}");
    assert!(said.contains("Too many accounts"), "{said}");
    assert!(said.contains("Try again in 60 minutes"), "{said}");
}
