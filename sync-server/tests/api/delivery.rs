use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use sync_server::delivery::{DeliveryReport, deliver_due, open_due, send_due};
use uuid::Uuid;

use crate::both_backends;
use crate::helpers::{
    Backend, PASSWORD, TestApp, User, free_port, jpeg, spawn_app_with, wait_for_port,
};
use testkit::smtp::{REFUSED_DOMAIN, SmtpServer, link_in};

both_backends!(
    a_capsule_opens_at_its_date_and_each_recipient_gets_exactly_one_email,
    deliveries_wait_while_smtp_is_down_and_go_out_when_it_is_back,
    a_delivery_fails_for_good_after_the_last_attempt_and_says_why,
    an_address_the_smtp_server_refuses_fails_at_once_and_the_others_go_out,
    a_claimed_delivery_of_a_dead_worker_is_sent_after_its_lease,
);

pub async fn app_with_smtp(b: Backend, smtp_url: String) -> TestApp {
    spawn_app_with(b, move |s| {
        s.mail.smtp_url = Some(smtp_url.into());
        s.delivery.ticker = false;
        s.delivery.lease = Duration::from_secs(60);
        s.delivery.max_attempts = 3;
    })
    .await
}

/// A sealed capsule opening `secs` seconds from now, with two listed recipients.
async fn sealed_capsule(
    app: &TestApp,
    user: &User,
    title: &str,
    secs: i64,
    photos: &[Vec<u8>],
) -> Uuid {
    let id = Uuid::now_v7();
    let open_at = (app.clock_now_utc() + chrono::Duration::seconds(secs)).to_rfc3339();
    let res = app
        .put_capsule(
            user,
            id,
            &json!({"title": title, "note": "Dear you,\nremember the lake? <3",
                    "open_at": open_at, "time_zone": "Europe/Paris",
                    "recipients": ["ann@example.com", "bo@example.com"]}),
        )
        .await;
    assert_eq!(res.status(), 201);
    for p in photos {
        app.add_photo(user, id, p).await;
    }
    assert_eq!(app.seal(user, id).await.status(), 200);
    id
}

impl TestApp {
    pub fn clock_now_utc(&self) -> chrono::DateTime<chrono::Utc> {
        use sync_server::clock::Clock;
        self.clock.now()
    }
}

async fn a_capsule_opens_at_its_date_and_each_recipient_gets_exactly_one_email(b: Backend) {
    let smtp = SmtpServer::start();
    let app = app_with_smtp(b, smtp.url()).await;
    let user = app.new_user().await;
    let photos = vec![jpeg(900, 600, 1), jpeg(600, 900, 2)];
    let id = sealed_capsule(&app, &user, "Lake summer 2026", 61, &photos).await;

    // Before the date: nothing opens, nothing is sent.
    let r = deliver_due(&app.state, app.clock_now_utc())
        .await
        .expect("run");
    assert_eq!(r, DeliveryReport::default());
    let r = deliver_due(
        &app.state,
        app.clock_now_utc() + chrono::Duration::seconds(55),
    )
    .await
    .expect("run");
    assert_eq!(r, DeliveryReport::default());
    assert_eq!(smtp.count(), 0);
    let (_, got) = app.get_json(&user, &format!("/v1/capsules/{id}")).await;
    assert_eq!(got["capsule"]["state"], "sealed");

    // The date passes.
    app.clock.advance(chrono::Duration::minutes(2));
    let r = deliver_due(&app.state, app.clock_now_utc())
        .await
        .expect("run");
    assert_eq!((r.opened, r.sent, r.retrying, r.failed), (1, 3, 0, 0));
    let mails = smtp.wait_for(3, Duration::from_secs(10)).await;
    let mut to: Vec<String> = mails.iter().map(|m| m.to.clone()).collect();
    to.sort();
    assert_eq!(
        to,
        vec![
            "ann@example.com".to_owned(),
            "bo@example.com".into(),
            user.email.clone()
        ]
    );
    for m in &mails {
        assert!(
            !m.raw_headers.contains("Lake summer"),
            "user text in headers: {}",
            m.raw_headers
        );
        assert!(m.subject.contains("has opened"), "{}", m.subject);
        assert!(m.text.contains("Lake summer 2026") && m.text.contains("remember the lake? <3"));
        assert!(m.html.contains("Lake summer 2026") && m.html.contains("remember the lake? &lt;3"));
        assert_eq!(m.inline_images.len(), 2, "thumbnails inline");
        for img in &m.inline_images {
            let decoded = image::load_from_memory(img).expect("inline image decodes");
            assert!(decoded.width().max(decoded.height()) <= 512);
            assert!(
                !img.windows(4).any(|w| w == b"Exif"),
                "no EXIF in thumbnails"
            );
        }
        assert!(m.message_id.ends_with("@localhost>"));
    }
    // Every link works and leads to this capsule.
    for m in &mails {
        let page = app.fetch(link_in(m)).await;
        assert_eq!(page.status(), 200);
        let html = page.text().await.expect("html");
        assert!(html.contains("Lake summer 2026"));
        assert_eq!(html.matches("/thumbnail\"").count(), 2);
    }
    // Again: nothing more is sent.
    let r = deliver_due(&app.state, app.clock_now_utc())
        .await
        .expect("run");
    assert_eq!(r, DeliveryReport::default());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(smtp.count(), 3);

    // The owner sees it opened, with contents and per-recipient status.
    let (_, got) = app.get_json(&user, &format!("/v1/capsules/{id}")).await;
    let c = &got["capsule"];
    assert_eq!(c["state"], "opened");
    assert_eq!(c["note"], "Dear you,\nremember the lake? <3");
    assert_eq!(c["photos"].as_array().map(Vec::len), Some(2));
    let statuses: Vec<(String, String)> = c["deliveries"]
        .as_array()
        .expect("deliveries")
        .iter()
        .map(|d| {
            (
                d["recipient"].as_str().unwrap_or("").to_owned(),
                d["status"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(statuses.len(), 3);
    assert!(statuses.iter().all(|(_, s)| s == "sent"), "{statuses:?}");
    // And the photos are back on the owner's feed and downloadable.
    let (_, feed) = app.get_json(&user, "/v1/sync?since=0").await;
    let photo_changes = feed["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter(|c| c["kind"] == "photo")
        .count();
    assert_eq!(photo_changes, 2);
    let pid = c["photos"][0]["id"].as_str().expect("photo id");
    let res = app
        .req(
            Method::GET,
            &format!("/v1/capsules/{id}/photos/{pid}/original"),
            &user,
        )
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 200);
}

async fn deliveries_wait_while_smtp_is_down_and_go_out_when_it_is_back(b: Backend) {
    let port = free_port();
    let app = app_with_smtp(b, format!("smtp://127.0.0.1:{port}")).await;
    let user = app.new_user().await;
    let id = sealed_capsule(&app, &user, "Down day", 61, &[]).await;
    app.clock.advance(chrono::Duration::minutes(2));
    let r = deliver_due(&app.state, app.clock_now_utc())
        .await
        .expect("run");
    assert_eq!((r.opened, r.sent, r.retrying, r.failed), (1, 0, 3, 0));
    let (_, got) = app.get_json(&user, &format!("/v1/capsules/{id}")).await;
    for d in got["capsule"]["deliveries"].as_array().expect("deliveries") {
        assert_eq!(d["status"], "queued");
        assert_eq!(d["attempts"], 1);
        assert!(d["last_error"].as_str().is_some_and(|e| !e.is_empty()));
    }
    // The server comes back; the retry waits for its backoff, then everything goes out once.
    let smtp = SmtpServer::start_on(port);
    let r = deliver_due(&app.state, app.clock_now_utc())
        .await
        .expect("run");
    assert_eq!(r, DeliveryReport::default(), "retried before its backoff");
    app.clock.advance(chrono::Duration::minutes(2));
    let r = deliver_due(&app.state, app.clock_now_utc())
        .await
        .expect("run");
    assert_eq!(r.sent, 3);
    smtp.wait_for(3, Duration::from_secs(10)).await;
    app.clock.advance(chrono::Duration::hours(2));
    deliver_due(&app.state, app.clock_now_utc())
        .await
        .expect("run");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(smtp.count(), 3);
}

async fn a_delivery_fails_for_good_after_the_last_attempt_and_says_why(b: Backend) {
    let port = free_port();
    let app = app_with_smtp(b, format!("smtp://127.0.0.1:{port}")).await;
    let user = app.new_user().await;
    let id = sealed_capsule(&app, &user, "Never", 61, &[]).await;
    for _ in 0..3 {
        app.clock.advance(chrono::Duration::hours(2));
        deliver_due(&app.state, app.clock_now_utc())
            .await
            .expect("run");
    }
    // Hours went by: the old access token has expired.
    let user = app.log_in(&user.email).await;
    let (_, got) = app.get_json(&user, &format!("/v1/capsules/{id}")).await;
    for d in got["capsule"]["deliveries"].as_array().expect("deliveries") {
        assert_eq!(d["status"], "failed", "{d}");
        assert_eq!(d["attempts"], 3);
        assert!(
            d["last_error"].as_str().is_some_and(|e| e.contains("SMTP")),
            "{d}"
        );
    }
    // Kept, never dropped: the rows are still there to see.
    let counts = app.state.db.delivery_counts().await.expect("counts");
    assert_eq!(counts, vec![("failed".to_owned(), 3)]);
}

async fn an_address_the_smtp_server_refuses_fails_at_once_and_the_others_go_out(b: Backend) {
    let smtp = SmtpServer::start();
    let app = app_with_smtp(b, smtp.url()).await;
    let user = app.new_user().await;
    let id = Uuid::now_v7();
    let refused = format!("gone@{REFUSED_DOMAIN}");
    let open_at = (app.clock_now_utc() + chrono::Duration::seconds(61)).to_rfc3339();
    let res = app
        .put_capsule(
            &user,
            id,
            &json!({"title": "Bounce", "note": "n", "open_at": open_at, "time_zone": "UTC",
                    "recipients": ["ann@example.com", refused]}),
        )
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(app.seal(&user, id).await.status(), 200);
    app.clock.advance(chrono::Duration::minutes(2));
    let r = deliver_due(&app.state, app.clock_now_utc())
        .await
        .expect("run");
    assert_eq!(
        (r.opened, r.sent, r.refused, r.retrying, r.failed),
        (1, 2, 1, 0, 0)
    );
    smtp.assert_each_once([
        ("Bounce".to_owned(), "ann@example.com".to_owned()),
        ("Bounce".to_owned(), user.email.clone()),
    ])
    .await;
    assert_refused_beside(&app, &user, id, &refused).await;
    // Hours later nothing is tried again.
    app.clock.advance(chrono::Duration::hours(5));
    let r = deliver_due(&app.state, app.clock_now_utc())
        .await
        .expect("run");
    assert_eq!(r, DeliveryReport::default());
}

/// What the owner sees: `refused` bounced at once, with the server's words; the others sent.
pub async fn assert_refused_beside(app: &TestApp, user: &User, id: Uuid, refused: &str) {
    let (_, got) = app.get_json(user, &format!("/v1/capsules/{id}")).await;
    for d in got["capsule"]["deliveries"].as_array().expect("deliveries") {
        if d["recipient"] == refused {
            assert_eq!(d["status"], "bounced", "{d}");
            assert_eq!(
                d["attempts"], 1,
                "no retries for an address that does not exist"
            );
            let why = d["last_error"].as_str().unwrap_or_default();
            assert!(
                why.starts_with("The recipient's mail server refused this address")
                    && why.contains("550")
                    && why.contains("User unknown"),
                "{why}"
            );
        } else {
            assert_eq!(d["status"], "sent", "{d}");
        }
    }
}

async fn a_claimed_delivery_of_a_dead_worker_is_sent_after_its_lease(b: Backend) {
    let smtp = SmtpServer::start();
    let app = app_with_smtp(b, smtp.url()).await;
    let user = app.new_user().await;
    sealed_capsule(&app, &user, "Lease", 61, &[]).await;
    app.clock.advance(chrono::Duration::minutes(2));
    let now = app.clock_now_utc();
    assert_eq!(open_due(&app.state, now).await.expect("open"), 1);
    // A worker claims the batch and dies before sending anything.
    let lease = now.timestamp_millis() + 60_000;
    let claimed = app
        .state
        .db
        .claim_deliveries("dead-worker", now.timestamp_millis(), lease, 100)
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 3);
    // While the lease holds, nobody else sends them.
    let r = send_due(&app.state, now + chrono::Duration::seconds(30))
        .await
        .expect("send");
    assert_eq!(r, DeliveryReport::default());
    // After it, another worker does, once.
    let r = send_due(&app.state, now + chrono::Duration::seconds(61))
        .await
        .expect("send");
    assert_eq!(r.sent, 3);
    smtp.wait_for(3, Duration::from_secs(10)).await;
    let r = send_due(&app.state, now + chrono::Duration::minutes(30))
        .await
        .expect("send");
    assert_eq!(r, DeliveryReport::default());
    assert_eq!(smtp.count(), 3);
}

/// A server process of the real binary, killed when dropped.
struct Worker(Child);

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_worker(
    database_url: &str,
    smtp_url: &str,
    data_dir: &std::path::Path,
    lease: &str,
) -> (Worker, String) {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_sync-server"))
        .args([
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--database-url",
            database_url,
        ])
        .args([
            "--smtp-url",
            smtp_url,
            "--delivery-interval",
            "1s",
            "--min-lead",
            "1s",
        ])
        .args(["--delivery-lease", lease])
        .arg("--data-dir")
        .arg(data_dir)
        .env(
            "ITC_JWT_SECRET",
            "shared-secret-of-all-workers-0123456789abcdef",
        )
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn worker");
    wait_for_port(port);
    (Worker(child), format!("http://127.0.0.1:{port}"))
}

async fn call(
    client: &reqwest::Client,
    method: Method,
    url: String,
    token: Option<&str>,
    body: Option<Value>,
) -> Value {
    let mut req = client.request(method, url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.expect("request");
    assert!(res.status().is_success(), "{}", res.status());
    res.json().await.unwrap_or(Value::Null)
}

/// Signs an account up on a server process and returns an access token.
async fn account(client: &reqwest::Client, base: &str, email: &str) -> String {
    let body = json!({"email": email, "password": PASSWORD});
    call(
        client,
        Method::POST,
        format!("{base}/v1/accounts"),
        None,
        Some(body.clone()),
    )
    .await;
    let s = call(
        client,
        Method::POST,
        format!("{base}/v1/sessions"),
        None,
        Some(body),
    )
    .await;
    s["access_token"].as_str().expect("token").to_owned()
}

/// Three server processes on one PostgreSQL deliver 500 capsules × 3 recipients: every
/// recipient gets exactly one email, counted at the SMTP server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_worker_processes_on_one_postgres_send_every_email_exactly_once() {
    let smtp = SmtpServer::start();
    let (db_url, db_name) = crate::helpers::fresh_postgres_database().await;
    let _drop_db = crate::helpers::DropDatabase(db_name);
    let dir = tempfile::tempdir().expect("tmp");
    let workers: Vec<(Worker, String)> = (0..3)
        .map(|_| start_worker(&db_url, &smtp.url(), dir.path(), "5m"))
        .collect();
    let client = reqwest::Client::new();
    let base = workers[0].1.clone();
    let mut expected = HashMap::new();
    for u in 0..10 {
        let email = format!("owner{u}-{}@example.com", Uuid::new_v4().simple());
        let token = account(&client, &base, &email).await;
        for c in 0..50 {
            let id = Uuid::now_v7();
            let title = format!("Capsule {u}-{c}");
            let open_at = (chrono::Utc::now() + chrono::Duration::seconds(3)).to_rfc3339();
            // Spread requests over the three servers, as a load balancer would.
            let server = &workers[c % 3].1;
            call(
                &client,
                Method::PUT,
                format!("{server}/v1/capsules/{id}"),
                Some(&token),
                Some(json!({
                "title": title, "note": "hello", "open_at": open_at, "time_zone": "UTC",
                "recipients": [format!("a{c}@example.com"), format!("b{c}@example.com")]})),
            )
            .await;
            call(
                &client,
                Method::POST,
                format!("{server}/v1/capsules/{id}/seal"),
                Some(&token),
                None,
            )
            .await;
            for r in [
                email.clone(),
                format!("a{c}@example.com"),
                format!("b{c}@example.com"),
            ] {
                expected.insert((title.clone(), r), 0usize);
            }
        }
    }
    assert_eq!(expected.len(), 1500);
    smtp.assert_each_once(expected.into_keys()).await;
}

/// A TCP server that accepts connections and never says a word: an SMTP server that hangs.
fn tarpit() -> (u16, std::thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let handle = std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().take(64) {
            match conn {
                Ok(c) => held.push(c),
                Err(_) => break,
            }
        }
    });
    (port, handle)
}

/// A worker process killed while its claimed batch hangs on the mail server: another worker
/// sends the batch once the lease has run out, each email once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_batch_is_finished_by_another_after_the_lease() {
    let smtp = SmtpServer::start();
    let (hang_port, _tarpit) = tarpit();
    let (db_url, db_name) = crate::helpers::fresh_postgres_database().await;
    let _drop_db = crate::helpers::DropDatabase(db_name);
    let dir = tempfile::tempdir().expect("tmp");
    let (first, base) = start_worker(
        &db_url,
        &format!("smtp://127.0.0.1:{hang_port}"),
        dir.path(),
        "6s",
    );
    let client = reqwest::Client::new();
    let email = format!("owner-{}@example.com", Uuid::new_v4().simple());
    let token = account(&client, &base, &email).await;
    for c in 0..5 {
        let open_at = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
        let id = Uuid::now_v7();
        call(
            &client,
            Method::PUT,
            format!("{base}/v1/capsules/{id}"),
            Some(&token),
            Some(json!({
            "title": format!("Killed {c}"), "note": "n", "open_at": open_at, "time_zone": "UTC",
            "recipients": ["x@example.com"]})),
        )
        .await;
        call(
            &client,
            Method::POST,
            format!("{base}/v1/capsules/{id}/seal"),
            Some(&token),
            None,
        )
        .await;
    }
    // Wait until the first worker has opened them and is stuck sending.
    let pool = sqlx::PgPool::connect(&db_url).await.expect("pg");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let leased: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM deliveries WHERE lease_owner IS NOT NULL")
                .fetch_one(&pool)
                .await
                .expect("count");
        if leased == 10 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the first worker never claimed the batch ({leased})"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(first); // SIGKILL mid-batch
    let (_second, _) = start_worker(&db_url, &smtp.url(), dir.path(), "6s");
    let mails = smtp.wait_for(10, Duration::from_secs(60)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(smtp.count(), 10, "each email exactly once");
    let mut to: Vec<String> = mails.iter().map(|m| m.to.clone()).collect();
    to.sort();
    to.dedup();
    assert_eq!(to.len(), 2);
    pool.close().await;
}
