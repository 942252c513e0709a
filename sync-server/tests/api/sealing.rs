//! Capsules sealed on a device: the server holds only ciphertext until the round at the
//! open date, opens with a verified beacon (or, without one, the escrow key after the date),
//! checks every photo before anything is sent, and refuses what does not fit its chain.

use std::time::Duration;

use protocol::{
    Reminders, SealRequest, SealedIndex, SealedItem, SealedItemResponse, SealedName, SealedPhoto,
};
use serde_json::{Value, json};
use sync_server::delivery::deliver_due;
use testkit::beacon::{LocalChain, Relay};
use uuid::Uuid;

use crate::both_backends;
use crate::helpers::{
    Backend, TestApp, User, client_thumbnails, error_code, jpeg, sha256_hex, spawn_app_with,
};
use testkit::smtp::SmtpServer;

both_backends!(
    a_capsule_sealed_on_a_device_is_ciphertext_until_its_round_then_opens_and_is_delivered,
    the_escrow_key_opens_when_no_relay_answers_and_never_before_the_date,
);

const NOTE: &str = "Dear future us: the blue kayak, the storm, the pancakes.";
const RECIPIENT: &str = "kayak.friend@example.com";

/// A chain of the test's own, started well before now, served by one relay.
pub(crate) fn chain_and_relay() -> (LocalChain, Relay) {
    let local = LocalChain::new(chrono::Utc::now().timestamp() - 10_000, 3);
    let relay = Relay::start(local.clone());
    (local, relay)
}

pub(crate) async fn app(
    b: Backend,
    local: &LocalChain,
    relay: &Relay,
    smtp: &SmtpServer,
) -> TestApp {
    let (chain, relays, mail) = (local.chain.clone(), vec![relay.url()], smtp.url());
    spawn_app_with(b, move |s| {
        s.seal.chain = chain;
        s.seal.relays = relays;
        s.mail.smtp_url = Some(mail.into());
        s.delivery.ticker = false;
    })
    .await
}

/// A draft opening in `secs` seconds, with the note and one recipient, whose photos were
/// uploaded in plaintext while it was a draft (so the seal has plaintext to purge).
pub(crate) async fn draft(
    app: &TestApp,
    user: &User,
    secs: i64,
    photos: &[Vec<u8>],
) -> (Uuid, chrono::DateTime<chrono::Utc>) {
    let id = Uuid::now_v7();
    let open_at = app.clock_now_utc() + chrono::Duration::seconds(secs);
    let res = app
        .put_capsule(
            user,
            id,
            &json!({"title": "Kayak summer", "note": NOTE, "open_at": open_at.to_rfc3339(),
                    "time_zone": "Europe/Oslo", "recipients": [RECIPIENT]}),
        )
        .await;
    assert_eq!(res.status(), 201);
    for p in photos {
        app.add_photo(user, id, p).await;
    }
    (id, open_at)
}

/// What a device does at sealing: every file into an age file locked to the round at the
/// open date (and to the escrow key when asked), declared, sent, then the seal itself
/// (with the reminders chosen, if any).
pub(crate) async fn seal_on_device(
    app: &TestApp,
    user: &User,
    id: Uuid,
    open_at: chrono::DateTime<chrono::Utc>,
    photos: &[Vec<u8>],
    escrow: bool,
    reminders: Option<Reminders>,
) -> reqwest::Response {
    let (_, config) = app.get_json(user, "/v1/seal/config").await;
    let chain = seal::Chain::new(
        config["chain_hash"].as_str().expect("hash"),
        config["public_key"].as_str().expect("key"),
        config["genesis"].as_i64().expect("genesis"),
        config["period"].as_u64().expect("period"),
    )
    .expect("chain");
    let escrow_key: Option<seal::EscrowPublic> = escrow.then(|| {
        config["escrow_public_key"]
            .as_str()
            .expect("the server keeps an escrow key")
            .parse()
            .expect("age key")
    });
    let round = chain.round_at(open_at);
    let mut files: Vec<(SealedName, Vec<u8>)> = Vec::new();
    let mut index = SealedIndex {
        version: 1,
        photos: Vec::new(),
    };
    for (i, p) in photos.iter().enumerate() {
        let pid = Uuid::now_v7();
        let decodes = image::load_from_memory(p).is_ok();
        index.photos.push(SealedPhoto {
            id: pid,
            sha256: sha256_hex(p),
            size: p.len() as u64,
            content_type: "image/jpeg".into(),
            file_name: Some(format!("kayak-{i}.jpg")),
            taken_at: None,
            width: 0,
            height: 0,
            thumbnails: decodes,
        });
        files.push((SealedName::Original(pid), p.clone()));
        if decodes {
            let thumbs = client_thumbnails(p);
            files.push((SealedName::Grid(pid), thumbs[0].1.clone()));
            files.push((SealedName::Preview(pid), thumbs[1].1.clone()));
        }
    }
    files.push((
        SealedName::Index,
        serde_json::to_vec(&index).expect("index"),
    ));
    files.push((SealedName::Note, NOTE.as_bytes().to_vec()));
    files.push((
        SealedName::Recipients,
        serde_json::to_vec(&[RECIPIENT]).expect("recipients"),
    ));
    let mut items = Vec::new();
    for (name, plain) in files {
        let mut sealed = Vec::new();
        seal::seal(
            plain.as_slice(),
            &mut sealed,
            &chain,
            round,
            escrow_key.as_ref(),
        )
        .expect("seal");
        let file = name.file_name();
        let res = app
            .req(
                reqwest::Method::PUT,
                &format!("/v1/capsules/{id}/sealed/{file}"),
                user,
            )
            .json(&json!({"sha256": sha256_hex(&sealed), "size": sealed.len()}))
            .send()
            .await
            .expect("declare");
        if res.status() != 200 {
            return res;
        }
        let declared: SealedItemResponse = res.json().await.expect("declared");
        let target = declared.upload.expect("an upload target");
        let up = app.send_upload(&target, sealed.clone()).await;
        assert!(up.status().is_success(), "upload {file}: {}", up.status());
        items.push(SealedItem {
            name: file,
            sha256: sha256_hex(&sealed),
            size: sealed.len() as u64,
        });
    }
    app.req(
        reqwest::Method::POST,
        &format!("/v1/capsules/{id}/seal"),
        user,
    )
    .json(&SealRequest {
        round,
        chain_hash: chain.hash_hex(),
        escrow,
        items,
        reminders,
    })
    .send()
    .await
    .expect("seal")
}

/// Every byte the server keeps: its database dumped, and every stored object.
async fn everything_stored(app: &TestApp, b: Backend) -> Vec<u8> {
    use secrecy::ExposeSecret;
    let url = app.state.settings.database.url.expose_secret().to_owned();
    let dump = match b {
        Backend::SqliteFolder => std::process::Command::new("sqlite3")
            .arg(app.data_dir.join("server.db"))
            .arg(".dump")
            .output()
            .expect("sqlite3 on PATH"),
        Backend::PostgresS3 => std::process::Command::new("pg_dump")
            .arg(&url)
            .output()
            .expect("pg_dump on PATH"),
    };
    assert!(
        dump.status.success(),
        "dump: {}",
        String::from_utf8_lossy(&dump.stderr)
    );
    let mut all = dump.stdout;
    assert!(all.len() > 1000, "a real dump");
    match &app.state.settings.storage.blob {
        sync_server::config::BlobTarget::Folder(dir) => {
            for entry in walk(dir) {
                all.extend(std::fs::read(entry).unwrap_or_default());
            }
        }
        sync_server::config::BlobTarget::S3 {
            bucket, endpoint, ..
        } => {
            let shared = aws_config::load_from_env().await;
            let conf = aws_sdk_s3::config::Builder::from(&shared)
                .endpoint_url(endpoint.clone().expect("endpoint"))
                .force_path_style(true)
                .build();
            let s3 = aws_sdk_s3::Client::from_conf(conf);
            let listed = s3
                .list_objects_v2()
                .bucket(bucket)
                .send()
                .await
                .expect("list");
            for o in listed.contents() {
                let got = s3
                    .get_object()
                    .bucket(bucket)
                    .key(o.key().unwrap_or_default())
                    .send()
                    .await
                    .expect("get");
                all.extend(got.body.collect().await.expect("body").into_bytes());
            }
        }
    }
    all
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Sampled 64-byte windows of each photo, the note and the recipient: none may be found.
fn assert_no_leak(stored: &[u8], photos: &[Vec<u8>]) {
    let finder = |needle: &[u8]| stored.windows(needle.len()).any(|w| w == needle);
    for (i, p) in photos.iter().enumerate() {
        for at in (0..p.len().saturating_sub(64)).step_by(p.len() / 16 + 1) {
            assert!(
                !finder(&p[at..at + 64]),
                "bytes of photo {i} at {at} are stored in plaintext"
            );
        }
    }
    assert!(
        !finder(&NOTE.as_bytes()[..40]),
        "the note is stored in plaintext"
    );
    assert!(
        !finder(RECIPIENT.as_bytes()),
        "the recipient is stored in plaintext"
    );
}

async fn a_capsule_sealed_on_a_device_is_ciphertext_until_its_round_then_opens_and_is_delivered(
    b: Backend,
) {
    let (local, relay) = chain_and_relay();
    let smtp = SmtpServer::start();
    let app = app(b, &local, &relay, &smtp).await;
    let user = app.new_user().await;
    let photos = vec![jpeg(900, 600, 31), jpeg(640, 960, 32)];
    let (id, open_at) = draft(&app, &user, 120, &photos).await;
    assert!(
        everything_stored(&app, b)
            .await
            .windows(40)
            .any(|w| w == &NOTE.as_bytes()[..40]),
        "the draft's note is in the database (the leak scan can see it)"
    );

    let (_, before) = app.get_json(&user, "/v1/sync?since=0").await;
    let cursor = before["cursor"].as_u64().expect("cursor");
    let res = seal_on_device(&app, &user, id, open_at, &photos, true, None).await;
    assert_eq!(res.status(), 200);
    let (_, got) = app.get_json(&user, &format!("/v1/capsules/{id}")).await;
    let c = &got["capsule"];
    assert_eq!(c["state"], "sealed");
    assert_eq!(c["photo_count"], 2);
    assert_eq!(c["lock"]["round"], json!(local.chain.round_at(open_at)));
    assert_eq!(c["lock"]["escrow"], true);
    // A retry of the seal itself (its answer lost) answers the same...
    let retry = SealRequest {
        round: local.chain.round_at(open_at),
        chain_hash: local.chain.hash_hex(),
        escrow: true,
        items: vec![SealedItem {
            name: SealedName::Index.file_name(),
            sha256: "0".repeat(64),
            size: 1,
        }],
        reminders: None,
    };
    let res = app
        .req(
            reqwest::Method::POST,
            &format!("/v1/capsules/{id}/seal"),
            &user,
        )
        .json(&retry)
        .send()
        .await
        .expect("retry");
    assert_eq!(res.status(), 200);
    // ...but a sealed capsule takes no new files.
    assert_eq!(
        seal_on_device(&app, &user, id, open_at, &photos, true, None)
            .await
            .status(),
        409
    );

    // Ciphertext only: the database and every object.
    assert_no_leak(&everything_stored(&app, b).await, &photos);
    // The draft's photos left the owner's other devices too.
    let (_, feed) = app
        .get_json(&user, &format!("/v1/sync?since={cursor}"))
        .await;
    let deleted = feed["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter(|ch| ch["kind"] == "photo_deleted" && ch["capsule_id"] == id.to_string())
        .count();
    assert_eq!(deleted, 2);

    // Before the round, no beacon anywhere.
    let round = local.chain.round_at(open_at);
    let (status, code) = error_code(app.fetch(app.url(&format!("/v1/beacon/{round}"))).await).await;
    assert_eq!((status, code.as_str()), (425, "too_early"));
    let r = deliver_due(&app.state, app.clock_now_utc())
        .await
        .expect("run");
    assert_eq!(r.opened, 0);

    // The date passes and the chain publishes its round.
    app.clock.advance(chrono::Duration::seconds(125));
    relay.publish_up_to(round);
    let res = app.fetch(app.url(&format!("/v1/beacon/{round}"))).await;
    assert_eq!(res.status(), 200);
    let beacon: Value = res.json().await.expect("beacon");
    assert_eq!(
        beacon["signature"],
        json!(hex::encode(local.sign(round).signature))
    );
    let r = deliver_due(&app.state, app.clock_now_utc())
        .await
        .expect("run");
    assert_eq!((r.opened, r.sent), (1, 2));
    assert_eq!(
        app.state.db.escrow_uses(id).await.expect("uses"),
        0,
        "the beacon opened it"
    );

    let mails = smtp.wait_for(2, Duration::from_secs(10)).await;
    for m in &mails {
        assert!(m.text.contains(NOTE), "the note is in the email");
        assert_eq!(m.inline_images.len(), 2);
    }
    let (_, got) = app.get_json(&user, &format!("/v1/capsules/{id}")).await;
    let c = &got["capsule"];
    assert_eq!(c["state"], "opened");
    assert_eq!(c["note"], NOTE);
    assert_eq!(c["recipients"], json!([RECIPIENT]));
    let shown = c["photos"].as_array().expect("photos");
    assert_eq!(shown.len(), 2);
    for (p, original) in shown.iter().zip(&photos) {
        let pid = p["id"].as_str().expect("id");
        let res = app
            .req(
                reqwest::Method::GET,
                &format!("/v1/capsules/{id}/photos/{pid}/original"),
                &user,
            )
            .send()
            .await
            .expect("original");
        assert_eq!(res.status(), 200);
        assert_eq!(
            res.bytes().await.expect("bytes").as_ref(),
            original.as_slice(),
            "byte for byte"
        );
        assert_eq!(
            p["thumbnails"], "ready",
            "the sealed thumbnails were checked and kept"
        );
    }
}

async fn the_escrow_key_opens_when_no_relay_answers_and_never_before_the_date(b: Backend) {
    let (local, relay) = chain_and_relay();
    let smtp = SmtpServer::start();
    let app = app(b, &local, &relay, &smtp).await;
    let user = app.new_user().await;
    let photos = vec![jpeg(300, 200, 41)];
    let (id, open_at) = draft(&app, &user, 120, &[]).await;
    assert_eq!(
        seal_on_device(&app, &user, id, open_at, &photos, true, None)
            .await
            .status(),
        200
    );
    relay.set_down(true);

    // Asked before the date, the escrow key is refused.
    let row = app.state.db.capsule(id).await.expect("db").expect("row");
    let early = sync_server::sealing::unseal::escrow_key(&app.state, &row, app.clock_now_utc());
    assert!(
        matches!(
            early,
            Err(sync_server::sealing::unseal::UnsealError::EscrowTooEarly(_))
        ),
        "escrow before the date"
    );
    let opened = sync_server::sealing::unseal::open(&app.state, id, app.clock_now_utc())
        .await
        .expect("open attempt");
    assert!(!opened, "nothing opens before the date");
    assert_eq!(app.state.db.escrow_uses(id).await.expect("uses"), 0);

    // After the date, with the drand network gone, the escrow key opens it, once, recorded.
    app.clock.advance(chrono::Duration::seconds(125));
    let r = deliver_due(&app.state, app.clock_now_utc())
        .await
        .expect("run");
    assert_eq!((r.opened, r.sent), (1, 2));
    assert_eq!(app.state.db.escrow_uses(id).await.expect("uses"), 1);
    let (_, got) = app.get_json(&user, &format!("/v1/capsules/{id}")).await;
    assert_eq!(got["capsule"]["note"], NOTE);
    assert_eq!(got["capsule"]["photos"].as_array().map(Vec::len), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_escrow_or_beacon_it_stays_sealed_and_opens_when_the_beacon_comes() {
    let (local, relay) = chain_and_relay();
    let smtp = SmtpServer::start();
    let app = app(Backend::SqliteFolder, &local, &relay, &smtp).await;
    let user = app.new_user().await;
    let photos = vec![jpeg(300, 200, 51)];
    let (id, open_at) = draft(&app, &user, 120, &[]).await;
    assert_eq!(
        seal_on_device(&app, &user, id, open_at, &photos, false, None)
            .await
            .status(),
        200
    );
    let round = local.chain.round_at(open_at);

    app.clock.advance(chrono::Duration::seconds(125));
    relay.set_down(true);
    let r = deliver_due(&app.state, app.clock_now_utc())
        .await
        .expect("run");
    assert_eq!(r.opened, 0);
    // A relay that lies is no better than none.
    relay.set_down(false);
    relay.publish_up_to(round);
    relay.set_forged(true);
    let (status, code) = error_code(app.fetch(app.url(&format!("/v1/beacon/{round}"))).await).await;
    assert_eq!((status, code.as_str()), (503, "unavailable"));
    app.clock.advance(chrono::Duration::minutes(2));
    let r = deliver_due(&app.state, app.clock_now_utc())
        .await
        .expect("run");
    assert_eq!(r.opened, 0);
    let (_, got) = app.get_json(&user, &format!("/v1/capsules/{id}")).await;
    assert_eq!(got["capsule"]["state"], "sealed");
    assert_eq!(app.state.db.escrow_uses(id).await.expect("uses"), 0);

    // The true beacon comes: it opens, nothing lost.
    relay.set_forged(false);
    app.clock.advance(chrono::Duration::minutes(2));
    let r = deliver_due(&app.state, app.clock_now_utc())
        .await
        .expect("run");
    assert_eq!((r.opened, r.sent), (1, 2));
    let (_, got) = app.get_json(&user, &format!("/v1/capsules/{id}")).await;
    assert_eq!(got["capsule"]["note"], NOTE);
    assert_eq!(got["capsule"]["photos"].as_array().map(Vec::len), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seals_for_another_round_or_chain_or_with_missing_files_are_refused() {
    let (local, relay) = chain_and_relay();
    let smtp = SmtpServer::start();
    let app = app(Backend::SqliteFolder, &local, &relay, &smtp).await;
    let user = app.new_user().await;
    let (id, open_at) = draft(&app, &user, 3600, &[]).await;
    let seal = |body: Value| {
        app.req(
            reqwest::Method::POST,
            &format!("/v1/capsules/{id}/seal"),
            &user,
        )
        .json(&body)
        .send()
    };
    let index = json!({"name": "index.age", "sha256": "a".repeat(64), "size": 10});
    let round = local.chain.round_at(open_at);
    let (status, code) = error_code(
        seal(json!({"round": round - 1, "chain_hash": local.chain.hash_hex(), "escrow": false, "items": [index]}))
            .await
            .expect("seal"),
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (422, "validation_failed"),
        "an early round"
    );
    let (status, code) = error_code(
        seal(json!({"round": round, "chain_hash": "b".repeat(64), "escrow": false, "items": [index]}))
            .await
            .expect("seal"),
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (422, "validation_failed"),
        "another chain"
    );
    let (status, code) = error_code(
        seal(json!({"round": round, "chain_hash": local.chain.hash_hex(), "escrow": false, "items": [index]}))
            .await
            .expect("seal"),
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (422, "upload_incomplete"),
        "a file never sent"
    );
    let refused = error_code(
        seal(
            json!({"round": round, "chain_hash": local.chain.hash_hex(), "escrow": false,
                    "items": [{"name": "../x.age", "sha256": "a".repeat(64), "size": 1}]}),
        )
        .await
        .expect("seal"),
    )
    .await;
    assert_eq!(refused, (422, "validation_failed".into()));
    let (_, got) = app.get_json(&user, &format!("/v1/capsules/{id}")).await;
    assert_eq!(got["capsule"]["state"], "draft", "nothing changed");
    assert_eq!(got["capsule"]["note"], NOTE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sealed_photo_that_fails_its_checks_at_opening_is_reported_and_never_sent() {
    let (local, relay) = chain_and_relay();
    let smtp = SmtpServer::start();
    let app = app(Backend::SqliteFolder, &local, &relay, &smtp).await;
    let user = app.new_user().await;
    // A device that did not check what it sealed: the second "photo" is no image at all.
    let not_a_photo = b"these bytes were never a photo; ".repeat(100);
    let photos = vec![jpeg(300, 200, 62), not_a_photo];
    let (id2, open_at2) = draft(&app, &user, 120, &[]).await;
    let res = seal_on_device(&app, &user, id2, open_at2, &photos, false, None).await;
    assert_eq!(res.status(), 200);
    app.clock.advance(chrono::Duration::seconds(125));
    relay.publish_up_to(local.chain.round_at(open_at2));
    let r = deliver_due(&app.state, app.clock_now_utc())
        .await
        .expect("run");
    assert_eq!(r.opened, 1);
    let (_, got) = app.get_json(&user, &format!("/v1/capsules/{id2}")).await;
    let c = &got["capsule"];
    assert_eq!(
        c["photos"].as_array().map(Vec::len),
        Some(1),
        "the damaged photo is not shown"
    );
    assert_eq!(c["photo_count"], 1);
    assert_eq!(c["refused_photos"][0]["file_name"], "kayak-1.jpg");
    assert!(
        c["refused_photos"][0]["reason"]
            .as_str()
            .is_some_and(|r| !r.is_empty())
    );
    let mails = smtp.wait_for(2, Duration::from_secs(10)).await;
    assert!(
        mails.iter().all(|m| m.inline_images.len() == 1),
        "one photo per email"
    );
}
