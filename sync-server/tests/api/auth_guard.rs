//! Every protected route, for tokens that must not work and for a second user.

use base64::Engine;
use reqwest::Method;
use serde_json::{Value, json};
use sync_server::auth::tokens::{TYPE_ACCESS, TYPE_UPLOAD, TokenKeys};
use uuid::Uuid;

use crate::both_backends;
use crate::helpers::{Backend, TestApp, User, draft_body, jpeg, spawn_app};

both_backends!(
    protected_routes_refuse_missing_expired_forged_and_wrong_type_tokens,
    a_second_user_gets_404_on_everything_of_the_first,
);

/// Every route behind a bearer token, with a body where it takes one.
fn protected_routes(capsule: Uuid, photo: Uuid) -> Vec<(Method, String, Option<Value>)> {
    let c = format!("/v1/capsules/{capsule}");
    let p = format!("{c}/photos/{photo}");
    let photo_body = json!({"sha256": "0".repeat(64), "size": 10, "content_type": "image/jpeg"});
    vec![
        (Method::DELETE, "/v1/sessions/current".into(), None),
        (
            Method::PUT,
            "/v1/account/password".into(),
            Some(json!({"current_password": "x", "new_password": "y"})),
        ),
        (
            Method::DELETE,
            "/v1/account".into(),
            Some(json!({"password": "x"})),
        ),
        (Method::PUT, c.clone(), Some(draft_body("t"))),
        (Method::GET, c.clone(), None),
        (Method::DELETE, c.clone(), None),
        (Method::POST, format!("{c}/seal"), None),
        (
            Method::POST,
            format!("{c}/links/revoke"),
            Some(json!({"recipient": "friend@example.com"})),
        ),
        (Method::PUT, p.clone(), Some(photo_body)),
        (Method::POST, format!("{p}/complete"), None),
        (Method::DELETE, p.clone(), None),
        (Method::GET, format!("{p}/original"), None),
        (Method::GET, format!("{p}/thumbnail"), None),
        (Method::GET, "/v1/sync?since=0".into(), None),
    ]
}

fn b64(v: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

fn claims(app: &TestApp, user: &User, typ: &str, session: &str) -> Value {
    let now = app.clock_now();
    json!({
        "iss": "image-time-capsule", "aud": "image-time-capsule-api",
        "sub": user.user_id.to_string(), "exp": now + 600, "nbf": now - 10, "iat": now - 10,
        "typ": typ, "sid": session,
    })
}

impl TestApp {
    fn clock_now(&self) -> i64 {
        chrono::Utc::now().timestamp()
    }
}

async fn protected_routes_refuse_missing_expired_forged_and_wrong_type_tokens(b: Backend) {
    let app = spawn_app(b).await;
    let user = app.new_user().await;
    let capsule = app.new_capsule(&user).await;
    let photo = app.add_photo(&user, capsule, &jpeg(32, 32, 3)).await;
    // The session id of the user's real session, so forged tokens differ only in what is
    // under test.
    let session = {
        let payload = user.access.split('.').nth(1).expect("jwt payload");
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .expect("b64");
        let v: Value = serde_json::from_slice(&raw).expect("claims");
        v["sid"].as_str().expect("sid").to_owned()
    };
    let now_ms = chrono::Utc::now().timestamp_millis();
    let keys = TokenKeys::new(crate::helpers::TEST_SECRET);
    let uid = user.user_id.to_string();
    let expired = keys
        .sign(
            TYPE_ACCESS,
            &uid,
            &session,
            now_ms - 3_600_000,
            std::time::Duration::from_secs(900),
        )
        .expect("sign");
    let foreign = TokenKeys::new(b"another-secret-another-secret-another-secret")
        .sign(
            TYPE_ACCESS,
            &uid,
            &session,
            now_ms,
            std::time::Duration::from_secs(900),
        )
        .expect("sign");
    let upload_typed = keys
        .sign(
            TYPE_UPLOAD,
            &uid,
            &session,
            now_ms,
            std::time::Duration::from_secs(900),
        )
        .expect("sign");
    let alg_none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&claims(&app, &user, TYPE_ACCESS, &session))
    );
    let alg_hs512 = {
        let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS512);
        jsonwebtoken::encode(
            &header,
            &claims(&app, &user, TYPE_ACCESS, &session),
            &jsonwebtoken::EncodingKey::from_secret(crate::helpers::TEST_SECRET),
        )
        .expect("sign")
    };
    let bad_tokens: Vec<(&str, Option<String>)> = vec![
        ("no token", None),
        ("expired", Some(expired)),
        ("alg none", Some(alg_none)),
        ("alg HS512", Some(alg_hs512)),
        ("signed with another key", Some(foreign)),
        ("refresh token as access", Some(user.refresh.clone())),
        ("upload token as access", Some(upload_typed)),
        ("garbage", Some("a.b.c".into())),
    ];
    for (method, path, body) in protected_routes(capsule, photo.id) {
        for (label, token) in &bad_tokens {
            let mut req = app.client.request(method.clone(), app.url(&path));
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            if let Some(b) = &body {
                req = req.json(b);
            }
            let res = req.send().await.expect("request");
            let status = res.status();
            let body: Value = res.json().await.unwrap_or(Value::Null);
            assert_eq!(status, 401, "{method} {path} with {label}: {body}");
            let code = body["error"]["code"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let want = if *label == "expired" {
                "token_expired"
            } else {
                "unauthorized"
            };
            assert_eq!(code, want, "{method} {path} with {label}");
        }
    }
    // And the real token still works: nothing above was refused for another reason.
    assert_eq!(
        app.get_json(&user, &format!("/v1/capsules/{capsule}"))
            .await
            .0,
        200
    );
}

async fn a_second_user_gets_404_on_everything_of_the_first(b: Backend) {
    let app = spawn_app(b).await;
    let owner = app.new_user().await;
    let other = app.new_user().await;
    let capsule = app.new_capsule(&owner).await;
    let photo = app.add_photo(&owner, capsule, &jpeg(32, 32, 4)).await;
    for (method, path, body) in protected_routes(capsule, photo.id) {
        if !path.starts_with("/v1/capsules") {
            continue;
        }
        let mut req = app.req(method.clone(), &path, &other);
        if let Some(b) = &body {
            req = req.json(b);
        }
        let res = req.send().await.expect("request");
        let status = res.status();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        assert_eq!(status, 404, "{method} {path}: {body}");
        assert_eq!(body["error"]["code"], "not_found", "{method} {path}");
    }
    // Nothing of the owner's changed, and nothing leaks into the other's feed.
    let (status, got) = app
        .get_json(&owner, &format!("/v1/capsules/{capsule}"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(got["capsule"]["title"], "Summer 2026");
    assert_eq!(got["capsule"]["photo_count"], 1);
    let (_, feed) = app.get_json(&other, "/v1/sync").await;
    assert_eq!(feed["changes"], json!([]));
    // The other user's own photo of the same bytes is separate: it needs its own upload.
    let theirs = app.new_capsule(&other).await;
    let res = app
        .declare(
            &other,
            theirs,
            Uuid::now_v7(),
            &jpeg(32, 32, 4),
            "image/jpeg",
        )
        .await;
    let declared: Value = res.json().await.expect("json");
    assert!(
        declared["upload"].is_object(),
        "dedupe must not cross users"
    );
}
