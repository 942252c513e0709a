use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::fs;
use tokio::io::AsyncWriteExt;

use super::{BlobError, BlobReader, BlobStore, PresignedPut, check_key};

/// Objects as files under one folder. Every write lands in a temporary file first and is
/// renamed into place, so a key never holds half an object.
#[derive(Debug, Clone)]
pub struct FolderStore {
    root: PathBuf,
}

impl FolderStore {
    /// Opens (and creates) the folder.
    pub async fn open(root: impl Into<PathBuf>) -> Result<Self, BlobError> {
        let root = root.into();
        fs::create_dir_all(root.join(".incoming")).await?;
        Ok(Self { root })
    }

    fn path(&self, key: &str) -> Result<PathBuf, BlobError> {
        check_key(key)?;
        Ok(self.root.join(key))
    }

    fn incoming(&self) -> PathBuf {
        self.root
            .join(".incoming")
            .join(uuid::Uuid::new_v4().to_string())
    }

    async fn place(&self, tmp: &Path, key: &str) -> Result<(), BlobError> {
        let dest = self.path(key)?;
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).await?;
        }
        fs::rename(tmp, &dest).await?;
        Ok(())
    }
}

#[async_trait]
impl BlobStore for FolderStore {
    fn direct_uploads(&self) -> bool {
        false
    }

    async fn presign_put(
        &self,
        _key: &str,
        _size: u64,
        _sha256_hex: &str,
        _content_type: &str,
        _ttl: Duration,
    ) -> Result<Option<PresignedPut>, BlobError> {
        Ok(None)
    }

    async fn presign_get(
        &self,
        _key: &str,
        _ttl: Duration,
        _content_type: &str,
        _content_disposition: &str,
    ) -> Result<Option<String>, BlobError> {
        Ok(None)
    }

    async fn put_file(&self, key: &str, path: &Path, _content_type: &str) -> Result<(), BlobError> {
        let tmp = self.incoming();
        // Rename when the file is on the same file system; copy otherwise.
        if fs::rename(path, &tmp).await.is_err() {
            fs::copy(path, &tmp).await?;
        }
        let placed = self.place(&tmp, key).await;
        if placed.is_err() {
            let _ = fs::remove_file(&tmp).await;
        }
        placed
    }

    async fn put_bytes(
        &self,
        key: &str,
        bytes: Bytes,
        _content_type: &str,
    ) -> Result<(), BlobError> {
        let tmp = self.incoming();
        let mut f = fs::File::create(&tmp).await?;
        f.write_all(&bytes).await?;
        f.sync_all().await?;
        drop(f);
        let placed = self.place(&tmp, key).await;
        if placed.is_err() {
            let _ = fs::remove_file(&tmp).await;
        }
        placed
    }

    async fn get(&self, key: &str) -> Result<Option<BlobReader>, BlobError> {
        let path = self.path(key)?;
        match fs::File::open(&path).await {
            Ok(f) => {
                let len = f.metadata().await?.len();
                Ok(Some(BlobReader {
                    len,
                    reader: Box::pin(f),
                }))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn copy(&self, from: &str, to: &str) -> Result<(), BlobError> {
        let src = self.path(from)?;
        let tmp = self.incoming();
        fs::copy(&src, &tmp).await?;
        let placed = self.place(&tmp, to).await;
        if placed.is_err() {
            let _ = fs::remove_file(&tmp).await;
        }
        placed
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        match fs::remove_file(self.path(key)?).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<(), BlobError> {
        let dir = self.path(prefix.trim_end_matches('/'))?;
        match fs::remove_dir_all(dir).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    async fn check(&self) -> Result<(), BlobError> {
        let meta = fs::metadata(self.root.join(".incoming")).await?;
        if meta.is_dir() {
            Ok(())
        } else {
            Err(BlobError::Unavailable("blob folder is missing".into()))
        }
    }
}
