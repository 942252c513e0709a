//! Bounds that keep a flood from exhausting the server: password hashing (each argon2id run
//! holds 19 MiB), requests in flight, upload streams and zip downloads. Past a bound the
//! server answers at once with 503 and `Retry-After` in the API's error format, so it
//! degrades by telling people to come back rather than by running out of memory.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::{Body, HttpBody};
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::{ApiError, ApiResult};

/// Seconds a client is asked to wait when the server is full. Short: a full server drains
/// in well under a second per slot, and clients add their own jitter.
pub const BUSY_RETRY_AFTER: u64 = 2;

/// Password hashing and verification, at most `max` at once and `queue` more waiting.
#[derive(Debug)]
pub struct HashSlots {
    permits: Arc<Semaphore>,
    waiting: AtomicUsize,
    queue: usize,
    wait_limit: Duration,
}

/// Counts a waiter out however its wait ends (a client that hangs up drops the future).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl HashSlots {
    /// `max` hashes at once (at least one), `queue` callers waiting, none longer than
    /// `wait_limit`.
    pub fn new(max: usize, queue: usize, wait_limit: Duration) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(max.max(1))),
            waiting: AtomicUsize::new(0),
            queue,
            wait_limit,
        }
    }

    /// Runs `f` (argon2 work) on the blocking pool once a slot is free; busy when the
    /// queue is full or the wait runs out.
    pub async fn run<T, F>(&self, f: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.queue {
                    self.waiting.fetch_sub(1, Ordering::SeqCst);
                    return Err(ApiError::busy(BUSY_RETRY_AFTER));
                }
                let _counted = Waiting(&self.waiting);
                match tokio::time::timeout(self.wait_limit, self.permits.clone().acquire_owned())
                    .await
                {
                    Ok(Ok(p)) => p,
                    _ => return Err(ApiError::busy(BUSY_RETRY_AFTER)),
                }
            }
        };
        let out = tokio::task::spawn_blocking(move || {
            let _slot = permit;
            f()
        })
        .await?;
        Ok(out)
    }
}

/// A bound on concurrent requests of one kind: a full bound answers 503 at once. The slot
/// is held until the response body has been sent, so streamed downloads count for as long
/// as they stream.
#[derive(Debug, Clone)]
pub struct Slots(Arc<Semaphore>);

impl Slots {
    pub fn new(n: usize) -> Self {
        Self(Arc::new(Semaphore::new(n.max(1))))
    }
}

/// Middleware: the request runs while a slot of `slots` is free; 503 otherwise.
pub async fn bounded(State(slots): State<Slots>, req: Request, next: Next) -> Response {
    let Ok(permit) = slots.0.clone().try_acquire_owned() else {
        return busy_after_reading(req).await;
    };
    let res = next.run(req).await;
    res.map(|body| {
        Body::new(Held {
            body,
            _permit: permit,
        })
    })
}

/// The most of a refused request's body read (and dropped) so the client gets its 503.
const READ_BEFORE_REFUSING: u64 = 1024 * 1024;
/// How long a refused request's body may take to arrive.
const READ_BEFORE_REFUSING_TIME: Duration = Duration::from_secs(2);

/// 503 with Retry-After for a request refused before its body was read. A server that
/// answers and closes while the body is still arriving resets the connection, and the
/// client sees a broken pipe instead of the answer that tells it when to come back (the
/// flood benchmark saw a few per run). So a small body is read to its end and dropped,
/// chunk by chunk; a large or slow one is answered at once, and `unread_body` tells the
/// client that connection closes.
async fn busy_after_reading(req: Request) -> Response {
    let busy = ApiError::busy(BUSY_RETRY_AFTER).into_response();
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > READ_BEFORE_REFUSING) {
        return busy;
    }
    let mut body = req.into_body().into_data_stream();
    let read_to_end = async {
        let mut seen = 0u64;
        while let Some(chunk) = body.next().await {
            seen += chunk.map_err(|_| ())?.len() as u64;
            if seen > READ_BEFORE_REFUSING {
                return Err(());
            }
        }
        Ok(())
    };
    let _ = tokio::time::timeout(READ_BEFORE_REFUSING_TIME, read_to_end).await;
    busy
}

/// A response body that keeps its slot until it is done (or dropped).
struct Held {
    body: Body,
    _permit: OwnedSemaphorePermit,
}

impl HttpBody for Held {
    type Data = <Body as HttpBody>::Data;
    type Error = <Body as HttpBody>::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::pin::Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// The limit key of a sign-up's client: the address for IPv4, the /64 for IPv6 (one
/// subscriber usually holds a whole /64, so single addresses in it cost nothing to change).
pub fn signup_key(ip: std::net::IpAddr) -> String {
    match ip.to_canonical() {
        std::net::IpAddr::V4(v4) => format!("signup:{v4}"),
        std::net::IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("signup:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_up_keys_group_an_ipv6_slash_64_and_keep_ipv4_addresses_apart() {
        let key = |s: &str| signup_key(s.parse().expect("address"));
        assert_eq!(key("2001:db8:1:2::1"), key("2001:db8:1:2:ffff::9"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_ne!(key("192.0.2.1"), key("192.0.2.2"));
        assert_eq!(key("::ffff:192.0.2.1"), key("192.0.2.1"));
    }

    #[tokio::test]
    async fn past_the_slots_and_the_queue_callers_are_told_to_come_back() {
        let slots = Arc::new(HashSlots::new(1, 1, Duration::from_secs(5)));
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let first = {
            let s = slots.clone();
            tokio::spawn(async move { s.run(move || hold.recv().is_ok()).await })
        };
        while slots.permits.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        let second = {
            let s = slots.clone();
            tokio::spawn(async move { s.run(|| true).await })
        };
        while slots.waiting.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        let third = slots.run(|| true).await;
        assert!(
            matches!(
                &third,
                Err(ApiError::Client {
                    retry_after: Some(_),
                    ..
                })
            ),
            "{third:?}"
        );
        release.send(()).expect("release");
        assert!(first.await.expect("first").expect("ran"));
        assert!(second.await.expect("second").expect("ran after waiting"));
    }
}
