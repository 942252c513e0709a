//! The unlock watcher: one notification per capsule at its open time, driven by an
//! injected clock, and the notification on a real (private) D-Bus session bus.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use desktop_core::{DesktopNotifier, Library, ManualClock, Notifier, UnlockWatcher};
use protocol::CapsuleWrite;
use uuid::Uuid;

#[derive(Default)]
struct Recorder(Mutex<Vec<(Uuid, String)>>);

impl Notifier for Recorder {
    fn capsule_opened(&self, id: Uuid, title: &str) -> Result<(), String> {
        self.0.lock().expect("lock").push((id, title.to_owned()));
        Ok(())
    }
}

impl Recorder {
    fn seen(&self) -> Vec<(Uuid, String)> {
        self.0.lock().expect("lock").clone()
    }
}

fn sealed(
    lib: &Library,
    title: &str,
    open_at: chrono::DateTime<Utc>,
    now: chrono::DateTime<Utc>,
) -> Uuid {
    let d = lib
        .create_draft(
            &CapsuleWrite {
                title: title.into(),
                note: "a note".into(),
                open_at: Some(open_at),
                time_zone: "UTC".into(),
                recipients: vec![],
            },
            now,
        )
        .expect("draft");
    lib.seal(d.id, now).expect("seal");
    d.id
}

#[test]
fn each_capsule_is_announced_once_at_its_open_time_and_missed_ones_at_start() {
    let dir = tempfile::tempdir().expect("tmp");
    let lib = Arc::new(Library::open(dir.path()).expect("library"));
    let t0 = Utc
        .with_ymd_and_hms(2027, 1, 1, 0, 0, 0)
        .single()
        .expect("t0");
    let clock = Arc::new(ManualClock::new(t0));
    let first = sealed(&lib, "First", t0 + chrono::Duration::hours(1), t0);
    let second = sealed(&lib, "Second", t0 + chrono::Duration::hours(2), t0);
    let rec = Arc::new(Recorder::default());
    let watcher = UnlockWatcher::new(lib.clone(), clock.clone(), rec.clone());

    assert_eq!(
        watcher.next_open_at().expect("next"),
        Some(t0 + chrono::Duration::hours(1))
    );
    assert!(watcher.fire_due().expect("fire").is_empty());
    clock.set(t0 + chrono::Duration::minutes(59) + chrono::Duration::seconds(59));
    assert!(
        watcher.fire_due().expect("fire").is_empty(),
        "not a second early"
    );
    clock.set(t0 + chrono::Duration::hours(1));
    let fired = watcher.fire_due().expect("fire");
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].id, first);
    assert!(watcher.fire_due().expect("again").is_empty(), "once only");
    assert_eq!(rec.seen(), vec![(first, "First".to_owned())]);
    assert_eq!(
        watcher.notified_at(first).expect("recorded"),
        Some(t0 + chrono::Duration::hours(1))
    );
    assert_eq!(
        watcher.next_open_at().expect("next"),
        Some(t0 + chrono::Duration::hours(2))
    );

    // The app is closed while the second opens; the next start announces it, once.
    drop(watcher);
    clock.set(t0 + chrono::Duration::hours(5));
    let restarted = UnlockWatcher::new(lib.clone(), clock.clone(), rec.clone());
    let fired = restarted.fire_due().expect("fire at start");
    assert_eq!(fired.iter().map(|u| u.id).collect::<Vec<_>>(), vec![second]);
    let again = UnlockWatcher::new(lib, clock, rec.clone());
    assert!(again.fire_due().expect("fire").is_empty());
    assert_eq!(rec.seen().len(), 2);
    assert_eq!(again.next_open_at().expect("next"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_running_watcher_fires_when_the_clock_reaches_the_open_time() {
    let dir = tempfile::tempdir().expect("tmp");
    let lib = Arc::new(Library::open(dir.path()).expect("library"));
    let t0 = Utc::now();
    let clock = Arc::new(ManualClock::new(t0));
    let id = sealed(&lib, "Soon", t0 + chrono::Duration::days(3), t0);
    let rec = Arc::new(Recorder::default());
    let watcher = Arc::new(UnlockWatcher::new(lib, clock.clone(), rec.clone()));
    let task = tokio::spawn(watcher.clone().run(None));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(rec.seen().is_empty());
    clock.advance(chrono::Duration::days(3));
    watcher.wake();
    for _ in 0..100 {
        if !rec.seen().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(rec.seen(), vec![(id, "Soon".to_owned())]);
    watcher.wake();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(rec.seen().len(), 1, "one notification per capsule");
    task.abort();
}

#[test]
#[cfg_attr(windows, ignore = "D-Bus: Windows shows a toast, which wine cannot")]
fn the_notification_reaches_the_session_bus() {
    let bus = support::PrivateBus::start();
    let monitor = bus.monitor("interface='org.freedesktop.Notifications'");
    let out = bus.run_test("notify_on_the_bus_of_the_parent");
    assert!(
        out.status.success(),
        "child failed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let seen = monitor.output_with("Grandma", Duration::from_secs(5));
    assert!(
        seen.contains("member=Notify"),
        "no Notify call seen:\n{seen}"
    );
    assert!(seen.contains("“Grandma’s garden” has opened"), "{seen}");
    assert!(seen.contains("Image Time Capsule"), "{seen}");
}

/// Run by `the_notification_reaches_the_session_bus` in a child process on a private bus.
#[test]
#[ignore = "run by the_notification_reaches_the_session_bus with a private bus"]
fn notify_on_the_bus_of_the_parent() {
    assert!(support::is_child(), "run through its parent test");
    let dir = tempfile::tempdir().expect("tmp");
    let lib = Arc::new(Library::open(dir.path()).expect("library"));
    let t0 = Utc::now();
    let clock = Arc::new(ManualClock::new(t0));
    let id = sealed(
        &lib,
        "Grandma’s garden",
        t0 + chrono::Duration::hours(1),
        t0,
    );
    let watcher = UnlockWatcher::new(lib, clock.clone(), Arc::new(DesktopNotifier::default()));
    clock.advance(chrono::Duration::hours(1));
    let fired = watcher.fire_due().expect("fire");
    assert_eq!(fired.len(), 1);
    assert!(watcher.notified_at(id).expect("recorded").is_some());
}
