//! Photo upload throughput of the sync engine beside a plain aws-sdk-s3 PutObject loop of
//! the same files to the same S3 server. Each phase runs as its own process so each peak
//! memory figure is its own (scripts/bench-upload.sh runs them in order):
//!
//!   upload_bench prepare  DIR TOTAL_MB SOURCE   unique copies of the JPEGs in SOURCE (a
//!                                               comment segment makes each copy's bytes
//!                                               differ), imported into DIR/lib
//!   upload_bench baseline DIR S3_ENDPOINT BUCKET
//!   upload_bench ours     DIR SERVER_URL [--no-thumbnails]
//!
//! With `--no-thumbnails` the library's thumbnails are removed first, so the engine declares
//! none, as an older client would, and the server makes them in its background job.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use desktop_core::{CancelToken, Library, SyncEngine, SyncState, SystemClock, TokenStore, import};

fn peak_rss_mb() -> f64 {
    // Linux: the high-water mark of resident memory.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn photos(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir.join("photos"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    v.sort();
    Ok(v)
}

fn total_bytes(files: &[PathBuf]) -> anyhow::Result<u64> {
    files.iter().map(|f| Ok(std::fs::metadata(f)?.len())).sum()
}

fn prepare(dir: &Path, total_mb: u64, source: &Path) -> anyhow::Result<()> {
    let out = dir.join("photos");
    std::fs::create_dir_all(&out)?;
    let mut sources: Vec<Vec<u8>> = Vec::new();
    for entry in std::fs::read_dir(source)? {
        let path = entry?.path();
        let bytes = std::fs::read(&path)?;
        if bytes.starts_with(&[0xFF, 0xD8]) {
            sources.push(bytes);
        }
    }
    if sources.is_empty() {
        bail!("no JPEGs in {}", source.display());
    }
    let want = total_mb * 1024 * 1024;
    let mut written = 0u64;
    let mut i = 0usize;
    while written < want {
        let src = &sources[i % sources.len()];
        // SOI, then a COM segment naming the copy, then the rest: the same picture, other bytes.
        let comment = format!("upload bench copy {i}");
        let len = u16::try_from(comment.len() + 2)?;
        let mut bytes = Vec::with_capacity(src.len() + comment.len() + 4);
        bytes.extend_from_slice(&src[..2]);
        bytes.extend_from_slice(&[0xFF, 0xFE]);
        bytes.extend_from_slice(&len.to_be_bytes());
        bytes.extend_from_slice(comment.as_bytes());
        bytes.extend_from_slice(&src[2..]);
        std::fs::write(out.join(format!("photo-{i:04}.jpg")), &bytes)?;
        written += bytes.len() as u64;
        i += 1;
    }
    let lib = Library::open(dir.join("lib"))?;
    let files = photos(dir)?;
    let report = import(&lib, &[out], &|_| {}, &CancelToken::default());
    if !report.failed.is_empty() {
        bail!("import failed: {:?}", report.failed);
    }
    println!(
        "prepared: {} photos, {:.0} MB",
        files.len(),
        total_bytes(&files)? as f64 / 1e6
    );
    Ok(())
}

async fn baseline(dir: &Path, endpoint: &str, bucket: &str) -> anyhow::Result<()> {
    let shared = aws_config::load_from_env().await;
    let conf = aws_sdk_s3::config::Builder::from(&shared)
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .build();
    let client = aws_sdk_s3::Client::from_conf(conf);
    let _ = client.create_bucket().bucket(bucket).send().await;
    let files = photos(dir)?;
    let bytes = total_bytes(&files)?;
    let start = Instant::now();
    for f in &files {
        let body = aws_sdk_s3::primitives::ByteStream::from_path(f).await?;
        let key = f
            .file_name()
            .context("name")?
            .to_string_lossy()
            .into_owned();
        client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type("image/jpeg")
            .body(body)
            .send()
            .await?;
    }
    let secs = start.elapsed().as_secs_f64();
    println!("baseline_mb_s: {:.1}", bytes as f64 / 1e6 / secs);
    println!("baseline_peak_rss_mb: {:.1}", peak_rss_mb());
    Ok(())
}

async fn ours(dir: &Path, server: &str, thumbnails: bool) -> anyhow::Result<()> {
    let lib = Arc::new(Library::open(dir.join("lib"))?);
    let files = photos(dir)?;
    let bytes = total_bytes(&files)?;
    let engine = SyncEngine::new(
        lib.clone(),
        Arc::new(SystemClock),
        TokenStore::file_only(dir.join("lib")),
        "upload bench",
    )?;
    let email = format!("bench-{}@example.com", uuid::Uuid::new_v4().simple());
    engine
        .sign_up(server, &email, "upload bench passphrase 2026")
        .await?;
    let draft = lib.create_draft(
        &protocol::CapsuleWrite {
            title: "Upload benchmark".into(),
            note: String::new(),
            open_at: None,
            time_zone: "UTC".into(),
            recipients: vec![],
        },
        chrono::Utc::now(),
    )?;
    // The same photos, as the drop handler adds them: imported already, added by hash.
    let report = import(&lib, &files, &|_| {}, &CancelToken::default());
    let shas: Vec<_> = report
        .imported
        .iter()
        .map(|p| (p.photo.sha256.clone(), p.file_name.clone()))
        .collect();
    lib.add_photos(draft.id, &shas, chrono::Utc::now())?;
    if !thumbnails {
        for (sha, _) in &shas {
            for size in [
                desktop_core::ThumbSize::Grid,
                desktop_core::ThumbSize::Preview,
            ] {
                let _ = std::fs::remove_file(lib.thumbnail_path(sha, size));
            }
        }
    }
    let start = Instant::now();
    engine.sync_now().await?;
    let secs = start.elapsed().as_secs_f64();
    let state = engine.sync_state(draft.id)?;
    if state != SyncState::Synced {
        bail!("not synced: {state:?}");
    }
    let label = if thumbnails { "ours" } else { "no_thumbnails" };
    println!("{label}_mb_s: {:.1}", bytes as f64 / 1e6 / secs);
    println!("{label}_peak_rss_mb: {:.1}", peak_rss_mb());
    println!("{label}_photos: {}", files.len());
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["prepare", dir, mb, source] => prepare(Path::new(dir), mb.parse()?, Path::new(source)),
        ["baseline", dir, endpoint, bucket] => baseline(Path::new(dir), endpoint, bucket).await,
        ["ours", dir, server] => ours(Path::new(dir), server, true).await,
        ["ours", dir, server, "--no-thumbnails"] => ours(Path::new(dir), server, false).await,
        _ => bail!(
            "usage: upload_bench prepare DIR TOTAL_MB SOURCE | baseline DIR S3_ENDPOINT BUCKET | ours DIR SERVER_URL [--no-thumbnails]"
        ),
    }
}
