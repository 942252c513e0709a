//! Welcome, accounts and sync.

use desktop_core::AccountInfo;
use serde::Serialize;
use tauri::{AppHandle, State};
use tauri_plugin_autostart::ManagerExt;

use crate::error::CmdResult;
use crate::state::App;

/// What the window needs to know at start and after account changes.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct AppInfo {
    pub version: String,
    pub data_dir: String,
    pub default_server: String,
    pub account: Option<AccountInfo>,
    /// The account's session ended; the person must log in again to sync.
    pub session_ended: bool,
    pub welcomed: bool,
    pub notifications: bool,
    pub autostart: bool,
    /// The last attempt to reach the server failed.
    pub offline: bool,
}

impl App {
    pub fn info(&self, app: &AppHandle) -> CmdResult<AppInfo> {
        let settings = self.lib.settings()?;
        let status = self.account_status();
        Ok(AppInfo {
            version: app.package_info().version.to_string(),
            data_dir: self.data_dir.display().to_string(),
            default_server: self.default_server.clone(),
            account: status.account,
            session_ended: status.session_ended,
            welcomed: settings.welcomed,
            notifications: settings.notifications,
            autostart: app.autolaunch().is_enabled().unwrap_or(false),
            offline: status.offline,
        })
    }
}

#[tauri::command]
#[specta::specta]
pub fn app_info(app: AppHandle, state: State<'_, App>) -> CmdResult<AppInfo> {
    state.info(&app)
}

/// The person chose to use the app on this computer only, for now.
#[tauri::command]
#[specta::specta]
pub fn finish_welcome(app: AppHandle, state: State<'_, App>) -> CmdResult<AppInfo> {
    state.lib.set_welcomed()?;
    state.info(&app)
}

#[tauri::command]
#[specta::specta]
pub async fn sign_up(
    app: AppHandle,
    state: State<'_, App>,
    server: String,
    email: String,
    password: String,
) -> CmdResult<AppInfo> {
    state.sign_up(&server, &email, &password).await?;
    state.info(&app)
}

#[tauri::command]
#[specta::specta]
pub async fn log_in(
    app: AppHandle,
    state: State<'_, App>,
    server: String,
    email: String,
    password: String,
) -> CmdResult<AppInfo> {
    state.log_in(&server, &email, &password).await?;
    state.info(&app)
}

#[tauri::command]
#[specta::specta]
pub async fn log_out(app: AppHandle, state: State<'_, App>) -> CmdResult<AppInfo> {
    state.engine.log_out().await?;
    state.info(&app)
}

#[tauri::command]
#[specta::specta]
pub async fn change_password(
    state: State<'_, App>,
    current_password: String,
    new_password: String,
) -> CmdResult<()> {
    Ok(state
        .engine
        .change_password(&current_password, &new_password)
        .await?)
}

#[tauri::command]
#[specta::specta]
pub async fn delete_account(
    app: AppHandle,
    state: State<'_, App>,
    password: String,
) -> CmdResult<AppInfo> {
    state.engine.delete_account(&password).await?;
    state.info(&app)
}

/// A sync pass now, with everything waiting made due.
#[tauri::command]
#[specta::specta]
pub async fn sync_now(state: State<'_, App>) -> CmdResult<()> {
    state.sync_now().await?;
    Ok(())
}
