//! The HTTP side: typed calls to the sync server, the bearer token on each, and the one
//! refresh on a 401 before the person is asked to log in again.

use std::sync::Mutex;
use std::time::Duration;

use protocol::{ErrorCode, ErrorResponse, RefreshRequest, SessionResponse};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use super::error::SyncError;
use crate::tokens::TokenStore;

/// Who this device is logged in as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Base URL of the sync server, without a trailing slash.
    pub server_url: String,
    pub user_id: Uuid,
    pub email: String,
}

impl Account {
    /// The name the refresh token is kept under.
    pub(crate) fn token_key(&self) -> String {
        format!("{}|{}", self.server_url, self.user_id)
    }
}

/// The HTTP client and the signed-in session.
pub(crate) struct Api {
    pub http: reqwest::Client,
    pub tokens: TokenStore,
    account: Mutex<Option<Account>>,
    access: Mutex<Option<String>>,
    /// Refresh tokens rotate and a reused one ends the session, so only one refresh may be
    /// in flight.
    refresh_lock: tokio::sync::Mutex<()>,
    signed_out: std::sync::atomic::AtomicBool,
}

/// How long the engine waits on the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    /// The longest silence in the middle of an answer or a transfer: a stalled connection
    /// (server gone, network dropped without a reset) is noticed within this.
    pub read: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(10),
            read: Duration::from_secs(60),
        }
    }
}

pub(crate) fn client(t: Timeouts) -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(t.connect)
        .read_timeout(t.read)
        .user_agent(concat!("image-time-capsule/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}

impl Api {
    pub fn new(tokens: TokenStore, account: Option<Account>, timeouts: Timeouts) -> Self {
        Self {
            http: client(timeouts),
            tokens,
            account: Mutex::new(account),
            access: Mutex::new(None),
            refresh_lock: tokio::sync::Mutex::new(()),
            signed_out: std::sync::atomic::AtomicBool::new(false),
        }
    }

    pub fn account(&self) -> Option<Account> {
        self.account
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Starts a session: keeps the refresh token, holds the access token in memory.
    pub fn set_session(&self, account: Option<Account>, s: Option<&SessionResponse>) {
        *self.account.lock().unwrap_or_else(|p| p.into_inner()) = account;
        *self.access.lock().unwrap_or_else(|p| p.into_inner()) = s.map(|s| s.access_token.clone());
        self.signed_out
            .store(false, std::sync::atomic::Ordering::SeqCst);
    }

    /// Runs a token-store call off the runtime: keyring calls block on D-Bus or the OS.
    pub async fn with_tokens<T, F>(&self, f: F) -> Result<T, SyncError>
    where
        T: Send + 'static,
        F: FnOnce(&TokenStore) -> Result<T, crate::tokens::TokenStoreError> + Send + 'static,
    {
        let tokens = self.tokens.clone();
        tokio::task::spawn_blocking(move || f(&tokens))
            .await
            .map_err(|e| SyncError::Protocol(e.to_string()))?
            .map_err(SyncError::from)
    }

    /// The session ended and a refresh could not renew it.
    pub fn is_signed_out(&self) -> bool {
        self.signed_out.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn access(&self) -> Option<String> {
        self.access
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn server(&self) -> Result<String, SyncError> {
        self.account()
            .map(|a| a.server_url)
            .ok_or(SyncError::NotLoggedIn)
    }

    /// Sends a request built by `build` with the access token; on a 401 refreshes once and
    /// sends it again. `build` is called per attempt so streamed bodies start fresh.
    pub async fn send<F>(&self, method: Method, path: &str, build: F) -> Result<Response, SyncError>
    where
        F: Fn(RequestBuilder) -> RequestBuilder,
    {
        if self.is_signed_out() {
            return Err(SyncError::SignedOut);
        }
        let url = format!("{}{path}", self.server()?);
        let mut token = match self.access() {
            Some(t) => t,
            None => self.refresh(None).await?,
        };
        for attempt in 0..2 {
            let res = with_busy_retries(|| {
                build(self.http.request(method.clone(), &url).bearer_auth(&token)).send()
            })
            .await?;
            if res.status() != StatusCode::UNAUTHORIZED || attempt == 1 {
                if res.status() == StatusCode::UNAUTHORIZED {
                    self.end_session();
                    return Err(SyncError::SignedOut);
                }
                return Ok(res);
            }
            token = self.refresh(Some(&token)).await?;
        }
        Err(SyncError::SignedOut)
    }

    /// A new access token from the stored refresh token (rotating it). `stale` is the
    /// token that was refused: if another task has refreshed meanwhile, its token is used.
    async fn refresh(&self, stale: Option<&str>) -> Result<String, SyncError> {
        let _guard = self.refresh_lock.lock().await;
        if let Some(current) = self.access()
            && Some(current.as_str()) != stale
        {
            return Ok(current);
        }
        let account = self.account().ok_or(SyncError::NotLoggedIn)?;
        let key = account.token_key();
        let k = key.clone();
        let stored = self.with_tokens(move |t| t.load(&k)).await?;
        let Some(refresh_token) = stored else {
            self.end_session();
            return Err(SyncError::SignedOut);
        };
        let url = format!("{}/v1/sessions/refresh", account.server_url);
        let body = RefreshRequest { refresh_token };
        let res = with_busy_retries(|| self.http.post(&url).json(&body).send()).await?;
        if matches!(
            res.status(),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
        ) {
            self.end_session();
            return Err(SyncError::SignedOut);
        }
        let s: SessionResponse = json(res).await?;
        let new_refresh = s.refresh_token.clone();
        self.with_tokens(move |t| t.save(&key, &new_refresh))
            .await?;
        *self.access.lock().unwrap_or_else(|p| p.into_inner()) = Some(s.access_token.clone());
        Ok(s.access_token)
    }

    fn end_session(&self) {
        *self.access.lock().unwrap_or_else(|p| p.into_inner()) = None;
        self.signed_out
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// GET a JSON answer.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, SyncError> {
        json(self.send(Method::GET, path, |r| r).await?).await
    }
}

/// The body of a successful answer, or the server's error as a `SyncError`.
pub(crate) async fn json<T: DeserializeOwned>(res: Response) -> Result<T, SyncError> {
    let res = check(res).await?;
    res.json::<T>()
        .await
        .map_err(|e| SyncError::Protocol(e.to_string()))
}

/// The wait a 429 or 503 asks for in its `Retry-After` (seconds; an HTTP date is read as
/// "a minute", the longest such a server here asks for).
fn retry_after(res: &Response) -> Option<Duration> {
    if !matches!(
        res.status(),
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
    ) {
        return None;
    }
    let v = res
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?;
    Some(Duration::from_secs(v.trim().parse().unwrap_or(60)))
}

/// The longest `Retry-After` that is waited out here before the request is tried again;
/// a longer one is reported to the caller (the outbox then waits that long).
const WAIT_OUT: Duration = Duration::from_secs(10);
/// Tries of one request against a busy server.
const BUSY_TRIES: u32 = 3;

/// Sends the request `make` builds, again after the server's `Retry-After` (with a little
/// jitter, so clients turned away together do not come back together) while the server
/// answers busy with a short wait. A 503 or 429 means nothing was done, so this is safe for
/// every request.
pub(crate) async fn with_busy_retries<F, Fut>(make: F) -> Result<Response, reqwest::Error>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<Response, reqwest::Error>>,
{
    let mut tries = 1;
    loop {
        let res = make().await?;
        match retry_after(&res) {
            Some(wait) if wait <= WAIT_OUT && tries < BUSY_TRIES => {
                tries += 1;
                let jitter = Duration::from_millis(rand::random::<u64>() % 500);
                tracing::info!(?wait, "the server is busy; trying again");
                tokio::time::sleep(wait + jitter).await;
            }
            _ => return Ok(res),
        }
    }
}

/// Passes a successful answer through; turns an error answer into a `SyncError`.
pub(crate) async fn check(res: Response) -> Result<Response, SyncError> {
    let status = res.status();
    if status.is_success() {
        return Ok(res);
    }
    let wait = retry_after(&res);
    let body = res.bytes().await.unwrap_or_default();
    if let Some(retry_after) = wait {
        let secs = retry_after.as_secs().max(1);
        let when = if secs < 120 {
            format!("{secs} seconds")
        } else {
            format!("{} minutes", secs.div_ceil(60))
        };
        let message = match serde_json::from_slice::<ErrorResponse>(&body) {
            Ok(e) if status == StatusCode::TOO_MANY_REQUESTS => {
                format!("{} (Try again in {when}.)", e.error.message)
            }
            _ => format!(
                "The server is busy right now. Your changes are kept; it will be tried again in {when}."
            ),
        };
        return Err(SyncError::Busy {
            retry_after,
            message,
        });
    }
    Err(match serde_json::from_slice::<ErrorResponse>(&body) {
        Ok(e) => SyncError::Api {
            status: status.as_u16(),
            code: e.error.code,
            message: e.error.message,
        },
        // A proxy's page, an S3 XML error: keep the status, say it plainly.
        Err(_) => SyncError::Api {
            status: status.as_u16(),
            code: if status.is_server_error() {
                ErrorCode::Unavailable
            } else {
                ErrorCode::InvalidRequest
            },
            message: format!(
                "The server answered {status}{}.",
                if status.is_server_error() {
                    "; it will be tried again"
                } else {
                    ""
                }
            ),
        },
    })
}
