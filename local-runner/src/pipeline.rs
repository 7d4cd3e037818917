//! Billing on the laptop: the durable billing queue drained by a loop that runs the same handler as
//! the billing function, with redelivery and dead letters (notifications go to the notices loop,
//! `notices.rs`; recharge requests to the auto-recharge loop, `recharge.rs`).
//!
//! A message leaves the billing queue only after billing committed it (or dead-lettered it), so a
//! crash at any point loses nothing: at the next start it is delivered again, and billing's
//! entries, identified by what they charge, are not posted twice.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use imcredits::adapters::dynamodb::DynamoStore;
use imcredits::adapters::sqlite_queue::{
    Delivery, DurableQueue, QueueLimits, QueueRules, QueueStore,
};
use imcredits::handlers::batch::Record;
use imcredits::handlers::billing::Billing;
use imcredits::ports::clock::SystemClock;
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::error;

/// Deliveries before a record is dead-lettered (the SQS queue's `maxReceiveCount` in AWS).
pub const RECEIVES_MAX: u32 = 5;
/// As the billing function's batch size.
const RECORDS_PER_BATCH_MAX: usize = 10;
/// A record handled by neither a delete nor a release within this time comes back.
const VISIBILITY: Duration = Duration::from_secs(30);
/// Sleep between deliveries of a record that failed, so a poison record does not spin.
const RETRY_PAUSE: Duration = Duration::from_millis(500);
/// After a stop, billing goes on with what is queued for at most this long; the rest waits on
/// disk for the next start.
pub const DRAIN_MAX: Duration = Duration::from_secs(5);
/// Notifications and recharge requests are small and few: bounds that only a fault would reach.
const SMALL_QUEUE_LIMITS: QueueLimits = QueueLimits {
    messages_max: 10_000,
    bytes_max: 16 * 1024 * 1024,
};

pub const BILLING: &str = "billing";
pub const NOTIFICATIONS: &str = "notifications";
pub const RECHARGES: &str = "recharges";

pub struct Queues {
    pub billing: DurableQueue,
    pub notifications: DurableQueue,
    pub recharges: DurableQueue,
}

impl Queues {
    pub fn new(store: &QueueStore, billing_limits: QueueLimits) -> Self {
        let rules = |receives_max, limits| QueueRules {
            receives_max,
            visibility: VISIBILITY,
            limits,
        };
        Self {
            billing: store.queue(BILLING, rules(RECEIVES_MAX, billing_limits)),
            notifications: store.queue(NOTIFICATIONS, rules(RECEIVES_MAX, SMALL_QUEUE_LIMITS)),
            recharges: store.queue(RECHARGES, rules(1, SMALL_QUEUE_LIMITS)),
        }
    }

    /// The bounds of the queue a dead letter is redriven to; `None` for a name that is not one.
    pub fn limits_of(billing_limits: QueueLimits) -> impl Fn(&str) -> Option<QueueLimits> {
        move |queue| match queue {
            BILLING => Some(billing_limits),
            NOTIFICATIONS | RECHARGES => Some(SMALL_QUEUE_LIMITS),
            _ => None,
        }
    }
}

/// The handlers' view of queue deliveries: one record each, named by its receipt.
pub fn records(deliveries: &[Delivery]) -> Vec<Record> {
    deliveries
        .iter()
        .map(|delivery| Record {
            id: delivery.receipt.to_string(),
            body: delivery.body.clone(),
        })
        .collect()
}

/// What a handler answered of `deliveries` (the ids of the records it `failed`, and their
/// `reasons`): the receipts handled, to delete, and those failed, each with its reason, which the
/// dead letter it may become states (`no_reason` where the handler gave none).
pub fn settled(
    deliveries: &[Delivery],
    failed: &[String],
    reasons: &BTreeMap<String, String>,
    no_reason: &str,
) -> (Vec<u64>, Vec<(u64, String)>) {
    let (failed, done): (Vec<u64>, Vec<u64>) = deliveries
        .iter()
        .map(|delivery| delivery.receipt)
        .partition(|receipt| failed.contains(&receipt.to_string()));
    let failed = failed
        .into_iter()
        .map(|receipt| {
            let reason = reasons.get(&receipt.to_string()).cloned();
            (receipt, reason.unwrap_or_else(|| no_reason.to_owned()))
        })
        .collect();
    (done, failed)
}

/// Runs billing until `stop` turns true, then goes on with what is queued for up to [`DRAIN_MAX`].
pub async fn run_billing(store: DynamoStore, queues: Arc<Queues>, mut stop: watch::Receiver<bool>) {
    let billing = Billing::new(
        store,
        queues.notifications.clone(),
        queues.recharges.clone(),
        Arc::new(SystemClock),
        Duration::from_secs(5),
    );
    let mut drain_until: Option<Instant> = None;
    loop {
        if drain_until.is_none() && *stop.borrow() {
            drain_until = Some(Instant::now() + DRAIN_MAX);
        }
        if drain_until.is_some_and(|until| Instant::now() >= until) {
            break;
        }
        let deliveries = match queues.billing.receive(RECORDS_PER_BATCH_MAX).await {
            Ok(deliveries) => deliveries,
            Err(failure) => {
                error!(%failure, "the billing queue cannot be read");
                tokio::time::sleep(RETRY_PAUSE).await;
                continue;
            }
        };
        if deliveries.is_empty() {
            if drain_until.is_some() {
                break;
            }
            tokio::select! {
                _ = queues.billing.wait(Duration::from_secs(1)) => {}
                _ = stop.changed() => {}
            }
            continue;
        }
        if !bill_within_drain(
            &billing,
            &queues.billing,
            &deliveries,
            &mut stop,
            &mut drain_until,
        )
        .await
        {
            crate::say(
                "billing: stopped mid-batch at the drain bound; its records are billed at the next start",
            );
            break;
        }
    }
    match queues.billing.depth() {
        Ok((0, _)) => {}
        Ok((left, _)) => crate::say(&format!(
            "billing: {left} messages left on the billing queue; they are billed at the next start"
        )),
        Err(failure) => error!(%failure, "the billing queue cannot be read"),
    }
}

type LocalBilling = Billing<DynamoStore, DurableQueue, DurableQueue>;

/// Bills one batch, unless a stop's drain bound passes first (a batch of ten full records can
/// take many seconds on a busy machine): then the batch is dropped where it is, as a crash would
/// drop it, and its records, still on the queue, come back at the next start (billing recognises
/// what it already posted). Answers false when the bound cut the batch.
async fn bill_within_drain(
    billing: &LocalBilling,
    queue: &DurableQueue,
    deliveries: &[Delivery],
    stop: &mut watch::Receiver<bool>,
    drain_until: &mut Option<Instant>,
) -> bool {
    let billed = bill(billing, queue, deliveries);
    tokio::pin!(billed);
    loop {
        let bound = async {
            match *drain_until {
                Some(until) => tokio::time::sleep_until(until).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = &mut billed => return true,
            changed = stop.changed(), if drain_until.is_none() => {
                if changed.is_err() || *stop.borrow() {
                    *drain_until = Some(Instant::now() + DRAIN_MAX);
                }
            }
            () = bound => return false,
        }
    }
}

/// Bills one batch; what was handled leaves the queue, what failed is released to come back.
async fn bill(billing: &LocalBilling, queue: &DurableQueue, deliveries: &[Delivery]) {
    let outcome = billing.handle(&records(deliveries)).await;
    let (done, failed) = settled(
        deliveries,
        &outcome.failed,
        &outcome.reasons,
        "billing gave no reason (every failure should have one)",
    );
    // A failed delete only means the message comes back: its charges are recognised then.
    if let Err(failure) = queue.delete(done).await {
        error!(%failure, "handled billing messages could not be deleted; they come back");
    }
    if !failed.is_empty()
        && let Err(failure) = queue.release_failed(failed).await
    {
        error!(%failure, "failed billing messages could not be released; they come back later");
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
