//! A real sync-server process for the desktop tests: built once, started on a free port
//! with its own data folder, stopped and restarted at will (as a network cut would). When
//! the tests run on Windows (under wine), the Linux server is started outside wine by
//! `scripts/server_host.py`, whose address is in `ITC_TEST_SERVER_HOST`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use desktop_core::{Library, SyncEngine, SystemClock, TokenStore};

pub const PASSWORD: &str = "correct horse battery staple 42";

/// The sync-server binary: ITC_TEST_SERVER_BIN when the test command has just built it
/// (`cargo test --workspace` builds every binary before any test runs), else built by
/// cargo here on first use.
fn binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("ITC_TEST_SERVER_BIN").map(PathBuf::from)
            && bin.exists()
        {
            return bin;
        }
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-p", "sync-server", "--bin", "sync-server"])
            .status()
            .expect("run cargo build for sync-server");
        assert!(status.success(), "building sync-server failed");
        // target/<profile>/deps/<test> → target/<profile>/sync-server
        let exe = std::env::current_exe().expect("test path");
        let dir = exe.parent().and_then(Path::parent).expect("target folder");
        dir.join(format!("sync-server{}", std::env::consts::EXE_SUFFIX))
    })
    .clone()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A sync-server process.
pub struct Server {
    process: Option<Process>,
    pub port: u16,
    pub data: DataDir,
    pub url: String,
    extra: Vec<String>,
}

/// A server's data folder: a temporary folder here, or one the host made outside wine.
pub struct DataDir {
    path: PathBuf,
    temp: Option<tempfile::TempDir>,
    hosted: Option<String>,
}

impl DataDir {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

enum Process {
    Here(Child),
    Hosted(u64),
}

/// The server host's address (`scripts/server_host.py`), when servers live outside this
/// process's world.
fn host() -> Option<String> {
    std::env::var("ITC_TEST_SERVER_HOST").ok()
}

/// One POST of JSON to the server host, answered with its JSON. Plain HTTP/1.0 over a
/// socket: it also runs from `Drop`, outside any runtime.
fn host_call(host: &str, route: &str, body: &serde_json::Value) -> serde_json::Value {
    use std::io::{Read, Write};
    let body = body.to_string();
    let mut stream = std::net::TcpStream::connect(host).expect("reach the server host");
    write!(
        stream,
        "POST {route} HTTP/1.0\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("ask the server host");
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .expect("the server host's answer");
    let (head, json) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    assert!(head.contains(" 200 "), "server host: {answer}");
    serde_json::from_str(json).expect("server host JSON")
}

/// A Linux path as this (Windows) process sees it: wine maps `/` to drive Z:.
fn from_host_path(path: &str) -> PathBuf {
    if cfg!(windows) {
        PathBuf::from(format!("Z:{}", path.replace('/', "\\")))
    } else {
        PathBuf::from(path)
    }
}

impl Server {
    /// Starts a server with a fresh data folder (SQLite and a blob folder, the embedded
    /// defaults), sealing allowed 1 s ahead and the delivery ticker every second.
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// The same, with extra flags.
    pub async fn start_with(extra: &[&str]) -> Self {
        let port = free_port();
        let data = match host() {
            None => {
                let temp = tempfile::tempdir().expect("server data");
                DataDir {
                    path: temp.path().to_owned(),
                    temp: Some(temp),
                    hosted: None,
                }
            }
            Some(_) => DataDir {
                path: PathBuf::new(),
                temp: None,
                hosted: None,
            },
        };
        let mut s = Self {
            process: None,
            port,
            data,
            url: format!("http://127.0.0.1:{port}"),
            extra: extra.iter().map(|s| (*s).to_owned()).collect(),
        };
        s.spawn().await;
        s
    }

    /// The flags after `--bind` and `--data-dir`.
    fn args(&self) -> Vec<String> {
        let mut args: Vec<String> = ["--min-lead", "1s", "--delivery-interval", "1s"]
            .map(String::from)
            .into();
        // No drand relay unless a test brings its own chain: sealed capsules then open
        // with the server's escrow key, at once and without the internet.
        if !self.extra.iter().any(|a| a == "--drand-relays") {
            args.extend(["--drand-relays", "http://127.0.0.1:9"].map(String::from));
        }
        args.extend(self.extra.iter().cloned());
        args
    }

    async fn spawn(&mut self) {
        if let Some(host) = host() {
            let answer = host_call(
                &host,
                "/spawn",
                &serde_json::json!({
                    "port": self.port,
                    "data": self.data.hosted,
                    "args": self.args(),
                }),
            );
            let pid = answer["pid"].as_u64().expect("pid");
            if self.data.hosted.is_none() {
                let dir = answer["data"].as_str().expect("data folder").to_owned();
                self.data.path = from_host_path(&dir);
                self.data.hosted = Some(dir);
            }
            self.process = Some(Process::Hosted(pid));
        } else {
            let log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.data.path().join("server.log"))
                .expect("server log");
            let child = Command::new(binary())
                .arg("--bind")
                .arg(format!("127.0.0.1:{}", self.port))
                .arg("--data-dir")
                .arg(self.data.path())
                .args(self.args())
                .env_remove("ITC_DATABASE_URL")
                .env_remove("ITC_BLOB_STORE")
                .env_remove("ITC_SMTP_URL")
                .env("RUST_LOG", "info")
                .stdout(log.try_clone().expect("server log"))
                .stderr(log)
                .spawn()
                .expect("start sync-server");
            self.process = Some(Process::Here(child));
        }
        let client = reqwest::Client::new();
        for _ in 0..300 {
            if let Ok(r) = client.get(format!("{}/healthz", self.url)).send().await
                && r.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "sync-server did not come up; see {:?}",
            self.data.path().join("server.log")
        );
    }

    /// What the server logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data.path().join("server.log")).unwrap_or_default()
    }

    /// Kills the server at once, as a crash or a pulled cable would.
    pub fn stop(&mut self) {
        match self.process.take() {
            Some(Process::Here(mut c)) => {
                let _ = c.kill();
                let _ = c.wait();
            }
            Some(Process::Hosted(pid)) => {
                if let Some(host) = host() {
                    host_call(&host, "/kill", &serde_json::json!({ "pid": pid }));
                }
            }
            None => {}
        }
    }

    /// Starts it again on the same port and data, with extra flags.
    pub async fn restart_with(&mut self, extra: &[&str]) {
        self.stop();
        self.extra = extra.iter().map(|s| (*s).to_owned()).collect();
        self.spawn().await;
    }

    /// Starts it again on the same port and data.
    pub async fn restart(&mut self) {
        let extra: Vec<String> = self.extra.clone();
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        self.restart_with(&extra).await;
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
        if let (Some(host), Some(dir)) = (host(), self.data.hosted.take()) {
            host_call(&host, "/remove", &serde_json::json!({ "data": dir }));
        }
        drop(self.data.temp.take());
    }
}

/// One desktop: a library folder and its engine.
pub struct Device {
    pub dir: PathBuf,
    pub lib: Arc<Library>,
    pub engine: Arc<SyncEngine>,
}

impl Device {
    /// Opens (or reopens, as after an app restart) the device in `dir`.
    pub fn open(dir: &Path) -> Self {
        let lib = Arc::new(Library::open(dir).expect("library"));
        let engine = SyncEngine::new(
            lib.clone(),
            Arc::new(SystemClock),
            TokenStore::file_only(dir),
            "test device",
        )
        .expect("engine");
        Self {
            dir: dir.to_owned(),
            lib,
            engine,
        }
    }

    /// This device, signed up as `who` on the server at `url`.
    pub async fn signed_up(dir: &Path, url: &str, who: &str) -> Self {
        let d = Self::open(dir);
        d.engine.sign_up(url, who, PASSWORD).await.expect("sign up");
        d
    }

    /// This device, logged in as `who` (an account that exists) on the server at `url`.
    pub async fn logged_in(dir: &Path, url: &str, who: &str) -> Self {
        let d = Self::open(dir);
        d.engine.log_in(url, who, PASSWORD).await.expect("log in");
        d
    }
}

/// Two devices of one new account, in `dir/a` (which signed up, through `a_url`) and `dir/b`
/// (which logged in, through `b_url`).
pub async fn two_devices(dir: &Path, a_url: &str, b_url: &str, who: &str) -> (Device, Device) {
    let a = Device::signed_up(&dir.join("a"), a_url, who).await;
    let b = Device::logged_in(&dir.join("b"), b_url, who).await;
    (a, b)
}

/// A fresh address for a new account.
pub fn email(prefix: &str) -> String {
    format!("{prefix}-{}@example.com", uuid::Uuid::new_v4().simple())
}

/// A draft's fields, opening in 30 days.
pub fn draft_fields(title: &str, note: &str, recipients: &[&str]) -> protocol::CapsuleWrite {
    protocol::CapsuleWrite {
        title: title.into(),
        note: note.into(),
        open_at: Some(chrono::Utc::now() + chrono::Duration::days(30)),
        time_zone: "Europe/Paris".into(),
        recipients: recipients.iter().map(|r| (*r).to_owned()).collect(),
    }
}

/// A photo file of `w`×`h` pixels, different for each `seed`.
pub fn photo(dir: &Path, name: &str, w: u32, h: u32, seed: u8) -> PathBuf {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x as u8) ^ seed, (y as u8).wrapping_add(seed), seed])
    });
    let p = dir.join(name);
    img.save(&p).expect("save photo");
    p
}

/// A BMP of random pixels, about `w * h * 3` bytes (incompressible, unique).
pub fn big_photo(dir: &Path, name: &str, w: u32, h: u32) -> PathBuf {
    use rand::RngCore;
    let mut buf = vec![0u8; (w * h * 3) as usize];
    rand::thread_rng().fill_bytes(&mut buf);
    let img = image::RgbImage::from_raw(w, h, buf).expect("image");
    let p = dir.join(name);
    img.save_with_format(&p, image::ImageFormat::Bmp)
        .expect("save bmp");
    p
}

/// Imports files into a device's library and adds them to a capsule.
pub fn add_photos(d: &Device, capsule: uuid::Uuid, files: &[PathBuf]) {
    add_photos_to(&d.lib, capsule, files);
}

/// Imports files into a library and adds them to a capsule.
pub fn add_photos_to(lib: &Library, capsule: uuid::Uuid, files: &[PathBuf]) {
    let report = desktop_core::import(lib, files, &|_| {}, &desktop_core::CancelToken::default());
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    let photos: Vec<_> = report
        .imported
        .iter()
        .map(|p| (p.photo.sha256.clone(), p.file_name.clone()))
        .collect();
    lib.add_photos(capsule, &photos, chrono::Utc::now())
        .expect("add photos");
}

/// The sync-server flags that make it seal to `chain` (a chain of the tests' own).
pub fn chain_flags(chain: &seal::Chain) -> Vec<String> {
    let info = chain.info_json();
    [
        "--drand-chain-hash".to_owned(),
        chain.hash_hex(),
        "--drand-public-key".to_owned(),
        info["public_key"].as_str().unwrap_or_default().to_owned(),
        "--drand-genesis".to_owned(),
        chain.genesis.to_string(),
        "--drand-period".to_owned(),
        chain.period.to_string(),
    ]
    .into()
}

/// A private D-Bus session bus (dbus-daemon), gone when dropped.
pub struct PrivateBus {
    daemon: Child,
    pub address: String,
}

impl PrivateBus {
    pub fn start() -> Self {
        use std::io::BufRead;
        let mut daemon = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon must be installed (Debian package dbus-daemon)");
        let mut line = String::new();
        let stdout = daemon.stdout.take().expect("daemon stdout");
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("bus address");
        Self {
            daemon,
            address: line.trim().to_owned(),
        }
    }

    /// Starts dbus-monitor on this bus with a match rule; its output goes to a file,
    /// read back with [`Monitor::output`].
    pub fn monitor(&self, rule: &str) -> Monitor {
        let out = tempfile::NamedTempFile::new().expect("monitor output");
        let child = Command::new("dbus-monitor")
            .args(["--address", &self.address, rule])
            .stdout(out.reopen().expect("reopen"))
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-monitor must be installed (Debian package dbus-bin)");
        // The monitor is ready once it has announced itself on the bus.
        for _ in 0..100 {
            if std::fs::metadata(out.path()).map(|m| m.len()).unwrap_or(0) > 0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(200));
        Monitor { child, out }
    }

    /// Runs one `#[ignore]`d test of the current test binary in a child process whose
    /// session bus is this one (the environment of the test process itself is left alone).
    pub fn run_test(&self, name: &str) -> std::process::Output {
        Command::new(std::env::current_exe().expect("test binary"))
            .args([
                "--exact",
                name,
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .env("ITC_TEST_CHILD", "1")
            .output()
            .expect("run child test")
    }
}

impl Drop for PrivateBus {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

/// A running dbus-monitor.
pub struct Monitor {
    child: Child,
    out: tempfile::NamedTempFile,
}

impl Monitor {
    /// What it printed so far, once `needle` shows up (or after `wait`).
    pub fn output_with(&self, needle: &str, wait: Duration) -> String {
        let deadline = std::time::Instant::now() + wait;
        loop {
            let text = std::fs::read_to_string(self.out.path()).unwrap_or_default();
            if text.contains(needle) || std::time::Instant::now() > deadline {
                return text;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether this process is a child started by [`PrivateBus::run_test`].
pub fn is_child() -> bool {
    std::env::var_os("ITC_TEST_CHILD").is_some()
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// `itc --data-dir DIR …` (the binary of this package), with no desktop bus (the token
/// goes to the folder's private file), no inherited itc settings, nothing on stdin, and the
/// test password in the environment.
pub fn itc(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_itc"));
    c.arg("--data-dir")
        .arg(dir)
        .env("ITC_PASSWORD", PASSWORD)
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env_remove("ITC_SERVER_URL")
        .env_remove("ITC_DESKTOP_DATA_DIR")
        .env_remove("ITC_LOG")
        .stdin(Stdio::null());
    c
}
