//! Notices on the laptop: the in-process notifications queue drained by the same handler as the
//! notifications function: events into the feed, signed webhooks to registered endpoints, retries
//! scheduled back onto the queue with a delay. Plain `http` is allowed to loopback addresses only.

use std::sync::Arc;
use std::time::Duration;

use imcredits::adapters::dynamodb::DynamoStore;
use imcredits::adapters::http_webhooks::{SystemResolver, WebhookClient};
use imcredits::api::notices::NoticesApi;
use imcredits::handlers::batch::Record;
use imcredits::handlers::notifications::Notifier;
use imcredits::notices::address::AddressPolicy;
use imcredits::notices::retry::RetryPolicy;
use imcredits::ports::clock::SystemClock;
use tokio::sync::watch;

use crate::pipeline::Queues;

/// As the notifications function's batch size.
const RECORDS_PER_BATCH_MAX: usize = 10;
/// How often delayed attempts are looked for when nothing arrives.
const POLL: Duration = Duration::from_millis(200);
/// Sleep after a batch with failures, so a poison record does not spin.
const RETRY_PAUSE: Duration = Duration::from_millis(500);

pub fn local_client() -> anyhow::Result<WebhookClient> {
    Ok(WebhookClient::new(
        AddressPolicy::AllowLoopbackHttp,
        Arc::new(SystemResolver),
    )?)
}

/// The API's side: events published on the in-process queue, URLs checked as deliveries will be.
pub fn api(queues: &Queues) -> anyhow::Result<NoticesApi> {
    Ok(NoticesApi {
        publish: Arc::new(queues.notifications.clone()),
        urls: Arc::new(local_client()?),
    })
}

/// Runs the notifications handler until `stop` turns true.
pub async fn run_notices(
    store: DynamoStore,
    queues: Arc<Queues>,
    policy: RetryPolicy,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let notifier = Notifier {
        store,
        queue: queues.notifications.clone(),
        web: local_client()?,
        clock: Arc::new(SystemClock),
        policy,
    };
    loop {
        if *stop.borrow() {
            return Ok(());
        }
        let deliveries = queues.notifications.receive(RECORDS_PER_BATCH_MAX);
        if deliveries.is_empty() {
            tokio::select! {
                _ = queues.notifications.wait(POLL) => {}
                _ = stop.changed() => {}
            }
            continue;
        }
        let records: Vec<Record> = deliveries
            .iter()
            .map(|delivery| Record {
                id: delivery.receipt.to_string(),
                body: delivery.body.clone(),
            })
            .collect();
        for record in &records {
            if record.body.starts_with(r#"{"message":"event""#) {
                crate::say(&format!("notification: {}", record.body));
            }
        }
        let outcome = notifier.handle(&records).await;
        for delivery in &deliveries {
            if outcome.failed.contains(&delivery.receipt.to_string()) {
                queues.notifications.release(delivery.receipt);
            } else {
                queues.notifications.delete(delivery.receipt);
            }
        }
        if !outcome.failed.is_empty() {
            crate::say(&format!(
                "notices: {} record(s) to retry",
                outcome.failed.len()
            ));
            tokio::time::sleep(RETRY_PAUSE).await;
        }
    }
}
