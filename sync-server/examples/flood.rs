//! A flood against a real server process: clients that all at once sign up, log in with
//! unknown emails and upload photos, while a probe polls `/healthz` and a normal user pulls
//! the change feed. Run three ways in one go, so the bounds are measured beside a baseline:
//! the limits turned off (as before they existed), the default limits with every client
//! from its own address, and the default limits with every client from one address (one
//! script). Prints, for each, the server's memory at rest and at peak, the share of
//! requests answered by kind, the p99 of those answered, and how the probe and the normal
//! user fared.
//!
//! `cargo run --release -p sync-server --example flood -- --server BIN [--clients 300]`
//! (scripts/bench-flood.sh builds and runs it).

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

const PASSWORD: &str = "flood-test-harbour-kettle-58";
/// Users made before the flood, for its uploads (within the default sign-up limit of one
/// address, with the normal user).
const UPLOADERS: usize = 10;

struct Server {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(bin: &str, extra: &[&str]) -> anyhow::Result<Server> {
    let dir = tempfile::tempdir()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let child = Command::new(bin)
        .args(["--bind", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(dir.path())
        .args(["--no-delivery-ticker"])
        .args(extra)
        .env_remove("ITC_DATABASE_URL")
        .env_remove("ITC_BLOB_STORE")
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {bin}"))?;
    Ok(Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    })
}

/// A field of /proc/PID/status in MB (VmRSS now, VmHWM the peak so far).
fn mem_mb(pid: u32, field: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .unwrap_or(0.0)
        / 1024.0
}

#[derive(Default)]
struct Tally {
    ok: u64,
    too_many: u64,
    busy: u64,
    /// 429 or 503 without Retry-After, any other failure status.
    other: u64,
    connection_errors: u64,
    latencies: Vec<Duration>,
    first_other: Option<String>,
}

impl Tally {
    fn record(&mut self, started: Instant, res: &Result<reqwest::Response, reqwest::Error>) {
        let res = match res {
            Ok(r) => r,
            Err(e) => {
                self.connection_errors += 1;
                self.first_other.get_or_insert_with(|| with_causes(e));
                return;
            }
        };
        self.latencies.push(started.elapsed());
        let s = res.status().as_u16();
        let retry = res.headers().contains_key("retry-after");
        match s {
            200..=299 => self.ok += 1,
            429 if retry => self.too_many += 1,
            503 if retry => self.busy += 1,
            // A sign-up of an email taken or a log-in refused is an answer, not an outage.
            401 | 409 => self.ok += 1,
            _ => {
                self.other += 1;
                self.first_other
                    .get_or_insert_with(|| format!("status {s}"));
            }
        }
    }
}

/// A photo of incompressible pixels, about 200 KB as PNG, unique per `seed`.
fn photo(seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    let img = image::RgbImage::from_fn(256, 256, |_, _| {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let b = (x >> 33).to_le_bytes();
        image::Rgb([b[0], b[1], b[2]])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    let _ = img.write_to(&mut out, image::ImageFormat::Png);
    out.into_inner()
}

async fn sign_up_and_log_in(http: &reqwest::Client, base: &str) -> anyhow::Result<String> {
    let email = format!("u{}@example.com", Uuid::new_v4().simple());
    let made = http
        .post(format!("{base}/v1/accounts"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await?;
    if made.status() != 201 {
        bail!("sign-up before the flood answered {}", made.status());
    }
    let s: Value = http
        .post(format!("{base}/v1/sessions"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await?
        .json()
        .await?;
    s["access_token"]
        .as_str()
        .map(str::to_owned)
        .context("no access token")
}

async fn new_capsule(http: &reqwest::Client, base: &str, token: &str) -> anyhow::Result<Uuid> {
    let id = Uuid::now_v7();
    let res = http
        .put(format!("{base}/v1/capsules/{id}"))
        .bearer_auth(token)
        .json(&json!({
            "title": "Flood", "note": "", "time_zone": "UTC", "recipients": [],
            "open_at": (chrono::Utc::now() + chrono::Duration::days(2)).to_rfc3339(),
        }))
        .send()
        .await?;
    if !res.status().is_success() {
        bail!("capsule answered {}", res.status());
    }
    Ok(id)
}

/// The thumbnails a desktop would send with `photo`: the photo is 256 px, so both are
/// the whole picture as a JPEG.
fn thumbnails(photo: &[u8]) -> Vec<u8> {
    let Ok(img) = image::load_from_memory(photo) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let _ = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80)
        .encode_image(&img.to_rgb8());
    out
}

/// One flooding client: two sign-ups, two log-ins with unknown emails, one upload (the
/// original and its two thumbnails, as the desktop sends them).
async fn flood_client(
    http: reqwest::Client,
    base: String,
    address: Option<String>,
    uploader: Option<(String, Uuid)>,
    seed: u64,
    tally: Arc<Mutex<Tally>>,
) {
    let with_address = |r: reqwest::RequestBuilder| match &address {
        Some(a) => r.header("x-forwarded-for", a),
        None => r,
    };
    let send = async |r: reqwest::RequestBuilder| {
        let started = Instant::now();
        let res = with_address(r).send().await;
        let mut t = tally.lock().unwrap_or_else(|p| p.into_inner());
        t.record(started, &res);
        res.ok()
    };
    for _ in 0..2 {
        let email = format!("f{}@example.com", Uuid::new_v4().simple());
        send(
            http.post(format!("{base}/v1/accounts"))
                .json(&json!({"email": email, "password": PASSWORD})),
        )
        .await;
    }
    for _ in 0..2 {
        let email = format!("nobody{}@example.com", Uuid::new_v4().simple());
        send(
            http.post(format!("{base}/v1/sessions"))
                .json(&json!({"email": email, "password": PASSWORD})),
        )
        .await;
    }
    let Some((token, capsule)) = uploader else {
        return;
    };
    let bytes = photo(seed);
    let thumb = thumbnails(&bytes);
    let thumb_sha = hex::encode(Sha256::digest(&thumb));
    let photo_id = Uuid::now_v7();
    let Some(declared) = send(
        http.put(format!("{base}/v1/capsules/{capsule}/photos/{photo_id}"))
            .bearer_auth(&token)
            .json(&json!({
                "sha256": hex::encode(Sha256::digest(&bytes)),
                "size": bytes.len(), "content_type": "image/png",
                "thumbnails": [
                    {"kind": "grid", "sha256": thumb_sha, "size": thumb.len()},
                    {"kind": "preview", "sha256": thumb_sha, "size": thumb.len()},
                ],
            })),
    )
    .await
    else {
        return;
    };
    if !declared.status().is_success() {
        return;
    }
    let Ok(body) = declared.json::<Value>().await else {
        return;
    };
    let mut targets = vec![(body["upload"].clone(), bytes)];
    for t in body["thumbnails"].as_array().into_iter().flatten() {
        targets.push((t["upload"].clone(), thumb.clone()));
    }
    for (target, body) in targets {
        let Some(url) = target["url"].as_str() else {
            continue;
        };
        let mut put = http.put(url).body(body);
        if let Some(headers) = target["headers"].as_object() {
            for (k, v) in headers {
                put = put.header(k, v.as_str().unwrap_or_default());
            }
        }
        match send(put).await {
            Some(r) if r.status().is_success() => {}
            _ => return,
        }
    }
    send(
        http.post(format!(
            "{base}/v1/capsules/{capsule}/photos/{photo_id}/complete"
        ))
        .bearer_auth(&token),
    )
    .await;
}

/// What the probe and the normal user saw during the flood.
#[derive(Default)]
struct Watched {
    health_failures: u64,
    health_slowest: Duration,
    sync_failures: u64,
    sync_slowest: Duration,
    /// What the first failed probe or sync got: a status or a connection error.
    first_failure: Option<String>,
}

/// Why an answer is not the 200 the watcher expects, if it is not.
fn failure(what: &str, answer: &reqwest::Result<reqwest::Response>) -> Option<String> {
    match answer {
        Ok(r) if r.status() == 200 => None,
        Ok(r) => Some(format!("{what}: {}", r.status())),
        Err(e) => Some(format!("{what}: {}", with_causes(e))),
    }
}

/// An error's causes on one line: reqwest's own text does not say what broke, and its URL
/// may carry an upload token.
fn with_causes(e: &reqwest::Error) -> String {
    let mut text = String::from("request failed");
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        text = format!("{text}: {c}");
        cause = c.source();
    }
    text
}

async fn run(
    bin: &str,
    name: &str,
    extra: &[&str],
    clients: usize,
    many: bool,
    uploads: bool,
) -> anyhow::Result<()> {
    let server = start(bin, extra)?;
    let pid = server.child.id();
    let base = server.base.clone();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .timeout(Duration::from_secs(120))
        .build()?;
    for _ in 0..300 {
        if http.get(format!("{base}/healthz")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let normal = sign_up_and_log_in(&http, &base).await?;
    let mut uploaders = Vec::new();
    for _ in 0..UPLOADERS {
        let token = sign_up_and_log_in(&http, &base).await?;
        let capsule = new_capsule(&http, &base, &token).await?;
        uploaders.push((token, capsule));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rest = mem_mb(pid, "VmRSS:");

    let done = Arc::new(AtomicBool::new(false));
    let watched = Arc::new(Mutex::new(Watched::default()));
    let watcher = {
        let (http, base, done, watched) =
            (http.clone(), base.clone(), done.clone(), watched.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::SeqCst) {
                let t = Instant::now();
                let health = http.get(format!("{base}/healthz")).send().await;
                let health_took = t.elapsed();
                let t = Instant::now();
                let sync = http
                    .get(format!("{base}/v1/sync"))
                    .bearer_auth(&normal)
                    .send()
                    .await;
                let sync_took = t.elapsed();
                {
                    let mut w = watched.lock().unwrap_or_else(|p| p.into_inner());
                    if let Some(why) = failure("/healthz", &health) {
                        w.health_failures += 1;
                        w.first_failure.get_or_insert(why);
                    }
                    w.health_slowest = w.health_slowest.max(health_took);
                    if let Some(why) = failure("sync", &sync) {
                        w.sync_failures += 1;
                        w.first_failure.get_or_insert(why);
                    }
                    w.sync_slowest = w.sync_slowest.max(sync_took);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };

    let tally = Arc::new(Mutex::new(Tally::default()));
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|i| {
            let address = many.then(|| format!("198.18.{}.{}", i / 250, i % 250 + 1));
            tokio::spawn(flood_client(
                http.clone(),
                base.clone(),
                address,
                uploads.then(|| uploaders[i % UPLOADERS].clone()),
                i as u64,
                tally.clone(),
            ))
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
    let took = started.elapsed();
    done.store(true, Ordering::SeqCst);
    let _ = watcher.await;
    let peak = mem_mb(pid, "VmHWM:");

    let mut t = std::mem::take(&mut *tally.lock().unwrap_or_else(|p| p.into_inner()));
    let w = std::mem::take(&mut *watched.lock().unwrap_or_else(|p| p.into_inner()));
    t.latencies.sort();
    let answered = t.latencies.len().max(1);
    let p99 = t.latencies[(answered * 99 / 100).min(answered - 1)];
    let total = t.ok + t.too_many + t.busy + t.other + t.connection_errors;
    let pct = |n: u64| 100.0 * n as f64 / total.max(1) as f64;
    println!(
        "flood [{name}], {clients} clients, {:.1} s",
        took.as_secs_f64()
    );
    println!(
        "  server RSS: at rest {rest:.1} MB, peak {peak:.1} MB (goal < 200 MB: {})",
        if peak < 200.0 { "met" } else { "not met" }
    );
    println!(
        "  {total} requests: 2xx/401/409 {} ({:.1} %), 429+Retry-After {} ({:.1} %), 503+Retry-After {} ({:.1} %), other {}, connection errors {}; p99 of answered {:.0} ms",
        t.ok,
        pct(t.ok),
        t.too_many,
        pct(t.too_many),
        t.busy,
        pct(t.busy),
        t.other,
        t.connection_errors,
        p99.as_secs_f64() * 1000.0
    );
    println!(
        "  /healthz: {} failures, slowest {:.0} ms; a normal user's sync: {} failures, slowest {:.0} ms (goal < 1 s: {})",
        w.health_failures,
        w.health_slowest.as_secs_f64() * 1000.0,
        w.sync_failures,
        w.sync_slowest.as_secs_f64() * 1000.0,
        if w.sync_failures == 0 && w.sync_slowest < Duration::from_secs(1) {
            "met"
        } else {
            "not met"
        }
    );
    if let Some(e) = t.first_other {
        println!("  first other answer: {e}");
    }
    if let Some(e) = w.first_failure {
        println!("  first failure of the probe or the normal user: {e}");
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut server = String::new();
    let mut clients = 300;
    let mut uploads = true;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--server" => server = it.next().context("--server BIN")?,
            "--clients" => clients = it.next().context("--clients N")?.parse()?,
            // Sign-ups and log-ins alone, to tell their memory from the uploads'.
            "--no-uploads" => uploads = false,
            other => bail!("unknown flag {other}"),
        }
    }
    if server.is_empty() {
        bail!("usage: flood --server PATH_TO_SYNC_SERVER [--clients N] [--no-uploads]");
    }
    let unbounded = [
        "--trust-forwarded-for",
        "--max-password-hashes",
        "512",
        "--password-hash-queue",
        "100000",
        "--max-sign-ups-per-address",
        "100000000",
        "--max-requests-in-flight",
        "100000",
        "--max-upload-streams",
        "100000",
    ];
    run(
        &server,
        "limits off (baseline), an address per client",
        &unbounded,
        clients,
        true,
        uploads,
    )
    .await?;
    run(
        &server,
        "default limits, an address per client",
        &["--trust-forwarded-for"],
        clients,
        true,
        uploads,
    )
    .await?;
    run(
        &server,
        "default limits, one address",
        &[],
        clients,
        false,
        uploads,
    )
    .await?;
    Ok(())
}
