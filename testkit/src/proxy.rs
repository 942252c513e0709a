//! A TCP proxy between a client and a real service (the sync server, PostgreSQL, S3, SMTP)
//! that a test can cut, stall or slow down at will, as a flaky network, a pulled cable or a
//! service going away would. It runs on its own thread and runtime, so async and blocking
//! tests use it alike.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the proxy does with traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Forwards everything at once.
    Pass,
    /// Closes every open connection and every new one at once.
    Cut,
    /// Keeps connections open and forwards nothing (a black hole).
    Stall,
    /// Forwards at most this many bytes per second in each direction.
    Slow(u64),
}

struct Shared {
    mode: watch::Sender<(Mode, u64)>,
    /// Cut a connection once it has carried this many bytes towards the service.
    cut_after: Mutex<Option<u64>>,
    accepted: AtomicUsize,
    upstream_bytes: AtomicU64,
}

/// A running proxy; it stops when dropped.
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FaultProxy {
    /// A proxy on a free loopback port in front of `target`.
    pub fn start(target: SocketAddr) -> Self {
        let (mode, _) = watch::channel((Mode::Pass, 0));
        let shared = Arc::new(Shared {
            mode,
            cut_after: Mutex::new(None),
            accepted: AtomicUsize::new(0),
            upstream_bytes: AtomicU64::new(0),
        });
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("fault-proxy".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("proxy runtime");
                rt.block_on(async move {
                    let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy bind");
                    addr_tx
                        .send(listener.local_addr().expect("proxy addr"))
                        .expect("proxy addr sent");
                    tokio::select! {
                        _ = stop_rx => {}
                        () = accept_loop(listener, target, s) => {}
                    }
                });
            })
            .expect("proxy thread");
        let addr = addr_rx.recv().expect("proxy started");
        Self {
            addr,
            shared,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// Where clients connect instead of the service.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `scheme://127.0.0.1:port`.
    pub fn url(&self, scheme: &str) -> String {
        format!("{scheme}://{}", self.addr)
    }

    fn set(&self, mode: Mode) {
        self.shared.mode.send_modify(|(m, generation)| {
            *m = mode;
            *generation += 1;
        });
    }

    /// Closes every connection now and refuses new ones until [`FaultProxy::restore`].
    pub fn cut(&self) {
        self.set(Mode::Cut);
    }

    /// Keeps connections open but passes nothing, until [`FaultProxy::restore`].
    pub fn stall(&self) {
        self.set(Mode::Stall);
    }

    /// Passes at most `bytes_per_sec` each way, until [`FaultProxy::restore`].
    pub fn slow(&self, bytes_per_sec: u64) {
        self.set(Mode::Slow(bytes_per_sec.max(1)));
    }

    /// Back to passing everything.
    pub fn restore(&self) {
        self.set(Mode::Pass);
    }

    /// The next connection that carries more than `bytes` towards the service is cut at
    /// that point (once), as a network drop in the middle of an upload would.
    pub fn cut_after(&self, bytes: u64) {
        *self
            .shared
            .cut_after
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(bytes);
    }

    /// Whether a [`FaultProxy::cut_after`] is still waiting to happen.
    pub fn cut_pending(&self) -> bool {
        self.shared
            .cut_after
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// Bytes passed towards the service so far.
    pub fn upstream_bytes(&self) -> u64 {
        self.shared.upstream_bytes.load(Ordering::SeqCst)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn accept_loop(listener: TcpListener, target: SocketAddr, shared: Arc<Shared>) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        shared.accepted.fetch_add(1, Ordering::SeqCst);
        let mode = shared.mode.borrow().0;
        if mode == Mode::Cut {
            drop(client);
            continue;
        }
        let shared = shared.clone();
        tokio::spawn(async move {
            let Ok(service) = TcpStream::connect(target).await else {
                return;
            };
            let _ = client.set_nodelay(true);
            let _ = service.set_nodelay(true);
            let (cr, cw) = client.into_split();
            let (sr, sw) = service.into_split();
            // Either direction ending (or being cut) ends the connection.
            tokio::select! {
                () = pump(cr, sw, shared.clone(), true) => {}
                () = pump(sr, cw, shared, false) => {}
            }
        });
    }
}

/// Copies one direction, obeying the mode as it changes.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    shared: Arc<Shared>,
    upstream: bool,
) {
    let mut modes = shared.mode.subscribe();
    let mut buf = vec![0u8; 16 * 1024];
    let mut carried = 0u64;
    loop {
        let n = tokio::select! {
            r = from.read(&mut buf) => match r {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
            changed = modes.changed() => {
                let mode = modes.borrow().0;
                if changed.is_err() || mode == Mode::Cut {
                    return;
                }
                continue;
            }
        };
        let mut chunk = &buf[..n];
        if upstream {
            let limit = *shared.cut_after.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(limit) = limit
                && carried + chunk.len() as u64 > limit
            {
                let keep = usize::try_from(limit.saturating_sub(carried)).unwrap_or(0);
                let _ = to.write_all(&chunk[..keep]).await;
                *shared.cut_after.lock().unwrap_or_else(|p| p.into_inner()) = None;
                return;
            }
        }
        // Wait out a stall; a cut ends the connection.
        loop {
            let mode = modes.borrow().0;
            match mode {
                Mode::Cut => return,
                Mode::Stall => {
                    if modes.changed().await.is_err() {
                        return;
                    }
                }
                Mode::Pass | Mode::Slow(_) => break,
            }
        }
        while !chunk.is_empty() {
            let mode = modes.borrow().0;
            let step = match mode {
                Mode::Slow(bps) => {
                    let step = chunk
                        .len()
                        .min(usize::try_from(bps / 20).unwrap_or(1).max(1));
                    tokio::time::sleep(Duration::from_secs_f64(step as f64 / bps as f64)).await;
                    step
                }
                Mode::Cut => return,
                _ => chunk.len(),
            };
            if to.write_all(&chunk[..step]).await.is_err() {
                return;
            }
            if upstream {
                shared
                    .upstream_bytes
                    .fetch_add(step as u64, Ordering::SeqCst);
            }
            carried += step as u64;
            chunk = &chunk[step..];
        }
    }
}
