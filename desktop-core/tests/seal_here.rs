//! Sealing on this computer only (no account): the capsule becomes age files time-locked
//! to a drand round of the tests' own chain, nothing readable of it stays in the data
//! folder, the clock alone opens nothing, a lying or absent relay leaves it sealed and
//! whole, and the true beacon opens it byte for byte. A sealed folder exported elsewhere
//! comes back into another library and opens there the same way.

mod support;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use desktop_core::{
    CancelToken, Drand, Library, ManualClock, Notifier, OpenOutcome, UnlockWatcher,
    export_originals, open_due_here,
};
use protocol::CapsuleState;
use support::{
    Device, PASSWORD, Server, add_photos_to, big_photo, chain_flags, email, photo, sha256_hex,
};
use testkit::beacon::{LocalChain, Relay};
use uuid::Uuid;

const NOTE: &str = "The secret we kept: the house by the lake, summer 2026.";
const RECIPIENT: &str = "grandchild-only-address@example.org";

#[derive(Default)]
struct Recorder(Mutex<Vec<Uuid>>);

impl Notifier for Recorder {
    fn capsule_opened(&self, id: Uuid, _title: &str) -> Result<(), String> {
        self.0.lock().expect("lock").push(id);
        Ok(())
    }
}

/// A chain of the tests' own whose round 1 was 1,000 s ago, 3 s rounds; its relay.
fn chain_and_relay() -> (LocalChain, Relay, Drand) {
    let local = LocalChain::new(Utc::now().timestamp() - 1_000, 3);
    let relay = Relay::start(local.clone());
    let drand = Drand {
        chain: local.chain.clone(),
        relays: vec![relay.url()],
    };
    (local, relay, drand)
}

/// A draft with a note, a recipient and two photos, opening in an hour.
fn draft(lib: &Library, dir: &Path, now: DateTime<Utc>) -> (Uuid, Vec<PathBuf>) {
    let d = lib
        .create_draft(
            &protocol::CapsuleWrite {
                title: "Lake house".into(),
                note: NOTE.into(),
                open_at: Some(now + Duration::hours(1)),
                time_zone: "Europe/Paris".into(),
                recipients: vec![RECIPIENT.into()],
            },
            now,
        )
        .expect("draft");
    let files = vec![
        photo(dir, "lake.png", 320, 240, 7),
        big_photo(dir, "dock.bmp", 300, 200),
    ];
    add_photos_to(lib, d.id, &files);
    (d.id, files)
}

/// Every file under `dir`, read whole.
fn every_file(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(bytes) = std::fs::read(&p) {
                out.push((p, bytes));
            }
        }
    }
    out
}

/// Sampled 64-byte windows of each original, with the note and the recipient: none may be
/// found in any file of `dir`.
fn assert_nothing_readable(dir: &Path, originals: &[PathBuf]) {
    let mut needles: Vec<(String, Vec<u8>)> = vec![
        ("the note".into(), NOTE.as_bytes().to_vec()),
        ("the recipient".into(), RECIPIENT.as_bytes().to_vec()),
    ];
    for o in originals {
        let bytes = std::fs::read(o).expect("original");
        let step = (bytes.len() / 16).max(64);
        for start in (0..bytes.len().saturating_sub(64)).step_by(step) {
            needles.push((
                format!("{} at {start}", o.display()),
                bytes[start..start + 64].to_vec(),
            ));
        }
    }
    let files = every_file(dir);
    assert!(files.len() > 3, "the scan reads the data folder");
    for (what, needle) in &needles {
        for (path, bytes) in &files {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_slice()),
                "{what} is readable in {}",
                path.display()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_here_it_is_ciphertext_until_the_true_beacon_then_opens_byte_for_byte() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (local, relay, drand) = chain_and_relay();
    let data = tmp.path().join("data");
    let lib = Arc::new(Library::open(&data).expect("library"));
    let t0 = Utc::now();
    let (id, originals) = draft(&lib, tmp.path(), t0);

    let sealed = lib.seal_here(id, t0, &drand).expect("seal here");
    assert_eq!(sealed.state, CapsuleState::Sealed);
    assert!(sealed.note.is_empty() && sealed.recipients.is_empty());
    assert_eq!(sealed.photo_count, 2);
    assert_nothing_readable(&data, &originals);
    let kept = lib.sealed_dir(id);
    let readme = std::fs::read_to_string(kept.join("README.txt")).expect("readme");
    assert!(readme.contains("Nobody holds a key"), "{readme}");
    let round = local.chain.round_at(t0 + Duration::hours(1));
    let locked =
        seal::inspect(std::fs::File::open(kept.join("note.age")).expect("note")).expect("inspect");
    assert_eq!(locked.round, round);
    assert!(!locked.escrow, "no escrow stanza without a server");

    // The clock moved past the date opens nothing: the round is not published.
    let later = t0 + Duration::hours(2);
    relay.publish_up_to(round - 1);
    let clock = Arc::new(ManualClock::new(later));
    let notifier = Arc::new(Recorder::default());
    let watcher =
        UnlockWatcher::new(lib.clone(), clock.clone(), notifier.clone()).with_drand(drand.clone());
    let outcome = open_due_here(&lib, &drand, later).await;
    assert!(
        matches!(&outcome[..], [(i, OpenOutcome::Waiting(why))] if *i == id && why.contains("not published")),
        "{outcome:?}"
    );
    assert!(
        watcher.fire_due().expect("fire").is_empty(),
        "not announced"
    );
    assert_nothing_readable(&data, &originals);

    // A relay that lies is refused; one that is down is waited for.
    relay.publish_up_to(round);
    relay.set_forged(true);
    let outcome = open_due_here(&lib, &drand, later).await;
    assert!(
        matches!(&outcome[..], [(_, OpenOutcome::Waiting(why))] if why.contains("not the chain's")),
        "{outcome:?}"
    );
    relay.set_forged(false);
    relay.set_down(true);
    let outcome = open_due_here(&lib, &drand, later).await;
    assert!(
        matches!(&outcome[..], [(_, OpenOutcome::Waiting(why))] if why.contains("no drand relay")),
        "{outcome:?}"
    );
    let waiting = lib.draft(id).expect("read").expect("capsule");
    assert_eq!(waiting.state, CapsuleState::Sealed);
    assert_nothing_readable(&data, &originals);

    // The true beacon opens it: the originals byte for byte, the note, the recipients.
    relay.set_down(false);
    let outcome = open_due_here(&lib, &drand, later).await;
    assert_eq!(outcome, vec![(id, OpenOutcome::Opened)]);
    let opened = lib.draft(id).expect("read").expect("capsule");
    assert_eq!(opened.state, CapsuleState::Opened);
    assert_eq!(opened.note, NOTE);
    assert_eq!(opened.recipients, vec![RECIPIENT.to_owned()]);
    assert_eq!(opened.photos.len(), 2);
    for (p, original) in opened.photos.iter().zip(&originals) {
        let bytes = std::fs::read(original).expect("original");
        assert_eq!(p.sha256, sha256_hex(&bytes));
        assert_eq!(
            std::fs::read(lib.photo_path(&p.sha256)).expect("opened photo"),
            bytes,
            "byte for byte"
        );
    }
    assert!(!kept.exists(), "the ciphertext goes once opened");
    assert_eq!(
        watcher.fire_due().expect("fire").len(),
        1,
        "announced once opened"
    );
    assert_eq!(notifier.0.lock().expect("lock").as_slice(), &[id]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exported_sealed_folder_comes_back_whole_or_not_at_all_and_opens_on_its_date() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (local, relay, drand) = chain_and_relay();
    let a = Device::open(&tmp.path().join("a"));
    let t0 = Utc::now();
    let (id, originals) = draft(&a.lib, tmp.path(), t0);
    a.lib.seal_here(id, t0, &drand).expect("seal here");
    let out = tmp.path().join("export");
    std::fs::create_dir(&out).expect("dir");
    let report = export_originals(&a.engine, id, &out, &|_| {}, &CancelToken::default())
        .await
        .expect("export");
    let folder = report
        .written
        .iter()
        .find(|p| p.ends_with("manifest.json"))
        .and_then(|p| p.parent())
        .expect("manifest exported")
        .to_owned();

    // Another computer takes it back; a damaged copy is refused and leaves nothing.
    let b = Library::open(tmp.path().join("b")).expect("library b");
    let damaged = tmp.path().join("damaged");
    std::fs::create_dir(&damaged).expect("dir");
    for e in std::fs::read_dir(&folder).expect("read") {
        let p = e.expect("entry").path();
        std::fs::copy(&p, damaged.join(p.file_name().expect("name"))).expect("copy");
    }
    let mut note = std::fs::read(damaged.join("note.age")).expect("note");
    let last = note.len() - 1;
    note[last] ^= 0x55;
    std::fs::write(damaged.join("note.age"), note).expect("write");
    let err = b.import_sealed(&damaged, t0).expect_err("damaged");
    assert!(err.to_string().contains("note.age"), "{err}");
    assert!(b.draft(id).expect("read").is_none(), "nothing recorded");
    let err = b
        .import_sealed(tmp.path(), t0)
        .expect_err("not a sealed folder");
    assert!(err.to_string().contains("manifest.json"), "{err}");

    b.import_sealed(&folder, t0).expect("import");
    let back = b.draft(id).expect("read").expect("capsule");
    assert_eq!(
        (back.state, back.title.as_str(), back.photo_count),
        (CapsuleState::Sealed, "Lake house", 2)
    );
    assert!(
        b.import_sealed(&folder, t0).is_err(),
        "a second import is refused"
    );
    let b = Arc::new(b);
    let round = local.chain.round_at(t0 + Duration::hours(1));
    relay.publish_up_to(round);
    let outcome = open_due_here(&b, &drand, t0 + Duration::minutes(30)).await;
    assert!(outcome.is_empty(), "not due before its date: {outcome:?}");
    let outcome = open_due_here(&b, &drand, t0 + Duration::hours(2)).await;
    assert_eq!(outcome, vec![(id, OpenOutcome::Opened)]);
    let opened = b.draft(id).expect("read").expect("capsule");
    assert_eq!(opened.note, NOTE);
    for (p, original) in opened.photos.iter().zip(&originals) {
        assert_eq!(
            std::fs::read(b.photo_path(&p.sha256)).expect("photo"),
            std::fs::read(original).expect("original")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_with_an_account_nothing_readable_stays_on_this_computer() {
    let tmp = tempfile::tempdir().expect("tmp");
    let server = Server::start().await;
    let a = Device::signed_up(&tmp.path().join("a"), &server.url, &email("leak")).await;
    let t0 = Utc::now();
    let (id, originals) = draft(&a.lib, tmp.path(), t0);
    a.lib.seal(id, t0).expect("seal");
    a.engine.sync_until_sent().await.expect("sent");
    let c = a.lib.draft(id).expect("read").expect("capsule");
    assert_eq!(c.state, CapsuleState::Sealed);
    assert_nothing_readable(&a.dir, &originals);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_here_then_signed_in_before_the_date_the_server_takes_the_files_as_they_are() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (local, _relay, drand) = chain_and_relay();
    let chain = &local.chain;
    let flags = chain_flags(chain);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let server = Server::start_with(&flags).await;
    let a = Device::open(&tmp.path().join("a"));
    let t0 = Utc::now();
    let (id, _) = draft(&a.lib, tmp.path(), t0);
    a.lib.seal_here(id, t0, &drand).expect("seal here");
    let files = a.lib.sealed_dir(id);
    let sent_note = std::fs::read(files.join("note.age")).expect("note");

    a.engine
        .sign_up(&server.url, &email("later"), PASSWORD)
        .await
        .expect("sign up");
    a.engine.sync_until_sent().await.expect("sent");
    let c = desktop_core::capsule_detail(&a.engine, id).expect("detail");
    assert_eq!(c.state, CapsuleState::Sealed);
    assert!(!c.sealed_here, "the server opens it now");
    let lock = c.lock.expect("the server's lock");
    assert!(!lock.escrow, "time lock only, as sealed here");
    assert_eq!(lock.round, chain.round_at(t0 + Duration::hours(1)));
    assert_eq!(
        std::fs::read(files.join("note.age")).expect("kept"),
        sent_note,
        "the same files, kept here"
    );
}
