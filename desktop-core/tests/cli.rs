//! `itc` as people and scripts use it: the built binary run as a process against real
//! sync-server processes, two library folders as two computers, and every exit code.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{Server, itc, photo, sha256_hex};

/// What one `itc` run left.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not one JSON document ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    fn ok(self) -> Self {
        assert_eq!(
            self.code, 0,
            "itc failed\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

fn run(c: &mut Command) -> Run {
    let o = c.output().expect("run itc");
    Run {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

fn capsule_in<'a>(list: &'a Value, id: &str) -> &'a Value {
    list.as_array()
        .expect("a list")
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("capsule {id} not in {list}"))
}

/// A folder of two photos, one file that only says it is a JPEG, and an empty file.
fn folder(root: &Path) -> (PathBuf, Vec<String>) {
    let dir = root.join("to seal");
    std::fs::create_dir_all(dir.join("inner")).expect("folder");
    let a = photo(&dir, "beach.png", 64, 48, 1);
    let b = photo(&dir.join("inner"), "dunes.png", 48, 64, 2);
    std::fs::write(dir.join("not-a-photo.jpg"), "just text").expect("text");
    std::fs::write(dir.join("empty.png"), "").expect("empty");
    let hashes = [a, b]
        .iter()
        .map(|p| sha256_hex(&std::fs::read(p).expect("read")))
        .collect();
    (dir, hashes)
}

/// Starts `itc watch`; its stdout goes to a file, read back with [`Watch::wait_for`].
struct Watch {
    child: Child,
    out: PathBuf,
}

impl Watch {
    fn start(dir: &Path, out: PathBuf) -> Self {
        let file = std::fs::File::create(&out).expect("watch output");
        let child = itc(dir)
            .arg("watch")
            .stdout(file)
            .stderr(Stdio::null())
            .spawn()
            .expect("start itc watch");
        Self { child, out }
    }

    fn wait_for(&self, needle: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let text = std::fs::read_to_string(&self.out).unwrap_or_default();
            if text.contains(needle) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "`itc watch` never printed {needle:?}; it printed:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGTERM, as systemd stops a unit; answers the exit code. On Windows the console
    /// events a program can catch (Ctrl-Break, the window closed) reach only programs that
    /// share a console with the sender, which tests under wine do not have: there it is
    /// ended as Task Manager's "End task" does, and answers `None`.
    fn terminate(mut self) -> Option<i32> {
        if cfg!(windows) {
            let _ = self.child.kill();
            let _ = self.child.wait();
            return None;
        }
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(sent.is_ok_and(|s| s.success()), "kill -TERM {pid}");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return Some(status.code().unwrap_or(-1));
            }
            assert!(Instant::now() < deadline, "`itc watch` ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_folder_is_sealed_synced_opened_on_a_second_computer_and_exported() {
    let mut server = Server::start().await;
    let root = tempfile::tempdir().expect("root");
    let (one, two) = (root.path().join("one"), root.path().join("two"));
    let (photos, hashes) = folder(root.path());
    let email = "cli@example.com";

    run(itc(&one).args(["--server", &server.url, "account", "signup", email])).ok();
    let status = run(itc(&one).args(["--json", "account", "status"]))
        .ok()
        .json();
    assert_eq!(status["account"]["email"], email);
    assert_eq!(status["account"]["serverUrl"], server.url.as_str());

    // A draft from the folder: the photos go in, each bad file is named with its reason.
    let made = run(itc(&one)
        .args(["--json", "capsule", "new", "--title", "New Year"])
        .args(["--note", "See you next year.", "--open-at", "+20s"])
        .args(["--to", "friend@example.com"])
        .arg(&photos))
    .ok();
    let doc = made.json();
    let id = doc["capsule"]["id"].as_str().expect("id").to_owned();
    assert_eq!(doc["import"]["added"], 2, "{doc}");
    let skipped: Vec<&str> = doc["import"]["skipped"]
        .as_array()
        .expect("skipped")
        .iter()
        .map(|s| s["fileName"].as_str().expect("name"))
        .collect();
    assert_eq!(skipped.len(), 2, "{doc}");
    assert!(skipped.contains(&"not-a-photo.jpg") && skipped.contains(&"empty.png"));
    assert!(made.stderr.contains("not-a-photo.jpg"), "{}", made.stderr);
    assert_eq!(doc["capsule"]["recipients"][0], "friend@example.com");

    // Sealing asks first; with nobody to ask it is refused, and nothing changes.
    let unasked = run(itc(&one).args(["capsule", "seal", &id]));
    assert_eq!(unasked.code, 1, "{}", unasked.stderr);
    assert!(unasked.stderr.contains("--yes"), "{}", unasked.stderr);
    let short = &id[..13];
    run(itc(&one).args(["capsule", "seal", short, "--yes"])).ok();
    let list = run(itc(&one).args(["--json", "capsule", "list", "--state", "sealed"]))
        .ok()
        .json();
    assert_eq!(capsule_in(&list, &id)["state"], "sealed");

    // A sealed capsule is refused every change: exit 1, the window's sentence.
    let edit = run(itc(&one).args(["capsule", "edit", &id, "--title", "Peek"]));
    assert_eq!(edit.code, 1);
    assert!(edit.stderr.contains("sealed"), "{}", edit.stderr);

    run(itc(&one).args(["sync", "--wait"])).ok();
    let list = run(itc(&one).args(["--json", "capsule", "list"]))
        .ok()
        .json();
    assert_eq!(capsule_in(&list, &id)["sync"]["kind"], "synced", "{list}");
    // Sealed, the capsule exports as its time-locked files and how to open them.
    let sealed_out = root.path().join("sealed-export");
    std::fs::create_dir(&sealed_out).expect("dir");
    let exported = run(itc(&one).args(["capsule", "export", &id]).arg(&sealed_out)).ok();
    assert!(
        exported.stdout.contains("README.txt"),
        "{}",
        exported.stdout
    );
    let folder = std::fs::read_dir(&sealed_out)
        .expect("export folder")
        .flatten()
        .next()
        .expect("one folder")
        .path();
    let names: Vec<String> = std::fs::read_dir(&folder)
        .expect("files")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names.iter().filter(|n| n.ends_with(".age")).count(),
        3 + 2 * 3,
        "index, note, recipients, and each photo with two thumbnails: {names:?}"
    );
    assert!(names.contains(&"README.txt".to_owned()) && names.contains(&"manifest.json".into()));

    // The second computer: a wrong password is refused, the right one brings the capsule.
    let wrong = run(itc(&two)
        .env("ITC_PASSWORD", "not the password at all")
        .args(["--server", &server.url, "account", "login", email]));
    assert_eq!(wrong.code, 1, "{}", wrong.stderr);
    run(itc(&two).args(["--server", &server.url, "account", "login", email])).ok();
    run(itc(&two).args(["sync", "--wait"])).ok();
    let shown = run(itc(&two).args(["--json", "capsule", "show", &id]))
        .ok()
        .json();
    assert_eq!(shown["state"], "sealed");
    assert_eq!(shown["photoCount"], 2);
    assert_eq!(shown["note"], "", "a sealed capsule shows no note");

    // `watch` holds the library while it runs, and announces the opening.
    let watch = Watch::start(&two, root.path().join("watch.out"));
    std::thread::sleep(Duration::from_millis(500));
    let busy = run(itc(&two).args(["capsule", "list"]));
    assert_eq!(busy.code, 4, "{}", busy.stderr);
    assert!(
        busy.stderr.contains("in use by itc (process"),
        "{}",
        busy.stderr
    );
    let printed = watch.wait_for("Opened: “New Year”", Duration::from_secs(60));
    assert!(printed.contains(&id), "{printed}");
    if let Some(code) = watch.terminate() {
        assert_eq!(code, 0, "watch ends cleanly on SIGTERM");
    }

    // The server opens it on its next tick; the contents come with a sync.
    let deadline = Instant::now() + Duration::from_secs(30);
    let opened = loop {
        run(itc(&two).args(["sync", "--wait"])).ok();
        let shown = run(itc(&two).args(["--json", "capsule", "show", &id]))
            .ok()
            .json();
        if shown["state"] == "opened" {
            break shown;
        }
        assert!(Instant::now() < deadline, "never opened: {shown}");
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(
        opened["notifiedAt"].is_string(),
        "watch recorded the unlock: {opened}"
    );
    assert_eq!(opened["note"], "See you next year.");
    let photos_shown = opened["photos"].as_array().expect("photos");
    assert_eq!(photos_shown.len(), 2);
    assert!(
        photos_shown.iter().all(|p| p["thumbnail"] == true),
        "{opened}"
    );

    // Export writes the originals, byte for byte.
    let out = root.path().join("exported");
    std::fs::create_dir_all(&out).expect("out");
    let report = run(itc(&two)
        .args(["--json", "capsule", "export", &id])
        .arg(&out))
    .ok()
    .json();
    let written = report["written"].as_array().expect("written");
    assert_eq!(written.len(), 2, "{report}");
    let mut got: Vec<String> = written
        .iter()
        .map(|p| sha256_hex(&std::fs::read(p.as_str().expect("path")).expect("read")))
        .collect();
    let mut want = hashes.clone();
    got.sort();
    want.sort();
    assert_eq!(got, want);

    // With the server gone, work is kept and the exit code says "unreachable".
    server.stop();
    run(itc(&one).args(["capsule", "new", "--title", "Offline draft"])).ok();
    let offline = run(itc(&one).args(["sync"]));
    assert_eq!(offline.code, 3, "{}", offline.stderr);
    assert!(
        offline.stderr.contains("cannot be reached"),
        "{}",
        offline.stderr
    );
    let list = run(itc(&one).args(["--json", "capsule", "list", "--state", "draft"]))
        .ok()
        .json();
    assert_eq!(list[0]["title"], "Offline draft");
}

#[test]
fn usage_mistakes_and_bad_input_get_their_exit_codes_and_sentences() {
    let root = tempfile::tempdir().expect("root");
    let lib = root.path().join("lib");

    let usage = run(itc(&lib).args(["capsule", "seal"]));
    assert_eq!(usage.code, 2, "{}", usage.stderr);
    let usage = run(itc(&lib).args(["capsule", "new", "--note", "a", "--note-file", "b"]));
    assert_eq!(
        usage.code, 2,
        "--note and --note-file together: {}",
        usage.stderr
    );

    let help = run(itc(&lib).arg("--help")).ok();
    assert!(help.stdout.contains("Exit codes"), "{}", help.stdout);

    let bad_date = run(itc(&lib).args(["capsule", "new", "--title", "T", "--open-at", "soon"]));
    assert_eq!(bad_date.code, 1);
    assert!(
        bad_date.stderr.contains("is not a date"),
        "{}",
        bad_date.stderr
    );
    let bad_zone = run(itc(&lib).args(["capsule", "new", "--title", "T", "--tz", "Mars/Base"]));
    assert_eq!(bad_zone.code, 1);
    assert!(
        bad_zone.stderr.contains("not a time zone"),
        "{}",
        bad_zone.stderr
    );
    let bad_to = run(itc(&lib).args(["capsule", "new", "--title", "T", "--to", "nobody"]));
    assert_eq!(bad_to.code, 1, "{}", bad_to.stderr);

    // A capsule of text files only: made, but the import as a whole is refused.
    let texts = root.path().join("texts");
    std::fs::create_dir_all(&texts).expect("texts");
    std::fs::write(texts.join("a.jpg"), "no").expect("a");
    let none = run(itc(&lib)
        .args([
            "--json",
            "capsule",
            "new",
            "--title",
            "Nothing",
            "--open-at",
            "2031-06-01",
        ])
        .args(["--tz", "Europe/Paris"])
        .arg(&texts));
    assert_eq!(none.code, 1, "{}", none.stderr);
    let doc = none.json();
    assert_eq!(doc["capsule"]["openAt"], "2031-05-31T22:00:00Z");
    assert_eq!(doc["capsule"]["timeZone"], "Europe/Paris");
    let id = doc["capsule"]["id"].as_str().expect("id");

    // Not logged in: sealing works here and says so; sync is refused.
    let sealed = run(itc(&lib).args(["capsule", "seal", id, "--yes"]));
    assert_eq!(sealed.code, 1, "an empty capsule cannot be sealed");
    assert!(sealed.stderr.contains("Add a photo"), "{}", sealed.stderr);
    run(itc(&lib).args(["capsule", "edit", id, "--note", "A note"])).ok();
    // Without an account every seal is the time lock alone, made here at once.
    let sealed = run(itc(&lib).args(["capsule", "seal", id, "--yes", "--time-lock-only"])).ok();
    assert!(sealed.stdout.contains("not logged in"), "{}", sealed.stdout);
    assert!(sealed.stdout.contains("time-locked"), "{}", sealed.stdout);

    // Its sealed folder, exported, is taken back by another library.
    let exported = root.path().join("exported");
    std::fs::create_dir_all(&exported).expect("export folder");
    run(itc(&lib).args(["capsule", "export", id]).arg(&exported)).ok();
    let folder = std::fs::read_dir(&exported)
        .expect("export folder")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.join("manifest.json").is_file())
        .expect("a sealed folder");
    let other = root.path().join("other");
    let back = run(itc(&other).args(["capsule", "import-sealed"]).arg(&folder)).ok();
    assert!(back.stdout.contains("Took back"), "{}", back.stdout);
    let again = run(itc(&other).args(["capsule", "import-sealed"]).arg(&folder));
    assert_eq!(again.code, 1, "{}", again.stderr);
    assert!(again.stderr.contains("already"), "{}", again.stderr);
    let sync = run(itc(&lib).arg("sync"));
    assert_eq!(sync.code, 1, "{}", sync.stderr);
    assert!(sync.stderr.contains("Log in"), "{}", sync.stderr);

    let missing = run(itc(&lib).args(["capsule", "show", "ffffffff"]));
    assert_eq!(missing.code, 1);
    assert!(missing.stderr.contains("no capsule"), "{}", missing.stderr);
    let sealed_delete = run(itc(&lib).args(["capsule", "delete", id, "--yes"]));
    assert_eq!(sealed_delete.code, 1);
    assert!(
        sealed_delete.stderr.contains("sealed"),
        "{}",
        sealed_delete.stderr
    );

    let draft = run(itc(&lib).args(["--json", "capsule", "new", "--title", "Scratch"]))
        .ok()
        .json();
    let draft = draft["capsule"]["id"].as_str().expect("id");
    let delete = run(itc(&lib).args(["capsule", "delete", draft]));
    assert_eq!(
        delete.code, 1,
        "no terminal to confirm on: {}",
        delete.stderr
    );
    assert!(delete.stderr.contains("--yes"), "{}", delete.stderr);
    run(itc(&lib).args(["capsule", "delete", draft, "--yes"])).ok();
    let list = run(itc(&lib).args(["--json", "capsule", "list"]))
        .ok()
        .json();
    assert_eq!(
        list.as_array().map(Vec::len),
        Some(1),
        "only the sealed one: {list}"
    );
}

#[test]
fn iphone_heics_go_in_through_itc_and_what_cannot_is_named_with_its_reason() {
    let root = tempfile::tempdir().expect("root");
    let lib = root.path().join("lib");
    let folder = root.path().join("from the phone");
    std::fs::create_dir_all(&folder).expect("folder");
    for name in [
        "iphone-grid.heic",
        "iphone-grid-orientation-6.heic",
        "still.avif",
        "cut-at-60-percent.heic",
    ] {
        let case = testkit::heic_corpus::case(name);
        std::fs::copy(&case.path, folder.join(name)).expect("copy");
    }
    let made = run(itc(&lib)
        .args(["--json", "capsule", "new", "--title", "Phone"])
        .args(["--open-at", "2031-06-01"])
        .arg(&folder))
    .ok();
    let doc = made.json();
    assert_eq!(doc["import"]["added"], 2, "{doc}");
    let mut skipped: Vec<(String, String)> = doc["import"]["skipped"]
        .as_array()
        .expect("skipped")
        .iter()
        .map(|s| {
            (
                s["fileName"].as_str().expect("name").to_owned(),
                s["code"].as_str().expect("code").to_owned(),
            )
        })
        .collect();
    skipped.sort();
    assert_eq!(
        skipped,
        [
            ("cut-at-60-percent.heic".into(), "corrupt_image".into()),
            ("still.avif".into(), "unsupported_image_format".into()),
        ]
    );
    assert!(made.stderr.contains("AVIF"), "{}", made.stderr);
    let id = doc["capsule"]["id"].as_str().expect("id");
    let shown = run(itc(&lib).args(["--json", "capsule", "show", id]))
        .ok()
        .json();
    let photos = shown["photos"].as_array().expect("photos");
    assert!(
        photos.iter().all(|p| p["contentType"] == "image/heic"),
        "{shown}"
    );
}

/// An email the receiving server refuses at `RCPT TO` shows as bounced with its words, and
/// `capsule resend --to` sends it once to the corrected address.
#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    windows,
    ignore = "the SMTP server (aiosmtpd) is a Linux process; under wine only sync-server is hosted outside"
)]
async fn a_bounced_email_is_shown_and_sent_again_to_a_corrected_address() {
    let smtp = testkit::smtp::SmtpServer::start();
    let server = Server::start_with(&["--smtp-url", &smtp.url()]).await;
    let root = tempfile::tempdir().expect("root");
    let one = root.path().join("one");
    let gone = format!("gone@{}", testkit::smtp::REFUSED_DOMAIN);
    run(itc(&one).args([
        "--server",
        &server.url,
        "account",
        "signup",
        "bounce@example.com",
    ]))
    .ok();
    let made = run(itc(&one)
        .args(["--json", "capsule", "new", "--title", "Lost address"])
        .args(["--note", "For you both.", "--open-at", "+3s"])
        .args(["--to", "ann@example.com", "--to", &gone]))
    .ok()
    .json();
    let id = made["capsule"]["id"].as_str().expect("id").to_owned();
    run(itc(&one).args(["capsule", "seal", &id, "--yes"])).ok();
    run(itc(&one).args(["sync", "--wait"])).ok();

    let status = |shown: &Value, address: &str| {
        shown["deliveries"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|d| d["recipient"] == address)
            .and_then(|d| d["status"].as_str())
            .map(str::to_owned)
    };
    let until = |what: &str, done: &dyn Fn(&Value) -> bool| {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            run(itc(&one).args(["sync", "--wait"])).ok();
            let shown = run(itc(&one).args(["--json", "capsule", "show", &id]))
                .ok()
                .json();
            if done(&shown) {
                return shown;
            }
            assert!(Instant::now() < deadline, "never {what}: {shown}");
            std::thread::sleep(Duration::from_millis(500));
        }
    };
    until("bounced", &|s| {
        status(s, &gone).as_deref() == Some("bounced")
    });

    // As a person reads it: the bounce, the mail server's words, and what to do.
    let shown = run(itc(&one).args(["capsule", "show", &id])).ok();
    assert!(shown.stdout.contains("bounced"), "{}", shown.stdout);
    assert!(
        shown.stdout.contains("(550): 5.1.1") && shown.stdout.contains("User unknown"),
        "{}",
        shown.stdout
    );
    assert!(
        shown.stdout.contains(&format!("itc capsule resend {id}")),
        "{}",
        shown.stdout
    );

    // A malformed correction is refused here, before the server hears of it.
    let bad = run(itc(&one).args(["capsule", "resend", &id, &gone, "--to", "gone at example"]));
    assert_eq!(bad.code, 1, "{}", bad.stderr);
    assert!(
        bad.stderr.contains("not a valid email address"),
        "{}",
        bad.stderr
    );

    let sent =
        run(itc(&one).args(["capsule", "resend", &id, &gone, "--to", "gone@example.com"])).ok();
    assert!(sent.stdout.contains("gone@example.com"), "{}", sent.stdout);
    let shown = until("sent to the corrected address", &|s| {
        status(s, "gone@example.com").as_deref() == Some("sent")
    });
    assert_eq!(
        status(&shown, &gone),
        None,
        "the bounce is history: {shown}"
    );
    assert_eq!(
        shown["recipients"],
        serde_json::json!(["ann@example.com", "gone@example.com"]),
        "{shown}"
    );

    // Once: one email to the corrected address, and the one that went is not sent again.
    smtp.wait_for(3, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let to_corrected = smtp
        .messages()
        .iter()
        .filter(|m| m.to == "gone@example.com")
        .count();
    assert_eq!(to_corrected, 1);
    let again = run(itc(&one).args(["capsule", "resend", &id, "gone@example.com"]));
    assert_eq!(again.code, 1, "{}", again.stderr);
    assert!(
        again
            .stderr
            .contains("Only an email that failed or bounced"),
        "{}",
        again.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    windows,
    ignore = "reads the server's database file, which under wine is on the host's side"
)]
async fn reminders_chosen_at_sealing_are_said_before_the_confirm_and_queued_on_the_server() {
    let server = Server::start().await;
    let root = tempfile::tempdir().expect("root");
    let one = root.path().join("one");
    run(itc(&one).args([
        "--server",
        &server.url,
        "account",
        "signup",
        "remind@example.com",
    ]))
    .ok();
    let new = |title: &str| {
        let made = run(itc(&one)
            .args(["--json", "capsule", "new", "--title", title])
            .args(["--note", "See you then.", "--open-at", "+30d"])
            .args(["--to", "ann@example.com", "--to", "bo@example.com"]))
        .ok()
        .json();
        made["capsule"]["id"].as_str().expect("id").to_owned()
    };

    // Out of range is a usage mistake, and nothing is sealed.
    let first = new("Remind us");
    let bad = run(itc(&one).args(["capsule", "seal", &first, "--yes", "--remind-days", "0"]));
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    let shown = run(itc(&one).args(["--json", "capsule", "show", &first]))
        .ok()
        .json();
    assert_eq!(shown["state"], "draft");

    // Without a terminal the terms are printed, then the seal is refused: they name the
    // reminders chosen.
    let asked = run(itc(&one)
        .args(["capsule", "seal", &first, "--remind-days", "2"])
        .args(["--remind-title", "--tell-recipients"])
        .stdin(Stdio::null()));
    assert_eq!(asked.code, 1);
    assert!(
        asked
            .stderr
            .contains("2 days before it opens, you and 2 recipients get a reminder with its title"),
        "{}",
        asked.stderr
    );
    run(itc(&one).args([
        "capsule",
        "seal",
        &first,
        "--yes",
        "--remind-days",
        "2",
        "--remind-title",
        "--tell-recipients",
    ]))
    .ok();
    let second = new("Just me");
    run(itc(&one).args(["capsule", "seal", &second, "--yes"])).ok();
    let third = new("Nobody");
    run(itc(&one).args(["capsule", "seal", &third, "--yes", "--no-reminder"])).ok();
    run(itc(&one).args(["sync", "--wait"])).ok();

    // The server queued them as chosen, due the days asked before each open date.
    let db = rusqlite::Connection::open_with_flags(
        server.data.path().join("server.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("the server's database");
    let queued = |id: &str| -> Vec<(String, i64, i64, i64)> {
        let mut stmt = db
            .prepare(
                "SELECT r.recipient, r.show_title, c.open_at - r.next_attempt_at, r.to_owner \
                 FROM reminders r JOIN capsules c ON c.id = r.capsule_id \
                 WHERE r.capsule_id = ?1 AND r.status = 'queued' ORDER BY r.recipient",
            )
            .expect("query");
        stmt.query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("rows")
    };
    const DAY_MS: i64 = 24 * 3600 * 1000;
    assert_eq!(
        queued(&first),
        [
            ("ann@example.com".to_owned(), 1, 2 * DAY_MS, 0),
            ("bo@example.com".to_owned(), 1, 2 * DAY_MS, 0),
            ("remind@example.com".to_owned(), 1, 2 * DAY_MS, 1),
        ]
    );
    assert_eq!(
        queued(&second),
        [("remind@example.com".to_owned(), 0, 7 * DAY_MS, 1)],
        "by default the owner alone, 7 days before, without the title"
    );
    assert!(queued(&third).is_empty());
}
