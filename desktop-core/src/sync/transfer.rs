//! Moving photo bytes: uploads streamed from disk in chunks with progress (never whole in
//! memory), downloads streamed to a scratch file while hashed and renamed into place only
//! when the hash matches.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::StreamExt;
use protocol::UploadTarget;
use reqwest::header::{CONTENT_LENGTH, HeaderName, HeaderValue};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tokio_util::io::ReaderStream;

use super::api::check;
use super::error::SyncError;

/// Chunk size read from disk per write to the socket.
const CHUNK: usize = 256 * 1024;

/// Sends a file to an upload target. `sent` counts bytes handed to the connection.
pub(crate) async fn upload(
    http: &reqwest::Client,
    target: &UploadTarget,
    path: &Path,
    size: u64,
    sent: Arc<AtomicU64>,
) -> Result<(), SyncError> {
    sent.store(0, Ordering::Relaxed);
    upload_range(
        http,
        &target.method,
        &target.url,
        &target.headers,
        path,
        0,
        size,
        &sent,
    )
    .await
}

/// Sends `len` bytes of a file from `offset` (one part of a large original, or a whole
/// file) with the request the target names; `sent` counts bytes handed to the connection.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn upload_range(
    http: &reqwest::Client,
    method: &str,
    url: &str,
    headers: &std::collections::BTreeMap<String, String>,
    path: &Path,
    offset: u64,
    len: u64,
    sent: &Arc<AtomicU64>,
) -> Result<(), SyncError> {
    use tokio::io::{AsyncReadExt, AsyncSeekExt};
    let mut file = tokio::fs::File::open(path).await?;
    file.seek(std::io::SeekFrom::Start(offset)).await?;
    let counter = sent.clone();
    let stream = ReaderStream::with_capacity(file.take(len), CHUNK).map(move |chunk| {
        if let Ok(c) = &chunk {
            counter.fetch_add(c.len() as u64, Ordering::Relaxed);
        }
        chunk
    });
    let method = reqwest::Method::from_bytes(method.as_bytes())
        .map_err(|e| SyncError::Protocol(e.to_string()))?;
    let mut req = http
        .request(method, url)
        .header(CONTENT_LENGTH, len)
        .body(reqwest::Body::wrap_stream(stream));
    for (k, v) in headers {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) else {
            return Err(SyncError::Protocol(format!("unusable upload header {k}")));
        };
        req = req.header(name, value);
    }
    check(req.send().await?).await?;
    Ok(())
}

/// Streams an answer body into `dest` (through a scratch file in `scratch_dir`), checking
/// its SHA-256 when one is expected.
pub(crate) async fn download_to(
    res: reqwest::Response,
    scratch: PathBuf,
    dest: &Path,
    expect_sha256: Option<&str>,
) -> Result<(), SyncError> {
    let res = check(res).await?;
    let result = async {
        let mut file = tokio::fs::File::create(&scratch).await?;
        let mut hasher = Sha256::new();
        let mut body = res.bytes_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk?;
            hasher.update(&chunk);
            file.write_all(&chunk).await?;
        }
        file.sync_all().await?;
        if let Some(want) = expect_sha256
            && hex::encode(hasher.finalize()) != want
        {
            return Err(SyncError::Corrupt);
        }
        if let Some(parent) = dest.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        tokio::fs::rename(&scratch, dest).await?;
        Ok(())
    }
    .await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(&scratch).await;
    }
    result
}
