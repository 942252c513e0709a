//! Where each capsule stands with the server, in terms a person understands, read from
//! the outbox and the uploads in flight.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use uuid::Uuid;

use super::error::SyncError;
use super::{SyncEngine, store};
use crate::outbox::{self, FailureKind, OpKind};

/// Where a capsule stands with the server, in terms a person understands.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum SyncState {
    /// No account on this device: the capsule exists only here.
    LocalOnly,
    /// Being sent; `bytes_done` of `bytes_total` photo bytes so far.
    Syncing {
        #[cfg_attr(feature = "specta", specta(type = u32))]
        bytes_done: u64,
        #[cfg_attr(feature = "specta", specta(type = u32))]
        bytes_total: u64,
    },
    /// The server has everything this device has.
    Synced,
    /// Waiting for the server to be reachable.
    WaitingForNetwork,
    /// The session ended; log in to go on.
    NeedsLogin,
    /// Something needs the person, or the server keeps failing; the reason says which.
    Error { reason: String },
}

impl SyncEngine {
    /// Where a capsule stands with the server.
    pub fn sync_state(&self, capsule_id: Uuid) -> Result<SyncState, SyncError> {
        let mut states = self.states_of(Some(capsule_id))?;
        Ok(states.remove(&capsule_id).unwrap_or(SyncState::Synced))
    }

    /// Where every capsule with something still to send stands; a capsule not in the map
    /// is synced (or only on this computer, without an account).
    pub fn sync_states(&self) -> Result<HashMap<Uuid, SyncState>, SyncError> {
        if self.api.account().is_none() {
            let ids = self.lib.capsule_ids()?;
            return Ok(ids
                .into_iter()
                .map(|id| (id, SyncState::LocalOnly))
                .collect());
        }
        self.states_of(None)
    }

    /// The states of the capsules with outbox entries (of `only`, when given), from one
    /// read of the outbox.
    fn states_of(&self, only: Option<Uuid>) -> Result<HashMap<Uuid, SyncState>, SyncError> {
        if self.api.account().is_none() {
            return Ok(only
                .map(|id| (id, SyncState::LocalOnly))
                .into_iter()
                .collect());
        }
        let mut by_capsule: HashMap<Uuid, Vec<outbox::Op>> = HashMap::new();
        for o in outbox::pending(&self.lib.conn())? {
            if only.is_none_or(|id| id == o.capsule_id) {
                by_capsule.entry(o.capsule_id).or_default().push(o);
            }
        }
        let in_flight = self
            .uploads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let mut out = HashMap::with_capacity(by_capsule.len());
        for (id, ops) in by_capsule {
            out.insert(id, self.state_from(&ops, &in_flight)?);
        }
        Ok(out)
    }

    fn state_from(
        &self,
        ops: &[outbox::Op],
        in_flight: &HashMap<Uuid, Arc<AtomicU64>>,
    ) -> Result<SyncState, SyncError> {
        if let Some(o) = ops.iter().find(|o| o.failure == Some(FailureKind::Refused)) {
            return Ok(SyncState::Error {
                reason: o.last_error.clone().unwrap_or_default(),
            });
        }
        if self.api.is_signed_out() {
            return Ok(SyncState::NeedsLogin);
        }
        if self.is_offline() || ops.iter().any(|o| o.failure == Some(FailureKind::Network)) {
            return Ok(SyncState::WaitingForNetwork);
        }
        if let Some(o) = ops
            .iter()
            .find(|o| o.failure == Some(FailureKind::Server) && o.attempts >= 3)
        {
            return Ok(SyncState::Error {
                reason: format!(
                    "{} It will be tried again.",
                    o.last_error.clone().unwrap_or_default()
                ),
            });
        }
        let mut total = 0;
        let mut done = 0;
        for o in ops.iter().filter(|o| o.kind == OpKind::PutPhoto) {
            let Some(pid) = o.photo_id else { continue };
            let Some(p) = store::local_photo(&self.lib.conn(), pid)? else {
                continue;
            };
            total += p.size;
            if let Some(sent) = in_flight.get(&pid) {
                done += sent.load(std::sync::atomic::Ordering::Relaxed).min(p.size);
            }
        }
        Ok(SyncState::Syncing {
            bytes_done: done,
            bytes_total: total,
        })
    }
}
