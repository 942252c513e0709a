//! `itc capsule …`: drafts made and filled from files and folders, sealed, listed, shown,
//! exported and deleted, each through desktop-core's [`Desktop`], as the window does.

use std::io::Read;
use std::path::{Path, PathBuf};

use desktop_core::{CancelToken, CapsuleDetail, CapsuleImport, Desktop, SealOptions, SyncState};
use protocol::{CapsuleState, CapsuleWrite, Reminders};
use serde::Serialize;
use uuid::Uuid;

use crate::ask;
use crate::cli::{CapsuleCommand, NoteArgs, ReminderFlags};
use crate::out::{self, Out};
use crate::outcome::{Failure, Outcome};
use crate::when;

pub fn run(d: &Desktop, out: Out, command: CapsuleCommand) -> Outcome {
    match command {
        CapsuleCommand::New {
            title,
            note,
            open_at,
            tz,
            to,
            paths,
        } => new(d, out, title, &note, open_at, tz, to, &paths),
        CapsuleCommand::Add { id, paths } => {
            let id = capsule_id(d, &id)?;
            let report = import(d, out, id, &paths)?;
            out.json(&report);
            import_outcome(&report)
        }
        CapsuleCommand::RemovePhoto { id, photo_id } => {
            let id = capsule_id(d, &id)?;
            let detail = d.capsule(id)?;
            let photo = photo_id_in(&detail, &photo_id)?;
            d.remove_photo(id, photo)?;
            let detail = d.capsule(id)?;
            out.json(&detail);
            out.say(format!(
                "Removed the photo from “{}”; it holds {} now.",
                detail.title,
                out::count(detail.photo_count, "photo", "photos")
            ));
            Ok(())
        }
        CapsuleCommand::Edit {
            id,
            title,
            note,
            open_at,
            tz,
            to,
            clear_recipients,
        } => {
            let id = capsule_id(d, &id)?;
            let current = d.capsule(id)?;
            let time_zone = match tz {
                Some(z) => checked_zone(&z)?,
                None => current.time_zone.clone(),
            };
            let mut recipients = if clear_recipients {
                Vec::new()
            } else {
                current.recipients.clone()
            };
            recipients.extend(to);
            let fields = CapsuleWrite {
                title: title.unwrap_or(current.title),
                note: read_note(&note)?.unwrap_or(current.note),
                open_at: match open_at {
                    Some(w) => Some(open_date(d, &w, &time_zone)?),
                    None => current.open_at,
                },
                time_zone,
                recipients,
            };
            let detail = d.update_capsule(id, &fields)?;
            out.json(&detail);
            out.say(format!("Saved “{}”.", detail.title));
            Ok(())
        }
        CapsuleCommand::Seal {
            id,
            yes,
            time_lock_only,
            reminders,
        } => seal(d, out, &id, yes, time_lock_only, &reminders),
        CapsuleCommand::List { state } => {
            let mut list = d.capsules()?;
            if let Some(s) = state {
                list.retain(|c| c.state == s.state());
            }
            out.json(&list);
            if list.is_empty() {
                out.say("No capsules here yet. Make one with: itc capsule new --title …");
                return Ok(());
            }
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|c| {
                    vec![
                        c.id.to_string(),
                        c.state.as_str().to_owned(),
                        c.open_at
                            .map(|t| when::show(t, &c.time_zone))
                            .unwrap_or_else(|| "no date yet".into()),
                        c.photo_count.to_string(),
                        sync_words(&c.sync),
                        c.title.clone(),
                    ]
                })
                .collect();
            out.table(&["ID", "STATE", "OPENS", "PHOTOS", "SYNC", "TITLE"], &rows);
            Ok(())
        }
        CapsuleCommand::Show { id } => {
            let mut detail = d.capsule(capsule_id(d, &id)?)?;
            if detail.state == CapsuleState::Opened && d.account_status().account.is_some() {
                match crate::runtime()?.block_on(d.deliveries(detail.id)) {
                    Ok(list) => detail.deliveries = Some(list),
                    Err(e) => out.warn(format!(
                        "How the emails went, as last seen here (the server: {}).",
                        e.message
                    )),
                }
            }
            out.json(&detail);
            show(out, &detail);
            Ok(())
        }
        CapsuleCommand::Resend { id, recipient, to } => {
            let id = capsule_id(d, &id)?;
            let list =
                crate::runtime()?.block_on(d.resend_delivery(id, &recipient, to.as_deref()))?;
            out.json(&list);
            let address = to.as_deref().unwrap_or(&recipient).trim().to_lowercase();
            out.say(format!(
                "The email goes again to {address} with a new link, within a minute or two."
            ));
            Ok(())
        }
        CapsuleCommand::Export { id, dir } => export(d, out, &id, &dir),
        CapsuleCommand::ImportSealed { dir } => {
            let detail = d.import_sealed(&dir)?;
            out.json(&detail);
            let opens = detail
                .open_at
                .map(|t| when::show(t, &detail.time_zone))
                .unwrap_or_default();
            out.say(format!(
                "Took back the sealed capsule “{}” ({}). It opens on this computer {opens}, \
                 when drand publishes its round.",
                detail.title,
                out::count(detail.photo_count, "photo", "photos")
            ));
            Ok(())
        }
        CapsuleCommand::Delete { id, yes } => {
            let id = capsule_id(d, &id)?;
            let detail = d.capsule(id)?;
            if !yes
                && !ask::confirm(
                    &format!(
                        "Delete “{}” and its {} here and on the server?",
                        detail.title,
                        out::count(detail.photo_count, "photo", "photos")
                    ),
                    "Deleting needs a confirmation: run this on a terminal, or add --yes.",
                )?
            {
                return Err(Failure::refused("Nothing was deleted."));
            }
            d.delete_capsule(id)?;
            out.json(&serde_json::json!({ "deleted": id }));
            out.say(format!("Deleted “{}”.", detail.title));
            Ok(())
        }
    }
}

/// What `capsule new --json` prints.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Made {
    capsule: CapsuleDetail,
    import: Option<CapsuleImport>,
}

#[allow(clippy::too_many_arguments)]
fn new(
    d: &Desktop,
    out: Out,
    title: String,
    note: &NoteArgs,
    open_at: Option<String>,
    tz: Option<String>,
    to: Vec<String>,
    paths: &[PathBuf],
) -> Outcome {
    let time_zone = checked_zone(&tz.unwrap_or_else(when::local_zone))?;
    let fields = CapsuleWrite {
        title,
        note: read_note(note)?.unwrap_or_default(),
        open_at: open_at.map(|w| open_date(d, &w, &time_zone)).transpose()?,
        time_zone,
        recipients: to,
    };
    let made = d.create_capsule(&fields)?;
    out.say(format!("Made the draft “{}”: {}", made.title, made.id));
    let report = if paths.is_empty() {
        None
    } else {
        Some(import(d, out, made.id, paths)?)
    };
    let capsule = d.capsule(made.id)?;
    out.json(&Made {
        capsule,
        import: report.clone(),
    });
    match report {
        Some(r) => import_outcome(&r),
        None => Ok(()),
    }
}

/// Imports into a draft with a progress bar; prints each refused file and a summary.
fn import(d: &Desktop, out: Out, id: Uuid, paths: &[PathBuf]) -> Outcome<CapsuleImport> {
    let bar = out.progress(0, "Importing");
    let progress = |p: desktop_core::ImportProgress| {
        bar.set_length(p.total as u64);
        bar.set_position(p.done as u64);
        bar.set_message(
            p.current
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
    };
    let report = d.import_photos(id, paths, &progress, &CancelToken::default())?;
    bar.finish_and_clear();
    for s in &report.skipped {
        out.warn(format!("skipped {}: {}", s.path.display(), s.reason));
    }
    let mut summary = format!("Added {}", out::count(report.added, "photo", "photos"));
    if report.already_in > 0 {
        summary.push_str(&format!(", {} already in", report.already_in));
    }
    if !report.skipped.is_empty() {
        summary.push_str(&format!(
            ", skipped {}",
            out::count(report.skipped.len() as u64, "file", "files")
        ));
    }
    out.say(format!("{summary}."));
    Ok(report)
}

/// An import fails as a whole only when files were given and none of them is a photo.
fn import_outcome(r: &CapsuleImport) -> Outcome {
    if r.added == 0 && r.already_in == 0 && !r.skipped.is_empty() {
        return Err(Failure::refused(
            "None of those files could be added; the reasons are above.",
        ));
    }
    Ok(())
}

fn seal(
    d: &Desktop,
    out: Out,
    id: &str,
    yes: bool,
    time_lock_only: bool,
    flags: &ReminderFlags,
) -> Outcome {
    let id = capsule_id(d, id)?;
    let detail = d.capsule(id)?;
    if detail.state != CapsuleState::Draft {
        return Err(desktop_core::DraftError::Sealed.into());
    }
    let account = d.account_status().account;
    let reminders = account.is_some().then(|| Reminders {
        days_before: flags.remind_days,
        owner: !flags.no_reminder,
        show_title: flags.remind_title,
        recipients: if flags.tell_recipients {
            detail.recipients.clone()
        } else {
            Vec::new()
        },
    });
    if account.is_none() && (flags.tell_recipients || flags.remind_title) {
        out.warn("Without an account there is no server to send reminders; none will be sent.");
    }
    if !yes {
        let owner = account.as_ref().map(|a| a.email.as_str());
        for line in seal_terms(&detail, owner, reminders.as_ref()) {
            out.warn(line);
        }
        out.warn("");
        if !ask::confirm(
            "I understand that I cannot open or change this capsule before its date. Seal it?",
            "Sealing needs a confirmation: run this on a terminal, or add --yes.",
        )? {
            return Err(Failure::refused("The capsule was not sealed."));
        }
    }
    let sealed = d.seal_with(
        id,
        &SealOptions {
            time_lock_only,
            reminders,
        },
    )?;
    out.json(&sealed);
    let opens = sealed
        .open_at
        .map(|t| when::show(t, &sealed.time_zone))
        .unwrap_or_default();
    out.say(format!("Sealed “{}”. It opens {opens}.", sealed.title));
    if d.account_status().account.is_some() {
        out.say(
            "It goes to the server with the next `itc sync` (or the running app or `itc watch`).",
        );
    } else {
        out.say(
            "You are not logged in: it is encrypted on this computer and time-locked to drand's \
             beacon of that date, and opens here then (keep `itc watch` or the app running, or \
             run `itc sync` after the date). Logging in before the date sends it, still sealed, \
             so the emails go out.",
        );
    }
    Ok(())
}

/// What sealing means, in the seal dialog's words.
fn seal_terms(
    c: &CapsuleDetail,
    owner: Option<&str>,
    reminders: Option<&Reminders>,
) -> Vec<String> {
    let opens = c
        .open_at
        .map(|t| when::show(t, &c.time_zone))
        .unwrap_or_default();
    let mut everyone = vec![owner.unwrap_or("you").to_owned()];
    everyone.extend(
        c.recipients
            .iter()
            .filter(|r| Some(r.as_str()) != owner)
            .cloned(),
    );
    let who = if everyone.len() == 1 {
        "you get".to_owned()
    } else {
        format!("{} people get", everyone.len())
    };
    let mut lines = vec![
        format!("Seal “{}”?", c.title),
        "No more changes. The note, the photos, the date and the recipients stay as they are now."
            .into(),
        format!(
            "Nobody can look inside — you included — until {opens}. The copies of its {} on \
             this computer are removed once the server has them.",
            out::count(c.photo_count, "photo", "photos")
        ),
        format!(
            "On that day, {who} an email with the photos and a link to see them: {}.",
            everyone.join(", ")
        ),
    ];
    if let Some(r) = reminders.filter(|r| !r.is_empty()) {
        lines.push(reminder_terms(r));
    }
    if owner.is_none() {
        lines.push(
            "You are not signed in to a server. The capsule is encrypted on this computer now, \
             time-locked to drand's beacon of its date: nobody holds a key, so if drand is gone \
             on the date it stays shut. The emails go out only if you sign in before then."
                .into(),
        );
    }
    lines
}

/// What the reminders chosen will do, in one sentence.
fn reminder_terms(r: &Reminders) -> String {
    let told = out::count(
        u64::try_from(r.recipients.len()).unwrap_or(u64::MAX),
        "recipient",
        "recipients",
    );
    let who = match (r.owner, r.recipients.is_empty()) {
        (true, true) => "you get".to_owned(),
        (true, false) => format!("you and {told} get"),
        (false, _) => format!("{told} get"),
    };
    let title = if r.show_title {
        "with its title"
    } else {
        "without its title"
    };
    format!(
        "{} before it opens, {who} a reminder {title} (nothing inside it).",
        out::count(r.days_before, "day", "days")
    )
}

fn export(d: &Desktop, out: Out, id: &str, dir: &Path) -> Outcome {
    let id = capsule_id(d, id)?;
    let sealed = d.capsule(id)?.state == CapsuleState::Sealed;
    let bar = out.progress(0, "Exporting");
    let progress = |p: desktop_core::ExportProgress| {
        bar.set_length(p.total.into());
        bar.set_position(p.done.into());
    };
    let report =
        crate::runtime()?.block_on(d.export(id, dir, &progress, &CancelToken::default()))?;
    bar.finish_and_clear();
    out.json(&report);
    for f in &report.failed {
        out.warn(format!("not exported {}: {}", f.name, f.reason));
    }
    match report.written.first().and_then(|p| p.parent()) {
        Some(folder) if sealed => out.say(format!(
            "Wrote the {} of the sealed capsule to {}; its README.txt says how to open \
             them on the date, with or without this app.",
            out::count(report.written.len() as u64, "file", "files"),
            folder.display()
        )),
        _ => out.say(format!(
            "Wrote {} to {}{}.",
            out::count(report.written.len() as u64, "photo", "photos"),
            dir.display(),
            if report.gallery.is_some() {
                ", and index.html to look through them in a browser"
            } else {
                ""
            }
        )),
    }
    if report.failed.is_empty() {
        Ok(())
    } else {
        Err(Failure::refused(format!(
            "{} could not be exported; the reasons are above.",
            out::count(report.failed.len() as u64, "photo", "photos")
        )))
    }
}

fn show(out: Out, c: &CapsuleDetail) {
    let mut rows: Vec<(&str, String)> = vec![
        ("ID", c.id.to_string()),
        ("State", c.state.as_str().to_owned()),
        (
            "Opens",
            c.open_at
                .map(|t| when::show(t, &c.time_zone))
                .unwrap_or_else(|| "no date yet".into()),
        ),
    ];
    if let Some(t) = c.sealed_at {
        rows.push(("Sealed", when::show(t, &c.time_zone)));
    }
    if let Some(t) = c.notified_at {
        rows.push(("Announced", when::show(t, &c.time_zone)));
    }
    if c.state != CapsuleState::Sealed {
        rows.push((
            "To",
            if c.recipients.is_empty() {
                "only you".into()
            } else {
                c.recipients.join(", ")
            },
        ));
    }
    rows.push(("Photos", c.photo_count.to_string()));
    rows.push(("Sync", sync_words(&c.sync)));
    out.say(format!("“{}”", c.title));
    for (k, v) in rows {
        out.say(format!("  {k:<10} {v}"));
    }
    if c.state == CapsuleState::Sealed {
        out.say("  Sealed: the note, the recipients and the photos stay hidden until it opens.");
        return;
    }
    if !c.note.is_empty() {
        out.say("");
        for line in c.note.lines() {
            out.say(format!("  {line}"));
        }
    }
    if !c.photos.is_empty() {
        out.say("");
        let rows: Vec<Vec<String>> = c
            .photos
            .iter()
            .map(|p| {
                vec![
                    p.id.to_string(),
                    p.file_name.clone().unwrap_or_else(|| "(no name)".into()),
                    out::bytes(p.size),
                    match (p.width, p.height) {
                        (Some(w), Some(h)) => format!("{w}×{h}"),
                        _ => "—".into(),
                    },
                    if p.uploaded { "sent" } else { "not sent yet" }.into(),
                ]
            })
            .collect();
        out.table(&["PHOTO", "NAME", "SIZE", "PIXELS", "SERVER"], &rows);
    }
    if let Some(deliveries) = &c.deliveries {
        out.say("");
        let rows: Vec<Vec<String>> = deliveries
            .iter()
            .map(|r| {
                vec![
                    r.recipient.clone(),
                    serde_json::to_value(r.status)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default(),
                    r.last_error.clone().unwrap_or_default(),
                ]
            })
            .collect();
        out.table(&["RECIPIENT", "EMAIL", "LAST ERROR"], &rows);
        if deliveries.iter().any(|r| r.status.can_resend()) {
            out.say(format!(
                "  Send one again: itc capsule resend {} ADDRESS [--to CORRECTED-ADDRESS]",
                c.id
            ));
        }
    }
}

/// Where a capsule stands with the server, in words.
pub fn sync_words(s: &SyncState) -> String {
    match s {
        SyncState::LocalOnly => "only on this computer".into(),
        SyncState::Syncing {
            bytes_done: 0,
            bytes_total,
        } if *bytes_total > 0 => format!("to send ({})", out::bytes(*bytes_total)),
        SyncState::Syncing {
            bytes_done,
            bytes_total,
        } if *bytes_total > 0 => format!(
            "sending ({} of {})",
            out::bytes(*bytes_done),
            out::bytes(*bytes_total)
        ),
        SyncState::Syncing { .. } => "to send".into(),
        SyncState::Synced => "synced".into(),
        SyncState::WaitingForNetwork => "waiting for the server".into(),
        SyncState::NeedsLogin => "log in to sync".into(),
        SyncState::Error { reason } => format!("error: {reason}"),
    }
}

fn checked_zone(name: &str) -> Outcome<String> {
    when::zone(name).map_err(Failure::refused)?;
    Ok(name.trim().to_owned())
}

fn open_date(d: &Desktop, w: &str, zone: &str) -> Outcome<chrono::DateTime<chrono::Utc>> {
    let tz = when::zone(zone).map_err(Failure::refused)?;
    when::parse(w, tz, d.clock.now()).map_err(Failure::refused)
}

fn read_note(n: &NoteArgs) -> Outcome<Option<String>> {
    if let Some(t) = &n.note {
        return Ok(Some(t.clone()));
    }
    let Some(path) = &n.note_file else {
        return Ok(None);
    };
    let mut text = String::new();
    let read = if path.as_os_str() == "-" {
        std::io::stdin().read_to_string(&mut text).map(|_| ())
    } else {
        std::fs::read_to_string(path).map(|t| text = t)
    };
    read.map_err(|e| {
        Failure::refused(format!(
            "The note could not be read from {} ({e}).",
            path.display()
        ))
    })?;
    Ok(Some(text))
}

/// A capsule by its id, or by the start of it when only one capsule here starts so.
pub fn capsule_id(d: &Desktop, text: &str) -> Outcome<Uuid> {
    let ids = d.lib.capsule_ids()?;
    by_prefix(text, ids.iter().copied(), "capsule")
}

fn photo_id_in(c: &CapsuleDetail, text: &str) -> Outcome<Uuid> {
    by_prefix(text, c.photos.iter().map(|p| p.id), "photo in this capsule")
}

fn by_prefix(text: &str, ids: impl Iterator<Item = Uuid>, what: &str) -> Outcome<Uuid> {
    let t = text.trim().to_lowercase();
    if t.is_empty() {
        return Err(Failure::usage(format!("Name a {what} by its id.")));
    }
    let matching: Vec<Uuid> = ids.filter(|id| id.to_string().starts_with(&t)).collect();
    match matching.as_slice() {
        [one] => Ok(*one),
        [] => Err(Failure::refused(format!(
            "There is no {what} with the id “{text}”."
        ))),
        many => Err(Failure::refused(format!(
            "“{text}” is the start of {} ids; give more of it.",
            many.len()
        ))),
    }
}
