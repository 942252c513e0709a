//! The sync engine's SQL over the library database: the account, the pull cursor, capsule
//! fields as last confirmed by the server, and applying what the server says.

use chrono::{DateTime, Utc};
use protocol::{Capsule, CapsuleState, CapsuleWrite, Photo, PhotoState};
use rusqlite::{Connection, OptionalExtension, params};
use uuid::Uuid;

use super::api::Account;
use crate::drafts::{from_ms, ms, recipients_json, serde_recipients};
use crate::outbox::{self, OpKind};

pub(crate) fn load_account(conn: &Connection) -> rusqlite::Result<Option<Account>> {
    conn.query_row(
        "SELECT server_url, user_id, email FROM account WHERE one = 1",
        [],
        |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        },
    )
    .optional()
    .map(|row| {
        row.and_then(|(server_url, user, email)| {
            Some(Account {
                server_url,
                user_id: Uuid::parse_str(&user).ok()?,
                email,
            })
        })
    })
}

pub(crate) fn save_account(conn: &Connection, a: &Account) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO account (one, server_url, user_id, email) VALUES (1, ?1, ?2, ?3) \
         ON CONFLICT (one) DO UPDATE SET server_url = ?1, user_id = ?2, email = ?3",
        params![a.server_url, a.user_id.to_string(), a.email],
    )?;
    Ok(())
}

pub(crate) fn clear_account(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM account", [])?;
    Ok(())
}

pub(crate) fn meta(conn: &Connection, key: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        "SELECT value FROM sync_meta WHERE key = ?1",
        params![key],
        |r| r.get(0),
    )
    .optional()
}

pub(crate) fn set_meta(conn: &Connection, key: &str, value: &str) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO sync_meta (key, value) VALUES (?1, ?2) \
         ON CONFLICT (key) DO UPDATE SET value = ?2",
        params![key, value],
    )?;
    Ok(())
}

/// When another account signs in on this device, what came from the previous account's
/// server leaves (it is that account's); drafts never sent stay and go to the new one.
pub(crate) fn adopt_owner(conn: &mut Connection, owner: &str) -> rusqlite::Result<bool> {
    let previous = meta(conn, "owner")?;
    if previous.as_deref() == Some(owner) {
        return Ok(false);
    }
    let tx = conn.transaction()?;
    if previous.is_some() {
        tx.execute(
            "DELETE FROM outbox WHERE capsule_id IN (SELECT id FROM capsules WHERE base IS NOT NULL) \
             OR kind = 'delete_capsule'",
            [],
        )?;
        tx.execute("DELETE FROM capsules WHERE base IS NOT NULL", [])?;
        tx.execute(
            "UPDATE capsules SET server_version = 0, state = 'draft', sealed_at = NULL \
             WHERE state = 'sealed'",
            [],
        )?;
        tx.execute("UPDATE capsule_photos SET uploaded = 0", [])?;
    }
    tx.execute("DELETE FROM sync_meta WHERE key = 'cursor'", [])?;
    set_meta(&tx, "owner", owner)?;
    tx.commit()?;
    Ok(previous.is_some())
}

/// A capsule as the outbox sends it.
pub(crate) struct LocalCapsule {
    pub fields: CapsuleWrite,
    pub base: Option<CapsuleWrite>,
    pub server_version: i64,
    pub state: CapsuleState,
}

pub(crate) fn local_capsule(conn: &Connection, id: Uuid) -> rusqlite::Result<Option<LocalCapsule>> {
    conn.query_row(
        "SELECT title, note, open_at, time_zone, recipients, base, server_version, state \
         FROM capsules WHERE id = ?1",
        params![id.to_string()],
        |r| {
            Ok(LocalCapsule {
                fields: CapsuleWrite {
                    title: r.get(0)?,
                    note: r.get(1)?,
                    open_at: r.get::<_, Option<i64>>(2)?.map(from_ms),
                    time_zone: r.get(3)?,
                    recipients: serde_recipients(&r.get::<_, String>(4)?),
                },
                base: r
                    .get::<_, Option<String>>(5)?
                    .and_then(|b| serde_json::from_str(&b).ok()),
                server_version: r.get(6)?,
                state: CapsuleState::parse(&r.get::<_, String>(7)?).unwrap_or(CapsuleState::Sealed),
            })
        },
    )
    .optional()
}

/// The editable fields of a capsule as the server shows it.
pub(crate) fn fields_of(c: &Capsule) -> CapsuleWrite {
    CapsuleWrite {
        title: c.title.clone(),
        note: c.note.clone().unwrap_or_default(),
        open_at: c.open_at,
        time_zone: c.time_zone.clone(),
        recipients: c.recipients.clone().unwrap_or_default(),
    }
}

/// Three-way merge of a draft edited here and elsewhere: a field changed here since the
/// server's last confirmed state keeps this device's value (this write is the later one);
/// every other field takes the server's.
pub(crate) fn merge(
    local: &CapsuleWrite,
    base: Option<&CapsuleWrite>,
    server: &CapsuleWrite,
) -> CapsuleWrite {
    let Some(base) = base else {
        return local.clone();
    };
    fn pick<T: Clone + PartialEq>(l: &T, b: &T, s: &T) -> T {
        if l != b { l.clone() } else { s.clone() }
    }
    CapsuleWrite {
        title: pick(&local.title, &base.title, &server.title),
        note: pick(&local.note, &base.note, &server.note),
        open_at: pick(&local.open_at, &base.open_at, &server.open_at),
        time_zone: pick(&local.time_zone, &base.time_zone, &server.time_zone),
        recipients: pick(&local.recipients, &base.recipients, &server.recipients),
    }
}

/// Writes merged fields and the server's version as the new base.
pub(crate) fn write_merged(
    conn: &Connection,
    id: Uuid,
    fields: &CapsuleWrite,
    server: &Capsule,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE capsules SET title = ?2, note = ?3, open_at = ?4, time_zone = ?5, \
         recipients = ?6, server_version = ?7, base = ?8 WHERE id = ?1",
        params![
            id.to_string(),
            fields.title,
            fields.note,
            fields.open_at.map(ms),
            fields.time_zone,
            recipients_json(&fields.recipients),
            server.version,
            base_json(server),
        ],
    )?;
    Ok(())
}

fn base_json(c: &Capsule) -> Option<String> {
    serde_json::to_string(&fields_of(c)).ok()
}

/// The server accepted this device's fields.
pub(crate) fn record_pushed(conn: &Connection, server: &Capsule) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE capsules SET server_version = ?2, base = ?3 WHERE id = ?1",
        params![server.id.to_string(), server.version, base_json(server)],
    )?;
    Ok(())
}

/// What applying a server capsule asks of the caller once the transaction is committed.
#[derive(Debug, Default)]
pub(crate) struct Applied {
    /// Capsules now sealed whose local contents must go.
    pub purge: Vec<Uuid>,
}

/// Applies the server's view of a capsule.
pub(crate) fn apply_capsule(
    conn: &Connection,
    c: &Capsule,
    now: DateTime<Utc>,
    applied: &mut Applied,
) -> rusqlite::Result<()> {
    let id = c.id.to_string();
    let deleting: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM outbox WHERE capsule_id = ?1 AND kind = 'delete_capsule')",
        params![id],
        |r| r.get(0),
    )?;
    if deleting {
        return Ok(());
    }
    let server = fields_of(c);
    let Some(local) = local_capsule(conn, c.id)? else {
        write_server_capsule(conn, c, &server, c.updated_at)?;
        return release_held_photos(conn, c.id);
    };
    match c.state {
        CapsuleState::Draft => {
            let pending_put: bool = conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM outbox WHERE capsule_id = ?1 AND kind = 'put_capsule')",
                params![id],
                |r| r.get(0),
            )?;
            let fields = if pending_put {
                merge(&local.fields, local.base.as_ref(), &server)
            } else {
                server
            };
            write_merged(conn, c.id, &fields, c)?;
            release_held_photos(conn, c.id)?;
        }
        CapsuleState::Sealed | CapsuleState::Opened => {
            // Sealed or opened elsewhere (or confirmed for this device): nothing of this
            // device's unsent edits can apply any more.
            outbox::forget_capsule(conn, c.id)?;
            write_server_capsule(conn, c, &server, now.max(c.updated_at))?;
            if c.state == CapsuleState::Opened {
                release_held_photos(conn, c.id)?;
            } else if local.state != CapsuleState::Opened {
                applied.purge.push(c.id);
            }
        }
    }
    Ok(())
}

/// Writes the server's view of a capsule as this device's, inserting it if new.
fn write_server_capsule(
    conn: &Connection,
    c: &Capsule,
    fields: &CapsuleWrite,
    updated_at: DateTime<Utc>,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO capsules (id, title, note, open_at, time_zone, recipients, state, \
         server_version, base, photo_count, sealed_at, created_at, updated_at, seal_lock) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) \
         ON CONFLICT (id) DO UPDATE SET title = ?2, note = ?3, open_at = ?4, time_zone = ?5, \
         recipients = ?6, state = ?7, server_version = ?8, base = ?9, photo_count = ?10, \
         sealed_at = ?11, updated_at = ?13, seal_lock = ?14, sealed_here = 0",
        params![
            c.id.to_string(),
            fields.title,
            fields.note,
            fields.open_at.map(ms),
            fields.time_zone,
            recipients_json(&fields.recipients),
            c.state.as_str(),
            c.version,
            base_json(c),
            c.photo_count,
            c.sealed_at.map(ms),
            ms(c.created_at),
            ms(updated_at),
            c.lock.as_ref().and_then(|l| serde_json::to_string(l).ok()),
        ],
    )?;
    Ok(())
}

/// Applies the photos that arrived before their capsule.
fn release_held_photos(conn: &Connection, capsule_id: Uuid) -> rusqlite::Result<()> {
    let held: Vec<String> = {
        let mut stmt = conn.prepare("SELECT photo FROM held_photos WHERE capsule_id = ?1")?;
        stmt.query_map(params![capsule_id.to_string()], |r| r.get(0))?
            .collect::<Result<_, _>>()?
    };
    conn.execute(
        "DELETE FROM held_photos WHERE capsule_id = ?1",
        params![capsule_id.to_string()],
    )?;
    for json in held {
        if let Ok(p) = serde_json::from_str::<Photo>(&json) {
            apply_photo(conn, &p)?;
        }
    }
    Ok(())
}

/// Applies the server's view of a photo of a capsule this device shows.
pub(crate) fn apply_photo(conn: &Connection, p: &Photo) -> rusqlite::Result<()> {
    let state: Option<String> = conn
        .query_row(
            "SELECT state FROM capsules WHERE id = ?1",
            params![p.capsule_id.to_string()],
            |r| r.get(0),
        )
        .optional()?;
    // Held until the capsule is known here, or has opened: a sealed capsule's photos
    // arrive just before the capsule's own "opened" entry.
    if matches!(state.as_deref(), None | Some("sealed")) {
        conn.execute(
            "INSERT INTO held_photos (id, capsule_id, photo) VALUES (?1, ?2, ?3) \
             ON CONFLICT (id) DO UPDATE SET photo = ?3",
            params![
                p.id.to_string(),
                p.capsule_id.to_string(),
                serde_json::to_string(p).unwrap_or_default()
            ],
        )?;
        return Ok(());
    }
    let same_bytes: Option<String> = conn
        .query_row(
            "SELECT id FROM capsule_photos WHERE capsule_id = ?1 AND sha256 = ?2 AND id != ?3",
            params![p.capsule_id.to_string(), p.sha256, p.id.to_string()],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(other) = same_bytes {
        // Both devices added the same photo: keep the server's entry and drop this
        // device's unsent one; if both reached the server, showing it once is enough.
        let unsent: bool = conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM outbox WHERE kind = 'put_photo' AND photo_id = ?1)",
            params![other],
            |r| r.get(0),
        )?;
        if !unsent {
            return Ok(());
        }
        conn.execute("DELETE FROM capsule_photos WHERE id = ?1", params![other])?;
        if let Ok(other) = Uuid::parse_str(&other) {
            outbox::forget_photo(conn, OpKind::PutPhoto, other)?;
        }
    }
    conn.execute(
        "INSERT INTO capsule_photos (id, capsule_id, sha256, file_name, size, content_type, \
         taken_at, uploaded, added_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
         ON CONFLICT (id) DO UPDATE SET uploaded = MAX(uploaded, ?8), file_name = ?4",
        params![
            p.id.to_string(),
            p.capsule_id.to_string(),
            p.sha256,
            p.file_name,
            p.size,
            p.content_type,
            p.taken_at.map(ms),
            p.state == PhotoState::Ready,
            ms(p.created_at),
        ],
    )?;
    Ok(())
}

/// A photo left a capsule on another device.
pub(crate) fn apply_photo_deleted(conn: &Connection, id: Uuid) -> rusqlite::Result<()> {
    conn.execute(
        "DELETE FROM capsule_photos WHERE id = ?1",
        params![id.to_string()],
    )?;
    conn.execute(
        "DELETE FROM held_photos WHERE id = ?1",
        params![id.to_string()],
    )?;
    outbox::forget_photo(conn, OpKind::PutPhoto, id)?;
    Ok(())
}

/// A capsule was deleted on another device (deletion wins over edits not yet sent).
pub(crate) fn apply_capsule_deleted(conn: &Connection, id: Uuid) -> rusqlite::Result<()> {
    conn.execute(
        "DELETE FROM capsules WHERE id = ?1",
        params![id.to_string()],
    )?;
    conn.execute(
        "DELETE FROM outbox WHERE capsule_id = ?1",
        params![id.to_string()],
    )?;
    Ok(())
}

/// Takes a sealed capsule's photo list off this device; answers the photos' hashes so
/// their files can go too.
pub(crate) fn drop_sealed_photos(conn: &Connection, id: Uuid) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare("SELECT sha256 FROM capsule_photos WHERE capsule_id = ?1")?;
    let shas = stmt
        .query_map(params![id.to_string()], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    conn.execute(
        "UPDATE capsules SET note = '', recipients = '[]' WHERE id = ?1 AND state = 'sealed'",
        params![id.to_string()],
    )?;
    conn.execute(
        "DELETE FROM capsule_photos WHERE capsule_id = ?1",
        params![id.to_string()],
    )?;
    conn.execute(
        "DELETE FROM held_photos WHERE capsule_id = ?1",
        params![id.to_string()],
    )?;
    Ok(shas)
}

/// A photo this device is to send.
pub(crate) struct LocalPhoto {
    pub capsule_id: Uuid,
    pub sha256: String,
    pub size: u64,
    pub content_type: String,
    pub file_name: Option<String>,
    pub taken_at: Option<i64>,
}

pub(crate) fn local_photo(conn: &Connection, id: Uuid) -> rusqlite::Result<Option<LocalPhoto>> {
    conn.query_row(
        "SELECT capsule_id, sha256, size, content_type, file_name, taken_at \
         FROM capsule_photos WHERE id = ?1",
        params![id.to_string()],
        |r| {
            Ok((
                r.get::<_, String>(0)?,
                LocalPhoto {
                    capsule_id: Uuid::nil(),
                    sha256: r.get(1)?,
                    size: r.get(2)?,
                    content_type: r.get(3)?,
                    file_name: r.get(4)?,
                    taken_at: r.get(5)?,
                },
            ))
        },
    )
    .optional()
    .map(|row| {
        row.map(|(cid, mut p)| {
            p.capsule_id = Uuid::parse_str(&cid).unwrap_or_default();
            p
        })
    })
}

pub(crate) fn mark_uploaded(conn: &Connection, id: Uuid) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE capsule_photos SET uploaded = 1 WHERE id = ?1",
        params![id.to_string()],
    )?;
    Ok(())
}

/// The parts of a photo's upload in parts this device has sent, if that upload is `upload_id`.
pub(crate) fn parts_sent(
    conn: &Connection,
    photo: Uuid,
    upload_id: &str,
) -> rusqlite::Result<Vec<u32>> {
    let done: Option<String> = conn
        .query_row(
            "SELECT done FROM part_uploads WHERE photo_id = ?1 AND upload_id = ?2",
            params![photo.to_string(), upload_id],
            |r| r.get(0),
        )
        .optional()?;
    Ok(done
        .and_then(|d| serde_json::from_str(&d).ok())
        .unwrap_or_default())
}

/// Records the parts of an upload the server holds (a new upload id replaces an old one).
pub(crate) fn record_parts(
    conn: &Connection,
    photo: Uuid,
    upload_id: &str,
    part_size: u64,
    done: &[u32],
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO part_uploads (photo_id, upload_id, part_size, done) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (photo_id) DO UPDATE SET upload_id = ?2, part_size = ?3, done = ?4",
        params![
            photo.to_string(),
            upload_id,
            part_size,
            serde_json::to_string(done).unwrap_or_else(|_| "[]".into())
        ],
    )?;
    Ok(())
}

/// Forgets a photo's upload in parts (it completed).
pub(crate) fn forget_parts(conn: &Connection, photo: Uuid) -> rusqlite::Result<()> {
    conn.execute(
        "DELETE FROM part_uploads WHERE photo_id = ?1",
        params![photo.to_string()],
    )?;
    Ok(())
}

/// Photos of drafts and opened capsules whose grid thumbnail this device may lack.
pub(crate) fn shown_photos(conn: &Connection) -> rusqlite::Result<Vec<(Uuid, Uuid, String)>> {
    let mut stmt = conn.prepare(
        "SELECT cp.capsule_id, cp.id, cp.sha256 FROM capsule_photos cp \
         JOIN capsules c ON c.id = cp.capsule_id \
         WHERE c.state IN ('draft', 'opened') AND cp.uploaded = 1",
    )?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?
        .filter_map(|r| r.ok())
        .filter_map(|(c, p, s)| Some((Uuid::parse_str(&c).ok()?, Uuid::parse_str(&p).ok()?, s)))
        .collect();
    Ok(rows)
}

/// A capsule's seal was refused by the server: it goes back to being a draft, so the
/// person can fix what the server named. One sealed on this computer only stays sealed: its
/// contents are ciphertext now, and it opens here on its date.
pub(crate) fn unseal(conn: &Connection, id: Uuid, now_ms: i64) -> rusqlite::Result<()> {
    let n = conn.execute(
        "UPDATE capsules SET state = 'draft', sealed_at = NULL WHERE id = ?1 AND state = 'sealed' \
         AND sealed_here = 0 AND id IN (SELECT capsule_id FROM outbox WHERE kind = 'seal')",
        params![id.to_string()],
    )?;
    if n == 0 {
        return Ok(());
    }
    // A draft again: the photos the seal was to carry encrypted go up as a draft's do.
    let pending: Vec<String> = {
        let mut stmt =
            conn.prepare("SELECT id FROM capsule_photos WHERE capsule_id = ?1 AND uploaded = 0")?;
        stmt.query_map(params![id.to_string()], |r| r.get(0))?
            .collect::<Result<_, _>>()?
    };
    for pid in pending.iter().filter_map(|p| Uuid::parse_str(p).ok()) {
        outbox::enqueue(conn, OpKind::PutPhoto, id, Some(pid), now_ms)?;
    }
    Ok(())
}

/// How this device holds a capsule's seal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SealHere {
    /// Sealed (here or on the server), not opened.
    pub sealed: bool,
    /// Sealed on this computer: its files are here, time-locked, and no server has them.
    pub here: bool,
}

pub(crate) fn seal_here(conn: &Connection, id: Uuid) -> rusqlite::Result<SealHere> {
    Ok(conn
        .query_row(
            "SELECT state = 'sealed', sealed_here FROM capsules WHERE id = ?1",
            params![id.to_string()],
            |r| {
                Ok(SealHere {
                    sealed: r.get(0)?,
                    here: r.get(1)?,
                })
            },
        )
        .optional()?
        .unwrap_or_default())
}

/// A photo of a capsule being sealed: its id, hash and file name.
pub(crate) type SealingPhoto = (Uuid, String, Option<String>);

/// How the person chose to seal a capsule: the time lock alone, reminders.
pub(crate) struct SealingChoice {
    pub time_lock_only: bool,
    pub reminders: Option<protocol::Reminders>,
}

/// A sealed capsule's photos as this device holds them until the seal reaches the server,
/// oldest first; and how the person chose to seal it.
pub(crate) fn sealing_contents(
    conn: &Connection,
    id: Uuid,
) -> rusqlite::Result<(Vec<SealingPhoto>, SealingChoice)> {
    let mut stmt = conn.prepare(
        "SELECT id, sha256, file_name FROM capsule_photos WHERE capsule_id = ?1 \
         ORDER BY added_at, id",
    )?;
    let photos = stmt
        .query_map(params![id.to_string()], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .filter_map(|(pid, sha, name)| Uuid::parse_str(&pid).ok().map(|p| (p, sha, name)))
        .collect();
    let (time_lock_only, reminders) = conn
        .query_row(
            "SELECT seal_time_lock_only, seal_reminders FROM capsules WHERE id = ?1",
            params![id.to_string()],
            |r| Ok((r.get::<_, bool>(0)?, r.get::<_, Option<String>>(1)?)),
        )
        .optional()?
        .unwrap_or((false, None));
    let choice = SealingChoice {
        time_lock_only,
        // Written by this device from a checked value; anything else is no reminders.
        reminders: reminders.and_then(|r| serde_json::from_str(&r).ok()),
    };
    Ok((photos, choice))
}
