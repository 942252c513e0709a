//! Reminders before the open date, asked for at sealing: due days before it by the server's
//! clock, sent once however many workers run, carrying no content, and stopped for an
//! address by the one-click link every email carries.

use std::time::Duration;

use protocol::Reminders;
use sync_server::delivery::deliver_due;
use testkit::smtp::{Mail, SmtpServer};
use uuid::Uuid;

use crate::both_backends;
use crate::helpers::{Backend, TestApp, User, error_code};
use crate::sealing::{app, chain_and_relay, draft, seal_on_device};

both_backends!(
    a_reminder_goes_out_days_before_the_date_once_with_three_workers_and_holds_no_content,
    the_one_click_link_stops_the_next_reminder_to_that_address_and_a_forged_one_is_refused,
);

const FRIEND: &str = "kayak.friend@example.com";
const DAY: i64 = 24 * 3600;

fn choice(days_before: u16, show_title: bool) -> Reminders {
    Reminders {
        days_before,
        owner: true,
        show_title,
        recipients: vec![FRIEND.to_uppercase()],
    }
}

/// A capsule with no photos opening in `days`, sealed on the device with `reminders`.
async fn sealed(app: &TestApp, user: &User, days: i64, reminders: Reminders) -> Uuid {
    let (id, open_at) = draft(app, user, days * DAY, &[]).await;
    let res = seal_on_device(app, user, id, open_at, &[], true, Some(reminders)).await;
    assert_eq!(
        res.status(),
        200,
        "{}",
        res.text().await.unwrap_or_default()
    );
    id
}

/// Three workers run the delivery job at once, as three servers (or Lambdas) would; the
/// reminders they sent together.
async fn three_workers(app: &TestApp) -> u64 {
    let now = app.clock_now_utc();
    let (a, b, c) = tokio::join!(
        deliver_due(&app.state, now),
        deliver_due(&app.state, now),
        deliver_due(&app.state, now)
    );
    [a, b, c]
        .into_iter()
        .map(|r| r.expect("delivery run").reminded)
        .sum()
}

fn to(mails: &[Mail], address: &str) -> Vec<Mail> {
    mails
        .iter()
        .filter(|m| m.to.contains(address))
        .cloned()
        .collect()
}

async fn a_reminder_goes_out_days_before_the_date_once_with_three_workers_and_holds_no_content(
    b: Backend,
) {
    let (local, relay) = chain_and_relay();
    let smtp = SmtpServer::start();
    let app = app(b, &local, &relay, &smtp).await;
    let user = app.new_user().await;

    // A choice the server cannot keep is refused before anything is sealed.
    let (id, open_at) = draft(&app, &user, 30 * DAY, &[]).await;
    for bad in [choice(0, false), choice(400, false), {
        let mut c = choice(7, false);
        c.recipients.push("not an address".into());
        c
    }] {
        let res = seal_on_device(&app, &user, id, open_at, &[], true, Some(bad)).await;
        assert_eq!(error_code(res).await, (422, "validation_failed".into()));
    }
    let (_, c) = app.get_json(&user, &format!("/v1/capsules/{id}")).await;
    assert_eq!(
        c["capsule"]["state"], "draft",
        "a refused seal seals nothing"
    );
    let res = seal_on_device(&app, &user, id, open_at, &[], true, Some(choice(7, false))).await;
    assert_eq!(res.status(), 200);

    // Not yet: 23 days from now less a minute is before the 7th day before the date.
    app.clock.advance(chrono::Duration::seconds(23 * DAY - 60));
    assert_eq!(three_workers(&app).await, 0);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(smtp.count(), 0, "nothing is sent early");

    app.clock.advance(chrono::Duration::seconds(120));
    assert_eq!(three_workers(&app).await, 2, "the owner's and the friend's");
    let mails = smtp.wait_for(2, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(smtp.count(), 2, "each reminder once");
    assert_eq!(three_workers(&app).await, 0, "and never again");

    let owner = to(&mails, &user.email);
    let friend = to(&mails, FRIEND);
    assert_eq!((owner.len(), friend.len()), (1, 1), "{mails:#?}");
    assert!(
        owner[0]
            .subject
            .starts_with("Your time capsule opens in 7 days")
    );
    assert!(
        friend[0]
            .text
            .contains(&format!("{} sealed a time capsule for you", user.email))
    );
    for m in owner.iter().chain(&friend) {
        assert!(
            !m.text.contains("Kayak") && !m.html.contains("Kayak"),
            "no title unless allowed"
        );
        assert!(!m.text.contains("blue kayak"), "never the note");
        assert_eq!(m.header("Auto-Submitted"), "auto-generated");
        assert_eq!(
            m.header("List-Unsubscribe-Post"),
            "List-Unsubscribe=One-Click"
        );
        let link = m.header("List-Unsubscribe");
        assert!(
            link.starts_with(&format!("<{}/unsubscribe/", app.base)),
            "{link}"
        );
        assert!(!m.header("Date").is_empty() && !m.header("Message-ID").is_empty());
    }
}

async fn the_one_click_link_stops_the_next_reminder_to_that_address_and_a_forged_one_is_refused(
    b: Backend,
) {
    let (local, relay) = chain_and_relay();
    let smtp = SmtpServer::start();
    let app = app(b, &local, &relay, &smtp).await;
    let user = app.new_user().await;
    // Reminders on the 23rd day (titled) and on the 24th; both open on the 30th.
    sealed(&app, &user, 30, choice(7, true)).await;
    sealed(&app, &user, 30, choice(6, false)).await;

    app.clock.advance(chrono::Duration::seconds(23 * DAY + 60));
    assert_eq!(three_workers(&app).await, 2);
    let mails = smtp.wait_for(2, Duration::from_secs(30)).await;
    let friend = to(&mails, FRIEND);
    assert_eq!(friend.len(), 1);
    assert!(
        friend[0].text.contains("“Kayak summer”"),
        "the title, as allowed"
    );
    let link = friend[0].header("List-Unsubscribe");
    let link = link
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_owned();

    // A link checker's GET changes nothing; it shows the button.
    let page = app.client.get(&link).send().await.expect("get");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("page");
    assert!(
        html.contains(FRIEND) && html.contains("method=\"post\""),
        "{html}"
    );

    // A token for another address made from this one's MAC is refused.
    let (base, token) = link.rsplit_once('/').expect("token");
    let (_, tag) = token.split_once('.').expect("mac");
    use base64::Engine;
    let other = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&user.email);
    let forged = app
        .client
        .post(format!("{base}/{other}.{tag}"))
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .expect("post");
    assert_eq!(forged.status(), 404);

    // The mail provider's one click.
    let done = app
        .client
        .post(&link)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .expect("post");
    assert_eq!(done.status(), 200);
    assert!(
        done.text()
            .await
            .expect("page")
            .contains("No more reminders")
    );

    // A day later the second capsule's reminder goes to the owner only.
    app.clock.advance(chrono::Duration::seconds(DAY));
    assert_eq!(three_workers(&app).await, 1);
    let mails = smtp.wait_for(3, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(smtp.count(), 3);
    assert_eq!(to(&mails, FRIEND).len(), 1, "the friend asked for no more");
    assert_eq!(to(&mails, &user.email).len(), 2);
}
