//! The cryptographic seal, server side. A device seals a capsule into age files time-locked
//! to a drand round (and, by default, to the server's escrow key); the server keeps only
//! those files while the capsule is sealed ([`files`], [`seal`]), serves verified rounds to
//! devices ([`beacon`]), and at the date opens the files into place before the delivery
//! run sends anything ([`unseal`]).

pub mod beacon;
pub mod files;
pub mod seal;
pub mod unseal;

use protocol::SealConfig;

use crate::state::AppState;

/// What a device seals to for this server.
pub fn config(state: &AppState) -> SealConfig {
    let s = &state.settings.seal;
    SealConfig {
        chain_hash: s.chain.hash_hex(),
        public_key: hex::encode(&s.chain.public_key),
        genesis: s.chain.genesis,
        period: s.chain.period,
        relays: s.relays.clone(),
        escrow_public_key: s.escrow.as_ref().map(|k| k.public().to_string()),
    }
}
