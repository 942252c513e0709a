//! A bounded soak of the sync server: a real server process on embedded defaults, and
//! clients that log in, pull the change feed, edit drafts and upload photos for a while,
//! mixed, all at once. Prints requests per second and latency by kind, errors, and the
//! server's memory and open file descriptors before, during and after; with `--check` it
//! fails when a request failed or memory or descriptors did not settle back.
//!
//! `cargo run --release -p sync-server --example soak -- --server BIN [--seconds 60]
//!  [--clients 8] [--check]` (scripts/soak.sh builds and runs it).

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

const PASSWORD: &str = "soak-test-lantern-river-93";

struct Args {
    server: String,
    seconds: u64,
    clients: usize,
    check: bool,
}

fn args() -> anyhow::Result<Args> {
    let mut a = Args {
        server: String::new(),
        seconds: 60,
        clients: 8,
        check: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--server" => a.server = it.next().context("--server BIN")?,
            "--seconds" => a.seconds = it.next().context("--seconds N")?.parse()?,
            "--clients" => a.clients = it.next().context("--clients N")?.parse()?,
            "--check" => a.check = true,
            other => bail!("unknown flag {other}"),
        }
    }
    if a.server.is_empty() {
        bail!("usage: soak --server PATH_TO_SYNC_SERVER [--seconds N] [--clients N] [--check]");
    }
    Ok(a)
}

/// The server process, killed when dropped.
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

fn start(bin: &str) -> anyhow::Result<Server> {
    let dir = tempfile::tempdir()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let child = Command::new(bin)
        .args(["--bind", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(dir.path())
        .args([
            "--no-delivery-ticker",
            "--max-sign-ups-per-address",
            "1000000",
        ])
        .env_remove("ITC_DATABASE_URL")
        .env_remove("ITC_BLOB_STORE")
        .env("RUST_LOG", "warn")
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

/// RSS in MB and open descriptors of a process.
fn usage(pid: u32) -> (f64, usize) {
    let rss = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .unwrap_or(0.0)
        / 1024.0;
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0);
    (rss, fds)
}

#[derive(Default)]
struct Stats {
    latencies: BTreeMap<&'static str, Vec<Duration>>,
    errors: BTreeMap<&'static str, u64>,
    first_error: Option<String>,
}

struct Client {
    http: reqwest::Client,
    base: String,
    email: String,
    token: String,
    capsule: Uuid,
    version: i64,
    cursor: u64,
}

fn png(seed: u64) -> Vec<u8> {
    let img = image::RgbImage::from_fn(64, 48, |x, y| {
        image::Rgb([
            (x as u64 ^ seed) as u8,
            (y as u64).wrapping_add(seed) as u8,
            (seed >> 8) as u8,
        ])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    let _ = img.write_to(&mut out, image::ImageFormat::Png);
    out.into_inner()
}

async fn ok_json(res: reqwest::Response) -> anyhow::Result<Value> {
    let status = res.status();
    let body = res.text().await?;
    if !status.is_success() {
        bail!("{status}: {body}");
    }
    Ok(if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&body)?
    })
}

impl Client {
    async fn new(base: &str, http: reqwest::Client) -> anyhow::Result<Self> {
        let email = format!("soak-{}@example.com", Uuid::new_v4().simple());
        ok_json(
            http.post(format!("{base}/v1/accounts"))
                .json(&json!({"email": email, "password": PASSWORD}))
                .send()
                .await?,
        )
        .await?;
        let mut c = Self {
            http,
            base: base.into(),
            email,
            token: String::new(),
            capsule: Uuid::now_v7(),
            version: 0,
            cursor: 0,
        };
        c.log_in().await?;
        let v = ok_json(
            c.http
                .put(format!("{}/v1/capsules/{}", c.base, c.capsule))
                .bearer_auth(&c.token)
                .json(&c.fields(0))
                .send()
                .await?,
        )
        .await?;
        c.version = v["capsule"]["version"].as_i64().unwrap_or(1);
        Ok(c)
    }

    fn fields(&self, n: u64) -> Value {
        json!({"title": format!("Soak {n}"), "note": "steady as she goes",
               "open_at": (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339(),
               "time_zone": "UTC", "recipients": ["friend@example.com"]})
    }

    async fn log_in(&mut self) -> anyhow::Result<()> {
        let v = ok_json(
            self.http
                .post(format!("{}/v1/sessions", self.base))
                .json(&json!({"email": self.email, "password": PASSWORD, "device_name": "soak"}))
                .send()
                .await?,
        )
        .await?;
        self.token = v["access_token"].as_str().context("token")?.to_owned();
        Ok(())
    }

    async fn sync(&mut self) -> anyhow::Result<()> {
        let v = ok_json(
            self.http
                .get(format!(
                    "{}/v1/sync?since={}&limit=100",
                    self.base, self.cursor
                ))
                .bearer_auth(&self.token)
                .send()
                .await?,
        )
        .await?;
        self.cursor = v["cursor"].as_u64().unwrap_or(self.cursor);
        Ok(())
    }

    async fn edit(&mut self, n: u64) -> anyhow::Result<()> {
        let v = ok_json(
            self.http
                .put(format!("{}/v1/capsules/{}", self.base, self.capsule))
                .bearer_auth(&self.token)
                .header("if-match", self.version.to_string())
                .json(&self.fields(n))
                .send()
                .await?,
        )
        .await?;
        self.version = v["capsule"]["version"].as_i64().unwrap_or(self.version + 1);
        Ok(())
    }

    async fn upload(&mut self, seed: u64) -> anyhow::Result<()> {
        let bytes = png(seed);
        let photo = Uuid::now_v7();
        let url = format!("{}/v1/capsules/{}/photos/{photo}", self.base, self.capsule);
        let declared = ok_json(
            self.http
                .put(&url)
                .bearer_auth(&self.token)
                .json(&json!({"sha256": hex::encode(Sha256::digest(&bytes)),
                              "size": bytes.len(), "content_type": "image/png",
                              "file_name": format!("soak-{seed}.png")}))
                .send()
                .await?,
        )
        .await?;
        if let Some(t) = declared.get("upload").filter(|t| !t.is_null()) {
            let mut req = self
                .http
                .request(
                    t["method"].as_str().unwrap_or("PUT").parse()?,
                    t["url"].as_str().context("upload url")?,
                )
                .body(bytes);
            if let Some(h) = t["headers"].as_object() {
                for (k, v) in h {
                    req = req.header(k, v.as_str().unwrap_or_default());
                }
            }
            let res = req.send().await?;
            if !res.status().is_success() {
                bail!("upload {}", res.status());
            }
        }
        ok_json(
            self.http
                .post(format!("{url}/complete"))
                .bearer_auth(&self.token)
                .send()
                .await?,
        )
        .await?;
        // The capsule's version moves with each photo; read it back for the next edit.
        let v = ok_json(
            self.http
                .get(format!("{}/v1/capsules/{}", self.base, self.capsule))
                .bearer_auth(&self.token)
                .send()
                .await?,
        )
        .await?;
        self.version = v["capsule"]["version"].as_i64().unwrap_or(self.version);
        Ok(())
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = args()?;
    let server = start(&a.server)?;
    let pid = server.child.id();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(a.clients)
        .build()?;
    let started = Instant::now();
    while http
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .is_err()
    {
        if started.elapsed() > Duration::from_secs(30) {
            bail!("the server did not start");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (rss_start, fds_start) = usage(pid);
    let mut clients = Vec::new();
    for _ in 0..a.clients {
        clients.push(Client::new(&server.base, http.clone()).await?);
    }

    let stats = Arc::new(Mutex::new(Stats::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let seeds = Arc::new(AtomicU64::new(1));
    let samples = Arc::new(Mutex::new(Vec::<(f64, f64, usize)>::new()));
    let sampler = {
        let (stop, samples) = (stop.clone(), samples.clone());
        tokio::spawn(async move {
            let t0 = Instant::now();
            while !stop.load(Ordering::SeqCst) {
                let (rss, fds) = usage(pid);
                samples.lock().unwrap_or_else(|p| p.into_inner()).push((
                    t0.elapsed().as_secs_f64(),
                    rss,
                    fds,
                ));
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
    };
    let t0 = Instant::now();
    let deadline = t0 + Duration::from_secs(a.seconds);
    let mut tasks = Vec::new();
    for (i, mut c) in clients.into_iter().enumerate() {
        let (stats, seeds) = (stats.clone(), seeds.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = i as u64;
            while Instant::now() < deadline {
                n += 1;
                // One log-in in 20, an upload in 5, an edit in 10, the rest pulls.
                let (kind, t, result) = match n % 20 {
                    0 => {
                        let t = Instant::now();
                        ("log-in", t, c.log_in().await)
                    }
                    1 | 5 | 9 | 13 => {
                        let t = Instant::now();
                        let seed = seeds.fetch_add(1, Ordering::SeqCst);
                        ("upload", t, c.upload(seed).await)
                    }
                    3 | 11 => {
                        let t = Instant::now();
                        ("edit", t, c.edit(n).await)
                    }
                    _ => {
                        let t = Instant::now();
                        ("sync", t, c.sync().await)
                    }
                };
                let took = t.elapsed();
                let mut s = stats.lock().unwrap_or_else(|p| p.into_inner());
                match result {
                    Ok(()) => s.latencies.entry(kind).or_default().push(took),
                    Err(e) => {
                        *s.errors.entry(kind).or_default() += 1;
                        s.first_error
                            .get_or_insert_with(|| format!("{kind}: {e:#}"));
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let elapsed = t0.elapsed().as_secs_f64();
    // Let idle connections close and memory settle, as after a busy hour.
    drop(http);
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::SeqCst);
    sampler.await?;
    let (rss_end, fds_end) = usage(pid);

    let stats = stats.lock().unwrap_or_else(|p| p.into_inner());
    let samples = samples.lock().unwrap_or_else(|p| p.into_inner());
    let warm_after = a.seconds as f64 * 0.2;
    let warm = samples
        .iter()
        .find(|s| s.0 >= warm_after)
        .map_or(rss_start, |s| s.1);
    let peak_rss = samples.iter().map(|s| s.1).fold(rss_start, f64::max);
    let peak_fds = samples.iter().map(|s| s.2).max().unwrap_or(fds_start);
    println!(
        "soak: {} clients for {elapsed:.0} s against {}",
        a.clients, a.server
    );
    println!(
        "{:<8} {:>8} {:>9} {:>9} {:>9} {:>7}",
        "kind", "requests", "req/s", "p50 ms", "p99 ms", "errors"
    );
    let mut total_errors = 0;
    for kind in ["sync", "edit", "upload", "log-in"] {
        let mut l = stats.latencies.get(kind).cloned().unwrap_or_default();
        l.sort();
        let errors = stats.errors.get(kind).copied().unwrap_or(0);
        total_errors += errors;
        println!(
            "{kind:<8} {:>8} {:>9.1} {:>9.1} {:>9.1} {errors:>7}",
            l.len(),
            l.len() as f64 / elapsed,
            percentile(&l, 0.5).as_secs_f64() * 1000.0,
            percentile(&l, 0.99).as_secs_f64() * 1000.0,
        );
    }
    println!(
        "server RSS: {rss_start:.1} MB at rest, {warm:.1} MB warm, {peak_rss:.1} MB peak, {rss_end:.1} MB after"
    );
    println!("server open fds: {fds_start} before, {peak_fds} peak, {fds_end} after");
    if let Some(e) = &stats.first_error {
        println!("first error: {e}");
    }
    if a.check {
        if total_errors > 0 {
            bail!("{total_errors} requests failed");
        }
        if fds_end > fds_start + 8 {
            bail!("open descriptors did not settle: {fds_start} before, {fds_end} after");
        }
        if rss_end > warm * 1.5 + 30.0 {
            bail!("memory kept growing: {warm:.1} MB warm, {rss_end:.1} MB after");
        }
        println!("steady: no errors, descriptors and memory back to where they were");
    }
    Ok(())
}
