//! The sync engine against a real sync-server process.

mod support;

use std::time::Duration;

use chrono::Utc;
use desktop_core::{SyncError, SyncState, ThumbSize};
use protocol::{CapsuleState, CapsuleWrite};
use sha2::{Digest, Sha256};
use support::{Device, PASSWORD, Server, add_photos, big_photo, chain_flags, photo, two_devices};

fn fields(title: &str, note: &str) -> CapsuleWrite {
    support::draft_fields(title, note, &["ann@example.com"])
}

fn email() -> String {
    support::email("person")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drafts_made_offline_reach_the_server_and_another_device() {
    let tmp = tempfile::tempdir().expect("tmp");
    let a = Device::open(&tmp.path().join("a"));
    let d = a
        .lib
        .create_draft(&fields("Lake", "remember the lake"), Utc::now())
        .expect("draft");
    add_photos(
        &a,
        d.id,
        &[
            photo(tmp.path(), "one.png", 300, 200, 1),
            photo(tmp.path(), "two.png", 200, 300, 2),
        ],
    );
    assert_eq!(
        a.engine.sync_state(d.id).expect("state"),
        SyncState::LocalOnly
    );
    assert!(matches!(
        a.engine.sync_now().await,
        Err(SyncError::NotLoggedIn)
    ));

    let server = Server::start().await;
    let who = email();
    a.engine
        .sign_up(&format!("{}/", server.url), &who, PASSWORD)
        .await
        .expect("sign up");
    let report = a.engine.sync_now().await.expect("sync");
    assert_eq!(report.pushed, 3, "the capsule and its two photos");
    assert_eq!(a.engine.sync_state(d.id).expect("state"), SyncState::Synced);

    let b = Device::logged_in(&tmp.path().join("b"), &server.url, &who).await;
    let report = b.engine.sync_now().await.expect("sync b");
    assert_eq!(report.downloaded, 2, "both thumbnails fetched");
    let there = b.lib.draft(d.id).expect("read").expect("capsule on b");
    assert_eq!(there.title, "Lake");
    assert_eq!(there.note, "remember the lake");
    assert_eq!(there.recipients, ["ann@example.com"]);
    assert_eq!(there.photos.len(), 2);
    for p in &there.photos {
        assert!(p.uploaded);
        assert!(b.lib.thumbnail_path(&p.sha256, ThumbSize::Grid).exists());
        // The thumbnails are the ones A made, byte for byte: the server keeps the
        // desktop's instead of making its own.
        for size in [ThumbSize::Grid, ThumbSize::Preview] {
            let on_b = std::fs::read(b.lib.thumbnail_path(&p.sha256, size)).expect("on b");
            let on_a = std::fs::read(a.lib.thumbnail_path(&p.sha256, size)).expect("on a");
            assert_eq!(hex(&on_b), hex(&on_a), "{size:?} thumbnail is A's");
        }
    }
    // The original on demand, verified by hash.
    let original = b
        .engine
        .original(d.id, there.photos[0].id)
        .await
        .expect("original");
    let bytes = std::fs::read(original).expect("read original");
    assert_eq!(hex(&bytes), there.photos[0].sha256);
}

/// Syncs every 200 ms, up to 20 s, until the server has opened the capsule and its photos
/// are here; answers it then.
async fn opened(a: &Device, id: uuid::Uuid) -> Option<desktop_core::Draft> {
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        a.engine.sync_now().await.expect("sync");
        let c = a.lib.draft(id).expect("r").expect("d");
        if c.state == CapsuleState::Opened && !c.photos.is_empty() {
            return Some(c);
        }
    }
    None
}

fn hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_cut_by_a_server_stop_completes_after_restart() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut server = Server::start().await;
    let a = Device::open(&tmp.path().join("a"));
    let who = email();
    a.engine
        .sign_up(&server.url, &who, PASSWORD)
        .await
        .expect("sign up");
    let d = a
        .lib
        .create_draft(&fields("Big", ""), Utc::now())
        .expect("draft");
    let big = big_photo(tmp.path(), "big.bmp", 4096, 4096);
    let size = std::fs::metadata(&big).expect("size").len();
    assert!(size > 50_000_000);
    add_photos(&a, d.id, std::slice::from_ref(&big));

    let engine = a.engine.clone();
    let sync = tokio::spawn(async move { engine.sync_now().await });
    let mut cut_at = None;
    for _ in 0..60_000 {
        if let SyncState::Syncing {
            bytes_done,
            bytes_total,
        } = a.engine.sync_state(d.id).expect("state")
            && bytes_done >= 4 * 1024 * 1024
        {
            assert!(bytes_done < bytes_total, "the cut must come mid-upload");
            server.stop();
            cut_at = Some(bytes_done);
            break;
        }
        tokio::time::sleep(Duration::from_micros(500)).await;
    }
    let cut_at = cut_at.expect("the upload started");
    let result = sync.await.expect("join");
    assert!(
        matches!(result, Err(SyncError::Offline(_))),
        "cut at {cut_at} bytes: {result:?}"
    );
    assert_eq!(
        a.engine.sync_state(d.id).expect("state"),
        SyncState::WaitingForNetwork
    );

    server.restart().await;
    a.engine.sync_now().await.expect("sync after restart");
    assert_eq!(a.engine.sync_state(d.id).expect("state"), SyncState::Synced);

    // The server's bytes are the file's: fetched by another device, hash-checked.
    let b = Device::logged_in(&tmp.path().join("b"), &server.url, &who).await;
    b.engine.sync_now().await.expect("sync b");
    let there = b.lib.draft(d.id).expect("read").expect("capsule");
    let path = b
        .engine
        .original(d.id, there.photos[0].id)
        .await
        .expect("original");
    assert_eq!(
        std::fs::read(path).expect("read"),
        std::fs::read(&big).expect("read source")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_devices_converge_after_conflicting_edits_and_a_delete() {
    let tmp = tempfile::tempdir().expect("tmp");
    let server = Server::start().await;
    let who = email();
    let (a, b) = two_devices(tmp.path(), &server.url, &server.url, &who).await;

    let lake = a
        .lib
        .create_draft(&fields("Lake", "first note"), Utc::now())
        .expect("c1");
    let gone = a
        .lib
        .create_draft(&fields("Attic", "boxes"), Utc::now())
        .expect("c2");
    a.engine.sync_now().await.expect("a");
    b.engine.sync_now().await.expect("b");
    assert!(b.lib.draft(gone.id).expect("read").is_some());

    // A changes the title and deletes the other capsule; B, not knowing, changes the
    // note, adds a photo, and edits the capsule A deleted.
    let mut f = fields("Lake, summer 2026", "first note");
    f.open_at = lake.open_at;
    a.lib.update_draft(lake.id, &f, Utc::now()).expect("a edit");
    a.lib.delete_capsule(gone.id, Utc::now()).expect("a delete");
    let mut f = fields("Lake", "second note, from b");
    f.open_at = lake.open_at;
    b.lib.update_draft(lake.id, &f, Utc::now()).expect("b edit");
    add_photos(&b, lake.id, &[photo(tmp.path(), "b.png", 120, 80, 7)]);
    b.lib
        .update_draft(gone.id, &fields("Attic, sorted", "boxes"), Utc::now())
        .expect("b edits the deleted one");

    a.engine.sync_now().await.expect("a pushes");
    b.engine.sync_now().await.expect("b merges");
    a.engine.sync_now().await.expect("a pulls");

    for (name, d) in [("a", &a), ("b", &b)] {
        let c = d.lib.draft(lake.id).expect("read").expect("lake");
        assert_eq!(c.title, "Lake, summer 2026", "{name}: A's title");
        assert_eq!(c.note, "second note, from b", "{name}: B's note");
        assert_eq!(c.photos.len(), 1, "{name}: B's photo");
        assert!(
            d.lib.draft(gone.id).expect("read").is_none(),
            "{name}: deletion wins"
        );
        assert_eq!(
            d.engine.sync_state(lake.id).expect("state"),
            SyncState::Synced
        );
    }
    assert_eq!(
        a.lib.capsule_ids().expect("ids"),
        b.lib.capsule_ids().expect("ids")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_restart_resumes_the_pending_outbox() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut server = Server::start().await;
    let who = email();
    let dir = tmp.path().join("a");
    let id = {
        let a = Device::open(&dir);
        a.engine
            .sign_up(&server.url, &who, PASSWORD)
            .await
            .expect("sign up");
        server.stop();
        let d = a
            .lib
            .create_draft(&fields("Kept", "offline"), Utc::now())
            .expect("draft");
        add_photos(&a, d.id, &[photo(tmp.path(), "p.png", 64, 64, 3)]);
        assert!(matches!(
            a.engine.sync_now().await,
            Err(SyncError::Offline(_))
        ));
        assert_eq!(
            a.engine.sync_state(d.id).expect("state"),
            SyncState::WaitingForNetwork
        );
        d.id
    };
    // The app quits and starts again; the server is back.
    server.restart().await;
    let a = Device::open(&dir);
    assert!(
        a.engine.account().is_some(),
        "still signed in after a restart"
    );
    a.engine.sync_now().await.expect("resumed");
    assert_eq!(a.engine.sync_state(id).expect("state"), SyncState::Synced);

    let b = Device::logged_in(&tmp.path().join("b"), &server.url, &who).await;
    b.engine.sync_now().await.expect("sync b");
    let c = b
        .lib
        .draft(id)
        .expect("read")
        .expect("capsule reached the server");
    assert_eq!(c.photos.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seal_pressed_offline_is_sent_then_local_copies_go_and_come_back_on_opening() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut server = Server::start().await;
    let who = email();
    let a = Device::open(&tmp.path().join("a"));
    a.engine
        .sign_up(&server.url, &who, PASSWORD)
        .await
        .expect("sign up");
    server.stop();

    let mut f = fields("Soon", "see you in a few seconds");
    f.open_at = Some(Utc::now() + chrono::Duration::seconds(6));
    let d = a.lib.create_draft(&f, Utc::now()).expect("draft");
    add_photos(&a, d.id, &[photo(tmp.path(), "s.png", 90, 60, 9)]);
    let sha = a.lib.draft(d.id).expect("r").expect("d").photos[0]
        .sha256
        .clone();
    let sealed = a.lib.seal(d.id, Utc::now()).expect("seal offline");
    assert_eq!(sealed.state, CapsuleState::Sealed);
    assert!(
        sealed.photos.is_empty() && sealed.note.is_empty(),
        "locked at once"
    );
    assert_eq!(sealed.photo_count, 1);
    assert!(a.lib.update_draft(d.id, &f, Utc::now()).is_err());
    assert!(matches!(
        a.engine.sync_now().await,
        Err(SyncError::Offline(_))
    ));

    server.restart().await;
    a.engine.sync_now().await.expect("seal sent");
    assert_eq!(a.engine.sync_state(d.id).expect("state"), SyncState::Synced);
    assert!(
        !a.lib.photo_path(&sha).exists(),
        "original deleted once sealed"
    );
    assert!(!a.lib.thumbnail_path(&sha, ThumbSize::Grid).exists());
    assert!(!a.lib.thumbnail_path(&sha, ThumbSize::Preview).exists());
    let locked = a.lib.draft(d.id).expect("r").expect("d");
    assert_eq!(
        (locked.state, locked.photo_count),
        (CapsuleState::Sealed, 1)
    );

    // The server opens it (its ticker runs every second here); the engine fetches it.
    let c = opened(&a, d.id).await.expect("the capsule opened");
    assert_eq!(c.note, "see you in a few seconds");
    assert!(a.lib.thumbnail_path(&sha, ThumbSize::Grid).exists());
    let original = a
        .engine
        .original(d.id, c.photos[0].id)
        .await
        .expect("original");
    assert_eq!(hex(&std::fs::read(original).expect("read")), sha);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_refresh_asks_for_log_in_and_a_new_key_is_refreshed_once() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut server = Server::start().await;
    let who = email();
    let (a, b) = two_devices(tmp.path(), &server.url, &server.url, &who).await;
    let d = a
        .lib
        .create_draft(&fields("T", "n"), Utc::now())
        .expect("draft");
    a.engine.sync_now().await.expect("sync");

    // A new signing key makes every access token fail once; the refresh token still works.
    server
        .restart_with(&[
            "--jwt-secret",
            "another-secret-of-more-than-thirty-two-bytes!",
        ])
        .await;
    a.lib
        .update_draft(d.id, &fields("T2", "n"), Utc::now())
        .expect("edit");
    a.engine
        .sync_now()
        .await
        .expect("refreshed once and went on");

    // A password change on B ends A's session: refresh refused, log in asked.
    b.engine
        .change_password(PASSWORD, "another good passphrase 77")
        .await
        .expect("change password");
    a.lib
        .update_draft(d.id, &fields("T3", "n"), Utc::now())
        .expect("edit");
    assert!(matches!(
        a.engine.sync_now().await,
        Err(SyncError::SignedOut)
    ));
    assert_eq!(
        a.engine.sync_state(d.id).expect("state"),
        SyncState::NeedsLogin
    );
    a.engine
        .log_in(&server.url, &who, "another good passphrase 77")
        .await
        .expect("log in again");
    a.engine.sync_now().await.expect("sync");
    assert_eq!(a.engine.sync_state(d.id).expect("state"), SyncState::Synced);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_refusal_is_shown_with_its_reason_and_a_refused_seal_unlocks() {
    let tmp = tempfile::tempdir().expect("tmp");
    let server = Server::start().await;
    let a = Device::open(&tmp.path().join("a"));
    a.engine
        .sign_up(&server.url, &email(), PASSWORD)
        .await
        .expect("sign up");
    // Open date passes between the seal here and its arrival there.
    let mut f = fields("Late", "note");
    f.open_at = Some(Utc::now() + chrono::Duration::milliseconds(300));
    let d = a.lib.create_draft(&f, Utc::now()).expect("draft");
    a.lib.seal(d.id, Utc::now()).expect("sealed here");
    tokio::time::sleep(Duration::from_millis(400)).await;
    a.engine.sync_now().await.expect("pass");
    let c = a.lib.draft(d.id).expect("r").expect("d");
    assert_eq!(c.state, CapsuleState::Draft, "unlocked to fix the date");
    match a.engine.sync_state(d.id).expect("state") {
        SyncState::Error { reason } => assert!(reason.contains("seal"), "{reason}"),
        other => panic!("expected an error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_errors_are_sentences_and_log_out_forgets_the_token() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut server = Server::start().await;
    let a = Device::open(&tmp.path().join("a"));
    let who = email();

    match a.engine.sign_up(&server.url, &who, "password").await {
        Err(SyncError::Api { code, message, .. }) => {
            assert_eq!(code, protocol::ErrorCode::WeakPassword);
            assert!(message.ends_with('.'), "a sentence: {message}");
        }
        other => panic!("weak password accepted: {other:?}"),
    }
    match a.engine.log_in("not a url", &who, PASSWORD).await {
        Err(e) => assert!(e.to_string().contains("server address"), "{e}"),
        Ok(_) => panic!("nonsense address accepted"),
    }
    a.engine
        .sign_up(&server.url, &who, PASSWORD)
        .await
        .expect("sign up");
    match a
        .engine
        .log_in(&server.url, &who, "wrong passphrase 12345")
        .await
    {
        Err(SyncError::Api { code, .. }) => {
            assert_eq!(code, protocol::ErrorCode::InvalidCredentials);
        }
        other => panic!("wrong password accepted: {other:?}"),
    }
    server.stop();
    match a.engine.log_in(&server.url, &who, PASSWORD).await {
        Err(e @ SyncError::Offline(_)) => assert!(e.to_string().contains("cannot be reached")),
        other => panic!("expected offline, got {other:?}"),
    }
    server.restart().await;

    let d = a
        .lib
        .create_draft(&fields("Mine", "n"), Utc::now())
        .expect("draft");
    a.engine.sync_now().await.expect("sync");
    a.engine.log_out().await.expect("log out");
    assert!(a.engine.account().is_none());
    assert!(!a.dir.join("refresh-token").exists(), "token forgotten");
    assert_eq!(
        a.engine.sync_state(d.id).expect("state"),
        SyncState::LocalOnly
    );
    assert!(a.lib.draft(d.id).expect("read").is_some(), "capsules stay");
    // A restart stays signed out.
    let again = Device::open(&a.dir);
    assert!(again.engine.account().is_none());
}

/// Every value a server process keeps: each row of each table of its database, and every
/// stored object in its folder store. (Read with rusqlite rather than the `sqlite3` tool,
/// so it also runs where the tests are Windows programs.)
fn server_holds(server: &Server) -> Vec<u8> {
    use rusqlite::types::ValueRef;
    let db = rusqlite::Connection::open_with_flags(
        server.data.path().join("server.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("server database");
    let tables: Vec<String> = db
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table'")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .expect("tables");
    let mut all = Vec::new();
    for table in tables {
        let mut rows = db
            .prepare(&format!("SELECT * FROM \"{table}\""))
            .expect("select");
        let columns = rows.column_count();
        let mut rows = rows.query([]).expect("rows");
        while let Some(row) = rows.next().expect("row") {
            for i in 0..columns {
                match row.get_ref(i).expect("value") {
                    ValueRef::Text(b) | ValueRef::Blob(b) => all.extend_from_slice(b),
                    ValueRef::Integer(n) => all.extend(n.to_string().into_bytes()),
                    ValueRef::Real(x) => all.extend(x.to_string().into_bytes()),
                    ValueRef::Null => {}
                }
                all.push(b'\n');
            }
        }
    }
    let mut dirs = vec![server.data.path().join("blobs")];
    while let Some(dir) = dirs.pop() {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else {
                all.extend(std::fs::read(&p).unwrap_or_default());
            }
        }
    }
    all
}

fn holds(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capsule_sealed_here_reaches_the_server_as_ciphertext_and_opens_byte_for_byte() {
    let tmp = tempfile::tempdir().expect("tmp");
    let server = Server::start().await;
    let a = Device::open(&tmp.path().join("a"));
    a.engine
        .sign_up(&server.url, &email(), PASSWORD)
        .await
        .expect("sign up");
    let note = "The lake house key is under the third stone from the gate.";
    let mut f = fields("Lake house", note);
    f.open_at = Some(Utc::now() + chrono::Duration::seconds(5));
    f.recipients = vec!["lake.cousin@example.com".into()];
    let d = a.lib.create_draft(&f, Utc::now()).expect("draft");
    let file = photo(tmp.path(), "lake.png", 120, 80, 23);
    add_photos(&a, d.id, std::slice::from_ref(&file));
    let bytes = std::fs::read(&file).expect("photo");
    // The draft goes up in plaintext first, as drafts do.
    a.engine.sync_until_sent().await.expect("draft sent");
    assert!(holds(&server_holds(&server), note.as_bytes()));

    a.lib.seal(d.id, Utc::now()).expect("seal");
    a.engine.sync_until_sent().await.expect("seal sent");
    assert_eq!(a.engine.sync_state(d.id).expect("state"), SyncState::Synced);
    let stored = server_holds(&server);
    assert!(!holds(&stored, note.as_bytes()), "the note is ciphertext");
    assert!(
        !holds(&stored, b"lake.cousin@example.com"),
        "the recipient is ciphertext"
    );
    for at in (0..bytes.len() - 64).step_by(bytes.len() / 8) {
        assert!(
            !holds(&stored, &bytes[at..at + 64]),
            "photo bytes at {at} are stored in plaintext"
        );
    }
    assert!(holds(&stored, b"age-encryption.org/v1"), "age files held");

    // No relay answers here: on its date the server opens it with its escrow key.
    let c = opened(&a, d.id).await.expect("the capsule opened");
    assert_eq!(c.note, note);
    assert_eq!(c.recipients, vec!["lake.cousin@example.com".to_owned()]);
    let original = a
        .engine
        .original(d.id, c.photos[0].id)
        .await
        .expect("original");
    assert_eq!(
        std::fs::read(original).expect("read"),
        bytes,
        "byte for byte"
    );
    assert!(
        server.log().contains("with the escrow key"),
        "the escrow use is logged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capsule_sealed_with_the_time_lock_only_waits_for_the_beacon() {
    let tmp = tempfile::tempdir().expect("tmp");
    let local = testkit::beacon::LocalChain::new(Utc::now().timestamp() - 1_000, 1);
    let relay = testkit::beacon::Relay::start(local.clone());
    let chain = &local.chain;
    let hash = chain.hash_hex();
    let mut flags = chain_flags(chain);
    flags.extend(["--drand-relays".to_owned(), relay.url()]);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let server = Server::start_with(&flags).await;
    let a = Device::open(&tmp.path().join("a"));
    a.engine
        .sign_up(&server.url, &email(), PASSWORD)
        .await
        .expect("sign up");
    let open_at = Utc::now() + chrono::Duration::seconds(3);
    let mut f = fields("Only time", "only drand opens this");
    f.open_at = Some(open_at);
    let d = a.lib.create_draft(&f, Utc::now()).expect("draft");
    add_photos(&a, d.id, &[photo(tmp.path(), "t.png", 64, 48, 5)]);
    a.lib
        .seal_with(
            d.id,
            Utc::now(),
            &desktop_core::SealOptions {
                time_lock_only: true,
                reminders: None,
            },
        )
        .expect("seal");
    relay.set_down(true);
    a.engine.sync_until_sent().await.expect("seal sent");

    // This computer keeps the sealed files; exported, they open with the beacon alone.
    let kept = a.lib.sealed_dir(d.id);
    for f in [
        "index.age",
        "note.age",
        "recipients.age",
        "README.txt",
        "manifest.json",
    ] {
        assert!(kept.join(f).is_file(), "{f} kept");
    }
    let out = tmp.path().join("export");
    std::fs::create_dir(&out).expect("dir");
    let report = desktop_core::export_originals(
        &a.engine,
        d.id,
        &out,
        &|_| {},
        &desktop_core::CancelToken::default(),
    )
    .await
    .expect("export a sealed capsule");
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    let note_file = report
        .written
        .iter()
        .find(|p| p.ends_with("note.age"))
        .expect("note.age exported");
    let readme = std::fs::read_to_string(note_file.with_file_name("README.txt")).expect("readme");
    assert!(
        readme.contains(&hash) && readme.contains("tle --decrypt"),
        "{readme}"
    );
    let round = chain.round_at(open_at);
    let sealed_note = std::fs::read(note_file).expect("read");
    assert!(
        seal::open_with_beacon(
            sealed_note.as_slice(),
            Vec::new(),
            chain,
            &local.sign(round - 1)
        )
        .is_err(),
        "an earlier round does not open it"
    );
    let mut note = Vec::new();
    seal::open_with_beacon(sealed_note.as_slice(), &mut note, chain, &local.sign(round))
        .expect("the round's beacon opens the exported note");
    assert_eq!(note, b"only drand opens this");
    let locked = seal::inspect(sealed_note.as_slice()).expect("header");
    assert!(!locked.escrow, "time lock only: no escrow stanza");

    // Past the date with no beacon, the capsule stays shut: no escrow stanza to fall back on.
    tokio::time::sleep(Duration::from_secs(5)).await;
    a.engine.sync_now().await.expect("sync");
    let c = a.lib.draft(d.id).expect("r").expect("d");
    assert_eq!(c.state, CapsuleState::Sealed, "no beacon, no opening");
    assert!(
        !server.log().contains("with the escrow key"),
        "escrow never used"
    );

    relay.set_down(false);
    relay.publish_up_to(chain.round_at(open_at) + 10);
    let c = opened(&a, d.id).await.expect("the beacon opened it");
    assert_eq!(c.note, "only drand opens this");
    assert!(
        !kept.exists(),
        "the sealed copy goes once the capsule opened"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_sealed_before_it_went_up_never_leaves_in_plaintext_unless_the_seal_is_refused() {
    let tmp = tempfile::tempdir().expect("tmp");
    let server = Server::start().await;
    let a = Device::signed_up(&tmp.path().join("a"), &server.url, &email()).await;

    // Sealed before any sync: the photo goes up only inside the seal, encrypted.
    let d = a
        .lib
        .create_draft(&fields("Straight to the seal", "note"), Utc::now())
        .expect("draft");
    add_photos(&a, d.id, &[photo(tmp.path(), "s.png", 64, 48, 31)]);
    a.lib.seal(d.id, Utc::now()).expect("seal");
    a.engine.sync_until_sent().await.expect("sent");
    assert_eq!(
        a.lib.draft(d.id).expect("r").expect("d").state,
        CapsuleState::Sealed
    );
    let log = server.log();
    assert!(
        log.contains(&format!("/v1/capsules/{}/sealed/", d.id)),
        "sealed files sent"
    );
    assert!(
        !log.contains(&format!("/v1/capsules/{}/photos/", d.id)),
        "no plaintext photo upload"
    );

    // A seal the server refuses makes a draft again, whose photo then goes up as drafts' do.
    let mut late = fields("Late with a photo", "note");
    late.open_at = Some(Utc::now() + chrono::Duration::milliseconds(300));
    let l = a.lib.create_draft(&late, Utc::now()).expect("draft");
    add_photos(&a, l.id, &[photo(tmp.path(), "l.png", 64, 48, 32)]);
    a.lib.seal(l.id, Utc::now()).expect("sealed here");
    tokio::time::sleep(Duration::from_millis(400)).await;
    a.engine.sync_now().await.expect("pass");
    assert_eq!(
        a.lib.draft(l.id).expect("r").expect("d").state,
        CapsuleState::Draft
    );
    late.open_at = Some(Utc::now() + chrono::Duration::days(3));
    a.lib.update_draft(l.id, &late, Utc::now()).expect("fixed");
    a.engine.sync_until_sent().await.expect("draft sent");
    let c = a.lib.draft(l.id).expect("r").expect("d");
    assert!(c.photos[0].uploaded, "the draft's photo went up after all");
}
