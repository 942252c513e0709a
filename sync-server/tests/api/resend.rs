//! Sending a bounced or failed email again: to a corrected address or the same one, once
//! per request however many workers run, with a new link, and refused where it makes no
//! sense.

use serde_json::{Value, json};
use sync_server::delivery::{deliver_due, send_due};
use uuid::Uuid;

use crate::both_backends;
use crate::delivery::app_with_smtp;
use crate::helpers::{Backend, TestApp, User, error_code};
use testkit::smtp::{REFUSED_DOMAIN, SmtpServer, link_in};

both_backends!(
    a_bounced_email_sent_to_a_corrected_address_arrives_once_with_a_working_link,
    two_presses_of_send_again_send_one_email_and_an_unchanged_address_bounces_again,
    only_a_bounced_or_failed_email_of_an_opened_capsule_can_be_sent_again,
);

/// An opened capsule of `user` to ann@example.com and an address that bounces, delivered.
async fn opened_with_a_bounce(app: &TestApp, user: &User, title: &str) -> (Uuid, String) {
    let id = Uuid::now_v7();
    let gone = format!("gone@{REFUSED_DOMAIN}");
    let open_at = (app.clock_now_utc() + chrono::Duration::seconds(61)).to_rfc3339();
    let res = app
        .put_capsule(
            user,
            id,
            &json!({"title": title, "note": "n", "open_at": open_at, "time_zone": "UTC",
                    "recipients": ["ann@example.com", gone]}),
        )
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(app.seal(user, id).await.status(), 200);
    app.clock.advance(chrono::Duration::minutes(2));
    let r = deliver_due(&app.state, app.clock_now_utc())
        .await
        .expect("run");
    assert_eq!((r.opened, r.sent, r.refused), (1, 2, 1));
    (id, gone)
}

fn status_of<'a>(capsule: &'a Value, recipient: &str) -> Option<&'a str> {
    capsule["deliveries"]
        .as_array()
        .expect("deliveries")
        .iter()
        .find(|d| d["recipient"] == recipient)
        .and_then(|d| d["status"].as_str())
}

/// Three workers send what is due at once, as three servers (or Lambdas) would.
async fn three_workers_send(app: &TestApp) {
    let now = app.clock_now_utc();
    let (a, b, c) = tokio::join!(
        send_due(&app.state, now),
        send_due(&app.state, now),
        send_due(&app.state, now)
    );
    for r in [a, b, c] {
        r.expect("send");
    }
}

async fn a_bounced_email_sent_to_a_corrected_address_arrives_once_with_a_working_link(b: Backend) {
    let smtp = SmtpServer::start();
    let app = app_with_smtp(b, smtp.url()).await;
    let user = app.new_user().await;
    let (id, gone) = opened_with_a_bounce(&app, &user, "Corrected").await;
    smtp.wait_for(2, std::time::Duration::from_secs(30)).await;

    // The corrected address may not be one that already gets it, nor a malformed one.
    let res = app
        .resend(
            &user,
            id,
            &json!({"recipient": gone, "to": "ann@example.com"}),
        )
        .await;
    assert_eq!(error_code(res).await, (409, "recipient_exists".into()));
    let res = app
        .resend(
            &user,
            id,
            &json!({"recipient": gone, "to": "ann at example"}),
        )
        .await;
    assert_eq!(error_code(res).await, (422, "validation_failed".into()));

    let res = app
        .resend(
            &user,
            id,
            &json!({"recipient": gone.to_uppercase(), "to": " Gone@Example.com "}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.expect("json");
    let capsule = &body["capsule"];
    assert_eq!(status_of(capsule, "gone@example.com"), Some("queued"));
    assert_eq!(
        status_of(capsule, &gone),
        None,
        "the bounced row is history"
    );
    assert_eq!(status_of(capsule, "ann@example.com"), Some("sent"));
    assert_eq!(
        capsule["recipients"],
        json!(["ann@example.com", "gone@example.com"]),
        "the recipient list follows the correction"
    );

    // The owner's other devices hear of the new list through the change feed.
    let (_, feed) = app.get_json(&user, "/v1/sync?since=0").await;
    let seen = feed["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .any(|c| c["capsule"]["recipients"] == capsule["recipients"]);
    assert!(seen, "{feed}");

    three_workers_send(&app).await;
    smtp.assert_each_once([
        ("Corrected".to_owned(), "ann@example.com".to_owned()),
        ("Corrected".to_owned(), user.email.clone()),
        ("Corrected".to_owned(), "gone@example.com".to_owned()),
    ])
    .await;
    let (_, got) = app.get_json(&user, &format!("/v1/capsules/{id}")).await;
    assert_eq!(status_of(&got["capsule"], "gone@example.com"), Some("sent"));

    // Its link opens the capsule's page, and differs from every other recipient's.
    let mails = smtp.messages();
    let links: Vec<String> = mails.iter().map(link_in).collect();
    let new_link = mails
        .iter()
        .find(|m| m.to == "gone@example.com")
        .map(link_in)
        .expect("the corrected email");
    assert_eq!(links.iter().filter(|l| **l == new_link).count(), 1);
    assert_eq!(app.fetch(new_link.as_str()).await.status(), 200);
}

async fn two_presses_of_send_again_send_one_email_and_an_unchanged_address_bounces_again(
    b: Backend,
) {
    let smtp = SmtpServer::start();
    let app = app_with_smtp(b, smtp.url()).await;
    let user = app.new_user().await;
    let (id, gone) = opened_with_a_bounce(&app, &user, "Twice").await;

    // Two devices press "send again" for the same email at the same moment.
    let body = json!({"recipient": gone});
    let (one, two) = tokio::join!(app.resend(&user, id, &body), app.resend(&user, id, &body));
    let mut answers = vec![one.status().as_u16(), error_code(two).await.0];
    answers.sort_unstable();
    assert_eq!(answers, vec![200, 409], "one re-send, one refused");

    // It is tried once, bounces again at RCPT TO, and is not tried again by itself.
    let r = deliver_due(&app.state, app.clock_now_utc())
        .await
        .expect("run");
    assert_eq!((r.sent, r.refused), (0, 1), "{r:?}");
    let (_, got) = app.get_json(&user, &format!("/v1/capsules/{id}")).await;
    let rows: Vec<&Value> = got["capsule"]["deliveries"]
        .as_array()
        .expect("deliveries")
        .iter()
        .filter(|d| d["recipient"] == gone)
        .collect();
    assert_eq!(rows.len(), 1, "one row per address as it stands");
    assert_eq!(rows[0]["status"], "bounced");
    assert_eq!(rows[0]["attempts"], 1);
    app.clock.advance(chrono::Duration::hours(3));
    let r = deliver_due(&app.state, app.clock_now_utc())
        .await
        .expect("run");
    assert_eq!((r.sent, r.refused), (0, 0));

    // And it can be sent again once more: each bounce is its own request (logged in again:
    // the clock moved past the access token's life).
    let user = app.log_in(&user.email).await;
    let res = app.resend(&user, id, &body).await;
    assert_eq!(res.status(), 200);
}

async fn only_a_bounced_or_failed_email_of_an_opened_capsule_can_be_sent_again(b: Backend) {
    let smtp = SmtpServer::start();
    let app = app_with_smtp(b, smtp.url()).await;
    let user = app.new_user().await;

    // Before opening: nothing has gone out yet.
    let draft = app.new_capsule(&user).await;
    let res = app
        .resend(&user, draft, &json!({"recipient": "friend@example.com"}))
        .await;
    assert_eq!(error_code(res).await, (409, "capsule_not_opened".into()));

    let (id, gone) = opened_with_a_bounce(&app, &user, "Rules").await;
    // An email that went out is not sent again.
    let res = app
        .resend(&user, id, &json!({"recipient": "ann@example.com"}))
        .await;
    assert_eq!(
        error_code(res).await,
        (409, "delivery_not_resendable".into())
    );
    // An address the capsule never had.
    let res = app
        .resend(&user, id, &json!({"recipient": "who@example.com"}))
        .await;
    assert_eq!(error_code(res).await, (404, "not_found".into()));
    // Somebody else's capsule.
    let other = app.new_user().await;
    let res = app.resend(&other, id, &json!({"recipient": gone})).await;
    assert_eq!(error_code(res).await, (404, "not_found".into()));
    // Unknown fields are refused like everywhere else.
    let res = app
        .resend(
            &user,
            id,
            &json!({"recipient": gone, "cc": "x@example.com"}),
        )
        .await;
    assert_eq!(res.status(), 400);
    // The owner's own copy goes to the account's address, not elsewhere.
    let (_, got) = app.get_json(&user, &format!("/v1/capsules/{id}")).await;
    assert_eq!(status_of(&got["capsule"], &user.email), Some("sent"));
}
