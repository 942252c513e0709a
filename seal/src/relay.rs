//! Rounds from drand's HTTP relays (`{relay}/{chain hash}/public/{round}`). A relay is only
//! a courier: every signature is verified against the chain before it is answered, so a
//! relay that lies is skipped like one that is down.

use std::time::Duration;

use serde::Deserialize;

use crate::{Beacon, Chain, SealError, verify};

/// drand's public relays for the League of Entropy chains.
pub const DEFAULT_RELAYS: &[&str] = &["https://api.drand.sh", "https://drand.cloudflare.com"];

/// How long one relay may take to answer.
const RELAY_TIMEOUT: Duration = Duration::from_secs(10);

/// Why no relay gave a round.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The round is not published yet (its time has not come on the chain's clock).
    #[error("round {round} of the drand chain is not published yet")]
    TooEarly { round: u64 },
    /// A relay answered with a signature that is not the chain's.
    #[error(transparent)]
    Forged(SealError),
    /// No relay answered (network down, relays gone).
    #[error("no drand relay answered ({0})")]
    Unreachable(String),
}

#[derive(Deserialize)]
struct RelayBeacon {
    round: u64,
    signature: String,
}

/// A set of relays for one chain.
#[derive(Debug, Clone)]
pub struct Relays {
    client: reqwest::Client,
    urls: Vec<String>,
}

impl Relays {
    /// Relays at these base URLs (without the chain hash).
    pub fn new(urls: &[String]) -> Self {
        let client = reqwest::Client::builder()
            .timeout(RELAY_TIMEOUT)
            .user_agent(concat!("image-time-capsule/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Self {
            client,
            urls: urls
                .iter()
                .map(|u| u.trim().trim_end_matches('/').to_owned())
                .filter(|u| !u.is_empty())
                .collect(),
        }
    }

    /// The base URLs.
    pub fn urls(&self) -> &[String] {
        &self.urls
    }

    /// `round` of `chain`, verified, from the first relay that has it.
    pub async fn fetch(&self, chain: &Chain, round: u64) -> Result<Beacon, FetchError> {
        let mut too_early = false;
        let mut forged = None;
        let mut last = String::from("no relay is configured");
        for base in &self.urls {
            let url = format!("{base}/{}/public/{round}", chain.hash_hex());
            let answer = match self.client.get(&url).send().await {
                Ok(a) => a,
                Err(e) => {
                    last = format!("{base}: {}", without_url(&e));
                    continue;
                }
            };
            let status = answer.status().as_u16();
            // 425 is how relays say "not yet"; some older ones answer 404.
            if status == 425 || status == 404 {
                too_early = true;
                continue;
            }
            if !answer.status().is_success() {
                last = format!("{base}: HTTP {status}");
                continue;
            }
            let Ok(body) = answer.json::<RelayBeacon>().await else {
                last = format!("{base}: not a drand beacon");
                continue;
            };
            let Ok(signature) = hex::decode(body.signature.trim()) else {
                last = format!("{base}: not a drand beacon");
                continue;
            };
            if body.round != round {
                last = format!("{base}: answered round {} for {round}", body.round);
                continue;
            }
            let beacon = Beacon { round, signature };
            match verify(chain, &beacon) {
                Ok(()) => return Ok(beacon),
                Err(e) => forged = Some(e),
            }
        }
        if too_early {
            return Err(FetchError::TooEarly { round });
        }
        if let Some(e) = forged {
            return Err(FetchError::Forged(e));
        }
        Err(FetchError::Unreachable(last))
    }
}

/// An HTTP error without its URL's query (none here, but the habit is cheap).
fn without_url(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "could not connect".into()
    } else {
        e.to_string()
    }
}
