//! The API Lambda binary behind a local function URL (payload format 2.0, response
//! streaming), against PostgreSQL, the S3 server and the SMTP server: the whole walk of a
//! capsule goes through it.

use std::io::Read;
use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use sha2::{Digest, Sha256};
use sync_server::delivery::deliver_due;
use testkit::lambda::{LocalLambda, Options};
use uuid::Uuid;

use crate::helpers::{Backend, TestApp, client_thumbnails, free_port, jpeg, spawn_app_with};
use crate::lambda::lambda_env;
use testkit::smtp::{SmtpServer, link_in};

/// The API Lambda, two instances, behind a local function URL on the test app's database
/// and bucket, with `extra` settings.
async fn start_function(
    app: &TestApp,
    smtp_url: &str,
    data_dir: &std::path::Path,
    extra: &[(&str, &str)],
) -> LocalLambda {
    let listen = std::net::SocketAddr::from(([127, 0, 0, 1], free_port()));
    let mut env = lambda_env(app, smtp_url, &format!("http://{listen}"), data_dir);
    env.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    // ITC_TEST_API_LAMBDA_BIN runs another build, e.g. build-lambda.sh's `bootstrap`.
    let bin = std::env::var("ITC_TEST_API_LAMBDA_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_api-lambda").to_owned());
    LocalLambda::start(Options {
        binary: std::path::Path::new(&bin),
        name: "itc-api",
        env,
        instances: 2,
        timeout: Duration::from_secs(30),
        listen,
        inherit_output: std::env::var("TEST_LOG").is_ok(),
    })
    .await
    .expect("function url")
}

/// Behind CloudFront (ITC_TRUST_FORWARDED_FOR), sign-ups are counted per viewer address
/// from `CloudFront-Viewer-Address`, not per function-URL caller, and a forged
/// X-Forwarded-For changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_cloudfront_sign_ups_are_counted_per_viewer() {
    let app = spawn_app_with(Backend::PostgresS3, |_| {}).await;
    let data = tempfile::tempdir().expect("tmp");
    let function = start_function(
        &app,
        "smtp://127.0.0.1:1",
        data.path(),
        &[
            ("ITC_TRUST_FORWARDED_FOR", "true"),
            ("ITC_MAX_SIGN_UPS_PER_ADDRESS", "1"),
        ],
    )
    .await;
    let sign_up = |viewer: &'static str, forwarded: &'static str| {
        let req = app
            .client
            .post(format!("{}/v1/accounts", function.url()))
            .header("cloudfront-viewer-address", viewer)
            .header("x-forwarded-for", forwarded)
            .json(&json!({
                "email": format!("u{}@example.com", Uuid::new_v4().simple()),
                "password": crate::helpers::PASSWORD,
            }));
        async move { req.send().await.expect("sign-up").status().as_u16() }
    };
    assert_eq!(sign_up("198.51.100.7:41000", "192.0.2.1").await, 201);
    assert_eq!(
        sign_up("198.51.100.7:52000", "192.0.2.2").await,
        429,
        "the same viewer from another port, with another forged X-Forwarded-For"
    );
    assert_eq!(
        sign_up("2001:db8:5::1:443", "192.0.2.1").await,
        201,
        "another viewer"
    );
    assert!(function.failures().is_empty(), "{:?}", function.failures());
}

/// Sign-up, log-in, refresh, a capsule, presigned uploads, complete, downloads, the change
/// feed, sealing, and after delivery the recipient page and its zip: all through the Lambda.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_lambda_serves_a_whole_capsule_walk() {
    let smtp = SmtpServer::start();
    let smtp_url = smtp.url();
    let mut app = spawn_app_with(Backend::PostgresS3, move |s| {
        s.mail.smtp_url = Some(smtp_url.into());
        s.delivery.ticker = false;
    })
    .await;
    let data = tempfile::tempdir().expect("tmp");
    let mut function =
        start_function(&app, &smtp.url(), data.path(), &[("ITC_MIN_LEAD", "1s")]).await;
    // Every request from here on goes through the function URL.
    app.base = function.url().to_owned();

    let health = app.fetch(app.url("/healthz")).await;
    assert_eq!(health.status(), 200, "{:?}", function.failures());
    let user = app.new_user().await;
    assert_eq!(app.refresh(&user.refresh).await.status(), 200);
    let id = Uuid::now_v7();
    let open_at = chrono::Utc::now() + chrono::Duration::seconds(20);
    let res = app
        .put_capsule(
            &user,
            id,
            &json!({"title": "Through the function", "note": "n",
            "open_at": open_at.to_rfc3339(), "time_zone": "UTC",
            "recipients": ["lambda-guest@example.com"]}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let photos = vec![jpeg(640, 480, 1), jpeg(300, 200, 2)];
    let mut ids = Vec::new();
    for p in &photos {
        ids.push(app.add_photo(&user, id, p).await.id);
    }

    // The owner's original is a redirect to S3; the thumbnail streams through the function.
    let base = format!("/v1/capsules/{id}/photos/{}", ids[0]);
    let photo = |variant: &'static str| {
        let req = app.req(Method::GET, &format!("{base}/{variant}"), &user);
        async move { req.send().await.expect(variant) }
    };
    let original = photo("original").await;
    assert_eq!(original.status(), 200);
    assert_eq!(&original.bytes().await.expect("bytes")[..], &photos[0][..]);
    let thumb = photo("thumbnail").await;
    assert_eq!(thumb.status(), 200);
    assert_eq!(thumb.headers()["content-type"], "image/jpeg");
    let sent = client_thumbnails(&photos[0]);
    assert_eq!(
        Sha256::digest(thumb.bytes().await.expect("bytes")),
        Sha256::digest(&sent[0].1),
        "the desktop's thumbnail, byte for byte"
    );

    let (status, feed) = app.get_json(&user, "/v1/sync").await;
    assert_eq!(status, 200);
    assert!(feed.to_string().contains(&id.to_string()), "{feed}");
    assert_eq!(app.seal(&user, id).await.status(), 200);
    let sealed = photo("original").await;
    assert_eq!(
        sealed.status(),
        403,
        "a sealed capsule's photo stays hidden"
    );

    // The API's errors keep their shape through the function.
    let (status, body) = app.get_json(&user, "/v1/no-such-route").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found")),
        "{body}"
    );
    let anonymous = app.fetch(app.url("/v1/sync")).await;
    assert_eq!(anonymous.status(), 401);

    // The delivery Lambda's job opens it (in-process here; its own test runs the binary).
    let wait = (open_at - chrono::Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(wait + Duration::from_secs(1)).await;
    deliver_due(&app.state, chrono::Utc::now())
        .await
        .expect("deliver");
    let mails = smtp.wait_for(2, Duration::from_secs(10)).await;
    let mail = mails
        .iter()
        .find(|m| m.to == "lambda-guest@example.com")
        .expect("the guest's email");
    let link = link_in(mail);
    let path = &link[link.find("/c/").expect("a recipient link")..];
    let link = app.url(path);
    let page = app.fetch(&link).await;
    assert_eq!(page.status(), 200);
    assert!(
        page.text()
            .await
            .expect("html")
            .contains("Through the function")
    );
    let zip = app.fetch(format!("{link}/download.zip")).await;
    assert_eq!(zip.status(), 200);
    assert_eq!(zip.headers()["content-type"], "application/zip");
    let bytes = zip.bytes().await.expect("zip bytes");
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).expect("a zip");
    assert_eq!(archive.len(), photos.len());
    for (i, original) in photos.iter().enumerate() {
        let mut content = Vec::new();
        archive
            .by_index(i)
            .expect("entry")
            .read_to_end(&mut content)
            .expect("read");
        assert_eq!(&content, original, "zip entry {i}");
    }
    assert!(function.failures().is_empty(), "{:?}", function.failures());
    assert!(function.all_running(), "an instance died");
}
