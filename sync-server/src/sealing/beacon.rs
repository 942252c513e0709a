//! Verified drand rounds: from the database when a worker already fetched one, else from
//! the configured relays (verified, then stored), never before the round's time.

use protocol::ErrorCode;
use seal::Beacon;
use seal::relay::{FetchError, Relays};

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Why no round could be had.
fn too_early(state: &AppState, round: u64) -> ApiError {
    let at = state.settings.seal.chain.round_time(round);
    let wait = (at - state.clock.now()).num_seconds().max(1);
    ApiError::Client {
        status: axum::http::StatusCode::TOO_EARLY,
        code: ErrorCode::TooEarly,
        message: format!(
            "Round {round} of the drand chain is published at {} UTC, not before.",
            at.format("%Y-%m-%d %H:%M:%S")
        ),
        retry_after: Some(u64::try_from(wait).unwrap_or(1)),
    }
}

/// The verified signature of `round` of this server's chain.
#[tracing::instrument(skip_all, fields(round), err(level = "info"))]
pub async fn round(state: &AppState, round: u64) -> ApiResult<Beacon> {
    let chain = &state.settings.seal.chain;
    if round == 0 || state.clock.now() < chain.round_time(round) {
        return Err(too_early(state, round));
    }
    let hash = chain.hash_hex();
    let stored_round = i64::try_from(round).map_err(|_| too_early(state, round))?;
    if let Some(sig) = state.db.beacon(&hash, stored_round).await? {
        let beacon = Beacon {
            round,
            signature: hex::decode(&sig).unwrap_or_default(),
        };
        // Stored only once verified, but a database is not a signature: check again.
        if seal::verify(chain, &beacon).is_ok() {
            return Ok(beacon);
        }
        tracing::warn!(round, "a stored beacon does not verify; fetching it again");
    }
    let relays = Relays::new(&state.settings.seal.relays);
    match relays.fetch(chain, round).await {
        Ok(beacon) => {
            state
                .db
                .save_beacon(
                    &hash,
                    stored_round,
                    &hex::encode(&beacon.signature),
                    state.now_ms(),
                )
                .await?;
            Ok(beacon)
        }
        Err(FetchError::TooEarly { round }) => Err(too_early(state, round)),
        Err(FetchError::Forged(e)) => {
            tracing::warn!(round, error = %e, "a drand relay served a signature that does not verify");
            Err(ApiError::new(
                ErrorCode::Unavailable,
                "The drand relays gave no valid signature for this round; try again later.",
            ))
        }
        Err(FetchError::Unreachable(why)) => {
            tracing::warn!(round, why, "no drand relay answered");
            Err(ApiError::new(
                ErrorCode::Unavailable,
                "No drand relay answered; try again later.",
            ))
        }
    }
}
