use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::helpers::{Backend, spawn_app, spawn_app_with};

#[tokio::test]
async fn openapi_document_lists_every_route() {
    let app = spawn_app(Backend::SqliteFolder).await;
    let doc: Value = app
        .fetch(app.url("/v1/openapi.json"))
        .await
        .json()
        .await
        .expect("json");
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    let paths = doc["paths"].as_object().expect("paths");
    for (path, method) in [
        ("/v1/accounts", "post"),
        ("/v1/sessions", "post"),
        ("/v1/sessions/refresh", "post"),
        ("/v1/sessions/current", "delete"),
        ("/v1/account/password", "put"),
        ("/v1/account", "delete"),
        ("/v1/capsules/{id}", "put"),
        ("/v1/capsules/{id}", "get"),
        ("/v1/capsules/{id}", "delete"),
        ("/v1/capsules/{id}/seal", "post"),
        ("/v1/capsules/{id}/links/revoke", "post"),
        ("/v1/capsules/{id}/photos/{photo_id}", "put"),
        ("/v1/capsules/{id}/photos/{photo_id}", "delete"),
        ("/v1/capsules/{id}/photos/{photo_id}/complete", "post"),
        ("/v1/capsules/{id}/photos/{photo_id}/original", "get"),
        ("/v1/capsules/{id}/photos/{photo_id}/thumbnail", "get"),
        ("/v1/uploads/{photo_id}", "put"),
        ("/v1/sync", "get"),
        ("/healthz", "get"),
        ("/readyz", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} missing"
        );
    }
    assert!(doc["components"]["schemas"]["CapsuleWrite"].is_object());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}

#[tokio::test]
async fn probes_answer_and_unknown_routes_get_a_json_404() {
    for b in [Backend::SqliteFolder, Backend::PostgresS3] {
        let app = spawn_app(b).await;
        for probe in ["/healthz", "/readyz"] {
            let res = app.fetch(app.url(probe)).await;
            assert_eq!(res.status(), 200, "{probe} on {b:?}");
        }
        let res = app.fetch(app.url("/v1/nothing-here")).await;
        assert_eq!(res.status(), 404);
        assert_eq!(res.headers()["x-content-type-options"], "nosniff");
        let body: Value = res.json().await.expect("json");
        assert_eq!(body["error"]["code"], "not_found");
    }
}

#[tokio::test]
async fn readiness_fails_while_the_blob_store_is_gone() {
    let app = spawn_app(Backend::SqliteFolder).await;
    std::fs::remove_dir_all(app.data_dir.join("blobs")).expect("remove blobs");
    let res = app.fetch(app.url("/readyz")).await;
    assert_eq!(res.status(), 503);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["blob_store"], "unavailable");
    assert_eq!(body["database"], "ok");
}

#[tokio::test]
async fn serves_https_with_the_given_certificate() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).expect("cert");
    let dir = tempfile::tempdir().expect("tmp");
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).expect("write");
    std::fs::write(&key_path, cert.key_pair.serialize_pem()).expect("write");
    let app = spawn_app_with(Backend::SqliteFolder, |s| {
        s.http.tls = Some((cert_path.clone(), key_path.clone()));
    })
    .await;
    let client = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).expect("pem"),
        )
        .resolve("localhost", app.addr)
        .build()
        .expect("client");
    let url = format!("https://localhost:{}/healthz", app.addr.port());
    let res = client.get(&url).send().await.expect("https request");
    assert_eq!(res.status(), 200);
    // Plain HTTP to the TLS port does not get an answer.
    assert!(app.client.get(app.url("/healthz")).send().await.is_err());
}

/// The real binary with no configuration but a data folder: it generates and keeps a
/// secret, says where it listens and where its data is, and stops cleanly on SIGTERM.
#[test]
fn the_binary_runs_on_embedded_defaults_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("tmp");
    let port = crate::helpers::free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sync-server"))
        .args(["--bind", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(dir.path())
        .env_remove("ITC_DATABASE_URL")
        .env_remove("ITC_BLOB_STORE")
        .env_remove("ITC_JWT_SECRET")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let line = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|l| l.contains("sync server listening"))
        .expect("a listening line");
    assert!(line.contains(&format!("127.0.0.1:{port}")), "{line}");
    assert!(line.contains(&dir.path().display().to_string()), "{line}");
    let secret = dir.path().join("jwt-secret");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&secret).expect("secret").permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    assert!(dir.path().join("server.db").exists());
    let body = reqwest::blocking_get(port);
    assert!(body.contains("\"ok\""), "{body}");
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            assert!(status.success(), "exit status {status}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The same secret is used on the next start.
    let before = std::fs::read(&secret).expect("secret");
    let again = Command::new(env!("CARGO_BIN_EXE_sync-server"))
        .args(["--bind", "127.0.0.1:1", "--production"])
        .arg("--data-dir")
        .arg(dir.path())
        .env_remove("ITC_JWT_SECRET")
        .output()
        .expect("run");
    assert!(
        !again.status.success(),
        "--production must refuse a generated secret"
    );
    assert_eq!(std::fs::read(&secret).expect("secret"), before);
}

mod reqwest {
    pub use ::reqwest::*;

    /// A GET of /readyz with a fresh runtime (the test itself is synchronous).
    pub fn blocking_get(port: u16) -> String {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            ::reqwest::get(format!("http://127.0.0.1:{port}/readyz"))
                .await
                .expect("request")
                .text()
                .await
                .expect("text")
        })
    }
}
