//! Taking back a sealed capsule's folder: what "Export sealed capsule" writes, or a sealed
//! folder kept anywhere. Every file is checked against the manifest before anything is
//! recorded, and the capsule joins the library as sealed here: it opens on this computer
//! on its date, with the drand beacon, whether or not any server still exists.

use std::path::Path;

use chrono::{DateTime, Utc};
use protocol::SealedName;
use rusqlite::{OptionalExtension, params};
use uuid::Uuid;

use super::{Manifest, SealedError};
use crate::drafts::ms;
use crate::import::copy_hashing;
use crate::library::Library;

impl Library {
    /// Imports the sealed capsule in `folder`; answers its id.
    pub fn import_sealed(&self, folder: &Path, now: DateTime<Utc>) -> Result<Uuid, SealedError> {
        let manifest = Manifest::read(folder)?;
        let chain = manifest.chain()?;
        let id = manifest.capsule;
        let known: Option<String> = self
            .conn()
            .query_row(
                "SELECT state FROM capsules WHERE id = ?1",
                params![id.to_string()],
                |r| r.get(0),
            )
            .optional()?;
        if known.is_some() {
            return Err(SealedError::AlreadyHere);
        }
        for needed in [SealedName::Index, SealedName::Note, SealedName::Recipients] {
            let name = needed.file_name();
            if !manifest.files.iter().any(|f| f.name == name) {
                return Err(SealedError::NotSealedFolder(format!(
                    "The manifest does not list {name}: this folder is not a whole sealed capsule."
                )));
            }
        }
        let work = self.incoming();
        std::fs::create_dir_all(&work)?;
        let copied = (|| {
            for f in &manifest.files {
                if SealedName::parse(&f.name).is_none() {
                    return Err(SealedError::NotSealedFolder(format!(
                        "The manifest lists {}, which is not a sealed capsule's file.",
                        f.name
                    )));
                }
                let src = folder.join(&f.name);
                let damaged = |why: String| SealedError::Damaged {
                    file: f.name.clone(),
                    why,
                };
                let (sha256, size) = copy_hashing(&src, &work.join(&f.name))
                    .map_err(|e| damaged(format!("it cannot be read ({e})")))?;
                if size != f.size || !sha256.eq_ignore_ascii_case(&f.sha256) {
                    return Err(damaged(
                        "it is not the file the manifest names (size or SHA-256 differ)".into(),
                    ));
                }
                let locked = seal::inspect(std::fs::File::open(work.join(&f.name))?)
                    .map_err(|e| damaged(e.to_string()))?;
                if locked.round != manifest.round || locked.chain_hash != chain.hash {
                    return Err(damaged(
                        "it is locked to another round or chain than the manifest says".into(),
                    ));
                }
            }
            std::fs::copy(folder.join("manifest.json"), work.join("manifest.json"))?;
            if folder.join("README.txt").is_file() {
                std::fs::copy(folder.join("README.txt"), work.join("README.txt"))?;
            }
            let dest = self.sealed_dir(id);
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent)?;
            }
            let _ = std::fs::remove_dir_all(&dest);
            std::fs::rename(&work, &dest)?;
            Ok(())
        })();
        if let Err(e) = copied {
            let _ = std::fs::remove_dir_all(&work);
            return Err(e);
        }
        let lock = protocol::CapsuleLock {
            round: manifest.round,
            chain_hash: chain.hash_hex(),
            escrow: manifest.escrow,
        };
        let photo_count = manifest.photo_count.unwrap_or_else(|| {
            let n = manifest
                .files
                .iter()
                .filter(|f| matches!(SealedName::parse(&f.name), Some(SealedName::Original(_))))
                .count();
            u32::try_from(n).unwrap_or(u32::MAX)
        });
        self.conn().execute(
            "INSERT INTO capsules (id, title, note, open_at, time_zone, recipients, state, \
             photo_count, sealed_at, created_at, updated_at, seal_lock, seal_time_lock_only, \
             sealed_here) \
             VALUES (?1, ?2, '', ?3, ?4, '[]', 'sealed', ?5, ?6, ?7, ?7, ?8, ?9, 1)",
            params![
                id.to_string(),
                manifest.title,
                ms(manifest.open_at),
                manifest.time_zone.as_deref().unwrap_or("UTC"),
                photo_count,
                manifest.sealed_at.map(ms),
                ms(now),
                serde_json::to_string(&lock).unwrap_or_default(),
                !manifest.escrow,
            ],
        )?;
        Ok(id)
    }
}
