//! Where photo bytes live: a folder (the embedded default) or S3. Keys are made by the
//! server (user id, hash, photo id), never from file names.

mod folder;
pub mod gc;
mod s3;

use std::collections::BTreeMap;
use std::path::Path;
use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::io::AsyncRead;

pub use folder::FolderStore;
pub use s3::S3Store;

/// Errors from a blob store.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("blob store unavailable: {0}")]
    Unavailable(String),
    #[error("blob store I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("blob key not acceptable: {0}")]
    BadKey(String),
}

/// A request the client sends straight to the store.
#[derive(Debug, Clone)]
pub struct PresignedPut {
    pub method: String,
    pub url: String,
    pub headers: BTreeMap<String, String>,
}

/// A part of a multipart upload the store holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPart {
    /// 1-based.
    pub number: u32,
    pub size: u64,
    /// The store's tag of the part, where it needs them back to finish.
    pub etag: Option<String>,
}

/// A stream of a stored object's bytes and its length.
pub struct BlobReader {
    pub len: u64,
    pub reader: Pin<Box<dyn AsyncRead + Send>>,
}

/// The narrow interface every store implements.
#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Whether [`presign_put`](Self::presign_put) gives direct uploads. The store then
    /// checks the pinned length and SHA-256 itself, so an upload can go straight to its
    /// content-addressed key: a cut upload leaves nothing, a wrong one is refused.
    fn direct_uploads(&self) -> bool;

    /// A direct upload for `key`, pinned to `size` and `sha256_hex`, valid for `ttl`; None
    /// when this store has no direct uploads and the server receives the bytes itself.
    async fn presign_put(
        &self,
        key: &str,
        size: u64,
        sha256_hex: &str,
        content_type: &str,
        ttl: Duration,
    ) -> Result<Option<PresignedPut>, BlobError>;

    /// A short-lived download URL, or None when the server streams the bytes itself.
    async fn presign_get(
        &self,
        key: &str,
        ttl: Duration,
        content_type: &str,
        content_disposition: &str,
    ) -> Result<Option<String>, BlobError>;

    /// Stores a local file under `key`. The file may be moved away; the caller removes it
    /// afterwards if it is still there.
    async fn put_file(&self, key: &str, path: &Path, content_type: &str) -> Result<(), BlobError>;

    /// Stores small bytes (thumbnails).
    async fn put_bytes(&self, key: &str, bytes: Bytes, content_type: &str)
    -> Result<(), BlobError>;

    /// Opens an object for streaming; None when it does not exist.
    async fn get(&self, key: &str) -> Result<Option<BlobReader>, BlobError>;

    /// Up to `len` bytes of an object from `offset` (none past its end), with the object's
    /// whole length; None when it does not exist.
    async fn get_range(
        &self,
        key: &str,
        offset: u64,
        len: u64,
    ) -> Result<Option<(u64, Bytes)>, BlobError>;

    /// An object's length, and the SHA-256 (hex) the store itself checked when it was
    /// written where it keeps one (S3 with a pinned checksum); None when it does not exist.
    async fn head(&self, key: &str) -> Result<Option<(u64, Option<String>)>, BlobError>;

    /// Starts a multipart upload to `key`; answers its id.
    async fn start_multipart(&self, key: &str, content_type: &str) -> Result<String, BlobError>;

    /// A direct upload of part `number` (`size` bytes), valid for `ttl`; None when the
    /// server receives parts itself ([`put_part`](Self::put_part)).
    async fn presign_part(
        &self,
        key: &str,
        upload_id: &str,
        number: u32,
        size: u64,
        ttl: Duration,
    ) -> Result<Option<PresignedPut>, BlobError>;

    /// Stores part `number` from a local file (the server received it).
    async fn put_part(
        &self,
        key: &str,
        upload_id: &str,
        number: u32,
        path: &Path,
    ) -> Result<(), BlobError>;

    /// The parts the store holds, in order; None when the upload is gone (finished,
    /// aborted, or expired by the bucket's rule).
    async fn list_parts(
        &self,
        key: &str,
        upload_id: &str,
    ) -> Result<Option<Vec<StoredPart>>, BlobError>;

    /// Joins the parts into the object at `key`.
    async fn finish_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[StoredPart],
    ) -> Result<(), BlobError>;

    /// Drops an unfinished upload and its parts; an unknown one is fine.
    async fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<(), BlobError>;

    /// Copies an object within the store.
    async fn copy(&self, from: &str, to: &str) -> Result<(), BlobError>;

    /// Deletes an object; absent objects are fine.
    async fn delete(&self, key: &str) -> Result<(), BlobError>;

    /// Deletes an object and every older version of it the store keeps (a versioned
    /// bucket), so plaintext that must go leaves no copy behind.
    async fn purge(&self, key: &str) -> Result<(), BlobError> {
        self.delete(key).await
    }

    /// Deletes every object under a prefix.
    async fn delete_prefix(&self, prefix: &str) -> Result<(), BlobError>;

    /// The keys of the objects directly in `folder` (a prefix ending in `/`), in key order,
    /// at most `limit` of them.
    async fn list(&self, folder: &str, limit: usize) -> Result<Vec<String>, BlobError>;

    /// Readiness probe.
    async fn check(&self) -> Result<(), BlobError>;
}

/// The keys of a user's objects, all under one prefix so account deletion is one sweep.
pub mod keys {
    use std::fmt::Display;

    /// Everything of a user.
    pub fn user_prefix(user_id: impl Display) -> String {
        format!("users/{user_id}/")
    }
    /// A verified original.
    pub fn original(user_id: impl Display, sha256: &str) -> String {
        format!("users/{user_id}/originals/{sha256}")
    }
    /// Its server-made thumbnail.
    pub fn thumbnail(user_id: impl Display, sha256: &str) -> String {
        format!("users/{user_id}/thumbnails/{sha256}.jpg")
    }
    /// Its 1280 px preview.
    pub fn preview(user_id: impl Display, sha256: &str) -> String {
        format!("users/{user_id}/previews/{sha256}.jpg")
    }
    /// Where an upload lands before it is verified.
    pub fn staging(user_id: impl Display, photo_id: impl Display) -> String {
        format!("users/{user_id}/staging/{photo_id}")
    }
    /// The sealed files of a capsule sealed on a device.
    pub fn sealed_prefix(user_id: impl Display, capsule_id: impl Display) -> String {
        format!("users/{user_id}/sealed/{capsule_id}/")
    }
    /// One sealed file (its name is checked against the sealed names first).
    pub fn sealed(user_id: impl Display, capsule_id: impl Display, name: &str) -> String {
        format!("users/{user_id}/sealed/{capsule_id}/{name}")
    }
    /// A thumbnail of the photo with these bytes, by kind.
    pub fn thumbnail_of(
        user_id: impl Display,
        sha256: &str,
        kind: protocol::ThumbnailSize,
    ) -> String {
        match kind {
            protocol::ThumbnailSize::Grid => thumbnail(user_id, sha256),
            protocol::ThumbnailSize::Preview => preview(user_id, sha256),
        }
    }
}

/// Keys are server-made; this refuses anything else before it reaches a path or a URL.
pub(crate) fn check_key(key: &str) -> Result<(), BlobError> {
    let ok = !key.is_empty()
        && key.len() <= 512
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.'))
        && !key.split('/').any(|seg| seg == ".." || seg == ".")
        && !key.starts_with('/');
    if ok {
        Ok(())
    } else {
        Err(BlobError::BadKey(key.to_owned()))
    }
}
