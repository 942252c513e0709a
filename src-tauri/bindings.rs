//! The commands and events the window may use, collected once: the invoke handler is made
//! from this list, and so are the UI's TypeScript bindings (`ui/src/lib/bindings.gen.ts`),
//! which a test keeps current.

use tauri_specta::{Builder, collect_commands, collect_events};

use crate::commands::{account, capsules, photos, settings, updates};
use crate::events;

/// The registry of commands and events.
pub fn builder() -> Builder<tauri::Wry> {
    Builder::<tauri::Wry>::new()
        .commands(collect_commands![
            account::app_info,
            account::finish_welcome,
            account::sign_up,
            account::log_in,
            account::log_out,
            account::change_password,
            account::delete_account,
            account::sync_now,
            capsules::list_capsules,
            capsules::get_capsule,
            capsules::create_capsule,
            capsules::update_capsule,
            capsules::delete_capsule,
            capsules::seal_capsule,
            capsules::import_sealed,
            capsules::check_seal,
            capsules::check_email,
            capsules::check_capsule,
            capsules::mark_revealed,
            capsules::refresh_deliveries,
            capsules::resend_delivery,
            photos::import_photos,
            photos::cancel_import,
            photos::remove_photo,
            photos::fetch_original,
            photos::export_originals,
            photos::cancel_export,
            settings::set_notifications,
            settings::set_autostart,
            settings::ui_ready,
            updates::update_settings,
            updates::set_update_feed,
            updates::set_update_checks,
            updates::check_for_update,
            updates::install_update,
            updates::restart_app,
        ])
        .events(collect_events![
            events::CapsuleChanged,
            events::UploadProgress,
            events::SignedOut,
            events::ImportProgress,
            events::ImportFinished,
            events::ExportProgress,
            events::CapsuleUnlocked,
            events::ShowCapsule,
            events::UpdateProgress,
            crate::updates::UpdateOffer,
        ])
}

/// Where the generated bindings live, from the workspace root.
pub const BINDINGS: &str = "ui/src/lib/bindings.gen.ts";

/// Writes the TypeScript bindings to `path`.
pub fn export(path: &std::path::Path) -> Result<(), String> {
    let ts = specta_typescript::Typescript::default()
        .header("// Generated from the Rust commands and events by `cargo test -p image-time-capsule bindings`; do not edit.\n");
    builder().export(ts, path).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// The checked-in bindings match the Rust side; `ITC_UPDATE_BINDINGS=1` rewrites them.
    #[test]
    fn bindings_are_current() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let checked_in = root.join(super::BINDINGS);
        let dir = tempfile::tempdir().expect("tmp");
        let fresh = dir.path().join("bindings.gen.ts");
        super::export(&fresh).expect("export bindings");
        let fresh = std::fs::read_to_string(&fresh).expect("read fresh bindings");
        if std::env::var_os("ITC_UPDATE_BINDINGS").is_some() {
            std::fs::write(&checked_in, &fresh).expect("write bindings");
            return;
        }
        let current = std::fs::read_to_string(&checked_in).unwrap_or_default();
        assert!(
            current == fresh,
            "{} is out of date: run `ITC_UPDATE_BINDINGS=1 cargo test -p image-time-capsule bindings` and commit it",
            super::BINDINGS
        );
    }

    /// The rules' answers the UI tests read match the rules; rewritten with the bindings.
    #[test]
    fn bindings_rules_fixture_is_current() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(crate::fixtures::RULES);
        let fresh = crate::fixtures::rules();
        if std::env::var_os("ITC_UPDATE_BINDINGS").is_some() {
            std::fs::write(&path, &fresh).expect("write rules");
            return;
        }
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            current == fresh,
            "{} is out of date: run `ITC_UPDATE_BINDINGS=1 cargo test -p image-time-capsule bindings` and commit it",
            crate::fixtures::RULES
        );
    }
}
