//! Sealing with an account: this device encrypts the capsule's files (its index, note,
//! recipients, and each original with its two thumbnails) into age files time-locked to
//! the drand round at the open date, adds the server's escrow stanza unless the person
//! chose the time lock alone, sends them, and asks the server to seal with them. From then
//! on the server holds only ciphertext until the round is published.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use protocol::{
    CapsuleResponse, CapsuleState, SealConfig, SealRequest, SealedItem, SealedItemResponse,
    SealedItemWrite, SealedName,
};
use reqwest::Method;
use uuid::Uuid;

use super::error::SyncError;
use super::{SyncEngine, api, store, transfer};
use crate::sealed::{self, Lock, Manifest, Plain, SealedError};

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
        if store::seal_here(&self.lib.conn(), id)?.here {
            return self.send_sealed_here(id, &chain).await;
        }
        let (photos, choice) = store::sealing_contents(&self.lib.conn(), id)?;
        let open_at = local
            .fields
            .open_at
            .ok_or_else(|| SyncError::Refused("Pick an open date before sealing.".into()))?;
        let escrow = match (&config.escrow_public_key, choice.time_lock_only) {
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
        let photo_count = u32::try_from(photos.len()).unwrap_or(u32::MAX);
        let mut with_paths = Vec::with_capacity(photos.len());
        for (pid, sha256, file_name) in photos {
            let original = self.original(id, pid).await?;
            with_paths.push((pid, sha256, file_name, original));
        }
        let files = sealed::plain_files(
            &self.lib,
            with_paths,
            &local.fields.note,
            &local.fields.recipients,
        )
        .map_err(sealing_failed)?;

        let work = self.lib.incoming();
        tokio::fs::create_dir_all(&work).await?;
        let sending = async {
            let items = self.send_sealed(id, &work, files, &lock).await?;
            let request = SealRequest {
                round: lock.round,
                chain_hash: lock.chain.hash_hex(),
                escrow: lock.escrow.is_some(),
                items,
                reminders: choice.reminders.clone(),
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
        let (c, items) = match sending.await {
            Ok(done) => done,
            Err(e) => {
                // Ciphertext, but a retry encrypts afresh: these copies have no use.
                let _ = tokio::fs::remove_dir_all(&work).await;
                return Err(e);
            }
        };
        let about = sealed::About {
            id,
            title: &local.fields.title,
            open_at,
            time_zone: &local.fields.time_zone,
            photo_count,
            sealed_at: self.clock.now(),
        };
        let manifest = Manifest::new(&about, &lock, &config.relays, items);
        let readme = sealed::readme(&local.fields.title, &lock, &config.relays);
        let dest = self.lib.sealed_dir(id);
        let kept = tokio::task::spawn_blocking(move || {
            sealed::write_kept(&work, &dest, &manifest, &readme).inspect_err(|_| {
                let _ = std::fs::remove_dir_all(&work);
            })
        })
        .await;
        // Failing here loses only this device's copy (the server holds the files).
        if !matches!(kept, Ok(Ok(()))) {
            tracing::warn!(capsule_id = %id, "the sealed files were sent but not kept here");
        }
        self.apply_one(&c.capsule)?;
        Ok(())
    }

    /// Sends a capsule sealed on this computer before there was an account: its files as
    /// they are (time lock only), if the server's chain is the one they are locked to.
    async fn send_sealed_here(
        &self,
        id: Uuid,
        server_chain: &seal::Chain,
    ) -> Result<(), SyncError> {
        let dir = self.lib.sealed_dir(id);
        let manifest = Manifest::read(&dir).map_err(sealing_failed)?;
        let chain = manifest.chain().map_err(sealing_failed)?;
        if chain.hash != server_chain.hash {
            return Err(SyncError::Refused(
                "It was sealed on this computer to another drand chain than the server's, so it \
                 stays here and opens on this computer on its date."
                    .into(),
            ));
        }
        let mut items = Vec::with_capacity(manifest.files.len());
        for f in &manifest.files {
            self.send_one(id, &dir.join(&f.name), &f.name, &f.sha256, f.size)
                .await?;
            items.push(f.clone());
        }
        let request = SealRequest {
            round: manifest.round,
            chain_hash: chain.hash_hex(),
            escrow: manifest.escrow,
            items,
            // Sealed with no server to send reminders, so none were asked for.
            reminders: None,
        };
        let res = self
            .api
            .send(Method::POST, &format!("/v1/capsules/{id}/seal"), |r| {
                r.json(&request)
            })
            .await?;
        let c: CapsuleResponse = api::json(res).await?;
        // From here the server opens it; this device keeps the folder as its copy.
        self.apply_one(&c.capsule)?;
        Ok(())
    }

    /// Declares one sealed file and sends it if the server asks for it.
    async fn send_one(
        &self,
        id: Uuid,
        path: &Path,
        file: &str,
        sha256: &str,
        size: u64,
    ) -> Result<(), SyncError> {
        let declare = SealedItemWrite {
            sha256: sha256.to_owned(),
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
            transfer::upload(&self.api.http, &target, path, size, quiet).await?;
        }
        Ok(())
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
            self.send_one(id, &dest, &file, &sha256, size).await?;
            items.push(SealedItem {
                name: file,
                sha256,
                size,
            });
        }
        Ok(items)
    }
}

/// A seal that could not be written or read here.
fn sealing_failed(e: SealedError) -> SyncError {
    match e {
        SealedError::MissingPhoto(_) => SyncError::PhotoFileMissing,
        SealedError::Draft(crate::drafts::DraftError::Library(l)) => SyncError::Library(l),
        SealedError::Io(io) => SyncError::Library(io.into()),
        e => SyncError::Protocol(format!("sealing: {e}")),
    }
}

/// Writes the age file of `plain` to `dest` off the async threads.
async fn encrypt(
    plain: Plain,
    dest: std::path::PathBuf,
    lock: Lock,
) -> Result<(String, u64), SyncError> {
    tokio::task::spawn_blocking(move || sealed::encrypt_file(plain, &dest, &lock))
        .await
        .map_err(|e| SyncError::Protocol(e.to_string()))?
        .map_err(sealing_failed)
}
