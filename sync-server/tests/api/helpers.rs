//! `spawn_app()`: the real app on port 0 with its own database and blob store, and one
//! helper per real service it needs (PostgreSQL, an S3-compatible server).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use protocol::{
    CapsuleResponse, Photo, PhotoResponse, PhotoUploadResponse, SessionResponse, ThumbnailSize,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::Connection;
use sqlx::Executor;
use sync_server::clock::OffsetClock;
use sync_server::config::{BlobTarget, Settings};
use sync_server::{AppState, serve};
use tokio::sync::oneshot;
use uuid::Uuid;

/// The two storage set-ups every behaviour is tested on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    SqliteFolder,
    PostgresS3,
}

/// Generates one test per backend for an `async fn(Backend)`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite_folder() {
                super::$name($crate::helpers::Backend::SqliteFolder).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres_s3() {
                super::$name($crate::helpers::Backend::PostgresS3).await
            }
        }
    )*};
}

/// PostgreSQL server for tests: ITC_TEST_POSTGRES_URL, else the machine's local one.
pub fn postgres_url() -> String {
    std::env::var("ITC_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A fresh database on the test PostgreSQL server, dropped when the app is.
pub async fn fresh_postgres_database() -> (String, String) {
    let base = postgres_url();
    let name = format!("itc_test_{}", Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&base)
        .await
        .expect("PostgreSQL must run at ITC_TEST_POSTGRES_URL (default 127.0.0.1:5432)");
    conn.execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .expect("create database");
    let (prefix, _) = base.rsplit_once('/').expect("postgres url has a database");
    (format!("{prefix}/{name}"), name)
}

/// Drops a test database when it goes out of scope.
pub struct DropDatabase(pub String);

impl Drop for DropDatabase {
    fn drop(&mut self) {
        drop_postgres_database(std::mem::take(&mut self.0));
    }
}

fn drop_postgres_database(name: String) {
    let base = postgres_url();
    let _ = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            if let Ok(mut c) = sqlx::PgConnection::connect(&base).await {
                let _ = c
                    .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                    .await;
            }
        });
    })
    .join();
}

/// An S3-compatible server: ITC_TEST_S3_ENDPOINT if set, else `s3s-fs` from PATH started
/// once for this test process (it dies with the process). Credentials come from the
/// standard AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY that the test command sets.
pub fn s3_endpoint() -> String {
    if let Ok(ep) = std::env::var("ITC_TEST_S3_ENDPOINT") {
        return ep;
    }
    static SERVER: OnceLock<String> = OnceLock::new();
    SERVER
        .get_or_init(|| {
            let key = std::env::var("AWS_ACCESS_KEY_ID")
                .expect("set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (scripts/test.sh does)");
            let secret = std::env::var("AWS_SECRET_ACCESS_KEY").expect("AWS_SECRET_ACCESS_KEY");
            let port = free_port();
            // The parent-death signal follows the spawning *thread*, so the server is
            // started from a thread that lives as long as the test process.
            let (ready, started) = std::sync::mpsc::channel::<()>();
            std::thread::spawn(move || {
                let dir = tempfile::tempdir().expect("tmp");
                let mut cmd = Command::new("s3s-fs");
                cmd.args(["--host", "127.0.0.1", "--port", &port.to_string()])
                    .args(["--access-key", &key, "--secret-key", &secret])
                    .arg(dir.path())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null());
                die_with_parent(&mut cmd);
                let mut child: Child = cmd.spawn().expect(
                    "s3s-fs on PATH (cargo install s3s-fs --version 0.14.1 --features binary)",
                );
                let _ = ready.send(());
                // Waiting keeps this thread (and so the server) alive for the whole run.
                let _ = child.wait();
            });
            started.recv().expect("s3s-fs started");
            wait_for_port(port);
            format!("http://127.0.0.1:{port}")
        })
        .clone()
}

/// Ties the child's life to this test process, so no server outlives the tests.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe and touches only the child's own attributes.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_cmd: &mut Command) {}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

pub fn wait_for_port(port: u16) {
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("nothing listens on port {port}");
}

/// A running app and a client for it.
pub struct TestApp {
    pub base: String,
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub state: AppState,
    pub clock: OffsetClock,
    pub data_dir: PathBuf,
    _dir: tempfile::TempDir,
    pg_database: Option<String>,
    stop: Option<oneshot::Sender<()>>,
    stop_worker: Option<oneshot::Sender<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(stop) = self.stop_worker.take() {
            let _ = stop.send(());
        }
        if let Some(db) = self.pg_database.take() {
            drop_postgres_database(db);
        }
    }
}

/// Settings a test may adjust before the app starts.
pub async fn spawn_app_with(backend: Backend, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    start_app(backend, tweak, true).await
}

/// The app without its thumbnail worker: jobs wait in the queue until a test runs them.
pub async fn spawn_app_without_worker(backend: Backend) -> TestApp {
    start_app(backend, |_| {}, false).await
}

async fn start_app(backend: Backend, tweak: impl FnOnce(&mut Settings), worker: bool) -> TestApp {
    sync_server::install_crypto_provider();
    if std::env::var("TEST_LOG").is_ok() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("info,sqlx=warn")
            .with_test_writer()
            .try_init();
    }
    let dir = tempfile::tempdir().expect("tmp");
    let data_dir = dir.path().to_path_buf();
    let mut settings = Settings::embedded(data_dir.clone()).expect("settings");
    settings.auth.jwt_secret = TEST_SECRET.to_vec().into();
    let mut pg_database = None;
    if backend == Backend::PostgresS3 {
        let (url, name) = fresh_postgres_database().await;
        settings.database.url = url.into();
        pg_database = Some(name);
        settings.storage.blob = BlobTarget::S3 {
            // Short: s3s-fs names a file after the bucket and key together (base64), and a
            // sealed thumbnail's key is long enough to pass 255 bytes with a long bucket.
            bucket: format!("itc-{}", &Uuid::new_v4().simple().to_string()[..12]),
            prefix: "photos".into(),
            endpoint: Some(s3_endpoint()),
        };
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    settings.http.bind = addr;
    settings.http.public_url = format!("http://{addr}");
    tweak(&mut settings);
    let clock = OffsetClock::default();
    let state = AppState::build(settings, Arc::new(clock.clone()))
        .await
        .expect("app state");
    // The server's thumbnail worker runs beside it, as in the real binary.
    let (stop_worker, worker_stopped) = oneshot::channel::<()>();
    if worker {
        tokio::spawn(sync_server::photos::thumbnail_job::run_worker(
            state.clone(),
            Duration::from_millis(500),
            async {
                let _ = worker_stopped.await;
            },
        ));
    }
    let (stop, stopped) = oneshot::channel::<()>();
    let serving = state.clone();
    tokio::spawn(async move {
        let _ = serve(serving, listener, async {
            let _ = stopped.await;
        })
        .await;
    });
    TestApp {
        base: format!("http://{addr}"),
        addr,
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("client"),
        state,
        clock,
        data_dir,
        _dir: dir,
        pg_database,
        stop: Some(stop),
        stop_worker: Some(stop_worker),
    }
}

/// The app with default settings.
pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

pub const TEST_SECRET: &[u8] = b"test-secret-test-secret-test-secret-0123456789";
pub const PASSWORD: &str = "glacier-otter-lamp-71";

/// A logged-in user.
#[derive(Debug, Clone)]
pub struct User {
    pub email: String,
    pub user_id: Uuid,
    pub access: String,
    pub refresh: String,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The two thumbnails a desktop makes of a photo: upright JPEGs of at most 256 and 1280
/// pixels, with no metadata.
pub fn client_thumbnails(photo: &[u8]) -> Vec<(ThumbnailSize, Vec<u8>)> {
    use image::ImageDecoder;
    let mut decoder = image::ImageReader::new(std::io::Cursor::new(photo))
        .with_guessed_format()
        .expect("format")
        .into_decoder()
        .expect("a photo the test can decode");
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = image::DynamicImage::from_decoder(decoder).expect("decode");
    img.apply_orientation(orientation);
    thumbnails_of(&img)
}

/// The same from a picture already decoded upright (by an independent decoder, say).
pub fn thumbnails_of(img: &image::DynamicImage) -> Vec<(ThumbnailSize, Vec<u8>)> {
    [ThumbnailSize::Grid, ThumbnailSize::Preview]
        .into_iter()
        .map(|kind| {
            let side = kind.max_side();
            let small = if img.width().max(img.height()) > side {
                img.thumbnail(side, side)
            } else {
                img.clone()
            };
            let mut out = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80)
                .encode_image(&small.to_rgb8())
                .expect("encode");
            (kind, out)
        })
        .collect()
}

/// A small real JPEG with a gradient (different per seed).
pub fn jpeg(w: u32, h: u32, seed: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, seed])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
        .encode_image(&img)
        .expect("encode");
    out
}

impl TestApp {
    /// A plain GET without a token (recipient links, probes).
    pub async fn fetch(&self, url: impl reqwest::IntoUrl) -> reqwest::Response {
        self.client.get(url).send().await.expect("request")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn sign_up(&self, email: &str) -> reqwest::Response {
        self.client
            .post(self.url("/v1/accounts"))
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .expect("request")
    }

    pub async fn log_in_raw(&self, email: &str, password: &str) -> reqwest::Response {
        self.client
            .post(self.url("/v1/sessions"))
            .json(&json!({"email": email, "password": password, "device_name": "test"}))
            .send()
            .await
            .expect("request")
    }

    pub async fn log_in(&self, email: &str) -> User {
        let res = self.log_in_raw(email, PASSWORD).await;
        assert_eq!(res.status(), 200, "log-in failed");
        let s: SessionResponse = res.json().await.expect("session");
        User {
            email: email.into(),
            user_id: s.user_id,
            access: s.access_token,
            refresh: s.refresh_token,
        }
    }

    /// Signs a new user up and logs them in.
    pub async fn new_user(&self) -> User {
        let email = format!("u{}@example.com", Uuid::new_v4().simple());
        assert_eq!(self.sign_up(&email).await.status(), 201);
        self.log_in(&email).await
    }

    pub fn req(&self, method: reqwest::Method, path: &str, user: &User) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(&user.access)
    }

    pub async fn put_capsule(&self, user: &User, id: Uuid, body: &Value) -> reqwest::Response {
        self.req(reqwest::Method::PUT, &format!("/v1/capsules/{id}"), user)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    /// Creates a draft opening in a day and returns its id.
    pub async fn new_capsule(&self, user: &User) -> Uuid {
        let id = Uuid::now_v7();
        let res = self.put_capsule(user, id, &draft_body("Summer 2026")).await;
        assert_eq!(res.status(), 201);
        let _: CapsuleResponse = res.json().await.expect("capsule");
        id
    }

    pub async fn declare(
        &self,
        user: &User,
        capsule: Uuid,
        photo: Uuid,
        bytes: &[u8],
        content_type: &str,
    ) -> reqwest::Response {
        self.req(
            reqwest::Method::PUT,
            &format!("/v1/capsules/{capsule}/photos/{photo}"),
            user,
        )
        .json(&json!({
            "sha256": sha256_hex(bytes),
            "size": bytes.len(),
            "content_type": content_type,
            "file_name": "IMG_0001.jpg",
        }))
        .send()
        .await
        .expect("request")
    }

    /// Sends bytes to an upload target exactly as the desktop client does.
    pub async fn send_upload(
        &self,
        target: &protocol::UploadTarget,
        bytes: Vec<u8>,
    ) -> reqwest::Response {
        let method = reqwest::Method::from_bytes(target.method.as_bytes()).expect("method");
        let mut req = self.client.request(method, &target.url).body(bytes);
        for (k, v) in &target.headers {
            req = req.header(k, v);
        }
        req.send().await.expect("upload request")
    }

    pub async fn complete(&self, user: &User, capsule: Uuid, photo: Uuid) -> reqwest::Response {
        self.req(
            reqwest::Method::POST,
            &format!("/v1/capsules/{capsule}/photos/{photo}/complete"),
            user,
        )
        .send()
        .await
        .expect("request")
    }

    /// Declares a photo with the thumbnails a client made.
    pub async fn declare_with_thumbnails(
        &self,
        user: &User,
        capsule: Uuid,
        photo: Uuid,
        bytes: &[u8],
        thumbnails: &[(ThumbnailSize, Vec<u8>)],
    ) -> reqwest::Response {
        let declared: Vec<Value> = thumbnails
            .iter()
            .map(|(kind, t)| json!({"kind": kind, "sha256": sha256_hex(t), "size": t.len()}))
            .collect();
        self.req(
            reqwest::Method::PUT,
            &format!("/v1/capsules/{capsule}/photos/{photo}"),
            user,
        )
        .json(&json!({
            "sha256": sha256_hex(bytes),
            "size": bytes.len(),
            "content_type": "image/jpeg",
            "file_name": "IMG_0001.jpg",
            "thumbnails": declared,
        }))
        .send()
        .await
        .expect("request")
    }

    /// Declares, uploads and completes a photo with the two thumbnails a desktop makes;
    /// returns it ready.
    pub async fn add_photo(&self, user: &User, capsule: Uuid, bytes: &[u8]) -> Photo {
        let photo_id = Uuid::now_v7();
        let thumbnails = client_thumbnails(bytes);
        let res = self
            .declare_with_thumbnails(user, capsule, photo_id, bytes, &thumbnails)
            .await;
        assert_eq!(res.status(), 200);
        let declared: PhotoUploadResponse = res.json().await.expect("declared");
        if let Some(target) = declared.upload {
            let up = self.send_upload(&target, bytes.to_vec()).await;
            assert!(up.status().is_success(), "upload failed: {}", up.status());
        }
        for t in &declared.thumbnails {
            let bytes = thumbnails
                .iter()
                .find(|(k, _)| *k == t.kind)
                .map(|(_, b)| b.clone())
                .expect("a declared thumbnail");
            let up = self.send_upload(&t.upload, bytes).await;
            assert!(
                up.status().is_success(),
                "thumbnail upload failed: {}",
                up.status()
            );
        }
        let res = self.complete(user, capsule, photo_id).await;
        assert_eq!(res.status(), 200, "complete failed");
        let done: PhotoResponse = res.json().await.expect("photo");
        done.photo
    }

    pub async fn seal(&self, user: &User, capsule: Uuid) -> reqwest::Response {
        self.req(
            reqwest::Method::POST,
            &format!("/v1/capsules/{capsule}/seal"),
            user,
        )
        .send()
        .await
        .expect("request")
    }

    /// `POST /v1/capsules/{id}/deliveries/resend`.
    pub async fn resend(&self, user: &User, capsule: Uuid, body: &Value) -> reqwest::Response {
        self.req(
            reqwest::Method::POST,
            &format!("/v1/capsules/{capsule}/deliveries/resend"),
            user,
        )
        .json(body)
        .send()
        .await
        .expect("request")
    }

    /// `DELETE /v1/account` with a password.
    pub async fn delete_account(&self, user: &User, password: &str) -> reqwest::Response {
        self.req(reqwest::Method::DELETE, "/v1/account", user)
            .json(&json!({ "password": password }))
            .send()
            .await
            .expect("request")
    }

    /// `POST /v1/sessions/refresh`.
    pub async fn refresh(&self, refresh_token: &str) -> reqwest::Response {
        self.client
            .post(self.url("/v1/sessions/refresh"))
            .json(&json!({ "refresh_token": refresh_token }))
            .send()
            .await
            .expect("request")
    }

    /// `POST /v1/accounts` with a body as given (fields the API does not know, say).
    pub async fn sign_up_with(&self, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url("/v1/accounts"))
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn get_json(&self, user: &User, path: &str) -> (u16, Value) {
        let res = self
            .req(reqwest::Method::GET, path, user)
            .send()
            .await
            .expect("request");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }
}

/// A draft body opening a day from now.
pub fn draft_body(title: &str) -> Value {
    json!({
        "title": title,
        "note": "Remember the lake.",
        "open_at": (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339(),
        "time_zone": "Europe/Paris",
        "recipients": ["friend@example.com"],
    })
}

/// The error code of an error answer.
pub async fn error_code(res: reqwest::Response) -> (u16, String) {
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    (
        status,
        body["error"]["code"]
            .as_str()
            .unwrap_or("<none>")
            .to_owned(),
    )
}
