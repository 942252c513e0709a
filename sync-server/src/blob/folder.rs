use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::fs;
use tokio::io::AsyncWriteExt;

use super::{BlobError, BlobReader, BlobStore, PresignedPut, StoredPart, check_key};

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

    /// The folder of a multipart upload: its parts, one file each.
    fn upload_dir(&self, upload_id: &str) -> Result<PathBuf, BlobError> {
        if uuid::Uuid::try_parse(upload_id).is_err() {
            return Err(BlobError::BadKey(upload_id.to_owned()));
        }
        Ok(self.root.join(".multipart").join(upload_id))
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

    async fn get_range(
        &self,
        key: &str,
        offset: u64,
        len: u64,
    ) -> Result<Option<(u64, Bytes)>, BlobError> {
        use tokio::io::{AsyncReadExt, AsyncSeekExt};
        let path = self.path(key)?;
        let mut f = match fs::File::open(&path).await {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let total = f.metadata().await?.len();
        let take = len.min(total.saturating_sub(offset));
        let mut buf = Vec::with_capacity(usize::try_from(take).unwrap_or(0));
        f.seek(std::io::SeekFrom::Start(offset.min(total))).await?;
        f.take(take).read_to_end(&mut buf).await?;
        Ok(Some((total, Bytes::from(buf))))
    }

    async fn head(&self, key: &str) -> Result<Option<(u64, Option<String>)>, BlobError> {
        match fs::metadata(self.path(key)?).await {
            Ok(m) => Ok(Some((m.len(), None))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn start_multipart(&self, key: &str, _content_type: &str) -> Result<String, BlobError> {
        self.path(key)?;
        let id = uuid::Uuid::new_v4().to_string();
        fs::create_dir_all(self.upload_dir(&id)?).await?;
        Ok(id)
    }

    async fn presign_part(
        &self,
        _key: &str,
        _upload_id: &str,
        _number: u32,
        _size: u64,
        _ttl: Duration,
    ) -> Result<Option<PresignedPut>, BlobError> {
        Ok(None)
    }

    async fn put_part(
        &self,
        _key: &str,
        upload_id: &str,
        number: u32,
        path: &Path,
    ) -> Result<(), BlobError> {
        let dir = self.upload_dir(upload_id)?;
        if fs::metadata(&dir).await.is_err() {
            return Err(BlobError::Unavailable(
                "this upload is no longer open".into(),
            ));
        }
        let tmp = self.incoming();
        if fs::rename(path, &tmp).await.is_err() {
            fs::copy(path, &tmp).await?;
        }
        let placed = fs::rename(&tmp, dir.join(format!("part-{number:05}"))).await;
        if placed.is_err() {
            let _ = fs::remove_file(&tmp).await;
        }
        Ok(placed?)
    }

    async fn list_parts(
        &self,
        _key: &str,
        upload_id: &str,
    ) -> Result<Option<Vec<StoredPart>>, BlobError> {
        let dir = self.upload_dir(upload_id)?;
        let mut entries = match fs::read_dir(&dir).await {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let mut parts = Vec::new();
        while let Some(entry) = entries.next_entry().await? {
            let name = entry.file_name();
            let Some(number) = name
                .to_str()
                .and_then(|n| n.strip_prefix("part-"))
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            parts.push(StoredPart {
                number,
                size: entry.metadata().await?.len(),
                etag: None,
            });
        }
        parts.sort_by_key(|p| p.number);
        Ok(Some(parts))
    }

    async fn finish_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[StoredPart],
    ) -> Result<(), BlobError> {
        let dir = self.upload_dir(upload_id)?;
        let tmp = self.incoming();
        let mut out = fs::File::create(&tmp).await?;
        let joined = async {
            for p in parts {
                let mut part = fs::File::open(dir.join(format!("part-{:05}", p.number))).await?;
                tokio::io::copy(&mut part, &mut out).await?;
            }
            out.sync_all().await
        }
        .await;
        drop(out);
        if let Err(e) = joined {
            let _ = fs::remove_file(&tmp).await;
            return Err(e.into());
        }
        let placed = self.place(&tmp, key).await;
        if placed.is_err() {
            let _ = fs::remove_file(&tmp).await;
        }
        placed?;
        let _ = fs::remove_dir_all(&dir).await;
        Ok(())
    }

    async fn abort_multipart(&self, _key: &str, upload_id: &str) -> Result<(), BlobError> {
        match fs::remove_dir_all(self.upload_dir(upload_id)?).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
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

    async fn list(&self, folder: &str, limit: usize) -> Result<Vec<String>, BlobError> {
        let folder = folder.trim_end_matches('/');
        let mut dir = match fs::read_dir(self.path(folder)?).await {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            other => other?,
        };
        let mut keys = Vec::new();
        while let Some(entry) = dir.next_entry().await? {
            let name = entry.file_name();
            // Names the server did not make (a half-written temporary file) are not keys.
            let Some(name) = name.to_str() else { continue };
            if entry.file_type().await?.is_file()
                && check_key(name).is_ok()
                && !name.starts_with('.')
            {
                keys.push(format!("{folder}/{name}"));
            }
        }
        keys.sort_unstable();
        keys.truncate(limit);
        Ok(keys)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn list_names_the_files_of_one_folder_in_order_and_nothing_half_written() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = FolderStore::open(dir.path()).await.expect("open");
        assert!(
            store
                .list("mail/outbox/", 10)
                .await
                .expect("list")
                .is_empty()
        );
        for key in [
            "mail/outbox/b.eml",
            "mail/outbox/a.eml",
            "mail/outbox/deeper/c.eml",
        ] {
            store
                .put_bytes(key, Bytes::from_static(b"x"), "message/rfc822")
                .await
                .expect("put");
        }
        fs::write(dir.path().join("mail/outbox/.half.tmp"), b"x")
            .await
            .expect("write");
        assert_eq!(
            store.list("mail/outbox/", 10).await.expect("list"),
            ["mail/outbox/a.eml", "mail/outbox/b.eml"]
        );
        assert_eq!(
            store.list("mail/outbox", 1).await.expect("list"),
            ["mail/outbox/a.eml"]
        );
    }
}
