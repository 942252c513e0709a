//! The library and one capsule: drafts made, edited, sealed and deleted; opened ones
//! revealed and their delivery report.

use std::path::PathBuf;

use desktop_core::{CapsuleDetail, CapsuleSummary, SealOptions};
use protocol::{CapsuleWrite, RecipientDelivery, Reminders};
use tauri::{AppHandle, State};
use uuid::Uuid;

use crate::error::{AppCode, CmdResult, CommandError};
use crate::state::{self, App};

#[tauri::command]
#[specta::specta]
pub fn list_capsules(state: State<'_, App>) -> CmdResult<Vec<CapsuleSummary>> {
    state.capsules()
}

#[tauri::command]
#[specta::specta]
pub fn get_capsule(state: State<'_, App>, id: Uuid) -> CmdResult<CapsuleDetail> {
    state.capsule(id)
}

#[tauri::command]
#[specta::specta]
pub fn create_capsule(state: State<'_, App>, fields: CapsuleWrite) -> CmdResult<CapsuleDetail> {
    state.create_capsule(&fields)
}

#[tauri::command]
#[specta::specta]
pub fn update_capsule(
    state: State<'_, App>,
    id: Uuid,
    fields: CapsuleWrite,
) -> CmdResult<CapsuleDetail> {
    state.update_capsule(id, &fields)
}

#[tauri::command]
#[specta::specta]
pub fn delete_capsule(state: State<'_, App>, id: Uuid) -> CmdResult<()> {
    state.delete_capsule(id)
}

/// Seals a draft here at once; it is sent (with its photos) now or when the server is
/// reachable, and the watcher learns the new open date. With `time_lock_only`, the files
/// sent carry no escrow stanza: only the drand beacon of the open date opens them.
/// `reminders` go with the seal to the server, which sends them before the open date.
/// Without an account the capsule is encrypted here at once (a second or so for hundreds
/// of megabytes), so the work runs off the window's thread.
#[tauri::command]
#[specta::specta]
pub async fn seal_capsule(
    app: AppHandle,
    id: Uuid,
    time_lock_only: bool,
    reminders: Option<Reminders>,
) -> CmdResult<CapsuleDetail> {
    let options = SealOptions {
        time_lock_only,
        reminders,
    };
    blocking(move || state::of(&app).seal_with(id, &options)).await
}

/// Takes back a sealed capsule's folder ("Export" of a sealed capsule writes one): it joins
/// the library sealed and opens on this computer on its date.
#[tauri::command]
#[specta::specta]
pub async fn import_sealed(app: AppHandle, folder: PathBuf) -> CmdResult<CapsuleDetail> {
    blocking(move || state::of(&app).import_sealed(&folder)).await
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> CmdResult<T> + Send + 'static,
) -> CmdResult<T> {
    tauri::async_runtime::spawn_blocking(f).await.map_err(|e| {
        tracing::error!(error = %e, "a sealing thread failed");
        CommandError::new(AppCode::Unexpected, "Sealing stopped unexpectedly.")
    })?
}

/// Why a draft cannot be sealed now (as saved), in the seal's own words; none when it can.
#[tauri::command]
#[specta::specta]
pub fn check_seal(state: State<'_, App>, id: Uuid) -> CmdResult<Option<String>> {
    state.seal_problem(id)
}

/// Checks one recipient address as it is typed; answers it as it will be stored.
#[tauri::command]
#[specta::specta]
pub fn check_email(address: String) -> CmdResult<String> {
    protocol::validate::email(&address).map_err(|m| CommandError::new(AppCode::Invalid, m))
}

/// Checks a draft's fields as they are typed; answers the first problem, if any.
#[tauri::command]
#[specta::specta]
pub fn check_capsule(state: State<'_, App>, fields: CapsuleWrite) -> Option<String> {
    protocol::validate::capsule(&fields, state.clock.now()).err()
}

#[tauri::command]
#[specta::specta]
pub fn mark_revealed(state: State<'_, App>, id: Uuid) -> CmdResult<()> {
    Ok(state.lib.mark_revealed(id, state.clock.now())?)
}

#[tauri::command]
#[specta::specta]
pub async fn refresh_deliveries(
    state: State<'_, App>,
    id: Uuid,
) -> CmdResult<Vec<RecipientDelivery>> {
    state.deliveries(id).await
}

/// Sends a bounced or failed email of an opened capsule again, to the same address or to
/// a corrected one.
#[tauri::command]
#[specta::specta]
pub async fn resend_delivery(
    state: State<'_, App>,
    id: Uuid,
    recipient: String,
    to: Option<String>,
) -> CmdResult<Vec<RecipientDelivery>> {
    state.resend_delivery(id, &recipient, to.as_deref()).await
}
