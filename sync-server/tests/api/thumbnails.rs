//! Uploads at the speed of the link: the client's thumbnails are checked and kept byte for
//! byte, bad ones refused with reasons; a photo sent without thumbnails gets the server's
//! from a queue that survives a restart; a large original goes up in parts and a cut upload
//! resumes with the parts the server holds.

use std::time::Duration;

use protocol::{PhotoResponse, PhotoUploadResponse, ThumbnailSize, ThumbnailState};
use serde_json::json;
use sync_server::AppState;
use sync_server::clock::SystemClock;
use sync_server::delivery::deliver_due;
use uuid::Uuid;

use crate::both_backends;
use crate::helpers::{
    Backend, TestApp, User, client_thumbnails, error_code, jpeg, sha256_hex, spawn_app,
    spawn_app_with, spawn_app_without_worker, thumbnails_of,
};
use testkit::smtp::{SmtpServer, link_in};

both_backends!(
    the_clients_thumbnails_are_kept_byte_for_byte,
    bad_thumbnails_are_refused_each_with_its_reason,
    a_photo_without_thumbnails_gets_the_servers_from_a_queue_that_survives_a_restart,
    a_large_original_goes_up_in_parts_and_a_cut_upload_resumes,
    an_iphone_heic_counts_from_its_structure_with_or_without_the_clients_thumbnails,
);

async fn get(app: &TestApp, user: &User, capsule: Uuid, photo: Uuid, what: &str) -> (u16, Vec<u8>) {
    let res = app
        .req(
            reqwest::Method::GET,
            &format!("/v1/capsules/{capsule}/photos/{photo}/{what}"),
            user,
        )
        .send()
        .await
        .expect("request");
    let status = res.status().as_u16();
    (status, res.bytes().await.expect("body").to_vec())
}

/// Declares a photo with these thumbnails and sends all of it; answers complete's answer.
async fn send_with(
    app: &TestApp,
    user: &User,
    capsule: Uuid,
    photo: Uuid,
    bytes: &[u8],
    thumbnails: &[(ThumbnailSize, Vec<u8>)],
) -> reqwest::Response {
    let res = app
        .declare_with_thumbnails(user, capsule, photo, bytes, thumbnails)
        .await;
    assert_eq!(res.status(), 200, "declared");
    let declared: PhotoUploadResponse = res.json().await.expect("declared");
    if let Some(t) = &declared.upload {
        assert!(
            app.send_upload(t, bytes.to_vec())
                .await
                .status()
                .is_success()
        );
    }
    for t in &declared.thumbnails {
        let b = thumbnails
            .iter()
            .find(|(k, _)| *k == t.kind)
            .map(|(_, b)| b.clone())
            .expect("declared");
        assert!(app.send_upload(&t.upload, b).await.status().is_success());
    }
    app.complete(user, capsule, photo).await
}

async fn the_clients_thumbnails_are_kept_byte_for_byte(b: Backend) {
    let app = spawn_app(b).await;
    let user = app.new_user().await;
    let capsule = app.new_capsule(&user).await;
    let bytes = jpeg(2000, 1500, 3);
    let thumbs = client_thumbnails(&bytes);
    let photo = app.add_photo(&user, capsule, &bytes).await;
    assert_eq!(photo.thumbnails, ThumbnailState::Ready);
    for (kind, route) in [
        (ThumbnailSize::Grid, "thumbnail"),
        (ThumbnailSize::Preview, "preview"),
    ] {
        let (status, got) = get(&app, &user, capsule, photo.id, route).await;
        assert_eq!(status, 200);
        let sent = &thumbs.iter().find(|(k, _)| *k == kind).expect("made").1;
        assert_eq!(
            sha256_hex(&got),
            sha256_hex(sent),
            "{route} is the client's"
        );
    }
}

async fn bad_thumbnails_are_refused_each_with_its_reason(b: Backend) {
    let app = spawn_app(b).await;
    let user = app.new_user().await;
    let capsule = app.new_capsule(&user).await;
    let bytes = jpeg(1600, 1200, 5);
    let good = client_thumbnails(&bytes);
    let preview = good[1].clone();
    let encode = |w: u32, h: u32| {
        let img = image::RgbImage::from_fn(w, h, |x, _| image::Rgb([x as u8, 9, 9]));
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80)
            .encode_image(&img)
            .expect("encode");
        out
    };
    let with_exif = {
        // The same thumbnail with an EXIF segment after its start marker.
        let plain = good[0].1.clone();
        let mut exif = b"Exif\0\0MM\0\x2a\0\0\0\x08\0\0".to_vec();
        exif.extend_from_slice(&[0, 0, 0, 0]);
        let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
        out.extend_from_slice(&u16::try_from(exif.len() + 2).expect("len").to_be_bytes());
        out.extend_from_slice(&exif);
        out.extend_from_slice(&plain[2..]);
        out
    };
    let mut undecodable = good[0].1[..4].to_vec();
    undecodable.extend(std::iter::repeat_n(0x55u8, 4000));
    let cases: [(&str, Vec<u8>, &str); 4] = [
        ("does not decode (cut short)", undecodable, "truncated"),
        ("wrong aspect ratio", encode(256, 256), "made smaller"),
        ("larger than its size", encode(512, 384), "at most 256"),
        ("carries EXIF", with_exif, "metadata"),
    ];
    for (case, grid, says) in cases {
        let photo = Uuid::now_v7();
        let res = send_with(
            &app,
            &user,
            capsule,
            photo,
            &bytes,
            &[(ThumbnailSize::Grid, grid), preview.clone()],
        )
        .await;
        let status = res.status().as_u16();
        let body: serde_json::Value = res.json().await.expect("error body");
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (422, Some("invalid_thumbnail")),
            "{case}"
        );
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{case}: {message}");
        let (_, got) = app
            .get_json(&user, &format!("/v1/capsules/{capsule}"))
            .await;
        let listed = got["capsule"]["photos"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["id"] == photo.to_string()).cloned())
            .expect("listed");
        assert_eq!(listed["state"], "pending", "{case}: nothing counts");
        // Sent again with good thumbnails, the same photo completes.
        let res = send_with(&app, &user, capsule, photo, &bytes, &good).await;
        assert_eq!(res.status(), 200, "{case}: a good retry");
        let res = app
            .req(
                reqwest::Method::DELETE,
                &format!("/v1/capsules/{capsule}/photos/{photo}"),
                &user,
            )
            .send()
            .await
            .expect("delete");
        assert_eq!(res.status(), 204);
    }
    // A declaration of one thumbnail only is refused at once.
    let res = app
        .declare_with_thumbnails(&user, capsule, Uuid::now_v7(), &bytes, &good[..1])
        .await;
    assert_eq!(error_code(res).await, (422, "invalid_thumbnail".into()));
}

async fn a_photo_without_thumbnails_gets_the_servers_from_a_queue_that_survives_a_restart(
    b: Backend,
) {
    let app = spawn_app_without_worker(b).await;
    let user = app.new_user().await;
    let capsule = app.new_capsule(&user).await;
    let bytes = jpeg(900, 600, 7);
    let photo = Uuid::now_v7();
    let res = send_with(&app, &user, capsule, photo, &bytes, &[]).await;
    assert_eq!(res.status(), 200);
    let done: PhotoResponse = res.json().await.expect("photo");
    assert_eq!(
        done.photo.state,
        protocol::PhotoState::Ready,
        "the photo counts at once"
    );
    assert_eq!(done.photo.thumbnails, ThumbnailState::Pending);
    assert_eq!(
        get(&app, &user, capsule, photo, "thumbnail").await.0,
        404,
        "not made yet"
    );
    assert_eq!(
        app.state.db.thumbnail_jobs_waiting().await.expect("jobs"),
        1
    );

    // Another process on the same database and store (a restart) works the queue.
    let restarted = AppState::build(
        (*app.state.settings).clone(),
        std::sync::Arc::new(SystemClock),
    )
    .await
    .expect("restarted");
    let made = sync_server::photos::thumbnail_job::run_due(&restarted, chrono::Utc::now())
        .await
        .expect("run");
    assert_eq!(made, 1);
    assert_eq!(
        app.state.db.thumbnail_jobs_waiting().await.expect("jobs"),
        0
    );
    let (_, got) = app
        .get_json(&user, &format!("/v1/capsules/{capsule}"))
        .await;
    assert_eq!(got["capsule"]["photos"][0]["thumbnails"], "ready");
    for (route, side) in [("thumbnail", 256), ("preview", 900)] {
        let (status, t) = get(&app, &user, capsule, photo, route).await;
        assert_eq!(status, 200);
        let img = image::load_from_memory(&t).expect("a JPEG");
        assert_eq!(img.width().max(img.height()), side, "{route}");
        assert!(
            imaging::thumbnail::metadata_segment(&t).is_none(),
            "{route} carries no metadata"
        );
    }
    // The photo is on the feed again, so other devices learn its thumbnails are there.
    let (_, feed) = app.get_json(&user, "/v1/sync?since=0").await;
    let last = feed["changes"]
        .as_array()
        .and_then(|c| c.iter().rev().find(|c| c["kind"] == "photo").cloned())
        .expect("a photo change");
    assert_eq!(last["photo"]["thumbnails"], "ready");
}

async fn an_iphone_heic_counts_from_its_structure_with_or_without_the_clients_thumbnails(
    b: Backend,
) {
    let app = spawn_app_without_worker(b).await;
    let user = app.new_user().await;
    let capsule = app.new_capsule(&user).await;
    // Turned a quarter by `irot`, with the same turn in its EXIF: 756×1008 upright.
    let case = testkit::heic_corpus::case("iphone-grid-orientation-6.heic");
    let bytes = std::fs::read(&case.path).expect("corpus file");
    let reference = image::open(case.reference()).expect("reference");
    let thumbs = thumbnails_of(&reference);

    let with = Uuid::now_v7();
    let res = send_with(&app, &user, capsule, with, &bytes, &thumbs).await;
    let status = res.status();
    let body = res.text().await.expect("body");
    assert_eq!(status, 200, "{body}");
    let done: PhotoResponse = serde_json::from_str(&body).expect("photo");
    assert_eq!(done.photo.content_type, "image/heic");
    assert_eq!(
        (done.photo.width, done.photo.height),
        (Some(756), Some(1008))
    );
    assert_eq!(done.photo.thumbnails, ThumbnailState::Ready);
    let (_, preview) = get(&app, &user, capsule, with, "preview").await;
    let sent = &thumbs
        .iter()
        .find(|(k, _)| *k == ThumbnailSize::Preview)
        .expect("made")
        .1;
    assert_eq!(
        sha256_hex(&preview),
        sha256_hex(sent),
        "the client's preview"
    );
    let (status, original) = get(&app, &user, capsule, with, "original").await;
    assert_eq!((status, sha256_hex(&original)), (200, sha256_hex(&bytes)));

    // Thumbnails the wrong way round are refused: the server read the turn from `irot`.
    let other = testkit::heic_corpus::case("iphone-grid-orientation-8.heic");
    let turned = thumbnails_of(&image::open(other.reference()).expect("ref").rotate90());
    let bytes = std::fs::read(&other.path).expect("corpus file");
    let wrong = Uuid::now_v7();
    let res = send_with(&app, &user, capsule, wrong, &bytes, &turned).await;
    assert_eq!(error_code(res).await, (422, "invalid_thumbnail".to_owned()));

    // An older client sends none: the server's job decodes the HEIC itself, upright (a
    // half turn: only the pixels tell whether it was applied).
    let other = testkit::heic_corpus::case("iphone-grid-orientation-3.heic");
    let bytes = std::fs::read(&other.path).expect("corpus file");
    let without = Uuid::now_v7();
    let res = send_with(&app, &user, capsule, without, &bytes, &[]).await;
    assert_eq!(res.status(), 200);
    let made = sync_server::photos::thumbnail_job::run_due(&app.state, chrono::Utc::now())
        .await
        .expect("run");
    assert_eq!(made, 1);
    let (status, preview) = get(&app, &user, capsule, without, "preview").await;
    assert_eq!(status, 200);
    let preview = image::load_from_memory(&preview).expect("a JPEG").to_rgb8();
    let reference = image::open(other.reference()).expect("reference").to_rgb8();
    assert_eq!(preview.dimensions(), reference.dimensions(), "upright");
    let error: f64 = preview
        .as_raw()
        .iter()
        .zip(reference.as_raw())
        .map(|(a, b)| f64::from(a.abs_diff(*b)))
        .sum::<f64>()
        / preview.as_raw().len() as f64;
    assert!(error < 3.0, "mean error {error:.2} against libheif");
}

/// A BMP of `w`×`h` pixels: large, and valid without decoding.
fn bmp(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8, y as u8, (x ^ y) as u8]));
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut out, image::ImageFormat::Bmp)
        .expect("bmp");
    out.into_inner()
}

async fn a_large_original_goes_up_in_parts_and_a_cut_upload_resumes(b: Backend) {
    let app = spawn_app(b).await;
    let user = app.new_user().await;
    let capsule = app.new_capsule(&user).await;
    let bytes = bmp(4400, 5200); // about 68.6 MB, over the single-upload size
    assert!(bytes.len() as u64 > protocol::SINGLE_UPLOAD_MAX);
    let thumbs = client_thumbnails(&bytes);
    let photo = Uuid::now_v7();
    let declare = || async {
        let declared: Vec<serde_json::Value> = thumbs
            .iter()
            .map(|(k, t)| json!({"kind": k, "sha256": sha256_hex(t), "size": t.len()}))
            .collect();
        let res = app
            .req(
                reqwest::Method::PUT,
                &format!("/v1/capsules/{capsule}/photos/{photo}"),
                &user,
            )
            .json(&json!({"sha256": sha256_hex(&bytes), "size": bytes.len(),
                          "content_type": "image/bmp", "thumbnails": declared}))
            .send()
            .await
            .expect("declare");
        assert_eq!(res.status(), 200);
        res.json::<PhotoUploadResponse>().await.expect("declared")
    };
    let first = declare().await;
    assert!(first.upload.is_none(), "no single PUT for a large original");
    let parts = first.multipart.clone().expect("parts");
    assert_eq!(parts.parts.len(), 5);
    assert!(parts.done.is_empty());
    let part_bytes = |n: u32, size: u64| {
        let from = usize::try_from(u64::from(n - 1) * parts.part_size).expect("offset");
        bytes[from..from + usize::try_from(size).expect("size")].to_vec()
    };
    // Three parts go up, then the connection is gone.
    for p in &parts.parts[..3] {
        let t = protocol::UploadTarget {
            method: p.method.clone(),
            url: p.url.clone(),
            headers: p.headers.clone(),
            expires_at: parts.expires_at,
        };
        let res = app.send_upload(&t, part_bytes(p.number, p.size)).await;
        assert!(
            res.status().is_success(),
            "part {}: {}",
            p.number,
            res.status()
        );
    }
    assert_eq!(
        error_code(app.complete(&user, capsule, photo).await).await,
        (422, "upload_incomplete".into()),
        "two parts are missing"
    );
    // Asked again, the server lists what it holds and hands out only the rest.
    let again = declare().await;
    let resumed = again.multipart.expect("parts");
    assert_eq!(resumed.upload_id, parts.upload_id, "the same upload");
    assert_eq!(resumed.done, vec![1, 2, 3]);
    let left: Vec<u32> = resumed.parts.iter().map(|p| p.number).collect();
    assert_eq!(left, vec![4, 5]);
    for p in &resumed.parts {
        let t = protocol::UploadTarget {
            method: p.method.clone(),
            url: p.url.clone(),
            headers: p.headers.clone(),
            expires_at: resumed.expires_at,
        };
        assert!(
            app.send_upload(&t, part_bytes(p.number, p.size))
                .await
                .status()
                .is_success()
        );
    }
    for t in &again.thumbnails {
        let body = thumbs
            .iter()
            .find(|(k, _)| *k == t.kind)
            .expect("thumb")
            .1
            .clone();
        assert!(app.send_upload(&t.upload, body).await.status().is_success());
    }
    let res = app.complete(&user, capsule, photo).await;
    assert_eq!(res.status(), 200);
    let done: PhotoResponse = res.json().await.expect("photo");
    assert_eq!(
        (done.photo.width, done.photo.height),
        (Some(4400), Some(5200))
    );
    let (status, original) = get(&app, &user, capsule, photo, "original").await;
    assert_eq!(status, 200);
    assert_eq!(sha256_hex(&original), sha256_hex(&bytes), "byte for byte");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_email_and_the_recipient_page_carry_the_clients_thumbnails() {
    let smtp = SmtpServer::start();
    let url = smtp.url();
    let app = spawn_app_with(Backend::SqliteFolder, move |s| {
        s.mail.smtp_url = Some(url.into());
        s.delivery.ticker = false;
    })
    .await;
    let user = app.new_user().await;
    let id = Uuid::now_v7();
    let open_at = (app.clock_now_utc() + chrono::Duration::seconds(90)).to_rfc3339();
    app.put_capsule(
        &user,
        id,
        &json!({"title": "Thumbs", "note": "n", "open_at": open_at, "time_zone": "UTC",
                "recipients": ["guest@example.com"]}),
    )
    .await;
    let bytes = jpeg(1800, 1200, 11);
    let thumbs = client_thumbnails(&bytes);
    let photo = app.add_photo(&user, id, &bytes).await;
    assert_eq!(app.seal(&user, id).await.status(), 200);
    app.clock.advance(chrono::Duration::minutes(3));
    deliver_due(&app.state, app.clock_now_utc())
        .await
        .expect("deliver");
    let mails = smtp.wait_for(2, Duration::from_secs(10)).await;
    let mail = mails
        .iter()
        .find(|m| m.to == "guest@example.com")
        .expect("guest's email");
    let grid = &thumbs[0].1;
    assert_eq!(mail.inline_images.len(), 1);
    assert_eq!(
        sha256_hex(&mail.inline_images[0]),
        sha256_hex(grid),
        "the email's image is the client's"
    );
    let link = link_in(mail);
    for (route, sent) in [("thumbnail", grid), ("preview", &thumbs[1].1)] {
        let got = app
            .fetch(format!("{link}/photos/{}/{route}", photo.id))
            .await
            .bytes()
            .await
            .expect("body");
        assert_eq!(
            sha256_hex(&got),
            sha256_hex(sent),
            "the page's {route} is the client's"
        );
    }
}
