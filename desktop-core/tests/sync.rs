//! The sync engine against a real sync-server process.

mod support;

use std::time::Duration;

use chrono::Utc;
use desktop_core::{SyncError, SyncState, ThumbSize};
use protocol::{CapsuleState, CapsuleWrite};
use sha2::{Digest, Sha256};
use support::{Device, PASSWORD, Server, add_photos, big_photo, photo, two_devices};

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
    let mut opened = None;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        a.engine.sync_now().await.expect("sync");
        let c = a.lib.draft(d.id).expect("r").expect("d");
        if c.state == CapsuleState::Opened && !c.photos.is_empty() {
            opened = Some(c);
            break;
        }
    }
    let c = opened.expect("the capsule opened");
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
