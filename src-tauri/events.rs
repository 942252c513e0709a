//! What the app tells the window as it happens; each is a typed event in the generated
//! bindings, so the UI listens to them by name and shape, never by string.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A capsule changed outside the window's own calls (sync, an import, a seal confirmed):
/// views showing it read it again.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, tauri_specta::Event)]
#[serde(rename_all = "camelCase")]
pub struct CapsuleChanged {
    pub id: Uuid,
}

/// Bytes of a photo upload went out.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, tauri_specta::Event)]
#[serde(rename_all = "camelCase")]
pub struct UploadProgress {
    pub capsule_id: Uuid,
    pub photo_id: Uuid,
    #[specta(type = u32)]
    pub done: u64,
    #[specta(type = u32)]
    pub total: u64,
}

/// The session ended; the person has to log in again to keep syncing.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, tauri_specta::Event)]
#[serde(rename_all = "camelCase")]
pub struct SignedOut {
    pub email: Option<String>,
}

/// An import into a capsule finished another file.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, tauri_specta::Event)]
#[serde(rename_all = "camelCase")]
pub struct ImportProgress {
    pub capsule_id: Uuid,
    pub done: u32,
    pub total: u32,
    pub file_name: String,
}

/// An import into a capsule is done: what joined it and what was left out, and why.
#[derive(Debug, Clone, Serialize, specta::Type, tauri_specta::Event)]
#[serde(rename_all = "camelCase")]
pub struct ImportFinished {
    pub capsule_id: Uuid,
    pub report: desktop_core::CapsuleImport,
}

/// An export of originals finished another photo.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, tauri_specta::Event)]
#[serde(rename_all = "camelCase")]
pub struct ExportProgress {
    pub capsule_id: Uuid,
    pub done: u32,
    pub total: u32,
}

/// A capsule's open date came (the notification, if on, was shown).
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, tauri_specta::Event)]
#[serde(rename_all = "camelCase")]
pub struct CapsuleUnlocked {
    pub id: Uuid,
    pub title: String,
}

/// Bytes of the app's own update came in (`total` is 0 when the server does not say).
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, tauri_specta::Event)]
#[serde(rename_all = "camelCase")]
pub struct UpdateProgress {
    #[specta(type = u32)]
    pub received: u64,
    #[specta(type = u32)]
    pub total: u64,
}

/// Show this capsule (its notification was clicked).
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, tauri_specta::Event)]
#[serde(rename_all = "camelCase")]
pub struct ShowCapsule {
    pub id: Uuid,
}
