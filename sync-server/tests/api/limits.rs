//! Bounded under a flood: with small limits, hashing, sign-ups, requests in flight and
//! upload streams answer 503 (or 429) with Retry-After in the API's format, never a 500,
//! and the probes keep answering. Sign-up limits live in the database: a restart and a
//! second process see the same counts.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures_util::future::join_all;
use protocol::PhotoUploadResponse;
use serde_json::json;
use uuid::Uuid;

use crate::both_backends;
use crate::helpers::{
    Backend, DropDatabase, PASSWORD, error_code, free_port, fresh_postgres_database, jpeg,
    spawn_app_with, wait_for_port,
};

/// A 503 or 429 must say when to come back, in seconds, and carry the API's error body.
async fn assert_come_back_later(res: reqwest::Response, status: u16) {
    assert_eq!(res.status().as_u16(), status);
    let wait: u64 = res
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    assert!(wait >= 1);
    let (_, code) = error_code(res).await;
    let want = if status == 503 {
        "unavailable"
    } else {
        "too_many_attempts"
    };
    assert_eq!(code, want);
}

async fn hashing_past_its_slots_and_queue_answers_503_with_retry_after(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.limits.max_password_hashes = 2;
        s.limits.password_hash_queue = 2;
        s.limits.max_sign_ups_per_address = 1_000;
    })
    .await;
    let sign_ups = (0..24).map(|i| {
        let client = app.client.clone();
        let url = app.url("/v1/accounts");
        async move {
            client
                .post(url)
                .json(&json!({"email": format!("flood{i}@example.com"), "password": PASSWORD}))
                .send()
                .await
                .expect("request")
        }
    });
    let answers = join_all(sign_ups).await;
    let (mut made, mut busy) = (0, 0);
    for res in answers {
        match res.status().as_u16() {
            201 => made += 1,
            503 => {
                busy += 1;
                assert_come_back_later(res, 503).await;
            }
            other => panic!("a flooded sign-up answered {other}"),
        }
    }
    assert!(made >= 2, "some sign-ups went through ({made})");
    assert!(
        busy >= 1,
        "past two running and two waiting, some were turned away"
    );

    // Log-ins, with unknown emails, go through the same slots.
    let emails: Vec<String> = (0..24).map(|i| format!("nobody{i}@example.com")).collect();
    let log_ins = emails.iter().map(|e| app.log_in_raw(e, PASSWORD));
    let mut refused = 0;
    for res in join_all(log_ins).await {
        match res.status().as_u16() {
            401 => {}
            503 => {
                refused += 1;
                assert_come_back_later(res, 503).await;
            }
            other => panic!("a flooded log-in answered {other}"),
        }
    }
    assert!(refused >= 1);
    assert_eq!(app.fetch(app.url("/healthz")).await.status(), 200);
}

async fn sign_ups_are_limited_per_address_and_per_ipv6_slash_64(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.http.trust_forwarded_for = true;
        s.limits.max_sign_ups_per_address = 2;
    })
    .await;
    let sign_up = |from: &'static str| {
        let client = app.client.clone();
        let url = app.url("/v1/accounts");
        async move {
            client
                .post(url)
                .header("x-forwarded-for", from)
                .json(&json!({
                    "email": format!("u{}@example.com", Uuid::new_v4().simple()),
                    "password": PASSWORD,
                }))
                .send()
                .await
                .expect("request")
        }
    };
    for from in ["192.0.2.1", "192.0.2.1"] {
        assert_eq!(sign_up(from).await.status(), 201);
    }
    assert_come_back_later(sign_up("192.0.2.1").await, 429).await;
    assert_eq!(sign_up("192.0.2.2").await.status(), 201, "another address");

    // Every address of one /64 is one subscriber.
    for from in ["2001:db8:1:2::1", "2001:db8:1:2:abcd::7"] {
        assert_eq!(sign_up(from).await.status(), 201);
    }
    assert_come_back_later(sign_up("2001:db8:1:2::99").await, 429).await;
    assert_eq!(
        sign_up("2001:db8:1:3::1").await.status(),
        201,
        "another /64"
    );
}

async fn full_upload_streams_and_requests_in_flight_shed_but_probes_answer(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.limits.max_upload_streams = 1;
        s.limits.max_requests_in_flight = 3;
    })
    .await;
    let user = app.new_user().await;
    let capsule = app.new_capsule(&user).await;
    let photo = jpeg(64, 48, 3);
    let mut targets = Vec::new();
    for _ in 0..2 {
        let res = app
            .declare(&user, capsule, Uuid::now_v7(), &photo, "image/jpeg")
            .await;
        assert_eq!(res.status(), 200);
        let declared: PhotoUploadResponse = res.json().await.expect("declared");
        targets.push(declared.upload);
    }
    // S3 uploads go to the bucket, not through the server; a folder store's go through it.
    let mut held = None;
    if let [Some(first), Some(second)] = targets.as_slice()
        && first.url.starts_with(&app.base)
    {
        // An upload that sends a little and then waits holds the only upload stream.
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
        tx.send(Ok(photo[..10].to_vec()))
            .await
            .expect("first bytes");
        let mut slow = app
            .client
            .put(&first.url)
            .body(reqwest::Body::wrap_stream(tokio_stream_of(rx)));
        for (k, v) in &first.headers {
            slow = slow.header(k, v);
        }
        held = Some((tx, tokio::spawn(slow.send())));
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut again = app.client.put(&second.url).body(photo.clone());
        for (k, v) in &second.headers {
            again = again.header(k, v);
        }
        assert_come_back_later(again.send().await.expect("upload"), 503).await;
        let answer = refused_body_sent_late(&second.url, &second.headers).await;
        assert!(
            answer.starts_with("HTTP/1.1 503")
                && answer.to_ascii_lowercase().contains("\r\nretry-after: "),
            "a refused upload whose body comes after a pause still gets its 503: {answer:?}"
        );
    } else {
        assert_eq!(backend, Backend::PostgresS3);
    }

    // Requests held open fill the three in flight; the next is shed, probes are not.
    let slow_json = || {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
        let req = app
            .req(
                reqwest::Method::PUT,
                &format!("/v1/capsules/{}", Uuid::now_v7()),
                &user,
            )
            .header("content-type", "application/json")
            .body(reqwest::Body::wrap_stream(tokio_stream_of(rx)));
        (tx, tokio::spawn(req.send()))
    };
    let mut holds: Vec<_> = (0..2).map(|_| slow_json()).collect();
    if held.is_none() {
        holds.push(slow_json());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let shed = app
        .req(reqwest::Method::GET, "/v1/sync", &user)
        .send()
        .await
        .expect("sync");
    assert_come_back_later(shed, 503).await;
    assert_eq!(app.fetch(app.url("/healthz")).await.status(), 200);
    assert_eq!(app.fetch(app.url("/readyz")).await.status(), 200);

    // Once they finish, the server serves again.
    drop(holds);
    if let Some((tx, upload)) = held {
        drop(tx);
        let _ = upload.await;
    }
    let mut ok = false;
    for _ in 0..50 {
        let (status, _) = app.get_json(&user, "/v1/sync").await;
        if status == 200 {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ok, "the server serves again once the slots are free");
}

/// Sends an upload's head, waits, then its 200 KB body in pieces, as a slow link would, and
/// reads the answer. A server that answered and closed before reading the body resets the
/// connection under the writer, which then never reads the answer (reqwest: broken pipe).
async fn refused_body_sent_late(
    url: &str,
    headers: &std::collections::BTreeMap<String, String>,
) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let url = reqwest::Url::parse(url).expect("upload URL");
    let host = format!(
        "{}:{}",
        url.host_str().expect("host"),
        url.port().expect("port")
    );
    let mut stream = tokio::net::TcpStream::connect(&host)
        .await
        .expect("connect");
    let body = vec![0x5a_u8; 200 * 1024];
    let mut head = format!(
        "PUT {}?{} HTTP/1.1\r\nhost: {host}\r\ncontent-length: {}\r\n",
        url.path(),
        url.query().unwrap_or_default(),
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.expect("head");
    tokio::time::sleep(Duration::from_millis(300)).await;
    for piece in body.chunks(16 * 1024) {
        if let Err(e) = stream.write_all(piece).await {
            return format!("reset while the body was being sent: {e}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut answer = vec![0; 4096];
    let n = stream
        .read(&mut answer)
        .await
        .expect("the answer, not a reset");
    String::from_utf8_lossy(&answer[..n]).into_owned()
}

/// The receiver as a stream of body chunks.
fn tokio_stream_of(
    mut rx: tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

both_backends!(
    hashing_past_its_slots_and_queue_answers_503_with_retry_after,
    sign_ups_are_limited_per_address_and_per_ipv6_slash_64,
    full_upload_streams_and_requests_in_flight_shed_but_probes_answer,
);

struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A sync-server process on `db` that trusts X-Forwarded-For and allows two sign-ups per
/// address.
fn server_on(db: &str, dir: &std::path::Path) -> (Process, String) {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_sync-server"))
        .args(["--bind", &format!("127.0.0.1:{port}"), "--database-url", db])
        .args(["--trust-forwarded-for", "--max-sign-ups-per-address", "2"])
        .args(["--no-delivery-ticker"])
        .arg("--data-dir")
        .arg(dir.join(port.to_string()))
        .env(
            "ITC_JWT_SECRET",
            "one-secret-shared-by-both-processes-0123456789",
        )
        .env("RUST_LOG", "warn")
        .env_remove("ITC_BLOB_STORE")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start sync-server");
    wait_for_port(port);
    (Process(child), format!("http://127.0.0.1:{port}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_limits_are_shared_by_two_processes_and_survive_a_restart() {
    let (db, name) = fresh_postgres_database().await;
    let _drop = DropDatabase(name);
    let dir = tempfile::tempdir().expect("dir");
    let client = reqwest::Client::new();
    let sign_up = |base: &str| {
        client
            .post(format!("{base}/v1/accounts"))
            .header("x-forwarded-for", "198.51.100.7")
            .json(&json!({
                "email": format!("u{}@example.com", Uuid::new_v4().simple()),
                "password": PASSWORD,
            }))
            .send()
    };
    let (a, base_a) = server_on(&db, dir.path());
    let (_b, base_b) = server_on(&db, dir.path());
    assert_eq!(sign_up(&base_a).await.expect("a").status(), 201);
    assert_eq!(sign_up(&base_b).await.expect("b").status(), 201);
    assert_come_back_later(sign_up(&base_a).await.expect("a again"), 429).await;
    assert_come_back_later(sign_up(&base_b).await.expect("b again"), 429).await;
    drop(a);
    let (_a, base_a) = server_on(&db, dir.path());
    assert_come_back_later(sign_up(&base_a).await.expect("restarted"), 429).await;
}

/// Writes one HTTP/1.1 request on a kept-alive connection and reads the answer's head.
async fn answer_head(stream: &mut tokio::net::TcpStream, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream.write_all(request).await.expect("request");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
            .await
            .expect("an answer in time")
            .expect("read");
        assert!(
            n > 0,
            "closed before an answer: {:?}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
    }
    let end = got.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(0);
    String::from_utf8_lossy(&got[..end]).to_ascii_lowercase()
}

/// A body refused before it was read (too large here) gets an answer that says the
/// connection closes, so a client does not send its next request on it; a body read to
/// its end keeps the connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_before_the_body_is_read_closes_the_connection_and_says_so() {
    let app = spawn_app_with(Backend::SqliteFolder, |_| {}).await;
    let user = app.new_user().await;
    let mut stream = tokio::net::TcpStream::connect(app.addr)
        .await
        .expect("connect");
    let put = |body: &str| {
        format!(
            "PUT /v1/capsules/{} HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {}\r\n\
             content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            Uuid::now_v7(),
            app.addr,
            user.access,
            body.len()
        )
    };
    let small = json!({"title": "t", "time_zone": "UTC", "note": "n"}).to_string();
    let head = answer_head(&mut stream, put(&small).as_bytes()).await;
    assert!(head.starts_with("http/1.1 201"), "{head}");
    assert!(!head.contains("\r\nconnection: close"), "{head}");
    let huge = json!({"title": "t", "time_zone": "UTC", "note": "x".repeat(200 * 1024)});
    let head = answer_head(&mut stream, put(&huge.to_string()).as_bytes()).await;
    assert!(head.starts_with("http/1.1 413"), "{head}");
    assert!(head.contains("\r\nconnection: close"), "{head}");
}
