//! Cold start: the time from starting a fresh process to its first answer to `/readyz`
//! (which reaches the database and S3), for the API Lambda behind a local function URL and,
//! as the baseline in the same run, for the `sync-server` binary on a socket. Both read the
//! same ITC_* environment (PostgreSQL, S3) that the caller sets. Each run is a new process;
//! prints the median and the slowest of each, then `api_lambda_cold_start_ms: MEDIAN`.
//!
//! `cargo run --release -p sync-server --example cold_start -- --lambda BIN --server BIN`
//! (scripts/bench-cold-start.sh sets up PostgreSQL and S3, builds and runs it).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use testkit::lambda::{LocalLambda, Options};

#[derive(Parser)]
struct Args {
    /// The api-lambda binary (or a `bootstrap` built from it).
    #[arg(long)]
    lambda: PathBuf,
    /// The sync-server binary, the baseline.
    #[arg(long)]
    server: PathBuf,
    /// Fresh processes started of each.
    #[arg(long, default_value_t = 20)]
    runs: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let mut lambda = Vec::with_capacity(args.runs);
    let mut server = Vec::with_capacity(args.runs);
    // Alternated, so neither gets the warmer page cache or database every time.
    for _ in 0..args.runs {
        lambda.push(lambda_once(&client, &args.lambda).await?);
        server.push(server_once(&client, &args.server).await?);
    }
    let (lm, lx) = summary(&mut lambda);
    let (sm, sx) = summary(&mut server);
    println!("runs: {}", args.runs);
    println!("server_cold_start_ms: median {sm:.1}, slowest {sx:.1}");
    println!("api_lambda_slowest_ms: {lx:.1}");
    println!("api_lambda_cold_start_ms: {lm:.1}");
    Ok(())
}

fn summary(ms: &mut [f64]) -> (f64, f64) {
    ms.sort_by(f64::total_cmp);
    (ms[ms.len() / 2], ms[ms.len() - 1])
}

/// A fresh instance behind a fresh function URL; the request waits in the queue until the
/// instance has started and polls for it, as the first request to a cold function does.
async fn lambda_once(client: &reqwest::Client, bin: &std::path::Path) -> anyhow::Result<f64> {
    let started = Instant::now();
    let function = LocalLambda::start(Options {
        binary: bin,
        name: "itc-api",
        env: vec![("RUST_LOG".into(), "error".into())],
        instances: 1,
        timeout: Duration::from_secs(30),
        listen: ([127, 0, 0, 1], 0).into(),
        inherit_output: false,
    })
    .await
    .context("starting the function")?;
    let res = client
        .get(format!("{}/readyz", function.url()))
        .send()
        .await?;
    let took = started.elapsed();
    if res.status() != 200 {
        bail!(
            "the API Lambda answered {}: {:?}",
            res.status(),
            function.failures()
        );
    }
    Ok(took.as_secs_f64() * 1000.0)
}

/// A fresh server process, polled until its socket answers.
async fn server_once(client: &reqwest::Client, bin: &std::path::Path) -> anyhow::Result<f64> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let dir = tempfile::tempdir()?;
    let started = Instant::now();
    let mut child = Command::new(bin)
        .args([
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--no-delivery-ticker",
        ])
        .arg("--data-dir")
        .arg(dir.path())
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let url = format!("http://127.0.0.1:{port}/readyz");
    let outcome = loop {
        match client.get(&url).send().await {
            Ok(res) => break Ok((res.status(), started.elapsed())),
            Err(e) if e.is_connect() && started.elapsed() < Duration::from_secs(30) => {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            Err(e) => break Err(e),
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    let (status, took) = outcome?;
    if status != 200 {
        bail!("the server answered {status}");
    }
    Ok(took.as_secs_f64() * 1000.0)
}
