//! Paths and file names as each platform has them: photos imported from folders with
//! non-ASCII and very long names (and, on Windows, every way of writing a path there), and
//! an opened capsule exported under names Windows reserves or folds together, never over a
//! file that is there. On Linux these run with the rest; `scripts/cross.sh` runs them on
//! Windows (under wine).

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::Utc;
use desktop_core::{CancelToken, ExportProgress, Library, import};
use protocol::CapsuleState;
use support::{Device, Server, draft_fields, email, photo, sha256_hex};

/// `dir/a/b/...`: nested folders whose whole path is over 300 characters, past Windows's
/// old 260-character limit.
fn long_folder(dir: &Path) -> PathBuf {
    let mut p = dir.to_owned();
    while p.as_os_str().len() < 320 {
        p.push("a folder with a rather long name for old photos");
    }
    std::fs::create_dir_all(&p).expect("long folder");
    p
}

/// The same path with forward slashes, and in Windows's verbatim `\\?\` form: both name the
/// same file there.
#[cfg(windows)]
fn other_spellings(path: &Path) -> Vec<PathBuf> {
    let text = path.to_string_lossy();
    vec![
        PathBuf::from(text.replace('\\', "/")),
        PathBuf::from(format!(r"\\?\{text}")),
    ]
}

#[cfg(not(windows))]
fn other_spellings(_: &Path) -> Vec<PathBuf> {
    Vec::new()
}

#[test]
fn photos_import_from_non_ascii_long_and_differently_written_paths() {
    let tmp = tempfile::tempdir().expect("tmp");
    let lib = Library::open(tmp.path().join("library")).expect("library");
    let unicode = tmp.path().join("Фото été 写真 🌅");
    std::fs::create_dir_all(&unicode).expect("folder");
    let long = long_folder(tmp.path());
    let mut files = vec![
        photo(&unicode, "Ölfeld 午後.png", 64, 48, 1),
        photo(&long, "deep.png", 64, 48, 2),
    ];
    for (i, dir) in other_spellings(tmp.path()).into_iter().enumerate() {
        let name = format!("spelled-{i}.png");
        photo(tmp.path(), &name, 64, 48, 4 + u8::try_from(i).expect("few"));
        files.push(dir.join(name));
    }
    let report = import(&lib, &files, &|_| {}, &CancelToken::default());
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(report.imported.len(), files.len());
    assert_eq!(
        report.imported[0].file_name.as_deref(),
        Some("Ölfeld 午後.png"),
        "the name as the person sees it"
    );
    for imported in &report.imported {
        let bytes = std::fs::read(&imported.source).expect("source");
        assert_eq!(imported.photo.sha256, sha256_hex(&bytes));
        assert!(lib.photo_path(&imported.photo.sha256).exists());
    }
    // A folder given as the path (the window's drop of a folder) is walked as well.
    let again = import(
        &lib,
        std::slice::from_ref(&long),
        &|_| {},
        &CancelToken::default(),
    );
    assert!(again.failed.is_empty(), "{:?}", again.failed);
    assert_eq!(again.imported.len(), 1);
    assert!(again.imported[0].duplicate);
}

/// Syncs until the server has opened the capsule and its photos are listed here.
async fn opened(d: &Device, id: uuid::Uuid) -> desktop_core::Draft {
    for _ in 0..150 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        d.engine.sync_now().await.expect("sync");
        let c = d.lib.draft(id).expect("read").expect("capsule");
        if c.state == CapsuleState::Opened && !c.photos.is_empty() {
            return c;
        }
    }
    panic!("the capsule did not open within 30 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_under_reserved_and_colliding_names_writes_every_photo_and_overwrites_nothing() {
    let tmp = tempfile::tempdir().expect("tmp");
    let server = Server::start().await;
    let a = Device::signed_up(&tmp.path().join("a"), &server.url, &email("export")).await;

    // Names another device (or anyone with the account) chose; Windows cannot make such
    // files itself, so they are given to the library as names.
    let names = [
        "CON.png",
        "aux.png",
        "holiday. . ",
        "Beach.png",
        "beach.PNG",
    ];
    let sources: Vec<PathBuf> = (0..names.len())
        .map(|i| {
            let seed = 10 + u8::try_from(i).expect("few");
            photo(tmp.path(), &format!("src-{i}.png"), 80, 60, seed)
        })
        .collect();
    let report = import(&a.lib, &sources, &|_| {}, &CancelToken::default());
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    let shas: Vec<String> = report
        .imported
        .iter()
        .map(|p| p.photo.sha256.clone())
        .collect();
    let named: Vec<(String, Option<String>)> = shas
        .iter()
        .zip(names)
        .map(|(sha, name)| (sha.clone(), Some(name.to_owned())))
        .collect();
    let mut fields = draft_fields("Names", "every one comes out", &["r@example.com"]);
    let d = a.lib.create_draft(&fields, Utc::now()).expect("draft");
    a.lib
        .add_photos(d.id, &named, Utc::now())
        .expect("add photos");
    a.engine.sync_now().await.expect("sync the draft");
    // The date set just before sealing: on a loaded machine (wine, three test programs at
    // once) the steps above can take longer than the server's minimum lead.
    fields.open_at = Some(Utc::now() + chrono::Duration::seconds(4));
    a.lib
        .update_draft(d.id, &fields, Utc::now())
        .expect("open in 4 s");
    a.lib.seal(d.id, Utc::now()).expect("seal");
    a.engine.sync_now().await.expect("sync the seal");
    let c = opened(&a, d.id).await;
    assert_eq!(c.photos.len(), names.len());

    let out = tmp.path().join("Exported photos");
    std::fs::create_dir(&out).expect("out");
    std::fs::write(out.join("BEACH.png"), b"a file the person had here").expect("existing");
    let report = desktop_core::export_originals(
        &a.engine,
        d.id,
        &out,
        &|_: ExportProgress| {},
        &CancelToken::default(),
    )
    .await
    .expect("export");
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    let written: Vec<String> = report
        .written
        .iter()
        .map(|p| p.file_name().expect("name").to_string_lossy().into_owned())
        .collect();
    // Windows folds case: "Beach.png" and "beach.png" meet the "BEACH.png" that is there.
    let expected = if cfg!(windows) {
        [
            "photo-1.png",
            "photo-2.png",
            "holiday.png",
            "Beach (2).png",
            "beach (3).png",
        ]
    } else {
        [
            "photo-1.png",
            "photo-2.png",
            "holiday.png",
            "Beach.png",
            "beach.png",
        ]
    };
    assert_eq!(written, expected);
    assert_eq!(
        std::fs::read(out.join("BEACH.png")).expect("existing"),
        b"a file the person had here",
        "never overwritten"
    );
    for (path, sha) in report.written.iter().zip(&shas) {
        assert_eq!(&sha256_hex(&std::fs::read(path).expect("written")), sha);
    }
    let in_folder = std::fs::read_dir(&out).expect("list").count();
    assert_eq!(
        in_folder,
        1 + names.len() + 1,
        "the photos, index.html and BEACH.png"
    );
}
