//! The network between the desktop and the server going bad, through a TCP proxy: an upload
//! cut in the middle, a connection that goes silent, a slow link. Uploads are sent again and
//! count once, a stall is noticed within the read timeout, and two devices converge.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use desktop_core::{Library, SyncEngine, SyncError, SyncState, SystemClock, Timeouts, TokenStore};
use protocol::CapsuleWrite;
use support::{Device, PASSWORD, Server, add_photos, big_photo, photo, sha256_hex, two_devices};
use testkit::FaultProxy;
use uuid::Uuid;

fn fields(title: &str, note: &str) -> CapsuleWrite {
    support::draft_fields(title, note, &[])
}

/// A device whose engine gives up on a silent connection after `read`.
fn device_with(dir: &Path, read: Duration) -> Device {
    let lib = Arc::new(Library::open(dir).expect("library"));
    let engine = SyncEngine::with_timeouts(
        lib.clone(),
        Arc::new(SystemClock),
        TokenStore::file_only(dir),
        "flaky laptop",
        Timeouts {
            connect: Duration::from_secs(2),
            read,
        },
    )
    .expect("engine");
    Device {
        dir: dir.to_owned(),
        lib,
        engine,
    }
}

/// A proxy in front of `server`, which is restarted to hand out upload links through it
/// too (as a server behind a flaky network would).
async fn behind_proxy(server: &mut Server) -> FaultProxy {
    let proxy = FaultProxy::start(format!("127.0.0.1:{}", server.port).parse().expect("addr"));
    let url = proxy.url("http");
    server.restart_with(&["--public-url", &url]).await;
    proxy
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_cut_by_the_network_is_sent_again_and_counts_once() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut server = Server::start().await;
    let proxy = behind_proxy(&mut server).await;
    let who = format!("cut-{}@example.com", Uuid::new_v4().simple());
    let a = Device::open(&tmp.path().join("a"));
    a.engine
        .sign_up(&proxy.url("http"), &who, PASSWORD)
        .await
        .expect("sign up through the proxy");
    let d = a
        .lib
        .create_draft(&fields("Big one", "through a bad network"), Utc::now())
        .expect("draft");
    let file = big_photo(tmp.path(), "big.bmp", 1400, 1000);
    let original = std::fs::read(&file).expect("read");
    add_photos(&a, d.id, &[file]);

    // The link dies 1 MiB into the upload. The engine sends the photo again whole (in the
    // same pass, or the next one if the network stays away).
    let before = proxy.upstream_bytes();
    proxy.cut_after(1024 * 1024);
    match a.engine.sync_now().await {
        Ok(_) | Err(SyncError::Offline(_)) => {}
        Err(e) => panic!("a cut upload is a network failure, not {e:?}"),
    }
    assert!(!proxy.cut_pending(), "the cut happened mid-upload");
    a.engine.sync_now().await.expect("sent again");
    assert_eq!(a.engine.sync_state(d.id).expect("state"), SyncState::Synced);
    let sent = proxy.upstream_bytes() - before;
    assert!(
        sent > original.len() as u64 + 1024 * 1024 - 64 * 1024,
        "the cut part and then the whole photo went out ({sent} bytes)"
    );

    let b = Device::logged_in(&tmp.path().join("b"), &server.url, &who).await;
    b.engine.sync_now().await.expect("pull");
    let there = b.lib.draft(d.id).expect("read").expect("arrived");
    assert_eq!(there.photos.len(), 1, "the photo counts once");
    let path = b
        .engine
        .original(d.id, there.photos[0].id)
        .await
        .expect("original");
    assert_eq!(
        sha256_hex(&std::fs::read(path).expect("read")),
        sha256_hex(&original),
        "byte for byte"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_server_is_noticed_within_the_read_timeout_and_sync_resumes() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut server = Server::start().await;
    let proxy = behind_proxy(&mut server).await;
    let a = device_with(&tmp.path().join("a"), Duration::from_secs(2));
    let who = format!("stall-{}@example.com", Uuid::new_v4().simple());
    a.engine
        .sign_up(&proxy.url("http"), &who, PASSWORD)
        .await
        .expect("sign up");
    let d = a
        .lib
        .create_draft(&fields("Quiet", "the line went quiet"), Utc::now())
        .expect("draft");
    add_photos(&a, d.id, &[photo(tmp.path(), "q.png", 120, 90, 4)]);

    proxy.stall();
    let t = Instant::now();
    let stalled = a.engine.sync_now().await;
    assert!(matches!(stalled, Err(SyncError::Offline(_))), "{stalled:?}");
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "noticed in {:?}",
        t.elapsed()
    );
    assert_eq!(
        a.engine.sync_state(d.id).expect("state"),
        SyncState::WaitingForNetwork
    );

    proxy.restore();
    a.engine.sync_now().await.expect("resumes");
    assert_eq!(a.engine.sync_state(d.id).expect("state"), SyncState::Synced);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_devices_on_a_slow_link_converge() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut server = Server::start().await;
    let slow = behind_proxy(&mut server).await;
    let who = support::email("slow");
    let (a, b) = two_devices(tmp.path(), &slow.url("http"), &server.url, &who).await;
    let d = a
        .lib
        .create_draft(&fields("Shared", "v1"), Utc::now())
        .expect("draft");
    a.engine.sync_now().await.expect("first push");
    b.engine.sync_now().await.expect("first pull");

    // About 200 KB/s each way for A; B edits the note, A the title and adds a photo.
    slow.slow(200_000);
    let mut fa = fields("Shared, renamed on A", "v1");
    fa.open_at = a.lib.draft(d.id).expect("r").expect("d").open_at;
    a.lib.update_draft(d.id, &fa, Utc::now()).expect("edit a");
    add_photos(&a, d.id, &[photo(tmp.path(), "s.png", 600, 400, 8)]);
    let mut fb = fields("Shared", "v2 from B");
    fb.open_at = fa.open_at;
    b.lib.update_draft(d.id, &fb, Utc::now()).expect("edit b");
    b.engine.sync_now().await.expect("b pushes");
    let t = Instant::now();
    a.engine
        .sync_now()
        .await
        .expect("a pushes over the slow link");
    assert!(
        t.elapsed() > Duration::from_millis(100),
        "the link was slow"
    );
    b.engine.sync_now().await.expect("b pulls");
    a.engine.sync_now().await.expect("a pulls");

    let on_a = a.lib.draft(d.id).expect("r").expect("d");
    let on_b = b.lib.draft(d.id).expect("r").expect("d");
    assert_eq!(on_a.title, "Shared, renamed on A");
    assert_eq!(on_a.note, "v2 from B");
    assert_eq!(
        (on_a.title.as_str(), on_a.note.as_str(), on_a.photos.len()),
        (on_b.title.as_str(), on_b.note.as_str(), on_b.photos.len())
    );
    assert_eq!(on_b.photos.len(), 1);
}

/// A 200 MB original, cut by the network at about 60 % of its upload: `restart` says
/// whether the app is restarted before it goes on. Answers the bytes sent again (beyond
/// what was still to send after the cut) and the file's size.
async fn resume_a_cut_200_mb_upload(restart: bool) -> (u64, u64) {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut server = Server::start().await;
    let proxy = Arc::new(behind_proxy(&mut server).await);
    let who = support::email("resume");
    let a = Device::signed_up(&tmp.path().join("a"), &proxy.url("http"), &who).await;
    let d = a
        .lib
        .create_draft(&fields("Huge", "a panorama"), Utc::now())
        .expect("draft");
    let file = big_photo(tmp.path(), "huge.bmp", 8192, 8140);
    let original = std::fs::read(&file).expect("read");
    let size = original.len() as u64;
    add_photos(&a, d.id, &[file]);
    // The network goes away once 60 % of the photo's bytes are through (parts travel on
    // several connections at once, so the drop is of the whole link, not of one of them).
    let start = proxy.upstream_bytes();
    let cut_at = size * 6 / 10;
    let watch = {
        let proxy = proxy.clone();
        tokio::spawn(async move {
            while proxy.upstream_bytes() - start < cut_at {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            proxy.cut();
        })
    };
    match a.engine.sync_now().await {
        Err(SyncError::Offline(_)) => {}
        other => panic!("a cut upload is a network failure, not {other:?}"),
    }
    watch.await.expect("the link was cut");
    let before_cut = proxy.upstream_bytes() - start;
    proxy.restore();
    let a = if restart {
        drop(a);
        Device::open(&tmp.path().join("a"))
    } else {
        a
    };
    let after_start = proxy.upstream_bytes();
    a.engine.sync_now().await.expect("resumed");
    assert_eq!(a.engine.sync_state(d.id).expect("state"), SyncState::Synced);
    let after = proxy.upstream_bytes() - after_start;
    // Everything not sent before the cut had to go; anything more was sent twice.
    let sent_again = (before_cut + after).saturating_sub(size);
    eprintln!(
        "cut at {before_cut} bytes, then {after} more; sent again: {sent_again} of {size} (restart: {restart})"
    );

    let b = Device::logged_in(&tmp.path().join("b"), &server.url, &who).await;
    b.engine.sync_now().await.expect("pull");
    let there = b.lib.draft(d.id).expect("read").expect("arrived");
    assert_eq!(there.photos.len(), 1, "the photo counts once");
    let path = b
        .engine
        .original(d.id, there.photos[0].id)
        .await
        .expect("original");
    assert_eq!(
        sha256_hex(&std::fs::read(path).expect("read")),
        sha256_hex(&original),
        "byte for byte on the second device"
    );
    (sent_again, size)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_upload_cut_at_60_percent_resumes_with_the_parts_left() {
    let (again, size) = resume_a_cut_200_mb_upload(false).await;
    assert!(
        again * 4 < size,
        "{again} bytes of {size} were sent again (goal: under a quarter)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_upload_cut_and_an_app_restart_resume_with_the_parts_left() {
    let (again, size) = resume_a_cut_200_mb_upload(true).await;
    assert!(
        again * 4 < size,
        "{again} bytes of {size} were sent again after a restart (goal: under a quarter)"
    );
}
