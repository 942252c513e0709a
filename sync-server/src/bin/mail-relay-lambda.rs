//! The mail relay as an AWS Lambda outside the VPC (see `sync_server::mail::relay`). S3's
//! "Object Created" events, through EventBridge or as S3's own notification records, name
//! outbox messages to send; any other event (the template's schedule) sweeps the whole
//! outbox, for what an event missed and what SMTP could not take before. Configured by the
//! same ITC_* variables as the server; needs the blob store and ITC_SMTP_URL, no database.

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use sync_server::mail::SmtpMailer;
use sync_server::mail::relay::Relay;

fn main() -> Result<(), Error> {
    sync_server::alloc::block_on(run())?
}

async fn run() -> Result<(), Error> {
    let settings = sync_server::lambda::start("mail-relay-lambda")?;
    let Some(url) = &settings.mail.smtp_url else {
        return Err("the mail relay needs ITC_SMTP_URL".into());
    };
    let connections = settings.mail.smtp_connections;
    let smtp = SmtpMailer::new(
        url.expose_secret(),
        u32::try_from(connections).unwrap_or(32),
    )?;
    let blobs = sync_server::state::open_blobs(&settings.storage.blob).await?;
    tracing::info!(smtp = %sync_server::mail::Mailer::describe(&smtp), "mail relay ready");
    let relay = Arc::new(Relay::new(blobs, smtp, connections));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let relay = relay.clone();
        async move { handle(&relay, &event.payload).await }
    }))
    .await
}

async fn handle(relay: &Relay, event: &Value) -> Result<Value, Error> {
    let keys = object_keys(event);
    let report = if keys.is_empty() {
        relay.sweep().await?
    } else {
        relay.relay_all(keys).await
    };
    if report.waiting > 0 {
        // A failed invocation is retried by Lambda (and alarms); the sweep also finds them.
        return Err(format!("{} messages stay in the outbox: {report:?}", report.waiting).into());
    }
    Ok(json!({ "report": report }))
}

/// The object keys an S3 event names; none for any other event.
fn object_keys(event: &Value) -> Vec<String> {
    if event["detail-type"] == "Object Created" {
        return event["detail"]["object"]["key"]
            .as_str()
            .map(|k| vec![k.to_owned()])
            .unwrap_or_default();
    }
    event["Records"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["s3"]["object"]["key"].as_str())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_from_eventbridge_and_s3_events_and_a_schedule_names_none() {
        let eventbridge = json!({"detail-type": "Object Created",
            "detail": {"object": {"key": "photos/mail/outbox/a.eml"}}});
        assert_eq!(object_keys(&eventbridge), ["photos/mail/outbox/a.eml"]);
        let s3 = json!({"Records": [{"s3": {"object": {"key": "mail/outbox/a.eml"}}},
            {"s3": {"object": {"key": "mail/outbox/b.eml"}}}]});
        assert_eq!(object_keys(&s3), ["mail/outbox/a.eml", "mail/outbox/b.eml"]);
        let schedule = json!({"detail-type": "Scheduled Event", "detail": {}});
        assert!(object_keys(&schedule).is_empty());
    }
}
