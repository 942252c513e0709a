//! Sealing with an account: this device encrypts the capsule's files (its index, note,
//! recipients, and each original with its two thumbnails) into age files time-locked to
//! the drand round at the open date, adds the server's escrow stanza unless the person
//! chose the time lock alone, sends them, and asks the server to seal with them. From then
//! on the server holds only ciphertext until the round is published.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use protocol::{
    CapsuleResponse, CapsuleState, SealConfig, SealRequest, SealedIndex, SealedItem,
    SealedItemResponse, SealedItemWrite, SealedName, SealedPhoto,
};
use reqwest::Method;
use uuid::Uuid;

use super::error::SyncError;
use super::{SyncEngine, api, store, transfer};
use crate::drafts::from_ms;
use crate::library::ThumbSize;

/// A file's plaintext: a file on disk (photos stream from it) or bytes made here.
enum Plain {
    File(PathBuf),
    Bytes(Vec<u8>),
}

/// What the seal locks the files to.
#[derive(Clone)]
struct Lock {
    chain: seal::Chain,
    round: u64,
    escrow: Option<seal::EscrowPublic>,
}

impl SyncEngine {
    /// Seals on the server with files encrypted here; once it confirms, this device
    /// forgets the contents.
    pub(super) async fn seal(&self, id: Uuid) -> Result<(), SyncError> {
        // A retry after the server sealed it (its answer was lost) has nothing to send.
        let current: CapsuleResponse = self.api.get(&format!("/v1/capsules/{id}")).await?;
        if current.capsule.state != CapsuleState::Draft {
            self.apply_one(&current.capsule)?;
            return Ok(());
        }
        let config: SealConfig = self.api.get("/v1/seal/config").await?;
        let chain = seal::Chain::new(
            &config.chain_hash,
            &config.public_key,
            config.genesis,
            config.period,
        )
        .map_err(|e| SyncError::Protocol(format!("the server's drand chain: {e}")))?;
        let local = store::local_capsule(&self.lib.conn(), id)?
            .ok_or_else(|| SyncError::Refused("This capsule is no longer here.".into()))?;
        let (photos, time_lock_only) = store::sealing_contents(&self.lib.conn(), id)?;
        let open_at = local
            .fields
            .open_at
            .ok_or_else(|| SyncError::Refused("Pick an open date before sealing.".into()))?;
        let escrow = match (&config.escrow_public_key, time_lock_only) {
            (Some(key), false) => Some(
                key.parse::<seal::EscrowPublic>()
                    .map_err(|e| SyncError::Protocol(format!("the server's escrow key: {e}")))?,
            ),
            _ => None,
        };
        let lock = Lock {
            round: chain.round_at(open_at),
            chain,
            escrow,
        };

        let mut files: Vec<(SealedName, Plain)> = Vec::new();
        let mut index = SealedIndex {
            version: 1,
            photos: Vec::new(),
        };
        for (pid, sha256, file_name) in photos {
            let original = self.original(id, pid).await?;
            let rec = self
                .lib
                .photo(&sha256)?
                .ok_or(SyncError::PhotoFileMissing)?;
            let grid = self.lib.thumbnail_path(&sha256, ThumbSize::Grid);
            let preview = self.lib.thumbnail_path(&sha256, ThumbSize::Preview);
            let thumbnails = grid.is_file() && preview.is_file();
            index.photos.push(SealedPhoto {
                id: pid,
                sha256,
                size: rec.size,
                content_type: rec.content_type,
                file_name,
                taken_at: rec.taken_at.map(from_ms),
                width: rec.width,
                height: rec.height,
                thumbnails,
            });
            files.push((SealedName::Original(pid), Plain::File(original)));
            if thumbnails {
                files.push((SealedName::Grid(pid), Plain::File(grid)));
                files.push((SealedName::Preview(pid), Plain::File(preview)));
            }
        }
        let json = |e: serde_json::Error| SyncError::Protocol(e.to_string());
        files.push((
            SealedName::Index,
            Plain::Bytes(serde_json::to_vec(&index).map_err(json)?),
        ));
        files.push((
            SealedName::Note,
            Plain::Bytes(local.fields.note.clone().into_bytes()),
        ));
        files.push((
            SealedName::Recipients,
            Plain::Bytes(serde_json::to_vec(&local.fields.recipients).map_err(json)?),
        ));

        let work = self.lib.incoming();
        tokio::fs::create_dir_all(&work).await?;
        let sealed = async {
            let items = self.send_sealed(id, &work, files, &lock).await?;
            let request = SealRequest {
                round: lock.round,
                chain_hash: lock.chain.hash_hex(),
                escrow: lock.escrow.is_some(),
                items,
            };
            let res = self
                .api
                .send(Method::POST, &format!("/v1/capsules/{id}/seal"), |r| {
                    r.json(&request)
                })
                .await?;
            let c: CapsuleResponse = api::json(res).await?;
            Ok::<_, SyncError>((c, request.items))
        };
        let (c, items) = match sealed.await {
            Ok(done) => done,
            Err(e) => {
                // Ciphertext, but a retry encrypts afresh: these copies have no use.
                let _ = tokio::fs::remove_dir_all(&work).await;
                return Err(e);
            }
        };
        let manifest = serde_json::json!({
            "capsule": id,
            "title": local.fields.title,
            "open_at": open_at,
            "format": "age v1, tlock stanza (drand)",
            "round": lock.round,
            "round_time": lock.chain.round_time(lock.round),
            "chain": lock.chain.info_json(),
            "relays": config.relays,
            "escrow": lock.escrow.is_some(),
            "files": items,
        });
        let readme = readme(&local.fields.title, &lock, &config);
        self.keep_sealed(&work, id, &manifest, &readme).await;
        self.apply_one(&c.capsule)?;
        Ok(())
    }

    /// Keeps the sent files as the capsule's sealed copy, with what opening them needs.
    /// Failing here loses only that copy (the server holds the files), so it is logged.
    async fn keep_sealed(&self, work: &Path, id: Uuid, manifest: &serde_json::Value, readme: &str) {
        let dest = self.lib.sealed_dir(id);
        let kept = async {
            tokio::fs::write(
                work.join("manifest.json"),
                serde_json::to_vec_pretty(manifest).unwrap_or_default(),
            )
            .await?;
            tokio::fs::write(work.join("README.txt"), readme).await?;
            if let Some(parent) = dest.parent() {
                tokio::fs::create_dir_all(parent).await?;
            }
            let _ = tokio::fs::remove_dir_all(&dest).await;
            tokio::fs::rename(work, &dest).await
        };
        if let Err(e) = kept.await {
            tracing::warn!(capsule_id = %id, error = %e, "the sealed files were sent but not kept here");
            let _ = tokio::fs::remove_dir_all(work).await;
        }
    }

    /// Encrypts each file into `work`, declares it and sends it when the server asks.
    async fn send_sealed(
        &self,
        id: Uuid,
        work: &Path,
        files: Vec<(SealedName, Plain)>,
        lock: &Lock,
    ) -> Result<Vec<SealedItem>, SyncError> {
        let mut items = Vec::with_capacity(files.len());
        for (name, plain) in files {
            let file = name.file_name();
            let dest = work.join(&file);
            let (sha256, size) = encrypt(plain, dest.clone(), lock.clone()).await?;
            let declare = SealedItemWrite {
                sha256: sha256.clone(),
                size,
            };
            let res = self
                .api
                .send(
                    Method::PUT,
                    &format!("/v1/capsules/{id}/sealed/{file}"),
                    |r| r.json(&declare),
                )
                .await?;
            let declared: SealedItemResponse = api::json(res).await?;
            if let Some(target) = declared.upload {
                let quiet = Arc::new(AtomicU64::new(0));
                transfer::upload(&self.api.http, &target, &dest, size, quiet).await?;
            }
            items.push(SealedItem {
                name: file,
                sha256,
                size,
            });
        }
        Ok(items)
    }
}

/// How to open the files on the date without this app.
fn readme(title: &str, lock: &Lock, config: &SealConfig) -> String {
    let hash = lock.chain.hash_hex();
    let relay = config
        .relays
        .first()
        .map_or("https://api.drand.sh", String::as_str);
    format!(
        "The time capsule \"{title}\", sealed with Image Time Capsule.\n\n\
         It opens at {when} (UTC), when the drand network publishes round {round} of its chain\n\
         {hash}.\n\
         Before that nobody can open these files: not you, not us.\n\n\
         Each .age file is an age v1 file (https://age-encryption.org) time-locked with drand's\n\
         tlock. On the date, they open without Image Time Capsule, for example:\n\n\
         - in a browser at https://timevault.drand.love (drand's tlock-js): load a file, decrypt;\n\
         - with drand's `tle` (https://github.com/drand/tlock):\n\
           tle --decrypt --network {relay} --chain {hash} --output note.txt note.age\n\n\
         The files: index.age lists the photos (JSON: id, file name, type, date taken);\n\
         <id>.age is a photo's original, <id>-grid.age and <id>-preview.age its small and\n\
         large thumbnails (JPEG); note.age is the note (text); recipients.age the addresses\n\
         it goes to (JSON). manifest.json says the same for programs, with each file's size\n\
         and SHA-256.\n",
        when = lock
            .chain
            .round_time(lock.round)
            .format("%Y-%m-%d %H:%M:%S"),
        round = lock.round,
    )
}

/// Writes the age file of `plain` to `dest`; answers its SHA-256 and size.
async fn encrypt(plain: Plain, dest: PathBuf, lock: Lock) -> Result<(String, u64), SyncError> {
    tokio::task::spawn_blocking(move || {
        let mut w =
            seal::HashingWriter::new(std::io::BufWriter::new(std::fs::File::create(&dest)?));
        let sealed = match plain {
            Plain::File(p) => seal::seal(
                std::io::BufReader::new(std::fs::File::open(p)?),
                &mut w,
                &lock.chain,
                lock.round,
                lock.escrow.as_ref(),
            ),
            Plain::Bytes(b) => seal::seal(
                b.as_slice(),
                &mut w,
                &lock.chain,
                lock.round,
                lock.escrow.as_ref(),
            ),
        };
        sealed.map_err(|e| SyncError::Protocol(format!("sealing a file: {e}")))?;
        let (out, len, sha256) = w.finish()?;
        out.get_ref().sync_all()?;
        Ok((sha256, len))
    })
    .await
    .map_err(|e| SyncError::Protocol(e.to_string()))?
}
