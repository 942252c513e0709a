//! The proxy itself, in front of a small echo service.

use std::time::{Duration, Instant};

use testkit::FaultProxy;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn echo() -> std::net::SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

async fn round_trip(s: &mut TcpStream, data: &[u8]) -> std::io::Result<Vec<u8>> {
    s.write_all(data).await?;
    let mut back = vec![0u8; data.len()];
    s.read_exact(&mut back).await?;
    Ok(back)
}

#[tokio::test]
async fn passes_cuts_stalls_slows_and_restores() {
    let proxy = FaultProxy::start(echo().await);
    let mut s = TcpStream::connect(proxy.addr()).await.expect("connect");
    assert_eq!(round_trip(&mut s, b"hello").await.expect("echo"), b"hello");

    proxy.cut();
    let mut buf = [0u8; 8];
    let n = tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf)).await;
    assert!(
        matches!(n, Ok(Ok(0)) | Ok(Err(_))),
        "an open connection is closed: {n:?}"
    );
    let mut fresh = TcpStream::connect(proxy.addr())
        .await
        .expect("accepted then closed");
    assert!(
        round_trip(&mut fresh, b"x").await.is_err(),
        "new ones are refused"
    );

    proxy.restore();
    let mut s = TcpStream::connect(proxy.addr()).await.expect("connect");
    assert_eq!(round_trip(&mut s, b"again").await.expect("echo"), b"again");

    proxy.stall();
    let stalled =
        tokio::time::timeout(Duration::from_millis(500), round_trip(&mut s, b"held")).await;
    assert!(stalled.is_err(), "nothing passes while stalled");
    proxy.restore();
    let mut rest = [0u8; 4];
    tokio::time::timeout(Duration::from_secs(2), s.read_exact(&mut rest))
        .await
        .expect("released")
        .expect("read");
    assert_eq!(&rest, b"held");

    proxy.slow(40_000);
    let t = Instant::now();
    let data = vec![7u8; 20_000];
    assert_eq!(round_trip(&mut s, &data).await.expect("slow echo"), data);
    assert!(
        t.elapsed() >= Duration::from_millis(400),
        "{:?}",
        t.elapsed()
    );
    proxy.restore();

    proxy.cut_after(1000);
    let mut s = TcpStream::connect(proxy.addr()).await.expect("connect");
    assert!(
        round_trip(&mut s, &vec![1u8; 5000]).await.is_err(),
        "cut mid-way"
    );
    assert!(!proxy.cut_pending());
    let mut s = TcpStream::connect(proxy.addr()).await.expect("connect");
    assert_eq!(
        round_trip(&mut s, &vec![2u8; 5000])
            .await
            .expect("once only")
            .len(),
        5000
    );
}
