use protocol::{Change, SyncResponse};
use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

use crate::both_backends;
use crate::helpers::{Backend, TestApp, User, draft_body, jpeg, spawn_app};

both_backends!(
    sync_pages_through_every_change_in_order,
    sync_carries_edits_photos_and_deletions_to_another_device,
);

async fn pull(app: &TestApp, user: &User, since: u64, limit: u32) -> SyncResponse {
    let res = app
        .req(
            Method::GET,
            &format!("/v1/sync?since={since}&limit={limit}"),
            user,
        )
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 200);
    res.json().await.expect("sync")
}

async fn sync_pages_through_every_change_in_order(b: Backend) {
    let app = spawn_app(b).await;
    let user = app.new_user().await;
    let mut ids = Vec::new();
    for _ in 0..7 {
        ids.push(app.new_capsule(&user).await);
    }
    let mut seen = Vec::new();
    let mut cursor = 0;
    let mut pages = 0;
    loop {
        let page = pull(&app, &user, cursor, 3).await;
        pages += 1;
        for c in &page.changes {
            assert!(c.seq() > cursor);
            if let Change::Capsule { capsule, .. } = c {
                seen.push(capsule.id);
            }
        }
        cursor = page.cursor;
        if !page.has_more {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ids);
    // Nothing new: an empty page at the same cursor.
    let idle = pull(&app, &user, cursor, 3).await;
    assert!(idle.changes.is_empty() && !idle.has_more && idle.cursor == cursor);
    for bad in ["limit=0", "limit=501", "since=-1", "since=abc"] {
        let res = app
            .req(Method::GET, &format!("/v1/sync?{bad}"), &user)
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 400, "{bad}");
    }
}

async fn sync_carries_edits_photos_and_deletions_to_another_device(b: Backend) {
    let app = spawn_app(b).await;
    let laptop = app.new_user().await;
    let desktop = app.log_in(&laptop.email).await;
    let start = pull(&app, &desktop, 0, 100).await.cursor;

    let id = app.new_capsule(&laptop).await;
    let photo = app.add_photo(&laptop, id, &jpeg(30, 20, 1)).await;
    let res = app
        .req(Method::PUT, &format!("/v1/capsules/{id}"), &laptop)
        .header("if-match", "1")
        .json(&draft_body("Edited on the laptop"))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 200);

    let page = pull(&app, &desktop, start, 100).await;
    // One entry per entity, its latest state: the photo ready, the capsule edited.
    assert_eq!(page.changes.len(), 2, "{:?}", page.changes);
    match &page.changes[0] {
        Change::Photo { photo: p, .. } => {
            assert_eq!(p.id, photo.id);
            assert_eq!(p.state, protocol::PhotoState::Ready);
        }
        other => panic!("expected the photo first, got {other:?}"),
    }
    match &page.changes[1] {
        Change::Capsule { capsule, .. } => {
            assert_eq!(capsule.title, "Edited on the laptop");
            assert_eq!(capsule.photo_count, 1);
            assert_eq!(capsule.version, 2);
        }
        other => panic!("expected the capsule, got {other:?}"),
    }
    let cursor = page.cursor;
    let res = app
        .req(
            Method::DELETE,
            &format!("/v1/capsules/{id}/photos/{}", photo.id),
            &laptop,
        )
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 204);
    let page = pull(&app, &desktop, cursor, 100).await;
    let kinds: Vec<serde_json::Value> = page
        .changes
        .iter()
        .map(|c| serde_json::to_value(c).expect("json")["kind"].clone())
        .collect();
    assert_eq!(kinds, vec![json!("photo_deleted"), json!("capsule")]);
    // Another user's changes never show up.
    let stranger = app.new_user().await;
    app.new_capsule(&stranger).await;
    let after = pull(&app, &desktop, page.cursor, 100).await;
    assert!(after.changes.is_empty());
    let _ = Uuid::nil();
}
