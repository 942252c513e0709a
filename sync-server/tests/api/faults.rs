//! Faults between the server and what it depends on, through a TCP proxy in each path:
//! PostgreSQL, the S3 server and the SMTP server are cut, stalled or cut mid-message. The
//! server must answer 503 (never hang, never crash) while a dependency is down, and pick up
//! where it was once it is back, losing and doubling nothing.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use protocol::PhotoUploadResponse;
use serde_json::json;
use sync_server::config::BlobTarget;
use sync_server::delivery::deliver_due;
use testkit::FaultProxy;
use uuid::Uuid;

use crate::helpers::{
    Backend, TestApp, draft_body, error_code, fresh_postgres_database, jpeg, postgres_url,
    s3_endpoint, spawn_app_with,
};
use testkit::smtp::SmtpServer;

/// The host:port of a URL like scheme://user@host:port/path.
fn authority(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let auth = rest.split(['/', '?']).next().unwrap_or(rest);
    auth.rsplit_once('@').map_or(auth, |(_, hostport)| hostport)
}

fn socket_of(url: &str) -> SocketAddr {
    let a = authority(url).replace("localhost", "127.0.0.1");
    a.parse().unwrap_or_else(|_| panic!("{a} is not host:port"))
}

/// The same URL, pointing at `to` instead.
fn through(url: &str, to: SocketAddr) -> String {
    url.replacen(authority(url), &to.to_string(), 1)
}

/// How long a request took and what it answered.
async fn timed(req: reqwest::RequestBuilder) -> (Duration, u16, String) {
    let t = Instant::now();
    let res = req.send().await.expect("the server answers");
    let (status, code) = error_code(res).await;
    (t.elapsed(), status, code)
}

async fn answers_again(app: &TestApp, user: &crate::helpers::User) {
    for _ in 0..100 {
        let res = app
            .req(reqwest::Method::GET, "/v1/sync?since=0", user)
            .send()
            .await
            .expect("request");
        if res.status() == 200 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("the server did not recover");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_down_or_stalled_gets_503_and_work_resumes_when_it_is_back() {
    let (url, name) = fresh_postgres_database().await;
    let _drop = crate::helpers::DropDatabase(name);
    let proxy = FaultProxy::start(socket_of(&postgres_url()));
    let proxied = through(&url, proxy.addr());
    let app = spawn_app_with(Backend::SqliteFolder, |s| {
        s.database.url = proxied.into();
        s.http.request_timeout = Duration::from_secs(20);
    })
    .await;
    let user = app.new_user().await;
    let kept = app.new_capsule(&user).await;

    proxy.cut();
    let (took, status, code) =
        timed(app.req(reqwest::Method::GET, "/v1/sync?since=0", &user)).await;
    assert_eq!((status, code.as_str()), (503, "unavailable"));
    assert!(took < Duration::from_secs(8), "answered in {took:?}");
    let (_, status, _) = timed(app.client.get(app.url("/readyz"))).await;
    assert_eq!(status, 503, "not ready while the database is gone");
    let (_, status, _) = timed(app.client.get(app.url("/healthz"))).await;
    assert_eq!(status, 200, "alive all the same");
    let res = app
        .put_capsule(&user, Uuid::now_v7(), &draft_body("While down"))
        .await;
    assert_eq!(res.status(), 503);
    assert!(res.headers().contains_key("retry-after"));
    let (_, status, code) = timed(
        app.client
            .post(app.url("/v1/sessions"))
            .json(&json!({"email": user.email, "password": crate::helpers::PASSWORD})),
    )
    .await;
    assert_eq!((status, code.as_str()), (503, "unavailable"));

    proxy.restore();
    answers_again(&app, &user).await;

    // A database that stops answering without closing anything: still a bounded 503.
    proxy.stall();
    let (took, status, _) = timed(app.req(reqwest::Method::GET, "/v1/sync?since=0", &user)).await;
    assert_eq!(status, 503);
    assert!(took < Duration::from_secs(15), "answered in {took:?}");
    proxy.restore();
    answers_again(&app, &user).await;
    let (status, got) = app.get_json(&user, &format!("/v1/capsules/{kept}")).await;
    assert_eq!(
        (status, got["capsule"]["title"].as_str()),
        (200, Some("Summer 2026"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_down_or_stalled_gets_503_and_an_upload_after_it_is_back_counts() {
    let endpoint = s3_endpoint();
    let proxy = FaultProxy::start(socket_of(&endpoint));
    let proxied = proxy.url("http");
    let app = spawn_app_with(Backend::PostgresS3, move |s| {
        if let BlobTarget::S3 { endpoint, .. } = &mut s.storage.blob {
            *endpoint = Some(proxied);
        }
    })
    .await;
    let user = app.new_user().await;
    let capsule = app.new_capsule(&user).await;
    let bytes = jpeg(640, 480, 7);
    let photo = Uuid::now_v7();
    let res = app
        .declare(&user, capsule, photo, &bytes, "image/jpeg")
        .await;
    assert_eq!(res.status(), 200);
    let target = res
        .json::<PhotoUploadResponse>()
        .await
        .expect("declared")
        .upload
        .expect("an upload target");

    proxy.cut();
    let up = app.client.put(&target.url).body(bytes.clone()).send().await;
    assert!(up.is_err(), "nothing reaches a store that is gone");
    let t = Instant::now();
    let (status, code) = error_code(app.complete(&user, capsule, photo).await).await;
    assert_eq!((status, code.as_str()), (503, "unavailable"));
    assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());
    let (_, status, _) = timed(app.client.get(app.url("/readyz"))).await;
    assert_eq!(status, 503);

    proxy.stall();
    let t = Instant::now();
    let (status, _) = error_code(app.complete(&user, capsule, photo).await).await;
    assert_eq!(status, 503, "a silent store is a 503 too");
    assert!(
        t.elapsed() < Duration::from_secs(29),
        "answered before the request's own limit: {:?}",
        t.elapsed()
    );

    proxy.restore();
    let up = app.send_upload(&target, bytes.clone()).await;
    assert!(up.status().is_success(), "{}", up.status());
    let res = app.complete(&user, capsule, photo).await;
    assert_eq!(res.status(), 200);
    let (_, got) = app
        .get_json(&user, &format!("/v1/capsules/{capsule}"))
        .await;
    assert_eq!(got["capsule"]["photos"][0]["state"], "ready");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_cut_mid_message_is_sent_again_and_arrives_once() {
    let smtp = SmtpServer::start();
    let proxy = FaultProxy::start(socket_of(&smtp.url()));
    let app = spawn_app_with(Backend::SqliteFolder, {
        let url = proxy.url("smtp");
        move |s| {
            s.mail.smtp_url = Some(url.into());
            s.delivery.ticker = false;
            s.delivery.max_attempts = 5;
        }
    })
    .await;
    let user = app.new_user().await;
    let id = Uuid::now_v7();
    let open_at = (app.clock_now_utc() + chrono::Duration::seconds(61)).to_rfc3339();
    let res = app
        .put_capsule(
            &user,
            id,
            &json!({"title": "Cut short", "note": "a note", "open_at": open_at,
                    "time_zone": "UTC", "recipients": ["ann@example.com"]}),
        )
        .await;
    assert_eq!(res.status(), 201);
    app.add_photo(&user, id, &jpeg(800, 600, 3)).await;
    assert_eq!(app.seal(&user, id).await.status(), 200);
    app.clock.advance(chrono::Duration::minutes(2));

    // The first connection dies in the middle of the message's data.
    proxy.cut_after(4_000);
    let r = deliver_due(&app.state, app.clock_now_utc())
        .await
        .expect("run");
    assert_eq!(r.opened, 1);
    assert!(r.retrying >= 1, "a cut message is kept for a retry: {r:?}");
    assert!(!proxy.cut_pending(), "the cut happened");
    assert_eq!(
        smtp.count() as u64,
        r.sent,
        "no half message counts as sent"
    );

    app.clock.advance(chrono::Duration::minutes(5));
    deliver_due(&app.state, app.clock_now_utc())
        .await
        .expect("run");
    smtp.assert_each_once([
        ("Cut short".to_owned(), "ann@example.com".to_owned()),
        ("Cut short".to_owned(), user.email.clone()),
    ])
    .await;
}
