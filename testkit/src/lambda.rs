//! A Lambda on this machine: the Lambda Runtime API that real function binaries poll for
//! events and answer, buffered or streamed (the `streaming` response mode, a JSON prelude,
//! eight NUL bytes, then the body), with an HTTP front that turns each request into a
//! payload-format-2.0 event as a function URL does, and direct invocations with any event
//! (a schedule's). Each instance is a process of the function's binary that handles one
//! event at a time, as on AWS.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Path as UrlPath, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use futures_util::StreamExt;
use serde_json::{Map, Value, json};
use tokio::process::{Child, Command};
use tokio::sync::{Mutex, mpsc, oneshot};

/// What a function URL accepts in a request body (AWS's limit for synchronous invocations).
pub const MAX_REQUEST_BYTES: usize = 6 * 1024 * 1024;
const PRELUDE_END: [u8; 8] = [0; 8];
const MAX_PRELUDE_BYTES: usize = 64 * 1024;

/// A running function with its instances and its function URL.
pub struct LocalLambda {
    queue: mpsc::UnboundedSender<Invocation>,
    next_id: Arc<AtomicU64>,
    url: String,
    instances: Vec<Child>,
    failures: Arc<std::sync::Mutex<Vec<String>>>,
    _front: tokio::task::JoinHandle<()>,
    _runtime: tokio::task::JoinHandle<()>,
}

/// How to start one.
pub struct Options<'a> {
    /// The function's binary (a `bootstrap`, or a cargo-built bin).
    pub binary: &'a Path,
    /// The function's name (AWS_LAMBDA_FUNCTION_NAME, and in its ARN).
    pub name: &'a str,
    /// Environment for each instance, on top of this process's and the Lambda variables.
    pub env: Vec<(String, String)>,
    /// Instances polling for events; each handles one event at a time.
    pub instances: usize,
    /// An invocation that takes longer is answered 502, as a timed-out function is.
    pub timeout: Duration,
    /// The address the front listens on (port 0 picks one).
    pub listen: SocketAddr,
    /// Keep the instances' output (else it is discarded).
    pub inherit_output: bool,
}

struct Invocation {
    id: String,
    event: Value,
    reply: oneshot::Sender<Response>,
}

#[derive(Clone)]
struct Shared {
    queue: mpsc::UnboundedSender<Invocation>,
    waiting: Arc<Mutex<mpsc::UnboundedReceiver<Invocation>>>,
    in_flight: Arc<std::sync::Mutex<HashMap<String, oneshot::Sender<Response>>>>,
    failures: Arc<std::sync::Mutex<Vec<String>>>,
    next_id: Arc<AtomicU64>,
    timeout: Duration,
    host: String,
    arn: String,
}

impl LocalLambda {
    /// Starts the Runtime API, the front and the instances; returns once the front listens.
    pub async fn start(options: Options<'_>) -> std::io::Result<Self> {
        let runtime = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let runtime_addr = runtime.local_addr()?;
        let front = tokio::net::TcpListener::bind(options.listen).await?;
        let front_addr = front.local_addr()?;
        let (queue, waiting) = mpsc::unbounded_channel();
        let failures = Arc::new(std::sync::Mutex::new(Vec::new()));
        let next_id = Arc::new(AtomicU64::new(1));
        let shared = Shared {
            queue: queue.clone(),
            waiting: Arc::new(Mutex::new(waiting)),
            in_flight: Arc::default(),
            failures: failures.clone(),
            next_id: next_id.clone(),
            timeout: options.timeout,
            host: front_addr.to_string(),
            arn: format!(
                "arn:aws:lambda:us-east-1:123456789012:function:{}",
                options.name
            ),
        };
        let runtime_app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next_event))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(function_response),
            )
            .route(
                "/2018-06-01/runtime/invocation/{id}/error",
                post(function_error),
            )
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared.clone());
        let runtime_task = tokio::spawn(async move {
            let _ = axum::serve(runtime, runtime_app).await;
        });
        let front_app = Router::new().fallback(invoke).with_state(shared);
        let front_task = tokio::spawn(async move {
            let _ = axum::serve(
                front,
                front_app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await;
        });
        let mut instances = Vec::with_capacity(options.instances);
        for _ in 0..options.instances.max(1) {
            let mut cmd = Command::new(options.binary);
            cmd.env("AWS_LAMBDA_RUNTIME_API", runtime_addr.to_string())
                .env("AWS_LAMBDA_FUNCTION_NAME", options.name)
                .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
                .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
                .env(
                    "AWS_LAMBDA_LOG_GROUP_NAME",
                    format!("/aws/lambda/{}", options.name),
                )
                .envs(options.env.iter().map(|(k, v)| (k, v)))
                .kill_on_drop(true);
            if !options.inherit_output {
                cmd.stdout(Stdio::null()).stderr(Stdio::null());
            }
            instances.push(cmd.spawn()?);
        }
        Ok(Self {
            queue,
            next_id,
            url: format!("http://{front_addr}"),
            instances,
            failures,
            _front: front_task,
            _runtime: runtime_task,
        })
    }

    /// Invokes the function with `event` (as EventBridge or `aws lambda invoke` does) and
    /// waits for its answer: the status a function URL would give it, and the payload.
    pub async fn invoke(&self, event: Value) -> std::io::Result<(StatusCode, Bytes)> {
        let id = format!(
            "{:016x}-direct",
            self.next_id.fetch_add(1, Ordering::Relaxed)
        );
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Invocation { id, event, reply })
            .map_err(|_| std::io::Error::other("the Runtime API has stopped"))?;
        let res = answer
            .await
            .map_err(|_| std::io::Error::other("the function gave no answer"))?;
        let status = res.status();
        let body = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .map_err(std::io::Error::other)?;
        Ok((status, body))
    }

    /// The function URL's base, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Errors the instances reported to the Runtime API (init and invocation errors).
    pub fn failures(&self) -> Vec<String> {
        self.failures.lock().map(|f| f.clone()).unwrap_or_default()
    }

    /// Whether every instance is still running.
    pub fn all_running(&mut self) -> bool {
        self.instances
            .iter_mut()
            .all(|c| matches!(c.try_wait(), Ok(None)))
    }
}

fn epoch_millis() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

fn plain(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json!({ "Message": message }).to_string(),
    )
        .into_response()
}

/// The front: one HTTP request becomes one event, queued for the next free instance.
async fn invoke(
    State(shared): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_REQUEST_BYTES).await else {
        return plain(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Request must be smaller than 6 MB",
        );
    };
    let event = event(&shared, &parts, &body, peer);
    let id = event["requestContext"]["requestId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let (reply, answer) = oneshot::channel();
    if shared.queue.send(Invocation { id, event, reply }).is_err() {
        return plain(StatusCode::BAD_GATEWAY, "No instance is running");
    }
    match tokio::time::timeout(shared.timeout, answer).await {
        Ok(Ok(res)) => res,
        Ok(Err(_)) => plain(StatusCode::BAD_GATEWAY, "The function gave no answer"),
        Err(_) => plain(StatusCode::BAD_GATEWAY, "The function timed out"),
    }
}

/// A request as AWS writes it for a function URL (payload format 2.0).
fn event(
    shared: &Shared,
    parts: &axum::http::request::Parts,
    body: &Bytes,
    peer: SocketAddr,
) -> Value {
    let mut headers = Map::new();
    let mut cookies = Vec::new();
    for (name, value) in &parts.headers {
        let Ok(value) = value.to_str() else { continue };
        if name == header::COOKIE {
            cookies.extend(value.split(';').map(|c| Value::from(c.trim())));
            continue;
        }
        match headers.get_mut(name.as_str()) {
            Some(Value::String(joined)) => {
                joined.push(',');
                joined.push_str(value);
            }
            _ => {
                headers.insert(name.as_str().to_owned(), Value::from(value));
            }
        }
    }
    headers
        .entry("host")
        .or_insert_with(|| Value::from(shared.host.clone()));
    headers.insert("x-forwarded-for".into(), Value::from(peer.ip().to_string()));
    headers.insert("x-forwarded-proto".into(), Value::from("http"));
    let text = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json") || t.starts_with("text/"));
    let (body, encoded) = match std::str::from_utf8(body) {
        _ if body.is_empty() => (Value::Null, false),
        Ok(s) if text => (Value::from(s), false),
        _ => (Value::from(BASE64.encode(body)), true),
    };
    let path = parts.uri.path();
    let now = epoch_millis();
    let id = format!(
        "{:016x}-{now}",
        shared.next_id.fetch_add(1, Ordering::Relaxed)
    );
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": parts.uri.query().unwrap_or(""),
        "headers": headers,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "itclocal",
            "domainName": shared.host,
            "domainPrefix": "itclocal",
            "http": {
                "method": parts.method.as_str(),
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": peer.ip().to_string(),
                "userAgent": parts.headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or(""),
            },
            "requestId": id,
            "routeKey": "$default",
            "stage": "$default",
            "time": now.to_string(),
            "timeEpoch": now,
        },
        "isBase64Encoded": encoded,
    });
    if !body.is_null() {
        event["body"] = body;
    }
    if !cookies.is_empty() {
        event["cookies"] = Value::from(cookies);
    }
    event
}

/// `GET .../invocation/next`: waits for a request, as the real API long-polls.
async fn next_event(State(shared): State<Shared>) -> Response {
    let invocation = {
        let mut waiting = shared.waiting.lock().await;
        waiting.recv().await
    };
    let Some(Invocation { id, event, reply }) = invocation else {
        return plain(StatusCode::GONE, "shutting down");
    };
    if let Ok(mut in_flight) = shared.in_flight.lock() {
        in_flight.insert(id.clone(), reply);
    }
    let deadline = epoch_millis() + shared.timeout.as_millis();
    let mut res = event.to_string().into_response();
    let h = res.headers_mut();
    for (name, value) in [
        ("lambda-runtime-aws-request-id", id),
        ("lambda-runtime-deadline-ms", deadline.to_string()),
        ("lambda-runtime-invoked-function-arn", shared.arn.clone()),
        (
            "lambda-runtime-trace-id",
            "Root=1-00000000-000000000000000000000000".to_owned(),
        ),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(HeaderName::from_static(name), v);
        }
    }
    res
}

fn take_reply(shared: &Shared, id: &str) -> Option<oneshot::Sender<Response>> {
    shared.in_flight.lock().ok()?.remove(id)
}

/// `POST .../invocation/{id}/response`: a buffered answer, or a streamed one piped to the
/// waiting client as it arrives.
async fn function_response(
    State(shared): State<Shared>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(reply) = take_reply(&shared, &id) else {
        return plain(StatusCode::BAD_REQUEST, "unknown or answered request id");
    };
    let streaming = headers
        .get("lambda-runtime-function-response-mode")
        .is_some_and(|v| v == "streaming");
    if !streaming {
        let answer = match axum::body::to_bytes(body, MAX_REQUEST_BYTES).await {
            Ok(b) => buffered(&b),
            Err(_) => plain(StatusCode::BAD_GATEWAY, "Response payload larger than 6 MB"),
        };
        let _ = reply.send(answer);
        return StatusCode::ACCEPTED.into_response();
    }
    let mut stream = body.into_data_stream();
    let mut head = Vec::new();
    let rest = loop {
        match stream.next().await {
            Some(Ok(chunk)) => {
                head.extend_from_slice(&chunk);
                if let Some(at) = head.windows(8).position(|w| w == PRELUDE_END) {
                    break head.split_off(at + 8);
                }
                if head.len() > MAX_PRELUDE_BYTES {
                    let _ = reply.send(plain(StatusCode::BAD_GATEWAY, "No response prelude"));
                    return StatusCode::BAD_REQUEST.into_response();
                }
            }
            _ => {
                let _ = reply.send(plain(StatusCode::BAD_GATEWAY, "The response ended early"));
                return StatusCode::BAD_REQUEST.into_response();
            }
        }
    };
    head.truncate(head.len() - 8);
    let prelude: Value = serde_json::from_slice(&head).unwrap_or(Value::Null);
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(8);
    let mut res = Response::new(Body::from_stream(tokio_stream_from(rx)));
    apply_head(&mut res, &prelude);
    let _ = reply.send(res);
    if !rest.is_empty() && tx.send(Ok(Bytes::from(rest))).await.is_err() {
        return StatusCode::ACCEPTED.into_response();
    }
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(std::io::Error::other);
        if tx.send(chunk).await.is_err() {
            break;
        }
    }
    StatusCode::ACCEPTED.into_response()
}

fn tokio_stream_from(
    mut rx: mpsc::Receiver<Result<Bytes, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// Status, headers and cookies of a function URL answer (a prelude, or a buffered answer).
fn apply_head(res: &mut Response, v: &Value) {
    *res.status_mut() = v["statusCode"]
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let h = res.headers_mut();
    if let Some(map) = v["headers"].as_object() {
        for (name, value) in map {
            let Ok(name) = HeaderName::from_bytes(name.as_bytes()) else {
                continue;
            };
            let values = match value {
                Value::Array(all) => all.clone(),
                one => vec![one.clone()],
            };
            for value in values {
                if let Some(Ok(value)) = value.as_str().map(HeaderValue::from_str) {
                    h.append(name.clone(), value);
                }
            }
        }
    }
    for cookie in v["cookies"].as_array().into_iter().flatten() {
        if let Some(Ok(value)) = cookie.as_str().map(HeaderValue::from_str) {
            h.append(header::SET_COOKIE, value);
        }
    }
}

/// A buffered answer: the 2.0 response object, or any other JSON as a 200 body.
fn buffered(body: &[u8]) -> Response {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    if v.get("statusCode").is_none() {
        let mut res = Response::new(Body::from(body.to_vec()));
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        return res;
    }
    let payload = match (&v["body"], v["isBase64Encoded"].as_bool()) {
        (Value::String(b), Some(true)) => BASE64.decode(b).unwrap_or_default(),
        (Value::String(b), _) => b.clone().into_bytes(),
        _ => Vec::new(),
    };
    let mut res = Response::new(Body::from(payload));
    apply_head(&mut res, &v);
    res
}

/// `POST .../invocation/{id}/error`: the client gets 502, as from a failed function.
async fn function_error(
    State(shared): State<Shared>,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
) -> Response {
    let text = String::from_utf8_lossy(&body).into_owned();
    if let Ok(mut f) = shared.failures.lock() {
        f.push(text);
    }
    if let Some(reply) = take_reply(&shared, &id) {
        let _ = reply.send(plain(StatusCode::BAD_GATEWAY, "The function failed"));
    }
    StatusCode::ACCEPTED.into_response()
}

/// `POST .../init/error`: the instance could not start; it is recorded for the test.
async fn init_error(State(shared): State<Shared>, body: Bytes) -> Response {
    if let Ok(mut f) = shared.failures.lock() {
        f.push(format!("init: {}", String::from_utf8_lossy(&body)));
    }
    StatusCode::ACCEPTED.into_response()
}
