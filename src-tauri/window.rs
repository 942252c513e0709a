//! The main window: shown and focused on demand (tray, a second launch, a notification
//! click), hidden rather than closed so the app keeps running in the tray and unlock
//! notifications still come.

use tauri::{AppHandle, Manager, WebviewWindow, Window, WindowEvent};

pub const MAIN: &str = "main";

fn main_window(app: &AppHandle) -> Option<WebviewWindow> {
    app.get_webview_window(MAIN)
}

/// Brings the window to the front.
pub fn show(app: &AppHandle) {
    if let Some(w) = main_window(app) {
        let _ = w.show();
        let _ = w.unminimize();
        let _ = w.set_focus();
    }
}

/// Closing the window hides it; the tray's Quit ends the app.
pub fn on_event(window: &Window, event: &WindowEvent) {
    if let WindowEvent::CloseRequested { api, .. } = event
        && window.label() == MAIN
    {
        api.prevent_close();
        let _ = window.hide();
    }
}
