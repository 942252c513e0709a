use protocol::SessionResponse;
use reqwest::Method;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{Backend, PASSWORD, error_code, spawn_app, spawn_app_with};

both_backends!(
    sign_up_and_log_in_give_a_working_session,
    sign_up_refuses_weak_passwords_bad_emails_and_taken_emails,
    unknown_email_and_wrong_password_get_the_same_answer,
    failed_log_ins_are_limited_per_account_and_per_address,
    refresh_rotates_and_a_reused_token_revokes_the_family,
    log_out_ends_the_session_at_once,
    password_change_ends_other_sessions,
    account_deletion_removes_capsules_photos_blobs_and_tokens,
);

async fn sign_up_and_log_in_give_a_working_session(b: Backend) {
    let app = spawn_app(b).await;
    let user = app.new_user().await;
    let (status, body) = app.get_json(&user, "/v1/sync").await;
    assert_eq!(status, 200);
    assert_eq!(body["changes"], json!([]));
    // The email is matched without regard to case or spaces.
    let res = app
        .log_in_raw(&format!("  {}  ", user.email.to_uppercase()), PASSWORD)
        .await;
    assert_eq!(res.status(), 200);
    let s: SessionResponse = res.json().await.expect("session");
    assert_eq!(s.user_id, user.user_id);
    assert_eq!(s.expires_in, 900);
}

async fn sign_up_refuses_weak_passwords_bad_emails_and_taken_emails(b: Backend) {
    let app = spawn_app(b).await;
    for (email, password, status, code) in [
        ("a@example.com", "password", 422, "weak_password"),
        ("a@example.com", "12345678", 422, "weak_password"),
        ("a@example.com", "short", 422, "weak_password"),
        (
            "a@example.com",
            &"long-enough-".repeat(11),
            422,
            "weak_password",
        ),
        ("not-an-email", PASSWORD, 422, "validation_failed"),
    ] {
        let res = app
            .client
            .post(app.url("/v1/accounts"))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .expect("request");
        assert_eq!(
            error_code(res).await,
            (status, code.to_owned()),
            "{email} / {password}"
        );
    }
    assert_eq!(app.sign_up("taken@example.com").await.status(), 201);
    let (status, code) = error_code(app.sign_up("Taken@Example.com").await).await;
    assert_eq!((status, code.as_str()), (409, "email_taken"));
    // Unknown fields are refused, not ignored.
    let res = app
        .sign_up_with(&json!({"email": "x@example.com", "password": PASSWORD, "is_admin": true}))
        .await;
    assert_eq!(error_code(res).await.0, 400);
}

async fn unknown_email_and_wrong_password_get_the_same_answer(b: Backend) {
    let app = spawn_app(b).await;
    let user = app.new_user().await;
    let wrong = app.log_in_raw(&user.email, "not-the-password-42").await;
    let unknown = app
        .log_in_raw("nobody@example.com", "not-the-password-42")
        .await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(unknown.status(), 401);
    let a: serde_json::Value = wrong.json().await.expect("json");
    let b: serde_json::Value = unknown.json().await.expect("json");
    assert_eq!(a, b);
    assert_eq!(a["error"]["code"], "invalid_credentials");
    // An address no account can have (a NUL, which PostgreSQL refuses in text, and other
    // control characters) is an unknown one too, not a server error; so is the account's
    // own address with a control character in it, even with the right password.
    for email in [
        "\u{e6}\u{0}z".to_owned(),
        format!("{}\u{0}", user.email),
        "a\u{7}@example.com".to_owned(),
    ] {
        let odd = app.log_in_raw(&email, PASSWORD).await;
        assert_eq!(odd.status(), 401, "{email:?}");
        let c: serde_json::Value = odd.json().await.expect("json");
        assert_eq!(c, a, "{email:?}");
    }
}

async fn failed_log_ins_are_limited_per_account_and_per_address(b: Backend) {
    let app = spawn_app_with(b, |s| {
        s.limits.max_failures_per_account = 3;
        s.limits.max_failures_per_address = 6;
    })
    .await;
    let user = app.new_user().await;
    for _ in 0..3 {
        assert_eq!(
            app.log_in_raw(&user.email, "wrong-password-1")
                .await
                .status(),
            401
        );
    }
    // Locked now, even with the right password.
    let res = app.log_in_raw(&user.email, PASSWORD).await;
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(error_code(res).await, (429, "too_many_attempts".to_owned()));
    // Other accounts from this address still have some room, then the address is locked.
    let other = app.new_user().await;
    for _ in 0..3 {
        assert_eq!(
            app.log_in_raw("ghost@example.com", "wrong-password-1")
                .await
                .status(),
            401
        );
    }
    assert_eq!(app.log_in_raw(&other.email, PASSWORD).await.status(), 429);
    // After the window, the account and address may try again.
    app.clock.advance(chrono::Duration::minutes(16));
    assert_eq!(app.log_in_raw(&user.email, PASSWORD).await.status(), 200);
}

async fn refresh_rotates_and_a_reused_token_revokes_the_family(b: Backend) {
    let app = spawn_app(b).await;
    let user = app.new_user().await;
    let res = app.refresh(&user.refresh).await;
    assert_eq!(res.status(), 200);
    let second: SessionResponse = res.json().await.expect("session");
    assert_ne!(second.refresh_token, user.refresh);
    // The new access token works.
    let fresh = crate::helpers::User {
        access: second.access_token.clone(),
        refresh: second.refresh_token.clone(),
        ..user.clone()
    };
    assert_eq!(app.get_json(&fresh, "/v1/sync").await.0, 200);
    // Presenting the spent token again is theft: the whole family goes.
    assert_eq!(
        error_code(app.refresh(&user.refresh).await).await,
        (401, "refresh_token_reused".to_owned())
    );
    assert_eq!(
        error_code(app.refresh(&second.refresh_token).await).await,
        (401, "invalid_refresh_token".to_owned())
    );
    assert_eq!(app.get_json(&fresh, "/v1/sync").await.0, 401);
    // Garbage is just invalid.
    assert_eq!(app.refresh("garbage").await.status(), 401);
}

async fn log_out_ends_the_session_at_once(b: Backend) {
    let app = spawn_app(b).await;
    let user = app.new_user().await;
    let other_device = app.log_in(&user.email).await;
    let res = app
        .req(Method::DELETE, "/v1/sessions/current", &user)
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 204);
    assert_eq!(app.get_json(&user, "/v1/sync").await.0, 401);
    assert_eq!(app.refresh(&user.refresh).await.status(), 401);
    assert_eq!(app.get_json(&other_device, "/v1/sync").await.0, 200);
}

async fn password_change_ends_other_sessions(b: Backend) {
    let app = spawn_app(b).await;
    let user = app.new_user().await;
    let other_device = app.log_in(&user.email).await;
    let change = |current: &str, new: &str| {
        app.req(Method::PUT, "/v1/account/password", &user)
            .json(&json!({"current_password": current, "new_password": new}))
            .send()
    };
    let res = change("wrong-current-pass", "new-harbour-violet-88")
        .await
        .expect("request");
    assert_eq!(
        error_code(res).await,
        (403, "invalid_credentials".to_owned())
    );
    let res = change(PASSWORD, "password1").await.expect("request");
    assert_eq!(error_code(res).await, (422, "weak_password".to_owned()));
    let res = change(PASSWORD, "new-harbour-violet-88")
        .await
        .expect("request");
    assert_eq!(res.status(), 204);
    assert_eq!(app.get_json(&user, "/v1/sync").await.0, 200);
    assert_eq!(app.get_json(&other_device, "/v1/sync").await.0, 401);
    assert_eq!(app.refresh(&other_device.refresh).await.status(), 401);
    assert_eq!(app.log_in_raw(&user.email, PASSWORD).await.status(), 401);
    assert_eq!(
        app.log_in_raw(&user.email, "new-harbour-violet-88")
            .await
            .status(),
        200
    );
}

async fn account_deletion_removes_capsules_photos_blobs_and_tokens(b: Backend) {
    let app = spawn_app(b).await;
    let user = app.new_user().await;
    let capsule = app.new_capsule(&user).await;
    let bytes = crate::helpers::jpeg(64, 48, 1);
    let photo = app.add_photo(&user, capsule, &bytes).await;
    let uid = user.user_id.to_string();
    let original = sync_server::blob::keys::original(&uid, &photo.sha256);
    assert!(app.state.blobs.get(&original).await.expect("get").is_some());

    let res = app.delete_account(&user, "wrong-password-1").await;
    assert_eq!(res.status(), 403);
    let res = app.delete_account(&user, PASSWORD).await;
    assert_eq!(res.status(), 204);
    for key in [
        original,
        sync_server::blob::keys::thumbnail(&uid, &photo.sha256),
    ] {
        assert!(
            app.state.blobs.get(&key).await.expect("get").is_none(),
            "{key} survived"
        );
    }
    assert!(app.state.db.capsule(capsule).await.expect("db").is_none());
    assert_eq!(app.get_json(&user, "/v1/sync").await.0, 401);
    assert_eq!(app.refresh(&user.refresh).await.status(), 401);
    assert_eq!(app.log_in_raw(&user.email, PASSWORD).await.status(), 401);
}
