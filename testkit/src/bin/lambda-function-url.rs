//! A Lambda function URL on this machine, for runs outside the Rust tests (the API
//! conformance run against the API Lambda): starts INSTANCES processes of BINARY against a
//! local Runtime API, serves the function URL on ADDRESS, prints one JSON line with its
//! URL, and serves until interrupted. The instances inherit this process's environment.
//!
//!   lambda-function-url ADDRESS INSTANCES BINARY

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use testkit::lambda::{LocalLambda, Options};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (listen, instances, binary) = match args.as_slice() {
        [a, n, b] => match (a.parse::<SocketAddr>(), n.parse::<usize>()) {
            (Ok(a), Ok(n)) if n > 0 => (a, n, PathBuf::from(b)),
            _ => usage(),
        },
        _ => usage(),
    };
    let function = LocalLambda::start(Options {
        binary: &binary,
        name: "itc-api",
        env: Vec::new(),
        instances,
        timeout: Duration::from_secs(30),
        listen,
        inherit_output: true,
    })
    .await;
    let mut function = match function {
        Ok(f) => f,
        Err(e) => {
            eprintln!(
                "lambda-function-url: cannot start {}: {e}",
                binary.display()
            );
            std::process::exit(1);
        }
    };
    println!("{}", serde_json::json!({ "url": function.url() }));
    // Leaving through main drops the instances, which kills them; a plain SIGTERM would not.
    let stop = stopped();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => break,
            () = tokio::time::sleep(Duration::from_secs(1)) => {
                if !function.all_running() {
                    eprintln!("lambda-function-url: an instance exited: {:?}", function.failures());
                    std::process::exit(1);
                }
            }
        }
    }
}

/// Ctrl-C, or SIGTERM where there is one.
async fn stopped() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {},
                _ = term.recv() => {},
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

fn usage() -> ! {
    eprintln!("usage: lambda-function-url ADDRESS INSTANCES BINARY");
    std::process::exit(2);
}
