//! The delivery Lambda binary, run for real against a small local Lambda Runtime API.

use secrecy::ExposeSecret;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Backend, spawn_app_with};
use crate::smtp::SmtpServer;

#[derive(Clone, Default)]
struct RuntimeApi {
    handed_out: Arc<Mutex<bool>>,
    responses: Arc<Mutex<Vec<(String, Value)>>>,
    errors: Arc<Mutex<Vec<String>>>,
}

async fn next(State(api): State<RuntimeApi>) -> (HeaderMap, String) {
    let first = {
        let mut h = api.handed_out.lock().expect("lock");
        !std::mem::replace(&mut *h, true)
    };
    if !first {
        // One invocation per test: later polls wait, as the real API does between events.
        std::future::pending::<()>().await;
    }
    let mut headers = HeaderMap::new();
    let deadline = chrono::Utc::now().timestamp_millis() + 60_000;
    headers.insert(
        "lambda-runtime-aws-request-id",
        "req-1".parse().expect("header"),
    );
    headers.insert(
        "lambda-runtime-deadline-ms",
        deadline.to_string().parse().expect("header"),
    );
    headers.insert(
        "lambda-runtime-invoked-function-arn",
        "arn:aws:lambda:us-east-1:123456789012:function:itc-delivery"
            .parse()
            .expect("header"),
    );
    headers.insert(
        "lambda-runtime-trace-id",
        "Root=1-0-0".parse().expect("header"),
    );
    let event = json!({
        "version": "0", "id": Uuid::new_v4(), "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "123456789012", "time": chrono::Utc::now().to_rfc3339(),
        "region": "us-east-1", "resources": ["arn:aws:events:us-east-1:123456789012:rule/every-minute"],
        "detail": {}
    });
    (headers, event.to_string())
}

async fn response(
    State(api): State<RuntimeApi>,
    Path(id): Path<String>,
    body: String,
) -> &'static str {
    let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    api.responses.lock().expect("lock").push((id, v));
    "{}"
}

async fn error(State(api): State<RuntimeApi>, body: String) -> &'static str {
    api.errors.lock().expect("lock").push(body);
    "{}"
}

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

    let api = RuntimeApi::default();
    let router = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(response),
        )
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(error))
        .with_state(api.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let runtime_addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });

    let data = tempfile::tempdir().expect("tmp");
    // ITC_TEST_LAMBDA_BIN runs another build of it, e.g. deploy/aws/build-lambda.sh's
    // `bootstrap` (cargo-lambda, linked against an old glibc for provided.al2023).
    let bin = std::env::var("ITC_TEST_LAMBDA_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_delivery-lambda").to_owned());
    let mut lambda = Command::new(bin)
        .env("AWS_LAMBDA_RUNTIME_API", runtime_addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "itc-delivery")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .envs(lambda_env(
            &app,
            &smtp.url(),
            &app.state.settings.http.public_url,
            data.path(),
        ))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn lambda");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let answer = loop {
        if let Some(r) = api.responses.lock().expect("lock").first().cloned() {
            break r;
        }
        let errors = api.errors.lock().expect("lock").clone();
        assert!(errors.is_empty(), "the lambda reported errors: {errors:?}");
        assert!(
            std::time::Instant::now() < deadline,
            "the lambda never answered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let _ = lambda.kill();
    let _ = lambda.wait();
    assert_eq!(answer.0, "req-1");
    assert_eq!(answer.1["report"]["opened"], 1, "{}", answer.1);
    assert_eq!(answer.1["report"]["sent"], 2, "{}", answer.1);
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
