//! The delivery Lambda binary, run for real against a local Lambda Runtime API
//! (`testkit::lambda`), invoked with a schedule's event.

use secrecy::ExposeSecret;
use std::time::Duration;

use serde_json::{Value, json};
use testkit::lambda::{LocalLambda, Options};
use uuid::Uuid;

use crate::helpers::{Backend, spawn_app_with};
use testkit::smtp::SmtpServer;

/// What the template gives both Lambdas, pointing at the test's PostgreSQL, S3 and SMTP.
pub fn lambda_env(
    app: &crate::helpers::TestApp,
    smtp_url: &str,
    public_url: &str,
    data_dir: &std::path::Path,
) -> Vec<(String, String)> {
    let settings = &app.state.settings;
    let (bucket, endpoint) = match &settings.storage.blob {
        sync_server::config::BlobTarget::S3 {
            bucket, endpoint, ..
        } => (bucket.clone(), endpoint.clone().unwrap_or_default()),
        other => panic!("expected S3, got {other:?}"),
    };
    [
        (
            "ITC_DATABASE_URL",
            settings.database.url.expose_secret().to_owned(),
        ),
        ("ITC_BLOB_STORE", format!("s3://{bucket}/photos")),
        ("ITC_S3_ENDPOINT", endpoint),
        ("ITC_SMTP_URL", smtp_url.to_owned()),
        ("ITC_PUBLIC_URL", public_url.to_owned()),
        (
            "ITC_JWT_SECRET",
            String::from_utf8_lossy(crate::helpers::TEST_SECRET).into_owned(),
        ),
        ("ITC_PRODUCTION", "true".to_owned()),
        // Production asks for the escrow key (Secrets Manager in the template).
        (
            "ITC_ESCROW_KEY",
            "a test escrow secret of at least thirty-two characters".to_owned(),
        ),
        ("ITC_DATA_DIR", data_dir.display().to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// One instance of a Lambda binary, given what the template gives it, for direct invocations.
pub async fn start_lambda(
    app: &crate::helpers::TestApp,
    binary: &str,
    name: &str,
    smtp_url: &str,
    data_dir: &std::path::Path,
) -> LocalLambda {
    LocalLambda::start(Options {
        binary: std::path::Path::new(binary),
        name,
        env: lambda_env(app, smtp_url, &app.state.settings.http.public_url, data_dir),
        instances: 1,
        timeout: Duration::from_secs(60),
        listen: ([127, 0, 0, 1], 0).into(),
        inherit_output: std::env::var("TEST_LOG").is_ok(),
    })
    .await
    .unwrap_or_else(|e| panic!("the {name} lambda: {e}"))
}

/// The Lambda binary delivers a due capsule from PostgreSQL + S3 through SMTP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_delivery_lambda_delivers_a_due_capsule() {
    let smtp = SmtpServer::start();
    let url = smtp.url();
    let app = spawn_app_with(Backend::PostgresS3, move |s| {
        s.mail.smtp_url = Some(url.into());
        s.delivery.ticker = false;
        s.limits.min_lead = Duration::from_secs(1);
    })
    .await;
    let user = app.new_user().await;
    let id = Uuid::now_v7();
    let open_at = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
    app.put_capsule(
        &user,
        id,
        &json!({"title": "From the cloud", "note": "hi", "open_at": open_at,
        "time_zone": "UTC", "recipients": ["cloud@example.com"]}),
    )
    .await;
    app.add_photo(&user, id, &crate::helpers::jpeg(200, 100, 4))
        .await;
    assert_eq!(app.seal(&user, id).await.status(), 200);
    tokio::time::sleep(Duration::from_millis(2500)).await;

    let data = tempfile::tempdir().expect("tmp");
    // ITC_TEST_LAMBDA_BIN runs another build of it, e.g. deploy/aws/build-lambda.sh's
    // `bootstrap` (cargo-lambda, linked against an old glibc for provided.al2023).
    let bin = std::env::var("ITC_TEST_LAMBDA_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_delivery-lambda").to_owned());
    let lambda = start_lambda(&app, &bin, "itc-delivery", &smtp.url(), data.path()).await;
    let event = json!({
        "version": "0", "id": Uuid::new_v4(), "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "123456789012", "time": chrono::Utc::now().to_rfc3339(),
        "region": "us-east-1", "resources": ["arn:aws:events:us-east-1:123456789012:rule/every-minute"],
        "detail": {}
    });
    let (status, body) = lambda.invoke(event).await.expect("invoke");
    assert_eq!(status, 200, "{:?}", lambda.failures());
    assert!(lambda.failures().is_empty(), "{:?}", lambda.failures());
    let answer: Value = serde_json::from_slice(&body).expect("the run's report");
    assert_eq!(answer["report"]["opened"], 1, "{answer}");
    assert_eq!(answer["report"]["sent"], 2, "{answer}");
    let mails = smtp.wait_for(2, Duration::from_secs(10)).await;
    let mut to: Vec<String> = mails.iter().map(|m| m.to.clone()).collect();
    to.sort();
    assert_eq!(to, vec!["cloud@example.com".to_owned(), user.email.clone()]);
    assert!(
        mails
            .iter()
            .all(|m| m.inline_images.len() == 1 && m.text.contains("From the cloud"))
    );
}
