//! Photos into drafts (the drop and the file picker), out of opened capsules (export), and
//! originals fetched for the full-size viewer.

use std::path::PathBuf;

use desktop_core::{CapsuleImport, ExportReport};
use tauri::{AppHandle, State};
use uuid::Uuid;

use crate::error::CmdResult;
use crate::state::App;

/// Imports the dropped or picked files and folders into a draft; progress arrives as
/// `ImportProgress` events and the draft's change as `CapsuleChanged`.
#[tauri::command]
#[specta::specta]
pub async fn import_photos(
    app: AppHandle,
    state: State<'_, App>,
    capsule_id: Uuid,
    paths: Vec<PathBuf>,
) -> CmdResult<CapsuleImport> {
    state.import(app, capsule_id, paths).await
}

#[tauri::command]
#[specta::specta]
pub fn cancel_import(state: State<'_, App>) {
    App::cancel(&state.import_cancel);
}

#[tauri::command]
#[specta::specta]
pub fn remove_photo(state: State<'_, App>, capsule_id: Uuid, photo_id: Uuid) -> CmdResult<()> {
    state.remove_photo(capsule_id, photo_id)
}

/// Makes sure a photo's original is on this computer (fetching it, hash-checked, if not),
/// so the viewer can show it at full size.
#[tauri::command]
#[specta::specta]
pub async fn fetch_original(
    state: State<'_, App>,
    capsule_id: Uuid,
    photo_id: Uuid,
) -> CmdResult<()> {
    state.engine.original(capsule_id, photo_id).await?;
    Ok(())
}

/// Writes an opened capsule's originals into `folder`; progress as `ExportProgress`.
#[tauri::command]
#[specta::specta]
pub async fn export_originals(
    app: AppHandle,
    state: State<'_, App>,
    capsule_id: Uuid,
    folder: PathBuf,
) -> CmdResult<ExportReport> {
    state.export(app, capsule_id, folder).await
}

#[tauri::command]
#[specta::specta]
pub fn cancel_export(state: State<'_, App>) {
    App::cancel(&state.export_cancel);
}
