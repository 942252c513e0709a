//! The long-running commands: import and export run off the UI's thread with progress as
//! events, and can be stopped.

use std::path::PathBuf;

use desktop_core::{CapsuleImport, ExportReport};
use tauri::AppHandle;
use tauri_specta::Event;
use uuid::Uuid;

use crate::error::{AppCode, CmdResult, CommandError};
use crate::events;
use crate::state::{self, App};

impl App {
    /// Imports files into a draft in a blocking thread (hashing, decoding and thumbnails
    /// are CPU and disk work), emitting progress per file.
    pub async fn import(
        &self,
        app: AppHandle,
        capsule_id: Uuid,
        paths: Vec<PathBuf>,
    ) -> CmdResult<CapsuleImport> {
        let cancel = App::fresh_token(&self.import_cancel);
        let handle = app.clone();
        let outcome = tauri::async_runtime::spawn_blocking(move || {
            let state = state::of(&handle);
            let progress = |p: desktop_core::ImportProgress| {
                let _ = events::ImportProgress {
                    capsule_id,
                    done: u32::try_from(p.done).unwrap_or(u32::MAX),
                    total: u32::try_from(p.total).unwrap_or(u32::MAX),
                    file_name: p
                        .current
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                }
                .emit(&handle);
            };
            state.import_photos(capsule_id, &paths, &progress, &cancel)
        })
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "import thread failed");
            CommandError::new(AppCode::Unexpected, "The import stopped unexpectedly.")
        })??;
        let _ = events::ImportFinished {
            capsule_id,
            report: outcome.clone(),
        }
        .emit(&app);
        let _ = events::CapsuleChanged { id: capsule_id }.emit(&app);
        Ok(outcome)
    }

    /// Exports an opened capsule's originals, emitting progress per photo.
    pub async fn export(
        &self,
        app: AppHandle,
        capsule_id: Uuid,
        folder: PathBuf,
    ) -> CmdResult<ExportReport> {
        let cancel = App::fresh_token(&self.export_cancel);
        let progress = move |p: desktop_core::ExportProgress| {
            let _ = events::ExportProgress {
                capsule_id,
                done: p.done,
                total: p.total,
            }
            .emit(&app);
        };
        self.core
            .export(capsule_id, &folder, &progress, &cancel)
            .await
    }
}
