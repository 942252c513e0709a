//! The commands the window calls: each is a line or three over desktop-core through the
//! app state, answering [`CommandError`](crate::error::CommandError) on failure.

pub mod account;
pub mod capsules;
pub mod photos;
pub mod settings;
pub mod updates;
