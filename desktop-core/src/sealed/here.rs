//! A capsule sealed on this computer only, with no server: its files are encrypted at once,
//! time lock only (there is no server to hold an escrow key), and nothing readable of it
//! stays. On its date this device fetches the drand round from the relays, verifies it,
//! and opens the files back into the library. The clock alone opens nothing: a round that
//! is not published yet cannot be fetched, and a forged one fails its check.

use std::io::BufWriter;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use protocol::{SealedIndex, SealedItem, SealedName};
use rusqlite::params;
use uuid::Uuid;

use super::files::About;
use super::{Drand, Lock, Manifest, SealedError, encrypt_file, plain_files, readme, write_kept};
use crate::drafts::{Draft, DraftError, ms, recipients_json};
use crate::import::place;
use crate::library::{Library, ThumbSize};
use crate::outbox::{self, OpKind};
use crate::sync::store;

/// What became of a capsule sealed here whose date has come.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenOutcome {
    /// It is open: its photos, note and recipients are back in the library.
    Opened,
    /// It stays sealed; the sentence says why (shown on its screen).
    Waiting(String),
}

impl Library {
    /// Seals a draft on this computer only: encrypts its files to the drand round at its
    /// open date, keeps them (with a manifest and a README) in its sealed folder, and takes
    /// the note, the recipients and the photos out of the library. The seal is also queued
    /// for a server, so signing in before the date sends the sealed files as they are.
    pub fn seal_here(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
        drand: &Drand,
    ) -> Result<Draft, SealedError> {
        if let Some(problem) = self.seal_problem(id, now)? {
            return Err(problem.into());
        }
        let d = self.draft(id)?.ok_or(DraftError::NotFound)?;
        let open_at = d.open_at.ok_or(DraftError::NoOpenDate)?;
        let lock = Lock {
            round: drand.chain.round_at(open_at),
            chain: drand.chain.clone(),
            escrow: None,
        };
        let photos = d
            .photos
            .iter()
            .map(|p| {
                let path = self.photo_path(&p.sha256);
                (p.id, p.sha256.clone(), p.file_name.clone(), path)
            })
            .collect();
        let files = plain_files(self, photos, &d.note, &d.recipients)?;
        let work = self.incoming();
        let kept = (|| {
            std::fs::create_dir_all(&work)?;
            let mut items = Vec::with_capacity(files.len());
            for (name, plain) in files {
                let file = name.file_name();
                let (sha256, size) = encrypt_file(plain, &work.join(&file), &lock)?;
                items.push(SealedItem {
                    name: file,
                    sha256,
                    size,
                });
            }
            let about = About {
                id,
                title: &d.title,
                open_at,
                time_zone: &d.time_zone,
                photo_count: d.photo_count,
                sealed_at: now,
            };
            let manifest = Manifest::new(&about, &lock, &drand.relays, items);
            write_kept(
                &work,
                &self.sealed_dir(id),
                &manifest,
                &readme(&d.title, &lock, &drand.relays),
            )?;
            Ok::<_, SealedError>(())
        })();
        if let Err(e) = kept {
            let _ = std::fs::remove_dir_all(&work);
            return Err(e);
        }
        let capsule_lock = protocol::CapsuleLock {
            round: lock.round,
            chain_hash: lock.chain.hash_hex(),
            escrow: false,
        };
        let shas = {
            let mut conn = self.conn();
            let tx = conn.transaction()?;
            let n = tx.execute(
                "UPDATE capsules SET state = 'sealed', sealed_at = ?2, photo_count = ?3, \
                 updated_at = ?2, seal_time_lock_only = 1, sealed_here = 1, seal_lock = ?4, \
                 base = NULL, open_wait = NULL WHERE id = ?1 AND state = 'draft'",
                params![
                    id.to_string(),
                    ms(now),
                    d.photo_count,
                    serde_json::to_string(&capsule_lock).unwrap_or_default(),
                ],
            )?;
            if n == 0 {
                return Err(DraftError::Sealed.into());
            }
            let shas = store::drop_sealed_photos(&tx, id)?;
            // What was queued carried the plaintext (photos to upload); a later sign-in
            // sends the capsule's fields (title, date) and then the sealed files.
            outbox::forget_capsule(&tx, id)?;
            outbox::enqueue(&tx, OpKind::PutCapsule, id, None, ms(now))?;
            outbox::enqueue(&tx, OpKind::Seal, id, None, ms(now))?;
            tx.commit()?;
            shas
        };
        for sha in shas {
            self.forget_photo_if_unused(&sha)?;
        }
        self.scrub()?;
        self.queued();
        Ok(self.draft(id)?.ok_or(DraftError::NotFound)?)
    }

    /// Capsules sealed here (no server has them) whose open date has passed.
    pub(crate) fn due_here(&self, now: DateTime<Utc>) -> Result<Vec<Uuid>, SealedError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id FROM capsules WHERE state = 'sealed' AND sealed_here = 1 \
             AND open_at <= ?1 ORDER BY open_at",
        )?;
        let ids = stmt
            .query_map(params![ms(now)], |r| r.get::<_, String>(0))?
            .filter_map(|r| r.ok().and_then(|s| Uuid::parse_str(&s).ok()))
            .collect();
        Ok(ids)
    }

    /// Records why a capsule sealed here has not opened yet (none: it is not waiting).
    pub(crate) fn set_open_wait(&self, id: Uuid, why: Option<&str>) -> Result<(), SealedError> {
        self.conn().execute(
            "UPDATE capsules SET open_wait = ?2 WHERE id = ?1",
            params![id.to_string(), why],
        )?;
        Ok(())
    }

    /// Opens a capsule sealed here with its round's beacon (verified against the chain the
    /// manifest names before anything is decrypted). Every file is decrypted to a scratch
    /// file and checked first; only then do the photos move into place and the rows change,
    /// in one transaction, so a damaged file leaves the capsule sealed and whole.
    pub fn open_here_with(
        &self,
        id: Uuid,
        beacon: &seal::Beacon,
        now: DateTime<Utc>,
    ) -> Result<(), SealedError> {
        let dir = self.sealed_dir(id);
        let manifest = Manifest::read(&dir)?;
        let chain = manifest.chain()?;
        let scratch = self.incoming();
        std::fs::create_dir_all(&scratch)?;
        let opened = self.decrypt_all(&dir, &scratch, &manifest, &chain, beacon);
        let result = opened.and_then(|o| self.put_opened(id, o, now));
        let _ = std::fs::remove_dir_all(&scratch);
        result?;
        // The plaintext is in the library now; the ciphertext has no further use.
        if let Err(e) = std::fs::remove_dir_all(&dir) {
            tracing::warn!(capsule_id = %id, error = %e, "the opened capsule's sealed files stay");
        }
        Ok(())
    }

    fn decrypt_all(
        &self,
        dir: &std::path::Path,
        scratch: &std::path::Path,
        manifest: &Manifest,
        chain: &seal::Chain,
        beacon: &seal::Beacon,
    ) -> Result<Opened, SealedError> {
        let open = |name: SealedName| -> Result<(std::path::PathBuf, String), SealedError> {
            let file = name.file_name();
            if !manifest.files.iter().any(|f| f.name == file) {
                return Err(SealedError::Damaged {
                    file,
                    why: "the manifest does not list it".into(),
                });
            }
            let src = std::fs::File::open(dir.join(&file)).map_err(|e| SealedError::Damaged {
                file: file.clone(),
                why: e.to_string(),
            })?;
            let dest = scratch.join(&file);
            let mut w = seal::HashingWriter::new(BufWriter::new(std::fs::File::create(&dest)?));
            seal::open_with_beacon(std::io::BufReader::new(src), &mut w, chain, beacon).map_err(
                |e| match e {
                    seal::SealError::Io(io) => SealedError::Io(io),
                    e @ (seal::SealError::BadSignature { .. }
                    | seal::SealError::WrongRound { .. }
                    | seal::SealError::WrongChain) => SealedError::Seal(e),
                    e => SealedError::Damaged {
                        file: file.clone(),
                        why: e.to_string(),
                    },
                },
            )?;
            let (_, _, sha256) = w.finish()?;
            Ok((dest, sha256))
        };
        let damaged = |file: &str, why: &str| SealedError::Damaged {
            file: file.to_owned(),
            why: why.to_owned(),
        };
        let (index_path, _) = open(SealedName::Index)?;
        let index: SealedIndex = serde_json::from_slice(&std::fs::read(index_path)?)
            .map_err(|e| damaged("index.age", &e.to_string()))?;
        let (note_path, _) = open(SealedName::Note)?;
        let note = String::from_utf8(std::fs::read(note_path)?)
            .map_err(|_| damaged("note.age", "not text"))?;
        let (recipients_path, _) = open(SealedName::Recipients)?;
        let recipients: Vec<String> = serde_json::from_slice(&std::fs::read(recipients_path)?)
            .map_err(|e| damaged("recipients.age", &e.to_string()))?;
        let mut photos = Vec::with_capacity(index.photos.len());
        for p in index.photos {
            if p.sha256.len() != 64 || !p.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(damaged("index.age", "a photo's hash is not a SHA-256"));
            }
            let (original, sha256) = open(SealedName::Original(p.id))?;
            if !sha256.eq_ignore_ascii_case(&p.sha256) {
                return Err(damaged(
                    &SealedName::Original(p.id).file_name(),
                    "its content is not the photo the index names",
                ));
            }
            let thumbnails = if p.thumbnails {
                Some((
                    open(SealedName::Grid(p.id))?.0,
                    open(SealedName::Preview(p.id))?.0,
                ))
            } else {
                None
            };
            photos.push(OpenedPhoto {
                meta: p,
                original,
                thumbnails,
            });
        }
        Ok(Opened {
            note,
            recipients,
            photos,
        })
    }

    /// Moves opened files into place and writes the opened capsule in one transaction.
    fn put_opened(&self, id: Uuid, o: Opened, now: DateTime<Utc>) -> Result<(), SealedError> {
        // Files first, each by rename: a crash leaves photos no row points at (the
        // content-addressed store takes them again at the next try), never a row without
        // its file.
        for p in &o.photos {
            let dest = self.photo_path(&p.meta.sha256);
            place(&p.original, &dest)?;
            if let Some((grid, preview)) = &p.thumbnails {
                place(grid, &self.thumbnail_path(&p.meta.sha256, ThumbSize::Grid))?;
                place(
                    preview,
                    &self.thumbnail_path(&p.meta.sha256, ThumbSize::Preview),
                )?;
            }
        }
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        for p in &o.photos {
            let m = &p.meta;
            let taken = m.taken_at.map(ms);
            tx.execute(
                "INSERT OR IGNORE INTO photos \
                 (sha256, size, content_type, width, height, taken_at, camera, imported_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL, ?7)",
                params![
                    m.sha256,
                    m.size,
                    m.content_type,
                    m.width,
                    m.height,
                    taken,
                    ms(now)
                ],
            )?;
            tx.execute(
                "INSERT OR IGNORE INTO capsule_photos \
                 (id, capsule_id, sha256, file_name, size, content_type, taken_at, added_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    m.id.to_string(),
                    id.to_string(),
                    m.sha256,
                    m.file_name,
                    m.size,
                    m.content_type,
                    taken,
                    ms(now)
                ],
            )?;
        }
        let n = tx.execute(
            "UPDATE capsules SET state = 'opened', note = ?2, recipients = ?3, updated_at = ?4, \
             sealed_here = 0, open_wait = NULL WHERE id = ?1 AND state = 'sealed'",
            params![
                id.to_string(),
                o.note,
                recipients_json(&o.recipients),
                ms(now)
            ],
        )?;
        if n == 0 {
            return Err(DraftError::NotFound.into());
        }
        // Opened here, it is this computer's alone: nothing is left to send.
        outbox::forget_capsule(&tx, id)?;
        tx.commit()?;
        Ok(())
    }
}

/// What a capsule's files held, decrypted to scratch files and checked.
struct Opened {
    note: String,
    recipients: Vec<String>,
    photos: Vec<OpenedPhoto>,
}

struct OpenedPhoto {
    meta: protocol::SealedPhoto,
    original: std::path::PathBuf,
    thumbnails: Option<(std::path::PathBuf, std::path::PathBuf)>,
}

/// Tries to open every capsule sealed here whose date has passed: fetches each one's round
/// from the relays (the configured ones, then those its manifest names), verified, and
/// opens it; a capsule that cannot open yet records why. Answers what became of each.
pub async fn open_due_here(
    lib: &Arc<Library>,
    drand: &Drand,
    now: DateTime<Utc>,
) -> Vec<(Uuid, OpenOutcome)> {
    let due = match lib.due_here(now) {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list the capsules sealed here");
            return Vec::new();
        }
    };
    let mut outcomes = Vec::with_capacity(due.len());
    for id in due {
        let outcome = open_one(lib, drand, id, now).await;
        let wait = match &outcome {
            OpenOutcome::Opened => None,
            OpenOutcome::Waiting(why) => Some(why.as_str()),
        };
        if let Err(e) = lib.set_open_wait(id, wait) {
            tracing::warn!(capsule_id = %id, error = %e, "cannot record why the capsule waits");
        }
        outcomes.push((id, outcome));
    }
    outcomes
}

async fn open_one(lib: &Arc<Library>, drand: &Drand, id: Uuid, now: DateTime<Utc>) -> OpenOutcome {
    let waiting = |why: String| {
        tracing::info!(capsule_id = %id, why = %why, "a capsule sealed here waits");
        OpenOutcome::Waiting(why)
    };
    let manifest = match Manifest::read(&lib.sealed_dir(id)) {
        Ok(m) => m,
        Err(e) => return waiting(e.to_string()),
    };
    let chain = match manifest.chain() {
        Ok(c) => c,
        Err(e) => return waiting(format!("Its manifest names no usable drand chain ({e}).")),
    };
    let mut urls = drand.relays.clone();
    for r in &manifest.relays {
        if !urls.contains(r) {
            urls.push(r.clone());
        }
    }
    let relays = seal::relay::Relays::new(&urls);
    let beacon = match relays.fetch(&chain, manifest.round).await {
        Ok(b) => b,
        Err(seal::relay::FetchError::TooEarly { round }) => {
            return waiting(format!(
                "Waiting for drand's beacon: round {round} is not published yet."
            ));
        }
        Err(seal::relay::FetchError::Forged(e)) => {
            return waiting(format!(
                "A drand relay answered with a signature that is not the chain's; it was refused ({e}). Waiting for a true one."
            ));
        }
        Err(seal::relay::FetchError::Unreachable(_)) => {
            return waiting(
                "Waiting for drand's beacon: no drand relay can be reached. It opens when one can."
                    .into(),
            );
        }
    };
    let lib2 = lib.clone();
    let opened = tokio::task::spawn_blocking(move || lib2.open_here_with(id, &beacon, now)).await;
    match opened {
        Ok(Ok(())) => {
            tracing::info!(capsule_id = %id, "a capsule sealed here opened");
            OpenOutcome::Opened
        }
        Ok(Err(e)) => waiting(format!("It could not be opened: {e}")),
        Err(e) => waiting(format!("It could not be opened: {e}")),
    }
}
