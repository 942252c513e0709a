//! The mail relay: the server hands its emails to the S3 outbox (PostgreSQL + s3s-fs), the
//! `mail-relay-lambda` binary, run for real against a local Lambda Runtime API, sends them
//! to a real SMTP server on S3 events and on a sweep, exactly once, and what that server
//! refuses for good comes back to the owner as a failed delivery.

use serde_json::{Value, json};
use sync_server::delivery::deliver_due;
use sync_server::mail::relay::{OUTBOX, REFUSED};
use testkit::lambda::LocalLambda;
use uuid::Uuid;

use crate::delivery::assert_refused_beside;
use crate::helpers::{Backend, spawn_app_with};
use crate::lambda::start_lambda;
use testkit::smtp::{REFUSED_DOMAIN, SmtpServer};

fn schedule() -> Value {
    json!({
        "version": "0", "id": Uuid::new_v4(), "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "123456789012",
        "time": chrono::Utc::now().to_rfc3339(), "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/mail-sweep"], "detail": {}
    })
}

/// What S3 sends EventBridge when an object is written (the key with the store's prefix).
fn object_created(bucket: &str, key: &str) -> Value {
    json!({
        "version": "0", "id": Uuid::new_v4(), "detail-type": "Object Created",
        "source": "aws.s3", "account": "123456789012",
        "time": chrono::Utc::now().to_rfc3339(), "region": "us-east-1",
        "resources": [format!("arn:aws:s3:::{bucket}")],
        "detail": {"version": "0", "bucket": {"name": bucket},
                   "object": {"key": key, "size": 1}, "reason": "PutObject"}
    })
}

async fn invoke(lambda: &LocalLambda, event: Value) -> (u16, Value) {
    let (status, body) = lambda.invoke(event).await.expect("invoke");
    (
        status.as_u16(),
        serde_json::from_slice(&body).unwrap_or(Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_sends_each_handed_over_email_once_and_brings_refusals_back() {
    let mut smtp = SmtpServer::start();
    let app = spawn_app_with(Backend::PostgresS3, |s| {
        s.mail.relay = true;
        s.delivery.ticker = false;
    })
    .await;
    let bucket = match &app.state.settings.storage.blob {
        sync_server::config::BlobTarget::S3 { bucket, .. } => bucket.clone(),
        other => panic!("expected S3, got {other:?}"),
    };
    let user = app.new_user().await;
    let id = Uuid::now_v7();
    let refused = format!("nobody@{REFUSED_DOMAIN}");
    let open_at = (app.clock_now_utc() + chrono::Duration::seconds(61)).to_rfc3339();
    let res = app
        .put_capsule(
            &user,
            id,
            &json!({"title": "By way of the relay", "note": "hi", "open_at": open_at,
                    "time_zone": "UTC", "recipients": ["relayed@example.com", refused]}),
        )
        .await;
    assert_eq!(res.status(), 201);
    app.add_photo(&user, id, &crate::helpers::jpeg(200, 100, 4))
        .await;
    assert_eq!(app.seal(&user, id).await.status(), 200);
    app.clock.advance(chrono::Duration::minutes(2));

    // The server hands three emails over: sent, as far as it can tell, but none has left.
    let r = deliver_due(&app.state, app.clock_now_utc())
        .await
        .expect("run");
    assert_eq!((r.opened, r.sent, r.retrying, r.failed), (1, 3, 0, 0));
    let outbox = app.state.blobs.list(OUTBOX, 100).await.expect("list");
    assert_eq!(outbox.len(), 3, "{outbox:?}");
    assert_eq!(smtp.count(), 0);

    let data = tempfile::tempdir().expect("tmp");
    let lambda = start_lambda(
        &app,
        env!("CARGO_BIN_EXE_mail-relay-lambda"),
        "itc-mail-relay",
        &smtp.url(),
        data.path(),
    )
    .await;

    // SMTP down: the sweep fails (so Lambda retries) and everything stays in the outbox.
    smtp.stop();
    let (status, _) = invoke(&lambda, schedule()).await;
    assert_eq!(status, 502, "a sweep that sent nothing must fail");
    assert!(
        lambda
            .failures()
            .iter()
            .any(|f| f.contains("stay in the outbox"))
    );
    assert_eq!(
        app.state.blobs.list(OUTBOX, 100).await.expect("list"),
        outbox
    );
    smtp.restart();

    // One object's event sends that one; the same event again (events can come twice)
    // finds nothing to send.
    let first = object_created(&bucket, &format!("photos/{}", outbox[0]));
    let (status, answer) = invoke(&lambda, first.clone()).await;
    assert_eq!(status, 200, "{answer} {:?}", lambda.failures());
    let report = &answer["report"];
    assert_eq!(
        report["sent"].as_u64().unwrap_or(0) + report["refused"].as_u64().unwrap_or(0),
        1,
        "{answer}"
    );
    let (status, again) = invoke(&lambda, first).await;
    assert_eq!(status, 200);
    assert_eq!(again["report"]["gone"], 1, "{again}");
    // An object outside the outbox is not the relay's to send.
    let (status, stray) = invoke(
        &lambda,
        object_created(&bucket, "photos/users/x/originals/y"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(stray["report"]["ignored"], 1, "{stray}");

    // The sweep sends the rest.
    let (status, swept) = invoke(&lambda, schedule()).await;
    assert_eq!(status, 200, "{swept} {:?}", lambda.failures());
    assert_eq!(swept["report"]["waiting"], 0, "{swept}");
    assert!(
        app.state
            .blobs
            .list(OUTBOX, 100)
            .await
            .expect("list")
            .is_empty()
    );
    let refusals = app.state.blobs.list(REFUSED, 100).await.expect("list");
    assert_eq!(refusals.len(), 1, "{refusals:?}");

    // Exactly the two deliverable emails arrived, each once, with its photo inline.
    smtp.assert_each_once([
        (
            "By way of the relay".to_owned(),
            "relayed@example.com".to_owned(),
        ),
        ("By way of the relay".to_owned(), user.email.clone()),
    ])
    .await;
    assert!(smtp.messages().iter().all(|m| m.inline_images.len() == 1));

    // The next delivery run records the refusal; the owner sees it beside that recipient.
    let r = deliver_due(&app.state, app.clock_now_utc())
        .await
        .expect("run");
    assert_eq!(r.refused, 1, "{r:?}");
    assert!(
        app.state
            .blobs
            .list(REFUSED, 100)
            .await
            .expect("list")
            .is_empty()
    );
    assert_refused_beside(&app, &user, id, &refused).await;
    // And nothing more: a second run finds no refusal and sends nothing.
    let r = deliver_due(&app.state, app.clock_now_utc())
        .await
        .expect("run");
    assert_eq!(r, sync_server::delivery::DeliveryReport::default());
}
