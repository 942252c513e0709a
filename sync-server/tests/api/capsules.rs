use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::both_backends;
use crate::helpers::{Backend, draft_body, error_code, jpeg, spawn_app, spawn_app_with};

both_backends!(
    drafts_are_versioned_and_a_stale_write_gets_409,
    a_retried_create_is_answered_not_refused,
    bad_capsule_fields_get_clear_errors,
    sealing_needs_an_open_date_far_enough_and_some_content,
    sealing_waits_for_every_photo_to_be_uploaded,
    a_sealed_capsule_refuses_changes_and_hides_its_contents_from_the_owner,
    deleting_a_capsule_leaves_a_tombstone_and_frees_its_photos,
);

async fn drafts_are_versioned_and_a_stale_write_gets_409(b: Backend) {
    let app = spawn_app(b).await;
    let user = app.new_user().await;
    let id = app.new_capsule(&user).await;
    let mut body = draft_body("Renamed");
    let res = app
        .req(Method::PUT, &format!("/v1/capsules/{id}"), &user)
        .header("if-match", "\"1\"")
        .json(&body)
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["etag"], "\"2\"");
    let got: Value = res.json().await.expect("json");
    assert_eq!(got["capsule"]["version"], 2);
    assert_eq!(got["capsule"]["title"], "Renamed");
    // Another device still at version 1 loses, and is told the current version.
    body["title"] = json!("Stale edit");
    let res = app
        .req(Method::PUT, &format!("/v1/capsules/{id}"), &user)
        .header("if-match", "1")
        .json(&body)
        .send()
        .await
        .expect("request");
    assert_eq!(error_code(res).await, (409, "version_conflict".to_owned()));
    let (_, got) = app.get_json(&user, &format!("/v1/capsules/{id}")).await;
    assert_eq!(got["capsule"]["title"], "Renamed");
    // Updating a capsule that does not exist is a 404, not a create.
    let res = app
        .req(
            Method::PUT,
            &format!("/v1/capsules/{}", Uuid::now_v7()),
            &user,
        )
        .header("if-match", "1")
        .json(&body)
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 404);
}

async fn a_retried_create_is_answered_not_refused(b: Backend) {
    let app = spawn_app(b).await;
    let user = app.new_user().await;
    let id = Uuid::now_v7();
    let body = draft_body("Once");
    assert_eq!(app.put_capsule(&user, id, &body).await.status(), 201);
    let again = app.put_capsule(&user, id, &body).await;
    assert_eq!(again.status(), 200);
    let got: Value = again.json().await.expect("json");
    assert_eq!(got["capsule"]["version"], 1);
    // A create with other fields over an existing capsule is a conflict to merge.
    let res = app.put_capsule(&user, id, &draft_body("Other")).await;
    assert_eq!(error_code(res).await, (409, "version_conflict".to_owned()));
}

async fn bad_capsule_fields_get_clear_errors(b: Backend) {
    let app = spawn_app(b).await;
    let user = app.new_user().await;
    let too_many: Vec<String> = (0..21).map(|i| format!("r{i}@example.com")).collect();
    let cases = [
        (json!({"title": "", "time_zone": "UTC"}), 422),
        (json!({"title": "x".repeat(201), "time_zone": "UTC"}), 422),
        (
            json!({"title": "a\r\nBcc: evil@example.com", "time_zone": "UTC"}),
            422,
        ),
        (json!({"title": "t", "time_zone": "Not a zone!"}), 422),
        (
            json!({"title": "t", "time_zone": "UTC", "recipients": ["not-an-address"]}),
            422,
        ),
        (
            json!({"title": "t", "time_zone": "UTC", "recipients": ["a@b.example\r\nBcc: x@y.example"]}),
            422,
        ),
        (
            json!({"title": "t", "time_zone": "UTC", "recipients": too_many}),
            422,
        ),
        (
            json!({"title": "t", "time_zone": "UTC", "open_at": "2300-01-01T00:00:00Z"}),
            422,
        ),
        (
            json!({"title": "t", "time_zone": "UTC", "state": "opened"}),
            400,
        ),
        (
            json!({"title": "t", "time_zone": "UTC", "open_at": "tomorrow"}),
            400,
        ),
    ];
    for (body, status) in cases {
        let res = app.put_capsule(&user, Uuid::now_v7(), &body).await;
        assert_eq!(res.status().as_u16(), status, "{body}");
        let err: Value = res.json().await.expect("json");
        assert!(
            err["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    // Recipients are normalised and deduplicated.
    let id = Uuid::now_v7();
    let res = app
        .put_capsule(
            &user,
            id,
            &json!({"title": "t", "time_zone": "UTC",
                    "recipients": [" Ann@Example.com", "ann@example.com", "bo@example.com"]}),
        )
        .await;
    let got: Value = res.json().await.expect("json");
    assert_eq!(
        got["capsule"]["recipients"],
        json!(["ann@example.com", "bo@example.com"])
    );
    // Not JSON at all.
    let res = app
        .req(
            Method::PUT,
            &format!("/v1/capsules/{}", Uuid::now_v7()),
            &user,
        )
        .body("title=x")
        .send()
        .await
        .expect("request");
    assert_eq!(
        error_code(res).await,
        (415, "unsupported_media_type".to_owned())
    );
    // A malformed id is simply not found.
    let res = app
        .req(Method::GET, "/v1/capsules/not-a-uuid", &user)
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 404);
}

async fn sealing_needs_an_open_date_far_enough_and_some_content(b: Backend) {
    let app = spawn_app_with(b, |s| {
        s.limits.min_lead = std::time::Duration::from_secs(60)
    })
    .await;
    let user = app.new_user().await;
    let id = Uuid::now_v7();
    let put = |body: Value, version: Option<i64>| {
        let mut r = app
            .req(Method::PUT, &format!("/v1/capsules/{id}"), &user)
            .json(&body);
        if let Some(v) = version {
            r = r.header("if-match", v.to_string());
        }
        r.send()
    };
    put(json!({"title": "t", "time_zone": "UTC"}), None)
        .await
        .expect("request");
    assert_eq!(
        error_code(app.seal(&user, id).await).await,
        (422, "open_at_missing".to_owned())
    );
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(20)).to_rfc3339();
    put(
        json!({"title": "t", "time_zone": "UTC", "open_at": soon}),
        Some(1),
    )
    .await
    .expect("request");
    assert_eq!(
        error_code(app.seal(&user, id).await).await,
        (422, "open_at_too_soon".to_owned())
    );
    let past = "2020-01-01T00:00:00Z";
    put(
        json!({"title": "t", "time_zone": "UTC", "open_at": past}),
        Some(2),
    )
    .await
    .expect("request");
    assert_eq!(
        error_code(app.seal(&user, id).await).await,
        (422, "open_at_too_soon".to_owned())
    );
    let later = (chrono::Utc::now() + chrono::Duration::minutes(5)).to_rfc3339();
    put(
        json!({"title": "t", "time_zone": "UTC", "open_at": later}),
        Some(3),
    )
    .await
    .expect("request");
    assert_eq!(
        error_code(app.seal(&user, id).await).await,
        (422, "capsule_empty".to_owned())
    );
    put(
        json!({"title": "t", "time_zone": "UTC", "open_at": later, "note": "Dear future me"}),
        Some(4),
    )
    .await
    .expect("request");
    // Sealing a version the person did not see is refused.
    let res = app
        .req(Method::POST, &format!("/v1/capsules/{id}/seal"), &user)
        .header("if-match", "4")
        .send()
        .await
        .expect("request");
    assert_eq!(error_code(res).await, (409, "version_conflict".to_owned()));
    let res = app.seal(&user, id).await;
    assert_eq!(res.status(), 200);
    let got: Value = res.json().await.expect("json");
    assert_eq!(got["capsule"]["state"], "sealed");
    // Sealing again answers the sealed capsule (a retry after a lost answer).
    assert_eq!(app.seal(&user, id).await.status(), 200);
}

async fn sealing_waits_for_every_photo_to_be_uploaded(b: Backend) {
    let app = spawn_app(b).await;
    let user = app.new_user().await;
    let id = app.new_capsule(&user).await;
    app.add_photo(&user, id, &jpeg(40, 30, 1)).await;
    let pending = Uuid::now_v7();
    let res = app
        .declare(&user, id, pending, &jpeg(40, 30, 2), "image/jpeg")
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        error_code(app.seal(&user, id).await).await,
        (422, "photo_not_uploaded".to_owned())
    );
    // Dropping the unfinished photo makes the capsule sealable.
    let res = app
        .req(
            Method::DELETE,
            &format!("/v1/capsules/{id}/photos/{pending}"),
            &user,
        )
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 204);
    assert_eq!(app.seal(&user, id).await.status(), 200);
}

async fn a_sealed_capsule_refuses_changes_and_hides_its_contents_from_the_owner(b: Backend) {
    let app = spawn_app(b).await;
    let user = app.new_user().await;
    let id = app.new_capsule(&user).await;
    let photo = app.add_photo(&user, id, &jpeg(40, 30, 5)).await;
    assert_eq!(app.seal(&user, id).await.status(), 200);

    let (status, got) = app.get_json(&user, &format!("/v1/capsules/{id}")).await;
    assert_eq!(status, 200);
    let c = &got["capsule"];
    assert_eq!(c["state"], "sealed");
    assert_eq!(c["photo_count"], 1);
    assert_eq!(c["title"], "Summer 2026");
    for hidden in ["note", "recipients", "photos"] {
        assert!(
            c.get(hidden).is_none(),
            "{hidden} visible while sealed: {c}"
        );
    }
    let text = got.to_string();
    assert!(!text.contains("Remember the lake") && !text.contains("friend@example.com"));
    assert!(!text.contains(&photo.sha256));

    for variant in ["original", "thumbnail"] {
        let res = app
            .req(
                Method::GET,
                &format!("/v1/capsules/{id}/photos/{}/{variant}", photo.id),
                &user,
            )
            .send()
            .await
            .expect("request");
        assert_eq!(
            error_code(res).await,
            (403, "capsule_sealed".to_owned()),
            "{variant}"
        );
    }
    let res = app
        .req(Method::PUT, &format!("/v1/capsules/{id}"), &user)
        .header("if-match", c["version"].to_string())
        .json(&draft_body("Changed after sealing"))
        .send()
        .await
        .expect("request");
    assert_eq!(error_code(res).await, (409, "capsule_sealed".to_owned()));
    let res = app
        .declare(&user, id, Uuid::now_v7(), &jpeg(8, 8, 6), "image/jpeg")
        .await;
    assert_eq!(error_code(res).await, (409, "capsule_sealed".to_owned()));
    let res = app
        .req(
            Method::DELETE,
            &format!("/v1/capsules/{id}/photos/{}", photo.id),
            &user,
        )
        .send()
        .await
        .expect("request");
    assert_eq!(error_code(res).await, (409, "capsule_sealed".to_owned()));

    let (_, feed) = app.get_json(&user, "/v1/sync?since=0").await;
    let feed_text = feed.to_string();
    assert!(!feed_text.contains("Remember the lake"));
    assert!(
        !feed_text.contains(&photo.sha256),
        "photo metadata leaked through sync"
    );
}

async fn deleting_a_capsule_leaves_a_tombstone_and_frees_its_photos(b: Backend) {
    let app = spawn_app(b).await;
    let user = app.new_user().await;
    let keep = app.new_capsule(&user).await;
    let gone = app.new_capsule(&user).await;
    let shared = jpeg(40, 30, 7);
    let only_here = jpeg(40, 30, 8);
    let p1 = app.add_photo(&user, keep, &shared).await;
    app.add_photo(&user, gone, &shared).await;
    let p3 = app.add_photo(&user, gone, &only_here).await;
    let (_, before) = app.get_json(&user, "/v1/sync").await;
    let cursor = before["cursor"].as_u64().expect("cursor");

    let res = app
        .req(Method::DELETE, &format!("/v1/capsules/{gone}"), &user)
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 204);
    assert_eq!(
        app.get_json(&user, &format!("/v1/capsules/{gone}")).await.0,
        404
    );
    let (_, feed) = app
        .get_json(&user, &format!("/v1/sync?since={cursor}"))
        .await;
    assert_eq!(
        feed["changes"],
        json!([{"kind": "capsule_deleted", "seq": cursor + 1, "id": gone}])
    );

    let uid = user.user_id.to_string();
    let still = sync_server::blob::keys::original(&uid, &p1.sha256);
    let freed = sync_server::blob::keys::original(&uid, &p3.sha256);
    assert!(
        app.state.blobs.get(&still).await.expect("get").is_some(),
        "shared bytes deleted"
    );
    assert!(
        app.state.blobs.get(&freed).await.expect("get").is_none(),
        "orphan bytes kept"
    );
}
