//! Opening capsules sealed on a device, at their date, before the delivery run opens them:
//! the round's verified beacon (from the database or the relays) opens their files, and
//! only if no beacon can be had and the capsule carries an escrow stanza does the escrow
//! key, never before the open date by this server's clock, each use logged and recorded.
//! Every photo is decrypted into place and checked as an upload is (its bytes against the
//! sealed index, its structure, its thumbnails in full); one that fails is reported to the
//! owner and never sent. Until a key is had the capsule stays sealed and nothing is lost.

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use protocol::{PhotoState, RefusedPhoto, SealedIndex, SealedName, ThumbnailSize, ThumbnailState};
use seal::{Beacon, EscrowKey, SealError};
use uuid::Uuid;

use crate::blob::keys;
use crate::clock::{from_ms, to_ms};
use crate::db::Recipients;
use crate::db::capsules::CapsuleRow;
use crate::db::photos::{self, BlobRow, DeclaredThumbnails, PhotoRow};
use crate::db::sealing::{self, Unsealed};
use crate::db::thumbnail_jobs;
use crate::photos::clean_file_name;
use crate::photos::receive::TempFile;
use crate::state::AppState;
use imaging::structure::{self, FileAt, Structure};

/// Capsules leased per call.
const BATCH: i64 = 20;
/// How long a worker holds a capsule it is opening.
const LEASE: chrono::Duration = chrono::Duration::minutes(15);
/// How soon a capsule whose beacon did not come is tried again: at the next delivery run
/// (a drand round comes every few seconds; a relay that failed may answer the next time).
fn retry(state: &AppState) -> chrono::Duration {
    chrono::Duration::from_std(state.settings.delivery.interval)
        .unwrap_or(chrono::Duration::minutes(1))
}
/// The index, note and recipients are small; anything larger is not ours.
const MAX_SMALL_FILE: u64 = 16 * 1024 * 1024;

/// Why a capsule could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum UnsealError {
    /// The escrow key is not used before the open date.
    #[error("the escrow key is not used before the capsule's open date ({0})")]
    EscrowTooEarly(DateTime<Utc>),
    /// The capsule carries no escrow stanza, or this server keeps no escrow key.
    #[error("this capsule cannot be opened with the escrow key")]
    NoEscrow,
    #[error("the sealed files could not be opened: {0}")]
    Seal(#[from] SealError),
    #[error("{0}")]
    Other(#[from] anyhow::Error),
}

/// What opens a capsule's files.
#[derive(Clone)]
enum Key {
    Beacon(Beacon),
    Escrow(Arc<EscrowKey>),
}

/// The escrow key for a capsule, at `now`: refused before its open date (by this server's
/// clock) and for a capsule sealed without an escrow stanza.
pub fn escrow_key(
    state: &AppState,
    row: &CapsuleRow,
    now: DateTime<Utc>,
) -> Result<Arc<EscrowKey>, UnsealError> {
    let open_at = row.open_at.map(from_ms).ok_or(UnsealError::NoEscrow)?;
    if now < open_at {
        return Err(UnsealError::EscrowTooEarly(open_at));
    }
    if row.seal_escrow == 0 {
        return Err(UnsealError::NoEscrow);
    }
    state
        .settings
        .seal
        .escrow
        .clone()
        .ok_or(UnsealError::NoEscrow)
}

/// Opens every capsule sealed on a device whose date has passed and whose key can be had;
/// answers how many opened. The others say why they wait.
#[tracing::instrument(skip_all, err(level = "info"))]
pub async fn run_due(state: &AppState, now: DateTime<Utc>) -> anyhow::Result<u64> {
    let mut opened = 0;
    loop {
        let ids = state
            .db
            .lease_sealed_due(to_ms(now), to_ms(now + LEASE), BATCH)
            .await?;
        let leased = ids.len();
        for id in ids {
            match open(state, id, now).await {
                Ok(true) => opened += 1,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(capsule_id = %id, error = %e, "a sealed capsule could not be opened");
                    state
                        .db
                        .unseal_waiting(id, &e.to_string(), to_ms(now + retry(state)))
                        .await?;
                }
            }
        }
        if leased < usize::try_from(BATCH).unwrap_or(0) {
            return Ok(opened);
        }
    }
}

/// Opens one capsule if its key can be had; false (and the reason recorded) if not.
pub async fn open(state: &AppState, id: Uuid, now: DateTime<Utc>) -> Result<bool, UnsealError> {
    let Some(row) = state.db.capsule(id).await.map_err(anyhow::Error::from)? else {
        return Ok(false);
    };
    let Some(round) = row.seal_round.and_then(|r| u64::try_from(r).ok()) else {
        return Ok(false);
    };
    let chain = &state.settings.seal.chain;
    let same_chain = row.seal_chain.as_deref() == Some(chain.hash_hex().as_str());
    let mut waiting =
        String::from("its files are locked to another drand chain than this server's");
    let mut key = None;
    if same_chain {
        match super::beacon::round(state, round).await {
            Ok(b) => key = Some(Key::Beacon(b)),
            Err(e) => waiting = format!("waiting for drand round {round}: {e}"),
        }
    }
    if key.is_none() && row.seal_escrow != 0 {
        match escrow_key(state, &row, now) {
            Ok(k) => key = Some(Key::Escrow(k)),
            Err(e) => waiting = format!("{waiting}; {e}"),
        }
    }
    let Some(key) = key else {
        tracing::info!(capsule_id = %id, round, waiting, "a sealed capsule waits for its key");
        state
            .db
            .unseal_waiting(id, &waiting, to_ms(now + retry(state)))
            .await
            .map_err(anyhow::Error::from)?;
        return Ok(false);
    };
    if let Key::Escrow(_) = key {
        // The one place the escrow key is used: logged, and recorded where it outlives logs.
        tracing::warn!(capsule_id = %id, user_id = %row.user_id, round, "opening a sealed capsule with the escrow key: no drand beacon could be had");
        state
            .db
            .record_escrow_use(id, row.user_id, to_ms(now), &waiting)
            .await
            .map_err(anyhow::Error::from)?;
    }
    let opened = Opening {
        state,
        row: &row,
        key: &key,
    };
    let unsealed = opened.decrypt_into_place().await?;
    let mut tx = state.db.begin().await.map_err(anyhow::Error::from)?;
    for (photo, blob) in &unsealed.photos {
        photos::insert_blob(&mut tx, row.user_id, blob, to_ms(now))
            .await
            .map_err(anyhow::Error::from)?;
        if blob.thumbnails == ThumbnailState::Pending {
            thumbnail_jobs::enqueue(&mut tx, row.user_id, &blob.sha256, to_ms(now))
                .await
                .map_err(anyhow::Error::from)?;
        }
        photos::insert(&mut tx, photo)
            .await
            .map_err(anyhow::Error::from)?;
    }
    let done = sealing::finish_unseal(&mut tx, id, to_ms(now), &unsealed.fields)
        .await
        .map_err(anyhow::Error::from)?;
    if !done {
        // Another worker opened it meanwhile.
        return Ok(false);
    }
    tx.commit().await.map_err(anyhow::Error::from)?;
    if unsealed
        .photos
        .iter()
        .any(|(_, b)| b.thumbnails == ThumbnailState::Pending)
    {
        state.thumbnail_work.notify_one();
    }
    // The ciphertext has done its work: the capsule is plaintext again from here.
    let prefix = keys::sealed_prefix(row.user_id, id);
    if let Err(e) = state.blobs.delete_prefix(&prefix).await {
        tracing::warn!(capsule_id = %id, error = %e, "sealed files not deleted after opening");
    }
    state
        .db
        .forget_sealed_files(id)
        .await
        .map_err(anyhow::Error::from)?;
    tracing::info!(
        capsule_id = %id,
        photos = unsealed.photos.len(),
        refused = unsealed.refused,
        with = match key { Key::Beacon(_) => "beacon", Key::Escrow(_) => "escrow" },
        "sealed capsule opened"
    );
    Ok(true)
}

/// What the files held, checked and in place.
struct Decrypted {
    fields: Unsealed,
    photos: Vec<(PhotoRow, BlobRow)>,
    refused: usize,
}

struct Opening<'a> {
    state: &'a AppState,
    row: &'a CapsuleRow,
    key: &'a Key,
}

impl Opening<'_> {
    /// Fetches a sealed file into a temporary file; None when the store does not hold it.
    async fn fetch(&self, name: SealedName) -> anyhow::Result<Option<TempFile>> {
        let key = keys::sealed(self.row.user_id, self.row.id, &name.file_name());
        let Some(mut obj) = self.state.blobs.get(&key).await? else {
            return Ok(None);
        };
        let tmp = TempFile::new(self.state);
        let mut file = tokio::fs::File::create(&tmp.0).await?;
        tokio::io::copy(&mut obj.reader, &mut file).await?;
        file.sync_all().await?;
        Ok(Some(tmp))
    }

    /// Decrypts a sealed file into a temporary file; answers it with the plaintext's length
    /// and SHA-256.
    async fn decrypt(
        &self,
        name: SealedName,
    ) -> Result<Option<(TempFile, u64, String)>, UnsealError> {
        let Some(sealed) = self.fetch(name).await? else {
            return Ok(None);
        };
        let plain = TempFile::new(self.state);
        let chain = self.state.settings.seal.chain.clone();
        let (src, dst) = (sealed.0.clone(), plain.0.clone());
        let key = self.key.clone();
        let (len, sha) =
            tokio::task::spawn_blocking(move || decrypt_file(&src, &dst, &chain, &key))
                .await
                .map_err(anyhow::Error::from)??;
        drop(sealed);
        Ok(Some((plain, len, sha)))
    }

    /// A small sealed file's plaintext.
    async fn small(&self, name: SealedName) -> Result<Option<Vec<u8>>, UnsealError> {
        let Some((plain, len, _)) = self.decrypt(name).await? else {
            return Ok(None);
        };
        if len > MAX_SMALL_FILE {
            return Err(anyhow::anyhow!("{} is larger than it can be", name.file_name()).into());
        }
        Ok(Some(
            tokio::fs::read(&plain.0)
                .await
                .map_err(anyhow::Error::from)?,
        ))
    }

    async fn decrypt_into_place(&self) -> Result<Decrypted, UnsealError> {
        let index: SealedIndex = match self.small(SealedName::Index).await? {
            Some(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| anyhow::anyhow!("the sealed index is not readable: {e}"))?,
            None => return Err(anyhow::anyhow!("the sealed index is missing").into()),
        };
        let note = match self.small(SealedName::Note).await? {
            Some(b) => String::from_utf8(b).unwrap_or_default(),
            None => String::new(),
        };
        let recipients: Vec<String> = match self.small(SealedName::Recipients).await? {
            Some(b) => serde_json::from_slice(&b).unwrap_or_default(),
            None => Vec::new(),
        };
        let mut kept_recipients = Vec::new();
        for r in recipients {
            match protocol::validate::email(&r) {
                Ok(r) if !kept_recipients.contains(&r) => kept_recipients.push(r),
                Ok(_) => {}
                Err(_) => {
                    tracing::warn!(capsule_id = %self.row.id, "a sealed recipient is not an email address; left out")
                }
            }
        }
        let mut photos = Vec::new();
        let mut refused = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for p in &index.photos {
            let file_name = p.file_name.as_deref().and_then(clean_file_name);
            let shown = file_name
                .clone()
                .unwrap_or_else(|| format!("photo {}", p.id));
            if !seen.insert(p.sha256.clone()) {
                continue;
            }
            match self.photo(p, file_name).await {
                Ok(pair) => photos.push(pair),
                Err(reason) => {
                    tracing::warn!(capsule_id = %self.row.id, photo_id = %p.id, reason, "a sealed photo was refused at opening");
                    refused.push(RefusedPhoto {
                        file_name: shown,
                        reason,
                    });
                }
            }
        }
        let refused_count = refused.len();
        Ok(Decrypted {
            fields: Unsealed {
                note,
                recipients: Recipients(kept_recipients),
                photo_count: i64::try_from(photos.len()).unwrap_or(0),
                refused: (!refused.is_empty())
                    .then(|| serde_json::to_string(&refused).unwrap_or_default()),
            },
            photos,
            refused: refused_count,
        })
    }

    /// One photo: its original decrypted, checked against the index and for its structure,
    /// put at its content-addressed key; its thumbnails checked in full (else the server
    /// makes them). An error is the reason it is refused, in words for the owner.
    async fn photo(
        &self,
        p: &protocol::SealedPhoto,
        file_name: Option<String>,
    ) -> Result<(PhotoRow, BlobRow), String> {
        let state = self.state;
        let user_id = self.row.user_id;
        let (plain, len, sha) = match self.decrypt(SealedName::Original(p.id)).await {
            Ok(Some(x)) => x,
            Ok(None) => return Err("its sealed file is missing".into()),
            Err(e) => return Err(format!("its sealed file could not be opened ({e})")),
        };
        if len != p.size || sha != p.sha256.to_ascii_lowercase() {
            return Err("its bytes are not the ones that were sealed".into());
        }
        if len > state.settings.storage.max_photo_bytes {
            return Err("it is larger than the server accepts".into());
        }
        let path = plain.0.clone();
        let max_pixels = state.settings.storage.max_photo_pixels;
        let structure: Structure = tokio::task::spawn_blocking(move || {
            let mut f = FileAt::open(&path).map_err(|e| e.to_string())?;
            structure::check(&mut f, max_pixels).map_err(|r| r.message)
        })
        .await
        .map_err(|e| e.to_string())??;
        let known = state
            .db
            .blob(user_id, &sha)
            .await
            .map_err(|e| e.to_string())?;
        if known.is_none() {
            state
                .blobs
                .put_file(
                    &keys::original(user_id, &sha),
                    &plain.0,
                    structure.content_type,
                )
                .await
                .map_err(|e| format!("it could not be stored ({e})"))?;
        }
        drop(plain);
        let mut thumbnails = ThumbnailState::Pending;
        if let Some(b) = &known {
            thumbnails = b.thumbnails;
        } else if p.thumbnails && self.thumbnails(p, &sha, &structure).await {
            thumbnails = ThumbnailState::Ready;
        }
        let blob = BlobRow {
            sha256: sha.clone(),
            size: i64::try_from(len).unwrap_or(i64::MAX),
            content_type: structure.content_type.into(),
            width: i64::from(structure.width),
            height: i64::from(structure.height),
            thumbnails,
        };
        // An id already taken (it cannot be, from an honest device) gets a new one.
        let id = match state.db.photo(p.id).await {
            Ok(None) => p.id,
            _ => Uuid::now_v7(),
        };
        let row = PhotoRow {
            id,
            capsule_id: self.row.id,
            user_id,
            sha256: sha,
            size: blob.size,
            content_type: blob.content_type.clone(),
            file_name,
            taken_at: p.taken_at.map(to_ms),
            state: PhotoState::Ready,
            width: Some(blob.width),
            height: Some(blob.height),
            created_at: to_ms(state.clock.now()),
            thumbnails,
            declared_thumbnails: DeclaredThumbnails::default(),
        };
        Ok((row, blob))
    }

    /// Decrypts and checks a photo's sealed thumbnails and puts them in place; false if
    /// either is missing or fails its checks (the server then makes its own).
    async fn thumbnails(&self, p: &protocol::SealedPhoto, sha: &str, original: &Structure) -> bool {
        let mut checked = Vec::new();
        for (kind, name) in [
            (ThumbnailSize::Grid, SealedName::Grid(p.id)),
            (ThumbnailSize::Preview, SealedName::Preview(p.id)),
        ] {
            let bytes = match self.small(name).await {
                Ok(Some(b)) => b,
                _ => return false,
            };
            let Ok(permit) = self.state.decode_permits.clone().acquire_owned().await else {
                return false;
            };
            let original = *original;
            let (ok, bytes) = match tokio::task::spawn_blocking(move || {
                let r = imaging::thumbnail::check(&bytes, kind, &original);
                drop(permit);
                (r.is_ok(), bytes)
            })
            .await
            {
                Ok(r) => r,
                Err(_) => return false,
            };
            if !ok {
                tracing::warn!(capsule_id = %self.row.id, photo_id = %p.id, kind = kind.as_str(), "a sealed thumbnail failed its checks; the server makes its own");
                return false;
            }
            checked.push((kind, bytes));
        }
        for (kind, bytes) in checked {
            let key = keys::thumbnail_of(self.row.user_id, sha, kind);
            if self
                .state
                .blobs
                .put_bytes(&key, bytes.into(), "image/jpeg")
                .await
                .is_err()
            {
                return false;
            }
        }
        true
    }
}

/// Decrypts `src` into `dst`, hashing what it writes.
fn decrypt_file(
    src: &Path,
    dst: &Path,
    chain: &seal::Chain,
    key: &Key,
) -> Result<(u64, String), SealError> {
    let input = std::io::BufReader::new(std::fs::File::open(src)?);
    let mut out = seal::HashingWriter::new(std::io::BufWriter::new(std::fs::File::create(dst)?));
    match key {
        Key::Beacon(beacon) => seal::open_with_beacon(input, &mut out, chain, beacon)?,
        Key::Escrow(escrow) => seal::open_with_escrow(input, &mut out, escrow)?,
    }
    let (_, len, sha256) = out.finish()?;
    Ok((len, sha256))
}
