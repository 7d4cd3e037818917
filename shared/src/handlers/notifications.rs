//! The notifications handler: events from the notifications queue into the feed (once per id) and
//! onto every endpoint that wants them, and the attempts of each delivery, scheduled back onto the
//! same queue with a delay (never by sleeping). Partial batch failures: a record that failed goes
//! back to the queue, and on to its dead-letter queue.
//!
//! Exactly one chain per (endpoint, event): the delivery item is created by a conditional put, and
//! an attempt runs only after claiming it (a condition on the attempt counter and a lease), so a
//! producer that sent an event five times, or a task the queue delivered twice, makes no second
//! chain. A crash between an attempt and its record repeats the attempt (at least once, same
//! `webhook-id`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use tracing::{error, info};

use super::batch::{Failures, Record, each_message};
use crate::notices::delivery::{
    AttemptRecord, AttemptTask, Delivery, DeliveryStatus, QueueMessage, delivery_key, event_message,
};
use crate::notices::endpoint::{Endpoint, Owner};
use crate::notices::event::{Event, EventData};
use crate::notices::retry::{AttemptOutcome, RetryPolicy};
use crate::notices::signing;
use crate::ports::clock::Clock;
use crate::ports::notices::{
    DeliveryStore, EndpointStore, NoticeFeed, QueueSendDelayed, WebhookPost,
};
use crate::ports::queue::{QueueError, QueueSend};
use crate::ports::store::StoreError;

/// The log line an operator alarm counts (a metric filter in the template).
pub const ENDPOINT_DISABLED_ALARM: &str = "webhook endpoint disabled after a day of failures";

#[derive(Debug, thiserror::Error)]
pub enum NoticeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("notifications queue: {0}")]
    Queue(#[from] QueueError),
    #[error("unreadable message: {0}")]
    Unreadable(String),
}

fn epoch_ms(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

pub struct Notifier<S, Q, W> {
    pub store: S,
    /// The notifications queue itself: attempts are scheduled on it.
    pub queue: Q,
    pub web: W,
    pub clock: Arc<dyn Clock>,
    pub policy: RetryPolicy,
}

impl<S, Q, W> Notifier<S, Q, W>
where
    S: NoticeFeed + EndpointStore + DeliveryStore + Send + Sync,
    Q: QueueSend + QueueSendDelayed + Send + Sync,
    W: WebhookPost + Send + Sync,
{
    /// A batch from the notifications queue; `failed` are the records to leave on it.
    pub async fn handle(&self, records: &[Record]) -> Failures {
        each_message(records, |message: QueueMessage| self.process(message)).await
    }

    async fn process(&self, message: QueueMessage) -> Result<(), NoticeError> {
        match message {
            QueueMessage::Event(event) => {
                let event = Event::parse(&event.to_json()).map_err(NoticeError::Unreadable)?;
                self.accept(&event).await.map(|_| ())
            }
            QueueMessage::Attempt(task) => self.attempt(&task).await,
        }
    }

    /// Stores the event in the feed (once) and opens a delivery on every endpoint that wants it;
    /// answers the number of first attempts queued.
    pub async fn accept(&self, event: &Event) -> Result<usize, NoticeError> {
        let now = self.clock.now();
        let (stored, new) = self.store.put_notice(event, now).await?;
        let account = Owner::Account(event.account_id.clone());
        let mut endpoints = self.store.list_endpoints(&account).await?;
        endpoints.extend(self.store.list_endpoints(&Owner::Platform).await?);
        let key = delivery_key(stored.stored_ms, &stored.event.id);
        let mut tasks = Vec::new();
        for endpoint in endpoints
            .iter()
            .filter(|endpoint| endpoint.enabled && endpoint.wants(event.event_type()))
        {
            let (delivery, _) = self
                .store
                .open_delivery(&Delivery {
                    endpoint_id: endpoint.id.clone(),
                    event_id: stored.event.id.clone(),
                    key: key.clone(),
                    body: stored.event.to_json(),
                    status: DeliveryStatus::Pending,
                    attempts_made: 0,
                    first_attempt_ms: None,
                    lease_until_ms: 0,
                    log: Vec::new(),
                    created_ms: epoch_ms(now),
                })
                .await?;
            // Not started yet (new, or a crash before its first task was queued): queue it. A
            // task queued twice is harmless: only one claims the attempt.
            if delivery.status == DeliveryStatus::Pending && delivery.attempts_made == 0 {
                tasks.push(
                    QueueMessage::Attempt(AttemptTask {
                        owner: endpoint.owner.to_string(),
                        endpoint_id: endpoint.id.clone(),
                        event_id: stored.event.id.clone(),
                        delivery_key: key.clone(),
                        attempt: 1,
                        not_before_ms: 0,
                    })
                    .to_json(),
                );
            }
        }
        self.queue.send_all(&tasks).await?;
        info!(event_id = %event.id, new, deliveries = tasks.len(), "event accepted");
        Ok(tasks.len())
    }

    /// Makes one attempt of a delivery, records it, and schedules the next if one is due.
    pub async fn attempt(&self, task: &AttemptTask) -> Result<(), NoticeError> {
        let now = self.clock.now();
        let now_ms = epoch_ms(now);
        if task.not_before_ms > now_ms {
            // Early (SQS delays at most 15 minutes): hop on with the rest of the wait.
            let wait =
                Duration::from_millis(u64::try_from(task.not_before_ms - now_ms).unwrap_or(0));
            let body = QueueMessage::Attempt(task.clone()).to_json();
            return Ok(self.queue.send_delayed(body, wait).await?);
        }
        let Some(owner) = task.owner() else {
            return Err(NoticeError::Unreadable(format!("owner {:?}", task.owner)));
        };
        let Some(endpoint) = self.store.get_endpoint(&owner, &task.endpoint_id).await? else {
            info!(endpoint_id = %task.endpoint_id, "endpoint deleted; delivery dropped");
            return Ok(());
        };
        let lease_until = now_ms + millis(self.policy.attempt_timeout + self.policy.lease_margin);
        let Some(delivery) = self
            .store
            .claim_attempt(
                &endpoint.id,
                &task.delivery_key,
                task.attempt,
                now_ms,
                lease_until,
            )
            .await?
        else {
            return self.after_refused_claim(task, now_ms).await;
        };
        if !endpoint.enabled {
            let record = AttemptRecord::new(
                task.attempt,
                now_ms,
                None,
                Some("endpoint disabled".into()),
                0,
            );
            self.store
                .record_attempt(
                    &endpoint.id,
                    &task.delivery_key,
                    &record,
                    DeliveryStatus::Skipped,
                )
                .await?;
            return Ok(());
        }
        self.post_and_record(task, &owner, &endpoint, &delivery, now)
            .await
    }

    /// The claim was refused: a duplicate task, a delivery that ended or moved on, or this attempt
    /// claimed by a worker whose lease has not lapsed. That worker may have died between its claim
    /// and its record (the queue then hands the task out again, as the runner does after a kill):
    /// dropping the task would end the chain unrecorded, so it is queued again for when the lease
    /// lapses. If the worker lives and records, that task's claim is refused as a duplicate.
    async fn after_refused_claim(
        &self,
        task: &AttemptTask,
        now_ms: i64,
    ) -> Result<(), NoticeError> {
        let Some(delivery) = self
            .store
            .get_delivery(&task.endpoint_id, &task.delivery_key)
            .await?
        else {
            return Ok(());
        };
        // Recording an attempt clears its lease, and a later claim moves `attempts_made` on.
        let claimed_unrecorded = delivery.status == DeliveryStatus::Pending
            && delivery.attempts_made == task.attempt
            && delivery.lease_until_ms >= now_ms;
        if !claimed_unrecorded {
            return Ok(());
        }
        let retake = AttemptTask {
            not_before_ms: delivery.lease_until_ms + 1,
            ..task.clone()
        };
        // A lease lasts an attempt's timeout and margin; a longer wait hops on (see `attempt`).
        let wait = Duration::from_millis(u64::try_from(retake.not_before_ms - now_ms).unwrap_or(0));
        info!(event_id = %task.event_id, endpoint_id = %task.endpoint_id, attempt = task.attempt,
            wait_ms = millis(wait), "attempt claimed and not recorded; retaken when its lease lapses");
        Ok(self
            .queue
            .send_delayed(QueueMessage::Attempt(retake).to_json(), wait)
            .await?)
    }

    /// Posts the delivery to the endpoint, signed, and records the attempt: delivered, or failed
    /// with the next attempt queued when one is due.
    async fn post_and_record(
        &self,
        task: &AttemptTask,
        owner: &Owner,
        endpoint: &Endpoint,
        delivery: &Delivery,
        now: OffsetDateTime,
    ) -> Result<(), NoticeError> {
        let now_ms = epoch_ms(now);
        let id = delivery.event_id.as_str();
        let headers = signing::headers(
            &endpoint.signing_secrets(now),
            id,
            now.unix_timestamp(),
            &delivery.body,
        );
        let started = Instant::now();
        let outcome = self
            .web
            .post(
                &endpoint.url,
                &headers,
                &delivery.body,
                self.policy.attempt_timeout,
            )
            .await;
        let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let record = AttemptRecord::new(
            task.attempt,
            now_ms,
            outcome.status_code(),
            outcome.error(),
            latency_ms,
        );
        info!(event_id = id, endpoint_id = %endpoint.id, attempt = task.attempt,
            status = ?outcome.status_code(), error = ?outcome.error(), latency_ms, "webhook attempt");
        if outcome.is_success() {
            self.store
                .record_attempt(
                    &endpoint.id,
                    &task.delivery_key,
                    &record,
                    DeliveryStatus::Delivered,
                )
                .await?;
            if endpoint.failing_since.is_some() {
                self.store.endpoint_succeeded(owner, &endpoint.id).await?;
            }
            return Ok(());
        }
        let status = self
            .after_failure(task, endpoint, delivery, &outcome, now)
            .await?;
        self.store
            .record_attempt(&endpoint.id, &task.delivery_key, &record, status)
            .await?;
        Ok(())
    }

    /// After a failed attempt: the next one queued when one is due (and the endpoint not just
    /// disabled); the delivery's status to record.
    async fn after_failure(
        &self,
        task: &AttemptTask,
        endpoint: &Endpoint,
        delivery: &Delivery,
        outcome: &AttemptOutcome,
        now: OffsetDateTime,
    ) -> Result<DeliveryStatus, NoticeError> {
        let now_ms = epoch_ms(now);
        let elapsed = Duration::from_millis(
            u64::try_from(now_ms - delivery.first_attempt_ms.unwrap_or(now_ms)).unwrap_or(0),
        );
        let policy = self.policy;
        let mut next = policy.next_wait(outcome, task.attempt + 1, elapsed, |index| {
            crate::adapters::backoff::backoff(index, policy.base, policy.cap)
        });
        if self.failed(endpoint, now).await? {
            next = None;
        }
        if let Some(wait) = next {
            // Queued before the attempt is recorded: a crash in between repeats the attempt
            // rather than losing the chain.
            let following = AttemptTask {
                attempt: task.attempt + 1,
                not_before_ms: now_ms + millis(wait),
                ..task.clone()
            };
            self.queue
                .send_delayed(QueueMessage::Attempt(following).to_json(), wait)
                .await?;
        }
        Ok(if next.is_some() {
            DeliveryStatus::Pending
        } else {
            DeliveryStatus::Failed
        })
    }

    /// Notes a failure on the endpoint; after `disable_after` of failures without a success it is
    /// disabled, an operator alarm counts it, and the account is told. `true` when disabled.
    async fn failed(&self, endpoint: &Endpoint, now: OffsetDateTime) -> Result<bool, NoticeError> {
        let Some(since) = self
            .store
            .endpoint_failed(&endpoint.owner, &endpoint.id, now)
            .await?
        else {
            return Ok(false);
        };
        let failing = now - since;
        if failing < self.policy.disable_after {
            return Ok(false);
        }
        let reason = format!("every attempt failed for {} hours", failing.whole_hours());
        if self
            .store
            .disable_endpoint(&endpoint.owner, &endpoint.id, &reason)
            .await?
        {
            error!(endpoint_id = %endpoint.id, owner = %endpoint.owner, "{ENDPOINT_DISABLED_ALARM}");
        }
        // Sent whether this call disabled it or a retry of it did: the id makes it one notice.
        if let Owner::Account(account) = &endpoint.owner {
            let key = format!("{}.{}", endpoint.id, epoch_ms(since));
            let data = EventData::WebhookEndpointDisabled {
                endpoint_id: endpoint.id.to_string(),
                url: endpoint.url.clone(),
                failing_since: since,
            };
            let event = Event::new(account, &key, now, data)
                .map_err(|problem| NoticeError::Unreadable(problem.to_string()))?;
            self.queue.send_all(&[event_message(&event)]).await?;
        }
        Ok(true)
    }
}
