//! What the desktop window reads and asks for, against a real sync-server process: the
//! library list and a capsule's screen, import into a draft with per-file reasons, the
//! delivery report and the export of an opened capsule's originals.

mod support;

use std::time::Duration;

use chrono::Utc;
use desktop_core::{
    CancelToken, SyncState, capsule_detail, capsule_list, export_originals, view::CapsuleSummary,
};
use protocol::{CapsuleState, CapsuleWrite, DeliveryStatus, ErrorCode};
use support::{Device, PASSWORD, Server, photo};
use uuid::Uuid;

fn fields(title: &str, open_in: chrono::Duration) -> CapsuleWrite {
    CapsuleWrite {
        title: title.into(),
        note: "for later".into(),
        open_at: Some(Utc::now() + open_in),
        time_zone: "Europe/Paris".into(),
        recipients: vec!["ann@example.com".into()],
    }
}

fn summary(list: &[CapsuleSummary], id: Uuid) -> &CapsuleSummary {
    list.iter().find(|c| c.id == id).expect("listed")
}

#[test]
fn import_into_a_draft_adds_photos_once_and_names_each_bad_file() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dev = Device::open(&tmp.path().join("dev"));
    let files = tmp.path().join("files");
    std::fs::create_dir_all(&files).expect("dir");
    let good = photo(&files, "a.png", 64, 48, 1);
    let twin = files.join("a-copy.png");
    std::fs::copy(&good, &twin).expect("copy");
    std::fs::write(files.join("notes.txt"), b"not a photo at all").expect("txt");
    let d = dev
        .lib
        .create_draft(&fields("Trip", chrono::Duration::days(9)), Utc::now())
        .expect("draft");

    let first = dev
        .lib
        .import_into_capsule(
            d.id,
            std::slice::from_ref(&files),
            &|_| {},
            &CancelToken::default(),
            Utc::now(),
        )
        .expect("import");
    assert_eq!((first.added, first.already_in), (1, 1), "{first:?}");
    assert_eq!(first.skipped.len(), 1);
    assert_eq!(first.skipped[0].file_name, "notes.txt");
    assert_eq!(first.skipped[0].code, ErrorCode::UnsupportedImageFormat);
    let again = dev
        .lib
        .import_into_capsule(d.id, &[good], &|_| {}, &CancelToken::default(), Utc::now())
        .expect("import again");
    assert_eq!((again.added, again.already_in), (0, 1));

    let list = capsule_list(&dev.engine).expect("list");
    let s = summary(&list, d.id);
    assert_eq!((s.photo_count, s.sync.clone()), (1, SyncState::LocalOnly));
    let cover = s.cover.clone().expect("a cover once a thumbnail exists");
    assert!(dev.lib.photo_visible(&cover).expect("visible"));
    let detail = capsule_detail(&dev.engine, d.id).expect("detail");
    assert_eq!(detail.photos.len(), 1);
    assert!(detail.photos[0].thumbnail && detail.photos[0].preview);
    assert_eq!(
        (detail.photos[0].width, detail.photos[0].height),
        (Some(64), Some(48))
    );

    dev.lib.seal(d.id, Utc::now()).expect("seal");
    assert!(
        !dev.lib.photo_visible(&cover).expect("visible"),
        "nothing of a sealed capsule is served to the window"
    );
    let sealed = summary(&capsule_list(&dev.engine).expect("list"), d.id).clone();
    assert_eq!(
        (sealed.state, sealed.photo_count, sealed.cover),
        (CapsuleState::Sealed, 1, None)
    );
    let refused =
        dev.lib
            .import_into_capsule(d.id, &[twin], &|_| {}, &CancelToken::default(), Utc::now());
    assert!(matches!(refused, Err(desktop_core::DraftError::Sealed)));
}

#[test]
fn a_thousand_capsules_are_listed_in_one_read() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dev = Device::open(&tmp.path().join("dev"));
    let now = Utc::now();
    for i in 0..1000 {
        dev.lib
            .create_draft(
                &fields(&format!("Capsule {i}"), chrono::Duration::days(1000 - i)),
                now,
            )
            .expect("draft");
    }
    let list = capsule_list(&dev.engine).expect("list");
    assert_eq!(list.len(), 1000);
    assert_eq!(list[0].title, "Capsule 999", "soonest open date first");
    assert!(
        list.windows(2).all(|w| w[0].open_at <= w[1].open_at),
        "sorted by open date"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_opened_capsule_reports_deliveries_and_exports_safe_file_names() {
    let tmp = tempfile::tempdir().expect("tmp");
    let server = Server::start().await;
    let dev = Device::open(&tmp.path().join("dev"));
    let who = format!("owner-{}@example.com", Uuid::new_v4().simple());
    dev.engine
        .sign_up(&server.url, &who, PASSWORD)
        .await
        .expect("sign up");
    let d = dev
        .lib
        .create_draft(&fields("Soon", chrono::Duration::seconds(4)), Utc::now())
        .expect("draft");
    let files = tmp.path().join("files");
    std::fs::create_dir_all(&files).expect("dir");
    let report = desktop_core::import(
        &dev.lib,
        &[
            photo(&files, "one.png", 40, 30, 3),
            photo(&files, "two.png", 40, 30, 4),
            photo(&files, "three.png", 40, 30, 5),
        ],
        &|_| {},
        &CancelToken::default(),
    );
    // Names another device (or someone with the account) may have given the photos.
    let hostile = ["../../escape.png", "CON.png", "..\\..\\win.png"];
    let photos: Vec<_> = report
        .imported
        .iter()
        .zip(hostile)
        .map(|(p, name)| (p.photo.sha256.clone(), Some(name.to_owned())))
        .collect();
    dev.lib
        .add_photos(d.id, &photos, Utc::now())
        .expect("add photos");
    dev.lib.seal(d.id, Utc::now()).expect("seal");
    dev.engine.sync_now().await.expect("sent");
    assert_eq!(
        dev.engine.sync_state(d.id).expect("state"),
        SyncState::Synced
    );

    let mut opened = None;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        dev.engine.sync_now().await.expect("sync");
        let c = capsule_detail(&dev.engine, d.id).expect("detail");
        if c.state == CapsuleState::Opened && c.photos.iter().all(|p| p.thumbnail) {
            opened = Some(c);
            break;
        }
    }
    let c = opened.expect("the capsule opened with its thumbnails");
    assert!(!c.revealed);
    dev.lib.mark_revealed(d.id, Utc::now()).expect("revealed");
    assert!(capsule_detail(&dev.engine, d.id).expect("d").revealed);

    let mut sent = Vec::new();
    for _ in 0..50 {
        sent = dev.engine.refresh_deliveries(d.id).await.expect("report");
        if sent.iter().all(|r| r.status == DeliveryStatus::Sent) && sent.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut who_got_it: Vec<_> = sent.iter().map(|r| r.recipient.clone()).collect();
    who_got_it.sort();
    assert_eq!(who_got_it, vec!["ann@example.com".to_owned(), who]);
    assert!(sent.iter().all(|r| r.status == DeliveryStatus::Sent));
    assert_eq!(
        capsule_detail(&dev.engine, d.id).expect("d").deliveries,
        Some(sent),
        "kept for when the server is out of reach"
    );

    let out = tmp.path().join("export");
    std::fs::create_dir_all(&out).expect("dir");
    // A file of the same name is already there: it must survive.
    std::fs::write(out.join("escape.png"), b"mine").expect("existing");
    let outside = tmp.path().join("escape.png");
    let exported = export_originals(&dev.engine, d.id, &out, &|_| {}, &CancelToken::default())
        .await
        .expect("export");
    assert!(exported.failed.is_empty(), "{:?}", exported.failed);
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec![
            "escape (2).png",
            "escape.png",
            "index.html",
            "photo-2.png",
            "win.png"
        ]
    );
    // The gallery shows what was written, from the folder.
    let page =
        std::fs::read_to_string(exported.gallery.as_ref().expect("a gallery")).expect("index.html");
    for p in &exported.written {
        let name = p.file_name().expect("name").to_string_lossy();
        assert!(
            page.contains(&format!("src=\"{}\"", name.replace(' ', "%20"))),
            "{name} in the gallery"
        );
    }
    assert!(!page.contains("<script"), "no script in the gallery");
    assert_eq!(
        std::fs::read(out.join("escape.png")).expect("r"),
        b"mine",
        "never overwritten"
    );
    assert!(!outside.exists(), "nothing written outside the folder");
    for p in &exported.written {
        assert!(p.starts_with(&out));
        let bytes = std::fs::read(p).expect("read");
        let sha = support::sha256_hex(&bytes);
        assert!(
            c.photos.iter().any(|ph| ph.sha256 == sha),
            "{p:?} is an original"
        );
    }
}
