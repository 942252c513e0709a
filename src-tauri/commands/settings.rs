//! Settings and the window's start-up report.

use tauri::{AppHandle, State};
use tauri_plugin_autostart::ManagerExt;

use crate::commands::account::AppInfo;
use crate::error::{AppCode, CmdResult, CommandError};
use crate::state::App;

#[tauri::command]
#[specta::specta]
pub fn set_notifications(app: AppHandle, state: State<'_, App>, on: bool) -> CmdResult<AppInfo> {
    state.lib.set_notifications(on)?;
    state.info(&app)
}

#[tauri::command]
#[specta::specta]
pub fn set_autostart(app: AppHandle, state: State<'_, App>, on: bool) -> CmdResult<AppInfo> {
    let launcher = app.autolaunch();
    let changed = if on {
        launcher.enable()
    } else {
        launcher.disable()
    };
    changed.map_err(|e| {
        tracing::warn!(error = %e, "start at login could not be changed");
        CommandError::new(
            AppCode::Unexpected,
            "Starting at login could not be changed on this system.",
        )
    })?;
    state.info(&app)
}

/// The window has shown its first screen; logged as the start-up time.
#[tauri::command]
#[specta::specta]
pub fn ui_ready(state: State<'_, App>, capsules: u32) {
    let ms = state.started.elapsed().as_millis();
    tracing::info!(startup_ms = ms, capsules, "library shown");
}
