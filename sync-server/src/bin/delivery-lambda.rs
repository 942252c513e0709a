//! The delivery job as an AWS Lambda: each EventBridge scheduled event runs `deliver_due`
//! once against the configured PostgreSQL, S3 and SMTP. Configured by the same ITC_*
//! environment variables as the server.

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};
use sync_server::AppState;
use sync_server::clock::SystemClock;

fn main() -> Result<(), Error> {
    sync_server::alloc::block_on(run())?
}

async fn run() -> Result<(), Error> {
    let settings = sync_server::lambda::start("delivery-lambda")?;
    let state = AppState::build(settings, Arc::new(SystemClock)).await?;
    tracing::info!(mail = %state.mailer.describe(), "delivery lambda ready");
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let state = state.clone();
        async move {
            let scheduled_for = event.payload.get("time").cloned().unwrap_or(Value::Null);
            let report = sync_server::delivery::deliver_due(&state, state.clock.now())
                .await
                .map_err(|e| Error::from(format!("{e:#}")))?;
            // Thumbnails for clients that sent none: the same schedule works them off.
            let thumbnails = sync_server::photos::thumbnail_job::run_due(&state, state.clock.now())
                .await
                .map_err(|e| Error::from(format!("{e:#}")))?;
            Ok::<Value, Error>(json!({
                "scheduled_for": scheduled_for,
                "report": report,
                "thumbnails_made": thumbnails,
            }))
        }
    }))
    .await
}
