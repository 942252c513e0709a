//! Writing a capsule's sealed files, and the two files that say how to open them.

use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use protocol::{SealedIndex, SealedItem, SealedName, SealedPhoto};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::SealedError;
use crate::drafts::from_ms;
use crate::library::{Library, ThumbSize};

/// The drand chain this device seals to when it has no server to ask, and the relays it
/// fetches rounds from when a capsule sealed here comes due.
#[derive(Debug, Clone)]
pub struct Drand {
    pub chain: seal::Chain,
    pub relays: Vec<String>,
}

impl Default for Drand {
    /// drand's quicknet and its public relays.
    fn default() -> Self {
        Self {
            chain: seal::Chain::quicknet(),
            relays: seal::relay::DEFAULT_RELAYS
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
        }
    }
}

impl Drand {
    /// The chain and relays from the environment, under the names the server's flags read
    /// (`ITC_DRAND_CHAIN_HASH`, `ITC_DRAND_PUBLIC_KEY`, `ITC_DRAND_GENESIS`,
    /// `ITC_DRAND_PERIOD`, `ITC_DRAND_RELAYS`); quicknet and its relays where unset.
    pub fn from_env() -> Result<Self, String> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let mut drand = Self::default();
        if let Some(hash) = var("ITC_DRAND_CHAIN_HASH") {
            let (Some(key), Some(genesis), Some(period)) = (
                var("ITC_DRAND_PUBLIC_KEY"),
                var("ITC_DRAND_GENESIS"),
                var("ITC_DRAND_PERIOD"),
            ) else {
                return Err("ITC_DRAND_CHAIN_HASH needs ITC_DRAND_PUBLIC_KEY, \
                     ITC_DRAND_GENESIS and ITC_DRAND_PERIOD"
                    .into());
            };
            let genesis = genesis
                .trim()
                .parse()
                .map_err(|_| "ITC_DRAND_GENESIS is Unix seconds".to_owned())?;
            let period = period
                .trim()
                .parse()
                .map_err(|_| "ITC_DRAND_PERIOD is seconds".to_owned())?;
            drand.chain = seal::Chain::new(&hash, &key, genesis, period)
                .map_err(|e| format!("the drand chain: {e}"))?;
        }
        if let Some(relays) = var("ITC_DRAND_RELAYS") {
            drand.relays = relays.split(',').map(|s| s.trim().to_owned()).collect();
        }
        Ok(drand)
    }
}

/// A file's plaintext: a file on disk (photos stream from it) or bytes made here.
pub(crate) enum Plain {
    File(PathBuf),
    Bytes(Vec<u8>),
}

/// What a seal locks the files to.
#[derive(Clone)]
pub(crate) struct Lock {
    pub chain: seal::Chain,
    pub round: u64,
    pub escrow: Option<seal::EscrowPublic>,
}

/// `manifest.json` of a sealed folder: what a program needs to open the files on the date
/// (the chain, the round, each file's size and SHA-256), and what the app needs to take
/// the folder back.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub capsule: Uuid,
    pub title: String,
    pub open_at: DateTime<Utc>,
    #[serde(default)]
    pub time_zone: Option<String>,
    #[serde(default)]
    pub photo_count: Option<u32>,
    #[serde(default)]
    pub sealed_at: Option<DateTime<Utc>>,
    pub format: String,
    pub round: u64,
    pub round_time: DateTime<Utc>,
    /// The chain's `/info` document.
    pub chain: serde_json::Value,
    #[serde(default)]
    pub relays: Vec<String>,
    pub escrow: bool,
    pub files: Vec<SealedItem>,
}

/// What a manifest says of a capsule besides its files.
pub(crate) struct About<'a> {
    pub id: Uuid,
    pub title: &'a str,
    pub open_at: DateTime<Utc>,
    pub time_zone: &'a str,
    pub photo_count: u32,
    pub sealed_at: DateTime<Utc>,
}

impl Manifest {
    pub(crate) fn new(
        about: &About<'_>,
        lock: &Lock,
        relays: &[String],
        files: Vec<SealedItem>,
    ) -> Self {
        Self {
            capsule: about.id,
            title: about.title.to_owned(),
            open_at: about.open_at,
            time_zone: Some(about.time_zone.to_owned()),
            photo_count: Some(about.photo_count),
            sealed_at: Some(about.sealed_at),
            format: "age v1, tlock stanza (drand)".into(),
            round: lock.round,
            round_time: lock.chain.round_time(lock.round),
            chain: lock.chain.info_json(),
            relays: relays.to_vec(),
            escrow: lock.escrow.is_some(),
            files,
        }
    }

    /// Reads `manifest.json` in `dir`.
    pub fn read(dir: &Path) -> Result<Self, SealedError> {
        let text = std::fs::read(dir.join("manifest.json")).map_err(|e| {
            SealedError::NotSealedFolder(format!(
                "{} has no readable manifest.json ({e}): it is not a sealed capsule's folder.",
                dir.display()
            ))
        })?;
        serde_json::from_slice(&text).map_err(|e| {
            SealedError::NotSealedFolder(format!(
                "The manifest.json in {} is not a sealed capsule's ({e}).",
                dir.display()
            ))
        })
    }

    /// The chain the files are locked to.
    pub fn chain(&self) -> Result<seal::Chain, SealedError> {
        Ok(seal::Chain::from_info_json(&self.chain)?)
    }
}

/// The plaintexts a seal encrypts: each photo's original and, where this device has them,
/// its two thumbnails; the index of the photos; the note; the recipients. `photos` are
/// (photo id, hash, file name, the original's path).
pub(crate) fn plain_files(
    lib: &Library,
    photos: Vec<(Uuid, String, Option<String>, PathBuf)>,
    note: &str,
    recipients: &[String],
) -> Result<Vec<(SealedName, Plain)>, SealedError> {
    let mut files = Vec::new();
    let mut index = SealedIndex {
        version: 1,
        photos: Vec::new(),
    };
    for (pid, sha256, file_name, original) in photos {
        let rec = lib
            .photo(&sha256)?
            .ok_or_else(|| SealedError::MissingPhoto(file_name.clone().unwrap_or_default()))?;
        if !original.is_file() {
            return Err(SealedError::MissingPhoto(file_name.unwrap_or_default()));
        }
        let grid = lib.thumbnail_path(&sha256, ThumbSize::Grid);
        let preview = lib.thumbnail_path(&sha256, ThumbSize::Preview);
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
    // An index and a list of addresses always serialize.
    let index = serde_json::to_vec(&index).unwrap_or_default();
    let recipients = serde_json::to_vec(recipients).unwrap_or_default();
    files.push((SealedName::Index, Plain::Bytes(index)));
    files.push((SealedName::Note, Plain::Bytes(note.as_bytes().to_vec())));
    files.push((SealedName::Recipients, Plain::Bytes(recipients)));
    Ok(files)
}

/// Writes the age file of `plain` to `dest` (blocking: run it off the async threads);
/// answers its SHA-256 and size.
pub(crate) fn encrypt_file(
    plain: Plain,
    dest: &Path,
    lock: &Lock,
) -> Result<(String, u64), SealedError> {
    let mut w = seal::HashingWriter::new(BufWriter::new(std::fs::File::create(dest)?));
    match plain {
        Plain::File(p) => seal::seal(
            BufReader::new(std::fs::File::open(p)?),
            &mut w,
            &lock.chain,
            lock.round,
            lock.escrow.as_ref(),
        )?,
        Plain::Bytes(b) => seal::seal(
            b.as_slice(),
            &mut w,
            &lock.chain,
            lock.round,
            lock.escrow.as_ref(),
        )?,
    }
    let (out, len, sha256) = w.finish()?;
    out.get_ref().sync_all()?;
    Ok((sha256, len))
}

/// Writes the manifest and README into `work` and moves it to `dest` (replacing what was
/// there).
pub(crate) fn write_kept(
    work: &Path,
    dest: &Path,
    manifest: &Manifest,
    readme: &str,
) -> std::io::Result<()> {
    std::fs::write(
        work.join("manifest.json"),
        serde_json::to_vec_pretty(manifest).unwrap_or_default(),
    )?;
    std::fs::write(work.join("README.txt"), readme)?;
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let _ = std::fs::remove_dir_all(dest);
    std::fs::rename(work, dest)
}

/// How to open the files on the date without this app.
pub(crate) fn readme(title: &str, lock: &Lock, relays: &[String]) -> String {
    let hash = lock.chain.hash_hex();
    let relay = relays
        .first()
        .map_or("https://api.drand.sh", String::as_str);
    let escrow = if lock.escrow.is_some() {
        "They also open with the escrow key of the Image Time Capsule server they were sent to,\n\
         which it uses only on and after the date.\n\n"
    } else {
        "Nobody holds a key to them: only drand's beacon on the date opens them.\n\n"
    };
    format!(
        "The time capsule \"{title}\", sealed with Image Time Capsule.\n\n\
         It opens at {when} (UTC), when the drand network publishes round {round} of its chain\n\
         {hash}.\n\
         Before that nobody can open these files: not you, not us.\n\
         {escrow}\
         Each .age file is an age v1 file (https://age-encryption.org) time-locked with drand's\n\
         tlock. On the date, they open without Image Time Capsule, for example:\n\n\
         - in a browser at https://timevault.drand.love (drand's tlock-js): load a file, decrypt;\n\
         - with drand's `tle` (https://github.com/drand/tlock):\n\
           tle --decrypt --network {relay} --chain {hash} --output note.txt note.age\n\
         - in Image Time Capsule: Import sealed capsule, then pick this folder; it opens on its\n\
           date.\n\n\
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
