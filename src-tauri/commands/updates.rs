//! Updates of the app itself: where to look, whether to look by itself, look now, install
//! what was offered, restart into it.

use tauri::{AppHandle, State};

use crate::error::CmdResult;
use crate::state::App;
use crate::updates::{self, UpdateOffer, UpdateSettings, Updates};

#[tauri::command]
#[specta::specta]
pub fn update_settings(app: AppHandle, state: State<'_, App>) -> CmdResult<UpdateSettings> {
    Updates::settings(&app, &state)
}

/// Keeps the person's update feed (`None`: back to the one the app came with).
#[tauri::command]
#[specta::specta]
pub fn set_update_feed(
    app: AppHandle,
    state: State<'_, App>,
    url: Option<String>,
) -> CmdResult<UpdateSettings> {
    let url = url.map(|u| updates::parse_feed(&u)).transpose()?;
    state
        .lib
        .set_update_feed(url.as_ref().map(|u| u.as_str()))?;
    state.updates.forget_offer();
    Updates::settings(&app, &state)
}

#[tauri::command]
#[specta::specta]
pub fn set_update_checks(
    app: AppHandle,
    state: State<'_, App>,
    on: bool,
) -> CmdResult<UpdateSettings> {
    state.lib.set_update_checks(on)?;
    Updates::settings(&app, &state)
}

/// Asks the feed now; `None` means this is the newest version.
#[tauri::command]
#[specta::specta]
pub async fn check_for_update(
    app: AppHandle,
    state: State<'_, App>,
) -> CmdResult<Option<UpdateOffer>> {
    state.updates.check(&app, &state).await
}

/// Downloads, verifies and installs the offered update; answers the version installed.
#[tauri::command]
#[specta::specta]
pub async fn install_update(app: AppHandle, state: State<'_, App>) -> CmdResult<String> {
    state.updates.install(&app).await
}

/// Starts the app again, as the version now installed.
#[tauri::command]
#[specta::specta]
pub fn restart_app(app: AppHandle) {
    tracing::info!("restarting into the installed update");
    app.restart();
}
