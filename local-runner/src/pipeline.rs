//! Billing on the laptop: the in-process billing queue drained by a loop that runs the same
//! handler as the billing function, with redelivery and a dead-letter list (notifications go to
//! the notices loop, `notices.rs`; recharge requests to the auto-recharge loop, `recharge.rs`).

use std::sync::Arc;
use std::time::Duration;

use imcredits::adapters::dynamodb::DynamoStore;
use imcredits::adapters::memory_queue::MemoryQueue;
use imcredits::handlers::batch::Record;
use imcredits::handlers::billing::Billing;
use imcredits::ports::clock::SystemClock;
use tokio::sync::watch;

/// Deliveries before a record is dead-lettered (the SQS queue's `maxReceiveCount` in AWS).
pub const RECEIVES_MAX: u32 = 5;
/// As the billing function's batch size.
const RECORDS_PER_BATCH_MAX: usize = 10;
/// A record handled by neither a delete nor a release within this time comes back.
const VISIBILITY: Duration = Duration::from_secs(30);
/// Sleep between deliveries of a record that failed, so a poison record does not spin.
const RETRY_PAUSE: Duration = Duration::from_millis(500);

pub struct Queues {
    pub billing: MemoryQueue,
    pub notifications: MemoryQueue,
    pub recharges: MemoryQueue,
}

impl Queues {
    pub fn new() -> Self {
        Self {
            billing: MemoryQueue::new(RECEIVES_MAX, VISIBILITY),
            notifications: MemoryQueue::new(RECEIVES_MAX, VISIBILITY),
            recharges: MemoryQueue::new(1, VISIBILITY),
        }
    }
}

/// Runs billing until `stop` turns true.
pub async fn run_billing(store: DynamoStore, queues: Arc<Queues>, mut stop: watch::Receiver<bool>) {
    let billing = Billing::new(
        store,
        queues.notifications.clone(),
        queues.recharges.clone(),
        Arc::new(SystemClock),
        Duration::from_secs(5),
    );
    let mut dead_seen = 0;
    loop {
        if *stop.borrow() {
            return;
        }
        let deliveries = queues.billing.receive(RECORDS_PER_BATCH_MAX);
        if deliveries.is_empty() {
            tokio::select! {
                _ = queues.billing.wait(Duration::from_secs(1)) => {}
                _ = stop.changed() => {}
            }
        } else {
            let records: Vec<Record> = deliveries
                .iter()
                .map(|delivery| Record {
                    id: delivery.receipt.to_string(),
                    body: delivery.body.clone(),
                })
                .collect();
            let outcome = billing.handle(&records).await;
            for delivery in &deliveries {
                if outcome.failed.contains(&delivery.receipt.to_string()) {
                    queues.billing.release(delivery.receipt);
                } else {
                    queues.billing.delete(delivery.receipt);
                }
            }
            if outcome.posted + outcome.replayed > 0 || !outcome.failed.is_empty() {
                crate::say(&format!(
                    "billing: {} charges posted, {} replays, {} records to retry",
                    outcome.posted,
                    outcome.replayed,
                    outcome.failed.len()
                ));
            }
            if !outcome.failed.is_empty() {
                tokio::time::sleep(RETRY_PAUSE).await;
            }
        }
        let dead = queues.billing.dead_letters();
        for letter in dead.iter().skip(dead_seen) {
            crate::say(&format!(
                "billing: a record was dead-lettered after {} deliveries (first 200 bytes: {})",
                letter.receive_count,
                letter.body.chars().take(200).collect::<String>()
            ));
        }
        dead_seen = dead.len();
    }
}
