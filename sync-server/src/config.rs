//! Command-line flags and environment, parsed once at the edge into typed settings in
//! sections (http, database, storage, mail, delivery, limits, auth). Every default is a
//! flag's default below, or a constant of [`Settings::resolve`]; secrets are kept in
//! `secrecy` types, so no `Debug`, log line or panic message prints them.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{CommandFactory, FromArgMatches};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretSlice, SecretString};

/// Flags of the server; each also comes from the environment variable named in `--help`.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "sync-server",
    version,
    about = "Image Time Capsule sync server"
)]
pub struct Flags {
    /// Address to listen on.
    #[arg(long, env = "ITC_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// Folder for the embedded database, blobs, temporary files and the generated secret.
    /// Default: the platform's data folder (e.g. ~/.local/share/image-time-capsule-server).
    #[arg(long, env = "ITC_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// sqlite:PATH or postgres://... (default: SQLite in the data folder).
    #[arg(long, env = "ITC_DATABASE_URL", hide_env_values = true, value_parser = secret)]
    pub database_url: Option<SecretString>,
    /// PostgreSQL user, when it is kept apart from the URL (a secret store injects it).
    #[arg(long, env = "ITC_DATABASE_USER", requires = "database_url")]
    pub database_user: Option<String>,
    /// PostgreSQL password, when it is kept apart from the URL (a secret store injects it).
    #[arg(
        long,
        env = "ITC_DATABASE_PASSWORD",
        hide_env_values = true,
        requires = "database_url",
        value_parser = secret
    )]
    pub database_password: Option<SecretString>,
    /// Most database connections this process opens (default: twice the CPU cores for
    /// PostgreSQL, at least 4; 4 for SQLite, which has one writer anyway).
    #[arg(long, env = "ITC_DATABASE_MAX_CONNECTIONS")]
    pub database_max_connections: Option<u32>,
    /// A folder path, or s3://bucket/prefix (standard AWS environment for credentials and
    /// region). Default: a blob folder inside the data folder.
    #[arg(long, env = "ITC_BLOB_STORE")]
    pub blob_store: Option<String>,
    /// Endpoint of an S3-compatible server (implies path-style addressing).
    #[arg(long, env = "ITC_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    /// Base URL clients and emails use to reach this server (default: from --bind).
    #[arg(long, env = "ITC_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// PEM certificate chain; with --tls-key serves HTTPS (rustls).
    #[arg(long, env = "ITC_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, env = "ITC_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Shortest time between sealing and the open date.
    #[arg(long, env = "ITC_MIN_LEAD", default_value = "60s", value_parser = humantime::parse_duration)]
    pub min_lead: Duration,
    /// Secret for signing tokens (at least 32 bytes). Default: generated on first run and
    /// kept in the data folder.
    #[arg(long, env = "ITC_JWT_SECRET", hide_env_values = true, value_parser = secret)]
    pub jwt_secret: Option<SecretString>,
    /// Refuse to start with a generated or weak secret.
    #[arg(long, env = "ITC_PRODUCTION")]
    pub production: bool,
    /// Logs as JSON lines.
    #[arg(long, env = "ITC_LOG_JSON")]
    pub log_json: bool,
    /// Largest photo accepted, in bytes.
    #[arg(long, env = "ITC_MAX_PHOTO_BYTES", default_value_t = 256 * 1024 * 1024)]
    pub max_photo_bytes: u64,
    /// Largest photo accepted, in pixels, for formats decoded whole (PNG, WebP, GIF, TIFF,
    /// BMP): a decompression-bomb guard.
    #[arg(long, env = "ITC_MAX_PHOTO_PIXELS", default_value_t = imaging::PixelLimits::DEFAULT.whole)]
    pub max_photo_pixels: u64,
    /// Largest JPEG or HEIC accepted, in pixels: they are decoded reduced (at a DCT scale,
    /// tile by tile), so 200 MP phone photos fit.
    #[arg(long, env = "ITC_MAX_SCALED_PHOTO_PIXELS", default_value_t = imaging::PixelLimits::DEFAULT.reduced)]
    pub max_scaled_photo_pixels: u64,
    /// Time limit for ordinary API requests.
    #[arg(long, env = "ITC_REQUEST_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub request_timeout: Duration,
    /// Time limit for one upload through the server.
    #[arg(long, env = "ITC_UPLOAD_TIMEOUT", default_value = "30m", value_parser = humantime::parse_duration)]
    pub upload_timeout: Duration,
    /// Take the client address from the last X-Forwarded-For entry (behind a load balancer).
    #[arg(long, env = "ITC_TRUST_FORWARDED_FOR")]
    pub trust_forwarded_for: bool,
    /// SMTP server for the open-date emails: smtp://user:pass@host:587?tls=required
    /// (STARTTLS) or smtps://user:pass@host:465. Default: .eml files in DATA/outbox.
    #[arg(long, env = "ITC_SMTP_URL", hide_env_values = true, value_parser = secret)]
    pub smtp_url: Option<SecretString>,
    /// Hand the open-date emails to the mail relay (`mail/outbox/` in the blob store)
    /// instead of sending them: for a server in a network with no way out to SMTP. The
    /// `mail-relay-lambda` sends them and reports refusals back.
    #[arg(long, env = "ITC_MAIL_RELAY", conflicts_with = "smtp_url")]
    pub mail_relay: bool,
    /// SMTP connections (and emails in flight) per process.
    #[arg(long, env = "ITC_SMTP_CONNECTIONS", default_value_t = 32)]
    pub smtp_connections: u32,
    /// Sender of the open-date emails.
    #[arg(
        long,
        env = "ITC_MAIL_FROM",
        default_value = "Image Time Capsule <capsules@localhost>"
    )]
    pub mail_from: String,
    /// How often the server's own delivery ticker runs.
    #[arg(long, env = "ITC_DELIVERY_INTERVAL", default_value = "60s", value_parser = humantime::parse_duration)]
    pub delivery_interval: Duration,
    /// Turn the server's delivery ticker off (when a scheduled Lambda delivers instead).
    #[arg(long, env = "ITC_NO_DELIVERY_TICKER")]
    pub no_delivery_ticker: bool,
    /// How long a recipient's link to an opened capsule works.
    #[arg(long, env = "ITC_LINK_TTL", default_value = "90days", value_parser = humantime::parse_duration)]
    pub link_ttl: Duration,
    /// Send attempts before a delivery is marked failed.
    #[arg(long, env = "ITC_DELIVERY_MAX_ATTEMPTS", default_value_t = 10)]
    pub delivery_max_attempts: u32,
    /// Password hashes (and checks) at once; each argon2id run holds 19 MiB. Default: twice
    /// the CPU cores.
    #[arg(long, env = "ITC_MAX_PASSWORD_HASHES")]
    pub max_password_hashes: Option<usize>,
    /// Requests waiting for a hashing slot; past it, 503 with Retry-After. Default: eight
    /// per slot.
    #[arg(long, env = "ITC_PASSWORD_HASH_QUEUE")]
    pub password_hash_queue: Option<usize>,
    /// Sign-ups per client address (per /64 for IPv6) within --sign-up-window; past it, 429.
    #[arg(long, env = "ITC_MAX_SIGN_UPS_PER_ADDRESS", default_value_t = 20)]
    pub max_sign_ups_per_address: i64,
    /// The window --max-sign-ups-per-address counts in.
    #[arg(long, env = "ITC_SIGN_UP_WINDOW", default_value = "1h", value_parser = humantime::parse_duration)]
    pub sign_up_window: Duration,
    /// Requests in flight at once (health probes aside); past it, 503 with Retry-After.
    #[arg(long, env = "ITC_MAX_REQUESTS_IN_FLIGHT", default_value_t = 512)]
    pub max_requests_in_flight: usize,
    /// Photo uploads streaming through the server at once.
    #[arg(long, env = "ITC_MAX_UPLOAD_STREAMS", default_value_t = 32)]
    pub max_upload_streams: usize,
    /// Zip downloads of opened capsules streaming at once.
    #[arg(long, env = "ITC_MAX_ZIP_DOWNLOADS", default_value_t = 8)]
    pub max_zip_downloads: usize,
    /// How long a worker holds a claimed delivery before another may take it over.
    #[arg(long, env = "ITC_DELIVERY_LEASE", default_value = "5m", value_parser = humantime::parse_duration)]
    pub delivery_lease: Duration,
    /// Hash (hex) of the drand chain capsules are time-locked to, with its public key,
    /// genesis and period. Default: drand's quicknet.
    #[arg(long, env = "ITC_DRAND_CHAIN_HASH", requires_all = ["drand_public_key", "drand_genesis", "drand_period"])]
    pub drand_chain_hash: Option<String>,
    /// The chain's public key on G2 (hex).
    #[arg(long, env = "ITC_DRAND_PUBLIC_KEY", requires = "drand_chain_hash")]
    pub drand_public_key: Option<String>,
    /// Unix seconds of the chain's round 1.
    #[arg(long, env = "ITC_DRAND_GENESIS", requires = "drand_chain_hash")]
    pub drand_genesis: Option<i64>,
    /// Seconds between the chain's rounds.
    #[arg(long, env = "ITC_DRAND_PERIOD", requires = "drand_chain_hash")]
    pub drand_period: Option<u64>,
    /// drand HTTP relays that serve the chain, comma-separated.
    #[arg(
        long,
        env = "ITC_DRAND_RELAYS",
        value_delimiter = ',',
        default_value = "https://api.drand.sh,https://drand.cloudflare.com"
    )]
    pub drand_relays: Vec<String>,
    /// The escrow key that opens capsules on their date if the drand network is gone: an
    /// age secret key, or any secret of at least 32 characters it is derived from. Default:
    /// generated on first run and kept in the data folder (0600).
    #[arg(long, env = "ITC_ESCROW_KEY", hide_env_values = true, value_parser = secret, conflicts_with = "no_escrow")]
    pub escrow_key: Option<SecretString>,
    /// Keep no escrow key: every capsule is time-locked only.
    #[arg(long, env = "ITC_NO_ESCROW")]
    pub no_escrow: bool,
}

fn secret(s: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(s))
}

impl Flags {
    /// Every flag at its default: the flags' own defaults, with nothing read from the
    /// environment (tests and the embedded settings start from this).
    pub fn defaults(data_dir: &Path) -> anyhow::Result<Self> {
        let command = Self::command().mut_args(|a| a.env(None::<&'static str>));
        let matches = command.try_get_matches_from([
            std::ffi::OsStr::new("sync-server"),
            std::ffi::OsStr::new("--data-dir"),
            data_dir.as_os_str(),
        ])?;
        Ok(Self::from_arg_matches(&matches)?)
    }
}

/// Where photo bytes go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobTarget {
    Folder(PathBuf),
    S3 {
        bucket: String,
        prefix: String,
        endpoint: Option<String>,
    },
}

/// Listening and answering.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub bind: SocketAddr,
    /// Base URL in upload links and emails.
    pub public_url: String,
    /// PEM certificate chain and key: serve HTTPS.
    pub tls: Option<(PathBuf, PathBuf)>,
    pub request_timeout: Duration,
    pub upload_timeout: Duration,
    pub trust_forwarded_for: bool,
}

/// The database.
#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    /// `sqlite:PATH` or `postgres://…`; may hold a password.
    pub url: SecretString,
    pub max_connections: Option<u32>,
}

/// Photo bytes and what is accepted.
#[derive(Debug, Clone)]
pub struct StorageSettings {
    pub blob: BlobTarget,
    pub max_photo_bytes: u64,
    pub max_photo_pixels: imaging::PixelLimits,
    /// Lifetime of an upload target.
    pub upload_ttl: Duration,
}

/// Outgoing mail.
#[derive(Debug, Clone)]
pub struct MailSettings {
    /// None: write .eml files into DATA/outbox. May hold credentials.
    pub smtp_url: Option<SecretString>,
    /// Hand messages to the mail relay through the blob store instead.
    pub relay: bool,
    pub smtp_connections: usize,
    pub from: lettre::message::Mailbox,
}

/// The open-date job.
#[derive(Debug, Clone)]
pub struct DeliverySettings {
    pub interval: Duration,
    pub ticker: bool,
    pub link_ttl: Duration,
    pub max_attempts: u32,
    pub lease: Duration,
}

/// Bounds that keep the server up under a flood, and the rules of time.
#[derive(Debug, Clone)]
pub struct LimitSettings {
    /// Shortest time between sealing and the open date.
    pub min_lead: Duration,
    /// Failed log-ins per account, and per address, within `throttle_window`.
    pub max_failures_per_account: i64,
    pub max_failures_per_address: i64,
    pub throttle_window: Duration,
    /// Argon2 runs at once, and requests allowed to wait for one.
    pub max_password_hashes: usize,
    pub password_hash_queue: usize,
    /// Sign-ups per address (per /64 for IPv6) within `sign_up_window`.
    pub max_sign_ups_per_address: i64,
    pub sign_up_window: Duration,
    /// Requests in flight (health probes aside), upload streams, zip downloads.
    pub max_requests_in_flight: usize,
    pub max_upload_streams: usize,
    pub max_zip_downloads: usize,
}

/// The seal: the drand chain capsules are time-locked to, where its rounds come from, and
/// the escrow key (none: time lock only).
#[derive(Debug, Clone)]
pub struct SealSettings {
    pub chain: seal::Chain,
    pub relays: Vec<String>,
    pub escrow: Option<Arc<seal::EscrowKey>>,
}

/// Tokens.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// The token signing secret (at least 32 bytes).
    pub jwt_secret: SecretSlice<u8>,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
}

/// Resolved settings the app runs with.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Database file, blobs, temporary files, the outbox and the generated secret.
    pub data_dir: PathBuf,
    pub http: HttpSettings,
    pub database: DatabaseSettings,
    pub storage: StorageSettings,
    pub mail: MailSettings,
    pub delivery: DeliverySettings,
    pub limits: LimitSettings,
    pub auth: AuthSettings,
    pub seal: SealSettings,
}

impl Settings {
    /// Settings for a data folder with every default and no secret yet (tests start from
    /// this and set one).
    pub fn embedded(data_dir: PathBuf) -> anyhow::Result<Self> {
        let flags = Flags::defaults(&data_dir)?;
        let escrow = Some(Arc::new(seal::EscrowKey::generate()));
        Self::resolve(flags, data_dir, SecretSlice::from(Vec::new()), escrow)
    }

    /// Resolves flags: creates the data folder and loads or generates the secret.
    pub fn from_flags(f: Flags) -> anyhow::Result<Self> {
        let data_dir = match &f.data_dir {
            Some(d) => d.clone(),
            None => dirs::data_dir()
                .context("no platform data folder; pass --data-dir")?
                .join("image-time-capsule-server"),
        };
        std::fs::create_dir_all(&data_dir)
            .with_context(|| format!("creating data folder {}", data_dir.display()))?;
        let jwt_secret = match &f.jwt_secret {
            Some(secret) => {
                if secret.expose_secret().len() < 32 {
                    bail!("ITC_JWT_SECRET must be at least 32 bytes");
                }
                SecretSlice::from(secret.expose_secret().as_bytes().to_vec())
            }
            None if f.production => {
                bail!("--production needs ITC_JWT_SECRET; a generated default secret is refused")
            }
            None => load_or_create_secret(&data_dir)?,
        };
        let escrow = match (&f.escrow_key, f.no_escrow) {
            (_, true) => None,
            (Some(secret), false) => Some(
                seal::EscrowKey::from_secret(secret.expose_secret())
                    .map_err(|e| anyhow::anyhow!("ITC_ESCROW_KEY: {e}"))?,
            ),
            (None, false) if f.production => bail!(
                "--production needs ITC_ESCROW_KEY (or --no-escrow); a generated escrow key is refused"
            ),
            (None, false) => Some(load_or_create_escrow_key(&data_dir)?),
        };
        Self::resolve(f, data_dir, jwt_secret, escrow.map(Arc::new))
    }

    /// The one place flags become settings; the few settings without a flag have their
    /// values here.
    fn resolve(
        f: Flags,
        data_dir: PathBuf,
        jwt_secret: SecretSlice<u8>,
        escrow: Option<Arc<seal::EscrowKey>>,
    ) -> anyhow::Result<Self> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        // Argon2 is CPU-bound: more at once than twice the cores only adds memory and
        // latency.
        let max_password_hashes = f.max_password_hashes.unwrap_or(2 * cores).max(1);
        let database_url = match &f.database_url {
            Some(url) => SecretString::from(with_credentials(
                url.expose_secret(),
                f.database_user.as_deref(),
                f.database_password.as_ref().map(|p| p.expose_secret()),
            )?),
            None => SecretString::from(sqlite_url(&data_dir)),
        };
        let blob = match &f.blob_store {
            Some(b) => parse_blob_target(b, f.s3_endpoint.clone())?,
            None => BlobTarget::Folder(data_dir.join("blobs")),
        };
        let scheme = if f.tls_cert.is_some() {
            "https"
        } else {
            "http"
        };
        let public_url = f
            .public_url
            .clone()
            .unwrap_or_else(|| format!("{scheme}://{}", f.bind))
            .trim_end_matches('/')
            .to_owned();
        let chain = drand_chain(&f)?;
        let from = f
            .mail_from
            .parse()
            .with_context(|| format!("--mail-from {:?} is not an address", f.mail_from))?;
        Ok(Self {
            http: HttpSettings {
                bind: f.bind,
                public_url,
                tls: f.tls_cert.zip(f.tls_key),
                request_timeout: f.request_timeout,
                upload_timeout: f.upload_timeout,
                trust_forwarded_for: f.trust_forwarded_for,
            },
            database: DatabaseSettings {
                url: database_url,
                max_connections: f.database_max_connections,
            },
            storage: StorageSettings {
                blob,
                max_photo_bytes: f.max_photo_bytes,
                max_photo_pixels: imaging::PixelLimits {
                    reduced: f.max_scaled_photo_pixels,
                    whole: f.max_photo_pixels,
                },
                upload_ttl: Duration::from_secs(15 * 60),
            },
            mail: MailSettings {
                smtp_url: f.smtp_url,
                relay: f.mail_relay,
                smtp_connections: usize::try_from(f.smtp_connections.max(1)).unwrap_or(1),
                from,
            },
            delivery: DeliverySettings {
                interval: f.delivery_interval,
                ticker: !f.no_delivery_ticker,
                link_ttl: f.link_ttl,
                max_attempts: f.delivery_max_attempts.max(1),
                lease: f.delivery_lease,
            },
            limits: LimitSettings {
                min_lead: f.min_lead,
                max_failures_per_account: 10,
                max_failures_per_address: 100,
                throttle_window: Duration::from_secs(15 * 60),
                max_password_hashes,
                password_hash_queue: f.password_hash_queue.unwrap_or(8 * max_password_hashes),
                max_sign_ups_per_address: f.max_sign_ups_per_address.max(1),
                sign_up_window: f.sign_up_window,
                max_requests_in_flight: f.max_requests_in_flight.max(1),
                max_upload_streams: f.max_upload_streams.max(1),
                max_zip_downloads: f.max_zip_downloads.max(1),
            },
            auth: AuthSettings {
                jwt_secret,
                access_ttl: Duration::from_secs(15 * 60),
                refresh_ttl: Duration::from_secs(60 * 24 * 3600),
            },
            seal: SealSettings {
                chain,
                relays: f
                    .drand_relays
                    .iter()
                    .map(|r| r.trim().trim_end_matches('/').to_owned())
                    .filter(|r| !r.is_empty())
                    .collect(),
                escrow,
            },
            data_dir,
        })
    }
}

/// Puts a user and password kept apart from a postgres:// URL into it, percent-encoded.
fn with_credentials(
    url: &str,
    user: Option<&str>,
    password: Option<&str>,
) -> anyhow::Result<String> {
    if user.is_none() && password.is_none() {
        return Ok(url.to_owned());
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        bail!("--database-user and --database-password need a postgres:// URL");
    };
    if !scheme.starts_with("postgres") {
        bail!("--database-user and --database-password apply to PostgreSQL only");
    }
    if rest
        .split('/')
        .next()
        .is_some_and(|authority| authority.contains('@'))
    {
        bail!("the database URL already names a user; give it there or apart, not both");
    }
    let enc = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    let userinfo = match (user, password) {
        (Some(u), Some(p)) => format!("{}:{}", enc(u), enc(p)),
        (Some(u), None) => enc(u),
        (None, Some(p)) => format!(":{}", enc(p)),
        (None, None) => String::new(),
    };
    Ok(format!("{scheme}://{userinfo}@{rest}"))
}

/// The default SQLite database inside a data folder.
pub fn sqlite_url(data_dir: &std::path::Path) -> String {
    format!("sqlite://{}?mode=rwc", data_dir.join("server.db").display())
}

fn parse_blob_target(spec: &str, endpoint: Option<String>) -> anyhow::Result<BlobTarget> {
    if let Some(rest) = spec.strip_prefix("s3://") {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            bail!("--blob-store s3:// needs a bucket name");
        }
        Ok(BlobTarget::S3 {
            bucket: bucket.to_owned(),
            prefix: prefix.trim_matches('/').to_owned(),
            endpoint,
        })
    } else {
        Ok(BlobTarget::Folder(PathBuf::from(spec)))
    }
}

fn load_or_create_secret(data_dir: &std::path::Path) -> anyhow::Result<SecretSlice<u8>> {
    let path = data_dir.join("jwt-secret");
    match std::fs::read_to_string(&path) {
        Ok(hex_text) => {
            let secret = hex::decode(hex_text.trim()).context("jwt-secret file is not hex")?;
            if secret.len() < 32 {
                bail!("{} holds fewer than 32 bytes", path.display());
            }
            Ok(SecretSlice::from(secret))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut secret = vec![0u8; 64];
            rand::rngs::OsRng.fill_bytes(&mut secret);
            write_private(&path, hex::encode(&secret).as_bytes())?;
            Ok(SecretSlice::from(secret))
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// The chain from the --drand-* flags, or quicknet.
fn drand_chain(f: &Flags) -> anyhow::Result<seal::Chain> {
    match (
        &f.drand_chain_hash,
        &f.drand_public_key,
        f.drand_genesis,
        f.drand_period,
    ) {
        (Some(hash), Some(key), Some(genesis), Some(period)) => {
            seal::Chain::new(hash, key, genesis, period)
                .map_err(|e| anyhow::anyhow!("--drand-*: {e}"))
        }
        (None, None, None, None) => Ok(seal::Chain::quicknet()),
        _ => bail!(
            "--drand-chain-hash, --drand-public-key, --drand-genesis and --drand-period go together"
        ),
    }
}

/// The escrow key kept in the data folder, made on first run.
fn load_or_create_escrow_key(data_dir: &std::path::Path) -> anyhow::Result<seal::EscrowKey> {
    let path = data_dir.join("escrow-key");
    match std::fs::read_to_string(&path) {
        Ok(text) => seal::EscrowKey::from_secret(&text)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = seal::EscrowKey::generate();
            write_private(&path, format!("{}\n", key.to_secret_text()).as_bytes())?;
            Ok(key)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn write_private(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_credentials_kept_apart_are_put_in_the_url_encoded() {
        let url = "postgres://db.example:5432/itc?sslmode=verify-full&sslrootcert=/etc/ca.pem";
        assert_eq!(
            with_credentials(url, Some("itc"), Some("p@ss:w/rd"))
                .ok()
                .as_deref(),
            Some(
                "postgres://itc:p%40ss%3Aw%2Frd@db.example:5432/itc?sslmode=verify-full&sslrootcert=/etc/ca.pem"
            )
        );
        assert_eq!(with_credentials(url, None, None).ok().as_deref(), Some(url));
        assert!(with_credentials("postgres://u@h/db", Some("v"), None).is_err());
        assert!(with_credentials("sqlite:/x.db", Some("v"), None).is_err());
    }

    #[test]
    fn no_secret_is_printed_by_debug() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut flags = Flags::defaults(dir.path()).expect("defaults");
        flags.jwt_secret = Some(SecretString::from("jwt0123456789x0123456789x0123456789"));
        flags.database_url = Some(SecretString::from("postgres://db.example/itc"));
        flags.database_user = Some("itc".into());
        flags.database_password = Some(SecretString::from("dbpass5up3r"));
        flags.smtp_url = Some(SecretString::from(
            "smtp://mailer:smtppassh1dden@mail.example:587",
        ));
        let printed_flags = format!("{flags:?}");
        let settings = Settings::from_flags(flags).expect("settings");
        let printed = format!("{settings:?} {settings:#?} {printed_flags}");
        let escrow = settings
            .seal
            .escrow
            .as_ref()
            .map(|k| k.to_secret_text())
            .unwrap_or_default();
        assert!(escrow.starts_with("AGE-SECRET-KEY-1"));
        for secret in [
            "jwt0123456789x",
            "dbpass5up3r",
            "smtppassh1dden",
            &escrow[16..40],
        ] {
            assert!(!printed.contains(secret), "{secret} printed");
        }
        assert!(
            settings
                .database
                .url
                .expose_secret()
                .contains("dbpass5up3r"),
            "the secret is still there to use"
        );
    }

    #[test]
    fn s3_spec_splits_bucket_and_prefix() {
        let t = parse_blob_target("s3://photos-bucket/a/b/", Some("http://x".into())).ok();
        assert_eq!(
            t,
            Some(BlobTarget::S3 {
                bucket: "photos-bucket".into(),
                prefix: "a/b".into(),
                endpoint: Some("http://x".into())
            })
        );
        assert!(parse_blob_target("s3:///x", None).is_err());
    }
}
