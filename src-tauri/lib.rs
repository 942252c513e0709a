//! The Tauri shell of Image Time Capsule: the window, the tray, the commands and events
//! over desktop-core, and the `media:` scheme for photos. No business logic lives here.

mod bindings;
mod cli;
mod commands;
mod error;
mod events;
#[cfg(test)]
mod fixtures;
mod media;
mod state;
mod transfers;
mod tray;
mod updates;
mod window;

use std::time::Instant;

use anyhow::Context;
use tauri::Manager;

pub use bindings::{BINDINGS, export as export_bindings};

/// Runs the app until the person quits it.
pub fn run() -> anyhow::Result<()> {
    let started = Instant::now();
    logging::Logs {
        filter_var: "ITC_LOG",
        default_filter: "info",
        format: logging::Format::Text,
        output: logging::Output::Stderr,
    }
    .init();
    let args = cli::Args::from_env();
    let specta = bindings::builder();
    let invoke = specta.invoke_handler();

    let app = tauri::Builder::default()
        // First, so a second launch hands over before anything else starts.
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            window::show(app);
        }))
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_updater::Builder::new().build())
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            Some(vec!["--hidden"]),
        ))
        .invoke_handler(invoke)
        .register_asynchronous_uri_scheme_protocol("media", |ctx, request, responder| {
            let app = ctx.app_handle().clone();
            let path = request.uri().path().to_owned();
            tauri::async_runtime::spawn(async move {
                responder.respond(media::serve(&app, &path).await);
            });
        })
        .on_window_event(window::on_event)
        .setup(move |app| {
            specta.mount_events(app);
            let handle = app.handle();
            let data_dir = match &args.data_dir {
                Some(d) => d.clone(),
                None => app
                    .path()
                    .app_data_dir()
                    .context("no app-data folder on this system")?,
            };
            let state = match state::App::open(handle, &data_dir, args.server.clone(), started) {
                Ok(s) => s,
                Err(e) if e.code == error::ErrorKind::App(error::AppCode::LibraryInUse) => {
                    // `itc` has the library: say so and end, rather than a window that
                    // cannot act on anything.
                    tracing::error!(error = %e, "library in use");
                    in_use_dialog(handle, &e.message);
                    return Ok(());
                }
                Err(e) => {
                    return Err(anyhow::anyhow!(
                        "opening the library in {}: {e}",
                        data_dir.display()
                    )
                    .into());
                }
            };
            tracing::info!(data = %data_dir.display(), "library open");
            state.start(handle);
            app.manage(state);
            updates::watch(handle);
            if let Err(e) = tray::install(handle) {
                // Some desktops have no tray; the window still works.
                tracing::warn!(error = %e, "no tray icon");
            }
            if !args.hidden {
                window::show(handle);
            }
            Ok(())
        })
        .build(tauri::generate_context!())
        .context("starting the window")?;
    app.run(|_app, event| {
        // Hiding the last window must not end the app: it lives on in the tray.
        if let tauri::RunEvent::ExitRequested { api, code, .. } = event
            && code.is_none()
        {
            api.prevent_exit();
        }
    });
    Ok(())
}

/// Tells the person another program has the library, then ends the app.
fn in_use_dialog(app: &tauri::AppHandle, message: &str) {
    use tauri_plugin_dialog::{DialogExt, MessageDialogKind};
    let handle = app.clone();
    app.dialog()
        .message(message)
        .title("Image Time Capsule")
        .kind(MessageDialogKind::Error)
        .show(move |_| handle.exit(4));
}
