//! A drand chain of the tests' own: a BLS key pair signing rounds with quicknet's scheme
//! (unchained, signatures on G1 hashed as RFC 9380 says, the public key on G2), served over
//! HTTP as a drand relay serves a chain. The test decides which rounds are published, so a
//! test clock can move through rounds without waiting for them.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use ark_bls12_381::{Fr, G1Projective, G2Affine, g1};
use ark_ec::hashing::HashToCurve;
use ark_ec::hashing::curve_maps::wb::WBMap;
use ark_ec::hashing::map_to_curve_hasher::MapToCurveBasedHasher;
use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::PrimeField;
use ark_ff::field_hashers::DefaultFieldHasher;
use ark_serialize::CanonicalSerialize;
use sha2::{Digest, Sha256};

use seal::{Beacon, Chain};

const G1_DST: &[u8] = b"BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_";

/// A chain with its secret key.
#[derive(Clone)]
pub struct LocalChain {
    secret: Fr,
    pub chain: Chain,
}

impl LocalChain {
    /// A new chain whose round 1 is at `genesis` (Unix seconds), one round every `period`
    /// seconds, with a random key.
    pub fn new(genesis: i64, period: u64) -> Self {
        let mut seed = [0u8; 64];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut seed);
        let secret = Fr::from_le_bytes_mod_order(&seed);
        let public = (G2Affine::generator() * secret).into_affine();
        let mut public_key = Vec::new();
        let _ = public.serialize_compressed(&mut public_key);
        let hash = Sha256::digest(
            [
                public_key.as_slice(),
                &genesis.to_be_bytes(),
                &period.to_be_bytes(),
            ]
            .concat(),
        )
        .to_vec();
        Self {
            secret,
            chain: Chain {
                hash,
                public_key,
                genesis,
                period,
            },
        }
    }

    /// The chain's signature for a round.
    pub fn sign(&self, round: u64) -> Beacon {
        let message = Sha256::digest(round.to_be_bytes());
        let hasher = MapToCurveBasedHasher::<
            ark_ec::short_weierstrass::Projective<g1::Config>,
            DefaultFieldHasher<Sha256, 128>,
            WBMap<g1::Config>,
        >::new(G1_DST)
        .expect("the G1 hasher");
        let point = hasher.hash(&message).expect("hash to G1");
        let signature = (G1Projective::from(point) * self.secret).into_affine();
        let mut bytes = Vec::new();
        let _ = signature.serialize_compressed(&mut bytes);
        Beacon {
            round,
            signature: bytes,
        }
    }

    /// Another chain's signature for a round: well formed, but not this chain's.
    pub fn forged(&self, round: u64) -> Beacon {
        LocalChain::new(self.chain.genesis, self.chain.period).sign(round)
    }
}

/// A drand relay for a [`LocalChain`] on 127.0.0.1: `/info`, `/public/{round}` and
/// `/public/latest`, each also under `/{chain hash}/`. Only rounds up to the published one
/// are served (a later one is 425 Too Early, as the relays answer).
pub struct Relay {
    addr: SocketAddr,
    published: Arc<AtomicU64>,
    down: Arc<AtomicBool>,
    forged: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
}

impl Relay {
    /// Serves `chain` with no round published yet.
    pub fn start(chain: LocalChain) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind relay");
        let addr = listener.local_addr().expect("relay address");
        let published = Arc::new(AtomicU64::new(0));
        let down = Arc::new(AtomicBool::new(false));
        let forged = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        // Another chain's key: what a lying relay signs with.
        let liar = LocalChain::new(chain.chain.genesis, chain.chain.period);
        let (p, d, f, s) = (
            published.clone(),
            down.clone(),
            forged.clone(),
            stop.clone(),
        );
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let signer = if f.load(Ordering::SeqCst) {
                    LocalChain {
                        secret: liar.secret,
                        chain: chain.chain.clone(),
                    }
                } else {
                    chain.clone()
                };
                let (p, d) = (p.clone(), d.clone());
                std::thread::spawn(move || {
                    let _ = answer(conn, &signer, &p, &d);
                });
            }
        });
        Self {
            addr,
            published,
            down,
            forged,
            stop,
        }
    }

    /// The relay's base URL (without the chain hash).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Publishes every round up to `round`.
    pub fn publish_up_to(&self, round: u64) {
        self.published.fetch_max(round, Ordering::SeqCst);
    }

    /// Makes the relay serve signatures of another key for this chain's rounds (a relay
    /// that lies), or the true ones again.
    pub fn set_forged(&self, forged: bool) {
        self.forged.store(forged, Ordering::SeqCst);
    }

    /// Makes the relay answer 503 to everything (the drand network gone), or serve again.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the stop.
        let _ = TcpStream::connect(self.addr);
    }
}

fn answer(
    conn: TcpStream,
    chain: &LocalChain,
    published: &AtomicU64,
    down: &AtomicBool,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
        // Headers, to the blank line.
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h)? == 0 || h == "\r\n" || h == "\n" {
                break;
            }
        }
        let (status, body) = route(&path, chain, published, down);
        let mut w = conn.try_clone()?;
        write!(
            w,
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
             access-control-allow-origin: *\r\n\r\n{body}",
            body.len()
        )?;
        w.flush()?;
    }
}

fn route(
    path: &str,
    chain: &LocalChain,
    published: &AtomicU64,
    down: &AtomicBool,
) -> (&'static str, String) {
    if down.load(Ordering::SeqCst) {
        return ("503 Service Unavailable", "{}".into());
    }
    let hash = chain.chain.hash_hex();
    let path = path.split('?').next().unwrap_or("");
    let rest = path.strip_prefix(&format!("/{hash}")).unwrap_or(path);
    let latest = published.load(Ordering::SeqCst);
    let beacon_json = |round: u64| {
        let b = chain.sign(round);
        serde_json::json!({
            "round": round,
            "randomness": hex::encode(Sha256::digest(&b.signature)),
            "signature": hex::encode(&b.signature),
        })
        .to_string()
    };
    match rest {
        "/info" => ("200 OK", chain.chain.info_json().to_string()),
        "/public/latest" if latest > 0 => ("200 OK", beacon_json(latest)),
        _ => match rest
            .strip_prefix("/public/")
            .and_then(|r| r.parse::<u64>().ok())
        {
            Some(round) if round >= 1 && round <= latest => ("200 OK", beacon_json(round)),
            Some(_) => (
                "425 Too Early",
                "{\"error\":\"round not published yet\"}".into(),
            ),
            None => ("404 Not Found", "{}".into()),
        },
    }
}
