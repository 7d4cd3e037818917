//! Notices on the laptop: the durable notifications queue drained by the same handler as the
//! notifications function: events into the feed, signed webhooks to registered endpoints, retries
//! scheduled back onto the queue with a delay (kept on disk, so a restart keeps the schedule).
//! Plain `http` is allowed to loopback addresses only.

use std::sync::Arc;
use std::time::Duration;

use imcredits::adapters::dynamodb::DynamoStore;
use imcredits::adapters::http_webhooks::{SystemResolver, WebhookClient};
use imcredits::adapters::sqlite_queue::DurableQueue;
use imcredits::api::notices::NoticesApi;
use imcredits::handlers::notifications::Notifier;
use imcredits::notices::address::AddressPolicy;
use imcredits::notices::retry::RetryPolicy;
use imcredits::ports::clock::SystemClock;
use tokio::sync::watch;
use tracing::error;

use crate::pipeline::{Queues, records, settled};

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

/// The API's side: events published on the durable queue, URLs checked as deliveries will be.
pub fn api(queues: &Queues) -> anyhow::Result<NoticesApi> {
    Ok(NoticesApi {
        publish: Arc::new(queues.notifications.clone()),
        urls: Arc::new(local_client()?),
    })
}

type LocalNotifier = Notifier<DynamoStore, DurableQueue, WebhookClient>;

/// Runs the notifications handler until `stop` turns true; what is left stays on disk for the
/// next start.
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
    let queue = &queues.notifications;
    loop {
        if *stop.borrow() {
            return Ok(());
        }
        let deliveries = match queue.receive(RECORDS_PER_BATCH_MAX).await {
            Ok(deliveries) => deliveries,
            Err(failure) => {
                error!(%failure, "the notifications queue cannot be read");
                tokio::time::sleep(RETRY_PAUSE).await;
                continue;
            }
        };
        if deliveries.is_empty() {
            tokio::select! {
                _ = queue.wait(POLL) => {}
                _ = stop.changed() => {}
            }
            continue;
        }
        notify(&notifier, queue, &deliveries).await;
    }
}

/// Handles one batch; what was handled leaves the queue, what failed is released to come back.
async fn notify(
    notifier: &LocalNotifier,
    queue: &DurableQueue,
    deliveries: &[imcredits::adapters::sqlite_queue::Delivery],
) {
    let records = records(deliveries);
    for record in &records {
        if record.body.starts_with(r#"{"message":"event""#) {
            crate::say(&format!("notification: {}", record.body));
        }
    }
    let outcome = notifier.handle(&records).await;
    let (done, failed) = settled(
        deliveries,
        &outcome.failed,
        &outcome.reasons,
        "no reason given",
    );
    if let Err(failure) = queue.delete(done).await {
        error!(%failure, "handled notifications could not be deleted; they come back");
    }
    if !failed.is_empty() {
        crate::say(&format!("notices: {} record(s) to retry", failed.len()));
        if let Err(failure) = queue.release_failed(failed).await {
            error!(%failure, "failed notifications could not be released; they come back later");
        }
        tokio::time::sleep(RETRY_PAUSE).await;
    }
}
