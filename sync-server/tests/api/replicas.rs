//! Past one machine: three server processes (replicas behind a load balancer) on one
//! PostgreSQL and one S3-compatible server, each running the delivery ticker, with twenty
//! clients creating, uploading, sealing and syncing against whichever replica comes next.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{
    DropDatabase, PASSWORD, free_port, fresh_postgres_database, jpeg, s3_endpoint, sha256_hex,
    wait_for_port,
};
use testkit::smtp::SmtpServer;

struct Replica(Child);

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_replica(
    db: &str,
    smtp: &str,
    s3: &str,
    bucket: &str,
    dir: &std::path::Path,
) -> (Replica, String) {
    let port = free_port();
    let log = std::fs::File::create(dir.join(format!("replica-{port}.log"))).expect("log file");
    let child = Command::new(env!("CARGO_BIN_EXE_sync-server"))
        .args(["--bind", &format!("127.0.0.1:{port}"), "--database-url", db])
        .args([
            "--blob-store",
            &format!("s3://{bucket}/photos"),
            "--s3-endpoint",
            s3,
        ])
        .args([
            "--smtp-url",
            smtp,
            "--delivery-interval",
            "1s",
            "--min-lead",
            "1s",
        ])
        .arg("--data-dir")
        .arg(dir.join(port.to_string()))
        .env(
            "ITC_JWT_SECRET",
            "one-secret-shared-by-every-replica-0123456789",
        )
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn replica");
    wait_for_port(port);
    (Replica(child), format!("http://127.0.0.1:{port}"))
}

/// Every request of the run goes through here: anything but success is counted.
struct Client {
    http: reqwest::Client,
    replicas: Vec<String>,
    failures: Arc<AtomicUsize>,
    next: AtomicUsize,
}

impl Client {
    /// The replica for the next request, round robin, as a load balancer would pick.
    fn replica(&self) -> &str {
        &self.replicas[self.next.fetch_add(1, Ordering::Relaxed) % self.replicas.len()]
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Value {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.replica()));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        match req.send().await {
            Ok(res) if res.status().is_success() => res.json().await.unwrap_or(Value::Null),
            Ok(res) => {
                let status = res.status();
                let text = res.text().await.unwrap_or_default();
                eprintln!("{path}: {status} {text}");
                self.failures.fetch_add(1, Ordering::Relaxed);
                Value::Null
            }
            Err(e) => {
                eprintln!("{path}: {e}");
                self.failures.fetch_add(1, Ordering::Relaxed);
                Value::Null
            }
        }
    }
}

/// What one client made, to check afterwards.
struct Made {
    owner: String,
    token: String,
    capsules: Vec<(Uuid, String, String)>,
    photos: Vec<(Uuid, Uuid, String)>,
}

async fn one_client(c: Arc<Client>, n: usize, until: Instant) -> Made {
    let owner = format!("owner{n}-{}@example.com", Uuid::new_v4().simple());
    let creds = json!({"email": owner, "password": PASSWORD});
    c.call(Method::POST, "/v1/accounts", None, Some(creds.clone()))
        .await;
    let session = c
        .call(Method::POST, "/v1/sessions", None, Some(creds))
        .await;
    let token = session["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mut made = Made {
        owner,
        token: token.clone(),
        capsules: Vec::new(),
        photos: Vec::new(),
    };
    let mut cursor = 0u64;
    let mut i = 0u32;
    while Instant::now() < until {
        let id = Uuid::now_v7();
        let title = format!("Replica capsule {n}-{i}");
        let recipient = format!("friend{n}-{i}@example.com");
        let open_at = (chrono::Utc::now() + chrono::Duration::seconds(5)).to_rfc3339();
        c.call(
            Method::PUT,
            &format!("/v1/capsules/{id}"),
            Some(&token),
            Some(
                json!({"title": title, "note": "from a replica", "open_at": open_at,
                "time_zone": "UTC", "recipients": [recipient]}),
            ),
        )
        .await;
        let bytes = jpeg(40 + (i % 60), 30 + (n as u32 % 20), (i % 250) as u8);
        let pid = Uuid::now_v7();
        let declared = c
            .call(
                Method::PUT,
                &format!("/v1/capsules/{id}/photos/{pid}"),
                Some(&token),
                Some(json!({"sha256": sha256_hex(&bytes), "size": bytes.len(),
                    "content_type": "image/jpeg"})),
            )
            .await;
        if let Some(target) = declared.get("upload").filter(|u| !u.is_null()) {
            let mut req = c
                .http
                .put(target["url"].as_str().unwrap_or_default())
                .body(bytes.clone());
            for (k, v) in target["headers"].as_object().into_iter().flatten() {
                req = req.header(k, v.as_str().unwrap_or_default());
            }
            match req.send().await {
                Ok(r) if r.status().is_success() => {}
                other => {
                    eprintln!("upload: {other:?}");
                    c.failures.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        c.call(
            Method::POST,
            &format!("/v1/capsules/{id}/photos/{pid}/complete"),
            Some(&token),
            None,
        )
        .await;
        c.call(
            Method::POST,
            &format!("/v1/capsules/{id}/seal"),
            Some(&token),
            None,
        )
        .await;
        let page = c
            .call(
                Method::GET,
                &format!("/v1/sync?since={cursor}"),
                Some(&token),
                None,
            )
            .await;
        cursor = page["cursor"].as_u64().unwrap_or(cursor);
        made.capsules.push((id, title, recipient));
        made.photos.push((id, pid, sha256_hex(&bytes)));
        i += 1;
    }
    made
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_clients_on_three_replicas_lose_nothing_and_deliver_each_email_once() {
    let smtp = SmtpServer::start();
    let (db, db_name) = fresh_postgres_database().await;
    let _drop_db = DropDatabase(db_name);
    let s3 = s3_endpoint();
    let bucket = format!(
        "itc-replicas-{}",
        &Uuid::new_v4().simple().to_string()[..12]
    );
    let dir = tempfile::tempdir().expect("tmp");
    let replicas: Vec<(Replica, String)> = (0..3)
        .map(|_| start_replica(&db, &smtp.url(), &s3, &bucket, dir.path()))
        .collect();
    let client = Arc::new(Client {
        http: reqwest::Client::new(),
        replicas: replicas.iter().map(|(_, url)| url.clone()).collect(),
        failures: Arc::new(AtomicUsize::new(0)),
        next: AtomicUsize::new(0),
    });

    let until = Instant::now() + Duration::from_secs(10);
    let tasks: Vec<_> = (0..20)
        .map(|n| tokio::spawn(one_client(client.clone(), n, until)))
        .collect();
    let mut made = Vec::new();
    for t in tasks {
        made.push(t.await.expect("client task"));
    }
    if client.failures.load(Ordering::Relaxed) > 0 {
        // The replicas' own logs say why.
        for entry in std::fs::read_dir(dir.path()).expect("logs").flatten() {
            if entry.path().extension().is_some_and(|e| e == "log") {
                let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
                let head: String = text.chars().take(2000).collect();
                eprintln!("--- {}\n{head}", entry.path().display());
            }
        }
    }
    assert_eq!(
        client.failures.load(Ordering::Relaxed),
        0,
        "requests failed"
    );
    let capsules: usize = made.iter().map(|m| m.capsules.len()).sum();
    assert!(capsules >= 20, "only {capsules} capsules made");
    eprintln!("20 clients on 3 replicas made {capsules} sealed capsules with a photo each");

    // Every capsule opens five seconds after it was made; each has two recipients (the
    // owner and a friend), and each gets exactly one email, whichever replica sent it.
    let mut expected = Vec::new();
    for m in &made {
        for (_, title, friend) in &m.capsules {
            expected.push((title.clone(), friend.clone()));
            expected.push((title.clone(), m.owner.clone()));
        }
    }
    smtp.assert_each_once(expected).await;

    // Every uploaded photo is stored byte for byte: fetched back now that it has opened,
    // each through a replica (redirected to a short-lived S3 URL).
    for m in &made {
        for (capsule, photo, sha) in &m.photos {
            let url = format!(
                "{}/v1/capsules/{capsule}/photos/{photo}/original",
                client.replica()
            );
            let res = client
                .http
                .get(url)
                .bearer_auth(&m.token)
                .send()
                .await
                .expect("get");
            assert_eq!(res.status(), StatusCode::OK);
            let bytes = res.bytes().await.expect("bytes");
            assert_eq!(
                &sha256_hex(&bytes),
                sha,
                "photo {photo} stored byte for byte"
            );
        }
    }
}
