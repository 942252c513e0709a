use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use base64::Engine;
use bytes::Bytes;

use super::{BlobError, BlobReader, BlobStore, PresignedPut, StoredPart, check_key};

/// Objects in an S3 bucket under a prefix.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: Client,
    bucket: String,
    prefix: String,
}

fn err<E: std::error::Error + 'static>(e: SdkError<E>) -> BlobError {
    BlobError::Unavailable(DisplayErrorContext(&e).to_string())
}

impl S3Store {
    /// Uses the standard AWS environment (credentials, region, task role), with an optional
    /// endpoint for S3-compatible servers.
    pub async fn connect(
        bucket: &str,
        prefix: &str,
        endpoint: Option<&str>,
    ) -> Result<Self, BlobError> {
        let shared = aws_config::load_from_env().await;
        let mut conf = aws_sdk_s3::config::Builder::from(&shared)
            // Presigned PUTs must carry only the checksum we pin, not one the SDK adds.
            .request_checksum_calculation(
                aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired,
            )
            .response_checksum_validation(
                aws_sdk_s3::config::ResponseChecksumValidation::WhenRequired,
            )
            // A store that stops answering must turn into a 503 well before a request's own
            // time limit, not hang it: bounded connects and silences, two attempts.
            .timeout_config(
                aws_sdk_s3::config::timeout::TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(3))
                    .read_timeout(Duration::from_secs(8))
                    .build(),
            )
            .retry_config(aws_sdk_s3::config::retry::RetryConfig::standard().with_max_attempts(2));
        if shared.region().is_none() {
            conf = conf.region(aws_sdk_s3::config::Region::new("us-east-1"));
        }
        if let Some(ep) = endpoint {
            conf = conf.endpoint_url(ep).force_path_style(true);
        }
        let prefix = prefix.trim_matches('/');
        Ok(Self {
            client: Client::from_conf(conf.build()),
            bucket: bucket.to_owned(),
            prefix: if prefix.is_empty() {
                String::new()
            } else {
                format!("{prefix}/")
            },
        })
    }

    /// Creates the bucket if it does not exist (tests and first runs against local servers).
    pub async fn ensure_bucket(&self) -> Result<(), BlobError> {
        if self
            .client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .is_ok()
        {
            return Ok(());
        }
        match self
            .client
            .create_bucket()
            .bucket(&self.bucket)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            // Several replicas starting at once race to create it; losing the race is fine.
            Err(e)
                if e.as_service_error().is_some_and(|s| {
                    s.is_bucket_already_exists() || s.is_bucket_already_owned_by_you()
                }) =>
            {
                Ok(())
            }
            Err(e) => Err(err(e)),
        }
    }

    fn key(&self, key: &str) -> Result<String, BlobError> {
        check_key(key)?;
        Ok(format!("{}{key}", self.prefix))
    }
}

#[async_trait]
impl BlobStore for S3Store {
    fn direct_uploads(&self) -> bool {
        true
    }

    async fn presign_put(
        &self,
        key: &str,
        size: u64,
        sha256_hex: &str,
        content_type: &str,
        ttl: Duration,
    ) -> Result<Option<PresignedPut>, BlobError> {
        let digest = hex::decode(sha256_hex).map_err(|_| BlobError::BadKey(sha256_hex.into()))?;
        let checksum = base64::engine::general_purpose::STANDARD.encode(digest);
        let config =
            PresigningConfig::expires_in(ttl).map_err(|e| BlobError::Unavailable(e.to_string()))?;
        let req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(self.key(key)?)
            .content_length(i64::try_from(size).unwrap_or(i64::MAX))
            .content_type(content_type)
            .checksum_sha256(checksum)
            .presigned(config)
            .await
            .map_err(err)?;
        Ok(Some(PresignedPut {
            method: req.method().to_owned(),
            url: req.uri().to_owned(),
            headers: req
                .headers()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        }))
    }

    async fn presign_get(
        &self,
        key: &str,
        ttl: Duration,
        content_type: &str,
        content_disposition: &str,
    ) -> Result<Option<String>, BlobError> {
        let config =
            PresigningConfig::expires_in(ttl).map_err(|e| BlobError::Unavailable(e.to_string()))?;
        let req = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.key(key)?)
            .response_content_type(content_type)
            .response_content_disposition(content_disposition)
            .presigned(config)
            .await
            .map_err(err)?;
        Ok(Some(req.uri().to_owned()))
    }

    async fn put_file(&self, key: &str, path: &Path, content_type: &str) -> Result<(), BlobError> {
        let len = tokio::fs::metadata(path).await?.len();
        let body = ByteStream::from_path(path)
            .await
            .map_err(|e| BlobError::Unavailable(e.to_string()))?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(self.key(key)?)
            .content_length(i64::try_from(len).unwrap_or(i64::MAX))
            .content_type(content_type)
            .body(body)
            .send()
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn put_bytes(
        &self,
        key: &str,
        bytes: Bytes,
        content_type: &str,
    ) -> Result<(), BlobError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(self.key(key)?)
            .content_type(content_type)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<BlobReader>, BlobError> {
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.key(key)?)
            .send()
            .await;
        match out {
            Ok(o) => {
                let len = o.content_length().unwrap_or(0).max(0) as u64;
                Ok(Some(BlobReader {
                    len,
                    reader: Box::pin(o.body.into_async_read()),
                }))
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
            Err(e) => Err(err(e)),
        }
    }

    async fn get_range(
        &self,
        key: &str,
        offset: u64,
        len: u64,
    ) -> Result<Option<(u64, Bytes)>, BlobError> {
        if len == 0 {
            return match self
                .client
                .head_object()
                .bucket(&self.bucket)
                .key(self.key(key)?)
                .send()
                .await
            {
                Ok(h) => Ok(Some((
                    h.content_length().unwrap_or(0).max(0) as u64,
                    Bytes::new(),
                ))),
                Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
                Err(e) => Err(err(e)),
            };
        }
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.key(key)?)
            .range(format!("bytes={offset}-{}", offset + len - 1))
            .send()
            .await;
        match out {
            Ok(o) => {
                // "bytes 0-65535/1234567": the whole length follows the slash.
                let total = o
                    .content_range()
                    .and_then(|r| r.rsplit('/').next())
                    .and_then(|t| t.parse::<u64>().ok())
                    .unwrap_or_else(|| o.content_length().unwrap_or(0).max(0) as u64);
                let bytes = o
                    .body
                    .collect()
                    .await
                    .map_err(|e| BlobError::Unavailable(e.to_string()))?
                    .into_bytes();
                Ok(Some((total, bytes)))
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
            // A range past the end: nothing there, but the object exists.
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 416) => {
                let total = self
                    .client
                    .head_object()
                    .bucket(&self.bucket)
                    .key(self.key(key)?)
                    .send()
                    .await
                    .map_err(err)?
                    .content_length()
                    .unwrap_or(0)
                    .max(0) as u64;
                Ok(Some((total, Bytes::new())))
            }
            Err(e) => Err(err(e)),
        }
    }

    async fn head(&self, key: &str) -> Result<Option<(u64, Option<String>)>, BlobError> {
        let out = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(self.key(key)?)
            .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
            .send()
            .await;
        match out {
            Ok(h) => {
                let len = h.content_length().unwrap_or(0).max(0) as u64;
                let sha = h
                    .checksum_sha256()
                    // A composite checksum of parts ("…-3") is not the object's.
                    .filter(|c| !c.contains('-'))
                    .and_then(|c| base64::engine::general_purpose::STANDARD.decode(c).ok())
                    .map(hex::encode);
                Ok(Some((len, sha)))
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
            Err(e) => Err(err(e)),
        }
    }

    async fn start_multipart(&self, key: &str, content_type: &str) -> Result<String, BlobError> {
        let out = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(self.key(key)?)
            .content_type(content_type)
            .send()
            .await
            .map_err(err)?;
        out.upload_id()
            .map(str::to_owned)
            .ok_or_else(|| BlobError::Unavailable("no upload id in the answer".into()))
    }

    async fn presign_part(
        &self,
        key: &str,
        upload_id: &str,
        number: u32,
        size: u64,
        ttl: Duration,
    ) -> Result<Option<PresignedPut>, BlobError> {
        let config =
            PresigningConfig::expires_in(ttl).map_err(|e| BlobError::Unavailable(e.to_string()))?;
        let req = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(self.key(key)?)
            .upload_id(upload_id)
            .part_number(i32::try_from(number).unwrap_or(i32::MAX))
            .content_length(i64::try_from(size).unwrap_or(i64::MAX))
            .presigned(config)
            .await
            .map_err(err)?;
        Ok(Some(PresignedPut {
            method: req.method().to_owned(),
            url: req.uri().to_owned(),
            headers: req
                .headers()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        }))
    }

    async fn put_part(
        &self,
        key: &str,
        upload_id: &str,
        number: u32,
        path: &Path,
    ) -> Result<(), BlobError> {
        let len = tokio::fs::metadata(path).await?.len();
        let body = ByteStream::from_path(path)
            .await
            .map_err(|e| BlobError::Unavailable(e.to_string()))?;
        self.client
            .upload_part()
            .bucket(&self.bucket)
            .key(self.key(key)?)
            .upload_id(upload_id)
            .part_number(i32::try_from(number).unwrap_or(i32::MAX))
            .content_length(i64::try_from(len).unwrap_or(i64::MAX))
            .body(body)
            .send()
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn list_parts(
        &self,
        key: &str,
        upload_id: &str,
    ) -> Result<Option<Vec<StoredPart>>, BlobError> {
        let mut parts = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let page = self
                .client
                .list_parts()
                .bucket(&self.bucket)
                .key(self.key(key)?)
                .upload_id(upload_id)
                .set_part_number_marker(marker.take())
                .send()
                .await;
            let page = match page {
                Ok(p) => p,
                Err(e)
                    if e.as_service_error()
                        .and_then(ProvideErrorMetadata::code)
                        .is_some_and(|c| c == "NoSuchUpload") =>
                {
                    return Ok(None);
                }
                Err(e) => return Err(err(e)),
            };
            for p in page.parts() {
                let Some(number) = p.part_number().and_then(|n| u32::try_from(n).ok()) else {
                    continue;
                };
                parts.push(StoredPart {
                    number,
                    size: p.size().unwrap_or(0).max(0) as u64,
                    etag: p.e_tag().map(str::to_owned),
                });
            }
            match page.next_part_number_marker() {
                Some(m) if page.is_truncated() == Some(true) => marker = Some(m.to_owned()),
                _ => break,
            }
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
        use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
        let done = CompletedMultipartUpload::builder()
            .set_parts(Some(
                parts
                    .iter()
                    .map(|p| {
                        CompletedPart::builder()
                            .part_number(i32::try_from(p.number).unwrap_or(i32::MAX))
                            .set_e_tag(p.etag.clone())
                            .build()
                    })
                    .collect(),
            ))
            .build();
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(self.key(key)?)
            .upload_id(upload_id)
            .multipart_upload(done)
            .send()
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<(), BlobError> {
        match self
            .client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(self.key(key)?)
            .upload_id(upload_id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_upload()) => Ok(()),
            Err(e) => Err(err(e)),
        }
    }

    async fn copy(&self, from: &str, to: &str) -> Result<(), BlobError> {
        self.client
            .copy_object()
            .bucket(&self.bucket)
            .copy_source(format!("{}/{}", self.bucket, self.key(from)?))
            .key(self.key(to)?)
            .send()
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(self.key(key)?)
            .send()
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn purge(&self, key: &str) -> Result<(), BlobError> {
        let full = self.key(key)?;
        let listed = self
            .client
            .list_object_versions()
            .bucket(&self.bucket)
            .prefix(&full)
            .send()
            .await;
        let page = match listed {
            Ok(p) => p,
            // A store without versioning support answers NotImplemented: it keeps one copy.
            Err(e) => {
                tracing::debug!(error = %DisplayErrorContext(&e), "no object versions to purge");
                return self.delete(key).await;
            }
        };
        let versions = page
            .versions()
            .iter()
            .filter(|v| v.key() == Some(full.as_str()))
            .filter_map(|v| v.version_id())
            .chain(
                page.delete_markers()
                    .iter()
                    .filter(|m| m.key() == Some(full.as_str()))
                    .filter_map(|m| m.version_id()),
            )
            .filter(|v| *v != "null")
            .map(str::to_owned)
            .collect::<Vec<_>>();
        for version in versions {
            self.client
                .delete_object()
                .bucket(&self.bucket)
                .key(&full)
                .version_id(version)
                .send()
                .await
                .map_err(err)?;
        }
        self.delete(key).await
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<(), BlobError> {
        let full = self.key(prefix.trim_end_matches('/'))? + "/";
        let mut token = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(&full)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(err)?;
            let ids: Vec<ObjectIdentifier> = page
                .contents()
                .iter()
                .filter_map(|o| o.key())
                .filter_map(|k| ObjectIdentifier::builder().key(k).build().ok())
                .collect();
            if !ids.is_empty() {
                let delete = Delete::builder()
                    .set_objects(Some(ids))
                    .quiet(true)
                    .build()
                    .map_err(|e| BlobError::Unavailable(e.to_string()))?;
                self.client
                    .delete_objects()
                    .bucket(&self.bucket)
                    .delete(delete)
                    .send()
                    .await
                    .map_err(err)?;
            }
            match page.next_continuation_token() {
                Some(t) if page.is_truncated() == Some(true) => token = Some(t.to_owned()),
                _ => return Ok(()),
            }
        }
    }

    async fn list(&self, folder: &str, limit: usize) -> Result<Vec<String>, BlobError> {
        let full = self.key(folder.trim_end_matches('/'))? + "/";
        let mut keys = Vec::new();
        let mut token = None;
        while keys.len() < limit {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(&full)
                .delimiter("/")
                .max_keys(i32::try_from(limit - keys.len()).unwrap_or(1000).min(1000))
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(err)?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key())
                    .filter_map(|k| k.strip_prefix(&self.prefix))
                    .map(str::to_owned),
            );
            match page.next_continuation_token() {
                Some(t) if page.is_truncated() == Some(true) => token = Some(t.to_owned()),
                _ => break,
            }
        }
        keys.truncate(limit);
        Ok(keys)
    }

    async fn check(&self) -> Result<(), BlobError> {
        self.client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map_err(err)?;
        Ok(())
    }
}
