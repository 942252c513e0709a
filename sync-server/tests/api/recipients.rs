use std::io::Read;
use std::time::Duration;

use serde_json::json;
use sync_server::delivery::deliver_due;
use uuid::Uuid;

use crate::both_backends;
use crate::helpers::{Backend, TestApp, User, jpeg, spawn_app_with};
use testkit::smtp::{SmtpServer, link_in};

both_backends!(a_recipient_link_shows_the_capsule_and_its_zip_holds_every_original);

async fn open_capsule(
    app: &TestApp,
    smtp: &SmtpServer,
    user: &User,
    title: &str,
    photos: &[Vec<u8>],
) -> (Uuid, String) {
    let id = Uuid::now_v7();
    // Room for the photos to upload (a few seconds on S3) before the 60 s lead is checked.
    let open_at = (app.clock_now_utc() + chrono::Duration::seconds(90)).to_rfc3339();
    app.put_capsule(
        user,
        id,
        &json!({"title": title, "note": "n", "open_at": open_at,
        "time_zone": "UTC", "recipients": ["guest@example.com"]}),
    )
    .await;
    for p in photos {
        app.add_photo(user, id, p).await;
    }
    assert_eq!(app.seal(user, id).await.status(), 200);
    let before = smtp.count();
    app.clock.advance(chrono::Duration::minutes(2));
    deliver_due(&app.state, app.clock_now_utc())
        .await
        .expect("deliver");
    let mails = smtp.wait_for(before + 2, Duration::from_secs(10)).await;
    let mail = mails
        .iter()
        .find(|m| m.to == "guest@example.com" && m.text.contains(title))
        .expect("the guest's email");
    (id, link_in(mail))
}

async fn a_recipient_link_shows_the_capsule_and_its_zip_holds_every_original(b: Backend) {
    let smtp = SmtpServer::start();
    let url = smtp.url();
    let app = spawn_app_with(b, move |s| {
        s.mail.smtp_url = Some(url.into());
        s.delivery.ticker = false;
    })
    .await;
    let user = app.new_user().await;
    let photos = vec![jpeg(640, 480, 1), jpeg(320, 240, 2), jpeg(100, 100, 3)];
    let (id, link) = open_capsule(&app, &smtp, &user, "Gallery <one>", &photos).await;
    let (other_id, _) = open_capsule(&app, &smtp, &user, "Another", &[jpeg(50, 50, 9)]).await;

    let page = app.fetch(&link).await;
    assert_eq!(page.status(), 200);
    let headers = page.headers().clone();
    let csp = headers["content-security-policy"].to_str().expect("csp");
    assert!(csp.contains("default-src 'none'") && !csp.contains("script-src"));
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    let html = page.text().await.expect("html");
    assert!(html.contains("Gallery &lt;one&gt;") && !html.contains("<one>"));
    assert!(!html.contains("<script"));

    // Each photo: thumbnail, full size, download.
    let (_, got) = app.get_json(&user, &format!("/v1/capsules/{id}")).await;
    let ids: Vec<String> = got["capsule"]["photos"]
        .as_array()
        .expect("photos")
        .iter()
        .map(|p| p["id"].as_str().expect("id").to_owned())
        .collect();
    for (pid, bytes) in ids.iter().zip(&photos) {
        assert!(html.contains(&format!("/photos/{pid}/thumbnail")));
        let thumb = app.fetch(format!("{link}/photos/{pid}/thumbnail")).await;
        assert_eq!(thumb.status(), 200);
        image::load_from_memory(&thumb.bytes().await.expect("bytes")).expect("a thumbnail");
        for view in ["", "/download"] {
            let res = app.fetch(format!("{link}/photos/{pid}{view}")).await;
            assert_eq!(res.status(), 200, "{view}");
            assert_eq!(&res.bytes().await.expect("bytes")[..], &bytes[..]);
        }
    }
    // Another capsule's photo under this link is not there.
    let (_, other) = app
        .get_json(&user, &format!("/v1/capsules/{other_id}"))
        .await;
    let foreign = other["capsule"]["photos"][0]["id"].as_str().expect("id");
    for view in ["", "/download", "/thumbnail"] {
        let res = app.fetch(format!("{link}/photos/{foreign}{view}")).await;
        assert_eq!(res.status(), 404, "{view}");
    }
    // The zip holds every original byte for byte.
    let zip = app.fetch(format!("{link}/download.zip")).await;
    assert_eq!(zip.status(), 200);
    assert_eq!(zip.headers()["content-type"], "application/zip");
    let bytes = zip.bytes().await.expect("bytes");
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).expect("a zip");
    assert_eq!(archive.len(), 3);
    let mut found = Vec::new();
    for i in 0..archive.len() {
        let mut f = archive.by_index(i).expect("entry");
        let mut content = Vec::new();
        f.read_to_end(&mut content).expect("read");
        found.push((
            f.name().map(|n| n.to_string()).expect("entry name"),
            content,
        ));
    }
    let names: Vec<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        vec!["IMG_0001.jpg", "IMG_0001 (2).jpg", "IMG_0001 (3).jpg"]
    );
    for ((_, content), original) in found.iter().zip(&photos) {
        assert_eq!(content, original);
    }
    // Unknown and malformed tokens: the plain 404 page.
    for bad in [
        "/c/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "/c/x",
        "/c/../../etc/passwd",
    ] {
        let res = app.fetch(app.url(bad)).await;
        assert_eq!(res.status(), 404, "{bad}");
    }
    // A revoked link is gone at once; the owner's other recipients keep theirs.
    let (_, second_link) = open_capsule(&app, &smtp, &user, "Revocable", &[jpeg(60, 60, 7)]).await;
    let user = app.log_in(&user.email).await;
    let revocable = app.get_json(&user, "/v1/sync?since=0").await.1["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .find(|c| c["capsule"]["title"] == "Revocable")
        .map(|c| c["capsule"]["id"].as_str().expect("id").to_owned())
        .expect("the capsule");
    assert_eq!(app.fetch(&second_link).await.status(), 200);
    let revoke = |recipient: &'static str| {
        app.req(
            reqwest::Method::POST,
            &format!("/v1/capsules/{revocable}/links/revoke"),
            &user,
        )
        .json(&json!({ "recipient": recipient }))
        .send()
    };
    let res = revoke("Guest@Example.com").await.expect("revoke");
    assert_eq!(res.status(), 204);
    assert_eq!(app.fetch(&second_link).await.status(), 404);
    assert_eq!(app.fetch(&link).await.status(), 200);
    let res = revoke("nobody@example.com").await.expect("revoke");
    assert_eq!(res.status(), 404);
    // After the link's lifetime, it is gone too.
    app.clock.advance(chrono::Duration::days(91));
    let res = app.fetch(&link).await;
    assert_eq!(res.status(), 404);
    assert!(
        res.text()
            .await
            .expect("html")
            .contains("does not open anything")
    );
}
