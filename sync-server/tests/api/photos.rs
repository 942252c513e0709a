use protocol::PhotoUploadResponse;
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::both_backends;
use crate::helpers::{Backend, TestApp, User, error_code, jpeg, sha256_hex, spawn_app};

both_backends!(
    an_uploaded_photo_is_stored_byte_for_byte_with_an_upright_thumbnail,
    wrong_hash_or_size_on_complete_is_rejected_and_nothing_counts,
    the_same_bytes_twice_are_never_uploaded_again,
    bad_images_get_422_with_a_clear_code,
    oversized_bodies_and_photos_get_413,
);

async fn fetch(app: &TestApp, user: &User, capsule: Uuid, photo: Uuid, variant: &str) -> Vec<u8> {
    let res = app
        .req(
            Method::GET,
            &format!("/v1/capsules/{capsule}/photos/{photo}/{variant}"),
            user,
        )
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 200, "{variant}");
    res.bytes().await.expect("bytes").to_vec()
}

/// A JPEG stored sideways with EXIF orientation 6 (rotate 90° clockwise to view).
fn sideways_jpeg() -> Vec<u8> {
    // Wide 80×40: left half red, right half blue. Viewed upright it is 40×80, red on top.
    let img = image::RgbImage::from_fn(80, 40, |x, _| {
        if x < 40 {
            image::Rgb([220, 20, 20])
        } else {
            image::Rgb([20, 20, 220])
        }
    });
    let mut plain = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut plain, 95)
        .encode_image(&img)
        .expect("encode");
    // APP1 Exif with one IFD0 entry: Orientation (0x0112) = 6.
    let tiff: Vec<u8> = [
        b"MM\0\x2a".as_slice(),
        &[0, 0, 0, 8],
        &[0, 1],
        &[0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0],
        &[0, 0, 0, 0],
    ]
    .concat();
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let len = (app1.len() + 2) as u16;
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&plain[2..]);
    out
}

async fn an_uploaded_photo_is_stored_byte_for_byte_with_an_upright_thumbnail(b: Backend) {
    let app = spawn_app(b).await;
    let user = app.new_user().await;
    let capsule = app.new_capsule(&user).await;
    let bytes = sideways_jpeg();
    let photo = app.add_photo(&user, capsule, &bytes).await;
    assert_eq!(photo.sha256, sha256_hex(&bytes));
    assert_eq!(
        (photo.width, photo.height),
        (Some(40), Some(80)),
        "upright dimensions"
    );
    assert_eq!(
        fetch(&app, &user, capsule, photo.id, "original").await,
        bytes
    );
    let thumb = image::load_from_memory(&fetch(&app, &user, capsule, photo.id, "thumbnail").await)
        .expect("thumbnail is an image")
        .to_rgb8();
    assert_eq!(thumb.dimensions(), (40, 80));
    let top = thumb.get_pixel(20, 10).0;
    let bottom = thumb.get_pixel(20, 70).0;
    assert!(
        top[0] > 150 && top[2] < 100,
        "top should be red, got {top:?}"
    );
    assert!(
        bottom[2] > 150 && bottom[0] < 100,
        "bottom should be blue, got {bottom:?}"
    );
    // The capsule now lists it, with the client's file name kept.
    let (_, got) = app
        .get_json(&user, &format!("/v1/capsules/{capsule}"))
        .await;
    assert_eq!(got["capsule"]["photo_count"], 1);
    assert_eq!(got["capsule"]["photos"][0]["file_name"], "IMG_0001.jpg");
    assert_eq!(got["capsule"]["photos"][0]["state"], "ready");
}

async fn declare_ok(
    app: &TestApp,
    user: &User,
    capsule: Uuid,
    photo: Uuid,
    bytes: &[u8],
) -> PhotoUploadResponse {
    let res = app.declare(user, capsule, photo, bytes, "image/jpeg").await;
    assert_eq!(res.status(), 200);
    res.json().await.expect("declared")
}

async fn wrong_hash_or_size_on_complete_is_rejected_and_nothing_counts(b: Backend) {
    let app = spawn_app(b).await;
    let user = app.new_user().await;
    let capsule = app.new_capsule(&user).await;
    let declared = jpeg(64, 64, 1);
    let uid = user.user_id.to_string();

    // Bytes of the right length but other content land where the upload goes (as a
    // faulty client or store would leave them); complete must catch it. With S3 that is
    // the photo's content-addressed key (S3 checks the pinned hash on upload, which this
    // write goes round), with a folder a staging key.
    let mut other = declared.clone();
    let mid = other.len() / 2;
    other[mid] ^= 0xFF;
    let photo = Uuid::now_v7();
    declare_ok(&app, &user, capsule, photo, &declared).await;
    let staging = if app.state.blobs.direct_uploads() {
        sync_server::blob::keys::original(&uid, &crate::helpers::sha256_hex(&declared))
    } else {
        sync_server::blob::keys::staging(&uid, photo)
    };
    app.state
        .blobs
        .put_bytes(&staging, other.clone().into(), "image/jpeg")
        .await
        .expect("stage");
    assert_eq!(
        error_code(app.complete(&user, capsule, photo).await).await,
        (422, "hash_mismatch".to_owned())
    );
    // The staged bytes are gone and the photo is still pending.
    assert!(app.state.blobs.get(&staging).await.expect("get").is_none());
    assert_eq!(
        error_code(app.complete(&user, capsule, photo).await).await,
        (422, "upload_incomplete".to_owned())
    );

    // Too short.
    app.state
        .blobs
        .put_bytes(&staging, declared[..100].to_vec().into(), "image/jpeg")
        .await
        .expect("stage");
    assert_eq!(
        error_code(app.complete(&user, capsule, photo).await).await,
        (422, "size_mismatch".to_owned())
    );
    // Too long.
    let mut longer = declared.clone();
    longer.extend_from_slice(b"extra");
    app.state
        .blobs
        .put_bytes(&staging, longer.into(), "image/jpeg")
        .await
        .expect("stage");
    assert_eq!(
        error_code(app.complete(&user, capsule, photo).await).await,
        (422, "size_mismatch".to_owned())
    );

    // Wrong bytes through the real upload target are refused too (by the server's endpoint
    // or by S3's pinned checksum), and never count.
    let d = declare_ok(&app, &user, capsule, photo, &declared).await;
    let target = d.upload.expect("upload target");
    let up = app.send_upload(&target, other).await;
    assert!(
        !up.status().is_success(),
        "wrong bytes accepted: {}",
        up.status()
    );
    assert_ne!(app.complete(&user, capsule, photo).await.status(), 200);
    let original = sync_server::blob::keys::original(&uid, &sha256_hex(&declared));
    assert!(app.state.blobs.get(&original).await.expect("get").is_none());
    assert_eq!(
        error_code(app.seal(&user, capsule).await).await,
        (422, "photo_not_uploaded".to_owned())
    );

    // The right bytes then go through.
    let up = app.send_upload(&target, declared.clone()).await;
    assert!(up.status().is_success());
    assert_eq!(app.complete(&user, capsule, photo).await.status(), 200);
    assert_eq!(app.seal(&user, capsule).await.status(), 200);
}

async fn the_same_bytes_twice_are_never_uploaded_again(b: Backend) {
    let app = spawn_app(b).await;
    let user = app.new_user().await;
    let first = app.new_capsule(&user).await;
    let second = app.new_capsule(&user).await;
    let bytes = jpeg(50, 50, 9);
    app.add_photo(&user, first, &bytes).await;
    let again = declare_ok(&app, &user, second, Uuid::now_v7(), &bytes).await;
    assert!(again.upload.is_none(), "the server already has these bytes");
    assert_eq!(again.photo.state, protocol::PhotoState::Ready);
    assert_eq!(
        (again.photo.width, again.photo.height),
        (Some(50), Some(50))
    );
    // Re-declaring a ready photo is answered as it is.
    let d = declare_ok(&app, &user, second, again.photo.id, &bytes).await;
    assert!(d.upload.is_none());
}

async fn delete_photo(app: &TestApp, user: &User, capsule: Uuid, photo: Uuid) {
    app.req(
        Method::DELETE,
        &format!("/v1/capsules/{capsule}/photos/{photo}"),
        user,
    )
    .send()
    .await
    .expect("request");
}

async fn bad_images_get_422_with_a_clear_code(b: Backend) {
    let app = spawn_app(b).await;
    let user = app.new_user().await;
    let capsule = app.new_capsule(&user).await;
    let good = jpeg(300, 200, 2);
    let mut corrupt = good[..20].to_vec();
    corrupt.extend(std::iter::repeat_n(0x5Au8, 4000));
    let mut heic = vec![0, 0, 0, 24];
    heic.extend_from_slice(b"ftypheic\0\0\0\0mif1heic");
    heic.extend(std::iter::repeat_n(0u8, 500));
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "truncated",
            good[..good.len() * 2 / 3].to_vec(),
            "corrupt_image",
        ),
        ("corrupt", corrupt, "corrupt_image"),
        (
            "text as .jpg",
            b"just some notes, definitely not a photo\n".repeat(20),
            "unsupported_image_format",
        ),
        ("a HEIC header over nothing", heic, "corrupt_image"),
        (
            "bomb",
            imaging::test_images::png_bomb(30000, 30000),
            "image_too_large",
        ),
    ];
    for (label, bytes, code) in cases {
        let photo = Uuid::now_v7();
        let d = declare_ok(&app, &user, capsule, photo, &bytes).await;
        let target = d.upload.expect("upload target");
        assert!(
            app.send_upload(&target, bytes).await.status().is_success(),
            "{label}"
        );
        let res = app.complete(&user, capsule, photo).await;
        let status = res.status().as_u16();
        let body: Value = res.json().await.expect("json");
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (422, Some(code)),
            "{label}: {body}"
        );
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.len() > 10)
        );
        delete_photo(&app, &user, capsule, photo).await;
    }
    // HEICs that must not count, each for its reason (scripts/heic-corpus.py).
    for case in testkit::heic_corpus::cases()
        .into_iter()
        .filter(|c| c.accepted.is_none())
    {
        let bytes = std::fs::read(&case.path).expect("corpus file");
        let photo = Uuid::now_v7();
        let d = declare_ok(&app, &user, capsule, photo, &bytes).await;
        let target = d.upload.expect("upload target");
        assert!(app.send_upload(&target, bytes).await.status().is_success());
        let res = app.complete(&user, capsule, photo).await;
        assert_eq!(
            error_code(res).await,
            (422, case.code.clone().expect("a refusal")),
            "{}",
            case.name
        );
        delete_photo(&app, &user, capsule, photo).await;
    }
    // Empty files and HEIC sequences are refused at declaration already.
    let res = app
        .req(
            Method::PUT,
            &format!("/v1/capsules/{capsule}/photos/{}", Uuid::now_v7()),
            &user,
        )
        .json(&json!({"sha256": sha256_hex(b""), "size": 0, "content_type": "image/jpeg"}))
        .send()
        .await
        .expect("request");
    assert_eq!(error_code(res).await, (422, "empty_photo".to_owned()));
    let res = app
        .declare(&user, capsule, Uuid::now_v7(), &good, "image/heic-sequence")
        .await;
    assert_eq!(
        error_code(res).await,
        (422, "heic_not_supported".to_owned())
    );
    let res = app
        .declare(&user, capsule, Uuid::now_v7(), &good, "application/pdf")
        .await;
    assert_eq!(
        error_code(res).await,
        (422, "unsupported_image_format".to_owned())
    );
    // Nothing bad was counted.
    let (_, got) = app
        .get_json(&user, &format!("/v1/capsules/{capsule}"))
        .await;
    assert_eq!(got["capsule"]["photo_count"], 0);
}

async fn oversized_bodies_and_photos_get_413(b: Backend) {
    let app = spawn_app(b).await;
    let user = app.new_user().await;
    let capsule = app.new_capsule(&user).await;
    let huge_note = "x".repeat(200 * 1024);
    let res = app
        .put_capsule(
            &user,
            Uuid::now_v7(),
            &json!({"title": "t", "time_zone": "UTC", "note": huge_note}),
        )
        .await;
    assert_eq!(error_code(res).await, (413, "payload_too_large".to_owned()));
    let res = app
        .req(
            Method::PUT,
            &format!("/v1/capsules/{capsule}/photos/{}", Uuid::now_v7()),
            &user,
        )
        .json(&json!({"sha256": "a".repeat(64), "size": 1u64 << 40, "content_type": "image/jpeg"}))
        .send()
        .await
        .expect("request");
    assert_eq!(error_code(res).await, (413, "photo_too_large".to_owned()));
    // More bytes than declared through the server's own upload endpoint.
    if b == Backend::SqliteFolder {
        let bytes = jpeg(20, 20, 1);
        let d = declare_ok(&app, &user, capsule, Uuid::now_v7(), &bytes).await;
        let mut more = bytes.clone();
        more.extend(std::iter::repeat_n(0u8, 100_000));
        let res = app.send_upload(&d.upload.expect("target"), more).await;
        assert_eq!(res.status(), 413);
    }
}
