//! Durable queues for the local runner, on a SQLite file: what a queue took is on disk before
//! `send_all`/`take` returns, and leaves only when its receiver deletes it. The delivery rules are
//! SQS's: a received message is hidden until deleted or released, comes back after its visibility
//! timeout (or at the next start, since the process that held it is gone), and goes to the dead
//! letters after too many receives. Dead letters persist, are listed and redriven (`dead_letters`).
//!
//! Every queue is bounded by messages and bytes (kept exact by triggers in the same transactions),
//! and a send past a bound fails as [`QueueError::Unavailable`], so the webhook answers 503 and Meta
//! retries, instead of memory or disk following the backlog.

mod dead_letters;
mod schema;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use tokio::sync::Notify;

pub use dead_letters::{DeadLetter, DeadLetterPage, RedriveOutcome};

use crate::ports::queue::{Intake, QueueError, QueueSend, check_body_lengths};

/// Most messages one receive hands out (SQS's batch limit).
pub const RECEIVE_MAX: usize = 10;
/// How long a replay of the same bytes is recognised (Meta retries for up to 7 days).
const INTAKE_MEMORY_MS: i64 = 7 * 24 * 3600 * 1000;
/// Intake keys remembered at most; the oldest are forgotten first (a forgotten replay is only
/// handled in full, and billing recognises its charges).
const INTAKES_MAX: i64 = 1_000_000;
/// Intakes between two prunings of the remembered keys.
const TAKES_PER_PRUNE: u64 = 1_024;
/// A failure's reason kept with its message at most (bytes; cut on a character boundary).
pub const LAST_ERROR_LEN_MAX: usize = 1_024;

/// `text`, at most `len_max` bytes of it.
fn cut(text: &str, len_max: usize) -> &str {
    let mut end = text.len().min(len_max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The reason a message is dead-lettered: its deliveries and the last failure's reason.
fn dead_reason(receive_count: u32, last_error: Option<&str>, visibility: Duration) -> String {
    match last_error {
        Some(error) => format!("not handled after {receive_count} deliveries; last error: {error}"),
        None => format!(
            "not handled after {receive_count} deliveries; no error was reported (each delivery \
             outlived its {} s visibility, or the runner stopped while handling it)",
            visibility.as_secs()
        ),
    }
}

/// A queue's bounds: past either, sends fail and the sender retries later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueLimits {
    pub messages_max: u64,
    pub bytes_max: u64,
}

/// How a queue delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueRules {
    /// Deliveries before a message is dead-lettered (SQS's `maxReceiveCount`).
    pub receives_max: u32,
    pub visibility: Duration,
    pub limits: QueueLimits,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The message's id: deleting or releasing it names the message.
    pub receipt: u64,
    pub body: String,
    /// 1 on the first delivery.
    pub receive_count: u32,
}

/// The queues' file. Cheap to clone; one connection, used off the async workers.
#[derive(Clone)]
pub struct QueueStore {
    inner: Arc<Inner>,
}

struct Inner {
    connection: Mutex<Connection>,
    /// One per queue name, so a consumer wakes for its own queue's sends and redrives.
    arrivals: Mutex<HashMap<String, Arc<Notify>>>,
    takes: std::sync::atomic::AtomicU64,
}

pub(crate) fn unavailable(error: impl std::fmt::Display) -> QueueError {
    QueueError::Unavailable(format!("local queue store: {error}"))
}

pub(crate) fn now_ms() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

impl QueueStore {
    /// Opens (or creates, readable by its owner only) the queues' file at `path`.
    pub fn open(path: &Path) -> Result<Self, QueueError> {
        schema::create_private_file(path).map_err(unavailable)?;
        let connection = Connection::open(path).map_err(unavailable)?;
        schema::prepare(&connection).map_err(unavailable)?;
        Ok(Self {
            inner: Arc::new(Inner {
                connection: Mutex::new(connection),
                arrivals: Mutex::default(),
                takes: std::sync::atomic::AtomicU64::new(0),
            }),
        })
    }

    fn connection(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (transactions roll back).
        self.inner
            .connection
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn arrival(&self, queue: &str) -> Arc<Notify> {
        let mut arrivals = self
            .inner
            .arrivals
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Arc::clone(arrivals.entry(queue.to_owned()).or_default())
    }

    /// Runs `work` on the connection on a blocking thread.
    async fn with<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, QueueError> + Send + 'static,
    ) -> Result<T, QueueError> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || work(&mut store.connection()))
            .await
            .map_err(unavailable)?
    }

    /// A queue on this file, by name.
    pub fn queue(&self, name: &'static str, rules: QueueRules) -> DurableQueue {
        assert!(rules.receives_max >= 1);
        assert!(rules.limits.messages_max >= 1 && rules.limits.bytes_max >= 1);
        DurableQueue {
            store: self.clone(),
            name,
            rules,
            arrived: self.arrival(name),
        }
    }

    /// Makes every message in flight visible: called at start, when the process that received
    /// them is gone. Answers how many there were. A delayed message never received
    /// (`receive_count` 0) keeps its delay.
    pub fn resume_in_flight(&self) -> Result<usize, QueueError> {
        self.connection()
            .execute(
                "UPDATE messages SET visible_at_ms = 0 WHERE visible_at_ms > 0 AND receive_count > 0",
                [],
            )
            .map_err(unavailable)
    }

    /// Messages and bytes waiting or in flight on `queue`.
    pub fn depth(&self, queue: &str) -> Result<(u64, u64), QueueError> {
        schema::stats(&self.connection(), queue).map_err(unavailable)
    }
}

/// One queue of a [`QueueStore`]. Cheap to clone.
#[derive(Clone)]
pub struct DurableQueue {
    store: QueueStore,
    name: &'static str,
    rules: QueueRules,
    arrived: Arc<Notify>,
}

impl DurableQueue {
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Up to `max` (at most [`RECEIVE_MAX`]) messages, oldest first, each hidden until deleted,
    /// released or its visibility passes. Messages received too often go to the dead letters.
    pub async fn receive(&self, max: usize) -> Result<Vec<Delivery>, QueueError> {
        let (name, rules) = (self.name, self.rules);
        let max = max.min(RECEIVE_MAX);
        self.store
            .with(move |connection| receive(connection, name, rules, max))
            .await
    }

    /// Handled: gone for good.
    pub async fn delete(&self, receipts: Vec<u64>) -> Result<(), QueueError> {
        self.store
            .with(move |connection| {
                set_each(connection, "DELETE FROM messages WHERE id = ?1", &receipts)
            })
            .await
    }

    /// Not handled, each for the reason given: visible again at once, and the reason kept, so
    /// the dead letter it may become says why it failed (a reason is cut to [`LAST_ERROR_LEN_MAX`]).
    pub async fn release_failed(&self, failed: Vec<(u64, String)>) -> Result<(), QueueError> {
        self.store
            .with(move |connection| {
                let transaction = connection.transaction().map_err(unavailable)?;
                {
                    let mut statement = transaction
                        .prepare_cached(
                            "UPDATE messages SET visible_at_ms = 0, last_error = ?2 WHERE id = ?1",
                        )
                        .map_err(unavailable)?;
                    for (receipt, reason) in &failed {
                        let id = i64::try_from(*receipt).map_err(unavailable)?;
                        let reason = cut(reason, LAST_ERROR_LEN_MAX);
                        statement
                            .execute(params![id, reason])
                            .map_err(unavailable)?;
                    }
                }
                transaction.commit().map_err(unavailable)
            })
            .await?;
        self.arrived.notify_one();
        Ok(())
    }

    /// Not handled, no reason known: visible again at once.
    pub async fn release(&self, receipts: Vec<u64>) -> Result<(), QueueError> {
        let sql = "UPDATE messages SET visible_at_ms = 0 WHERE id = ?1";
        self.store
            .with(move |connection| set_each(connection, sql, &receipts))
            .await?;
        self.arrived.notify_one();
        Ok(())
    }

    /// Messages and bytes waiting or in flight.
    pub fn depth(&self) -> Result<(u64, u64), QueueError> {
        self.store.depth(self.name)
    }

    /// Waits until a message may have arrived, or `timeout` passed (another process, such as the
    /// `dead-letters redrive` command, can add messages without waking this one).
    pub async fn wait(&self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.arrived.notified()).await;
    }

    /// Takes `bodies` (hidden for `delay`), and `dead_letters`, in one transaction; with `key`,
    /// remembers it and takes nothing if it was taken before.
    async fn take_owned(
        &self,
        key: Option<String>,
        bodies: Vec<String>,
        dead_letters: Vec<String>,
        delay: Duration,
    ) -> Result<(), QueueError> {
        check_body_lengths(&bodies)?;
        let (name, limits) = (self.name, self.rules.limits);
        let takes = self
            .store
            .inner
            .takes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let prune = takes.is_multiple_of(TAKES_PER_PRUNE);
        let sent = !bodies.is_empty();
        let visible_at_ms = if delay.is_zero() {
            0
        } else {
            now_ms().saturating_add(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX))
        };
        self.store
            .with(move |connection| {
                let transaction = connection
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(unavailable)?;
                if let Some(key) = &key
                    && schema::intake_known(&transaction, key).map_err(unavailable)?
                {
                    return Ok(());
                }
                schema::insert_messages(&transaction, name, limits, &bodies, visible_at_ms)?;
                dead_letters::insert_skipped(&transaction, name, &dead_letters)?;
                if let Some(key) = &key {
                    schema::remember_intake(&transaction, key, now_ms(), prune)?;
                }
                transaction.commit().map_err(unavailable)
            })
            .await?;
        if sent {
            self.arrived.notify_one();
        }
        Ok(())
    }
}

fn set_each(connection: &mut Connection, sql: &str, receipts: &[u64]) -> Result<(), QueueError> {
    let transaction = connection.transaction().map_err(unavailable)?;
    {
        let mut statement = transaction.prepare_cached(sql).map_err(unavailable)?;
        for receipt in receipts {
            let id = i64::try_from(*receipt).map_err(unavailable)?;
            statement.execute([id]).map_err(unavailable)?;
        }
    }
    transaction.commit().map_err(unavailable)
}

fn receive(
    connection: &mut Connection,
    queue: &str,
    rules: QueueRules,
    max: usize,
) -> Result<Vec<Delivery>, QueueError> {
    let now = now_ms();
    let transaction = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(unavailable)?;
    let ready: Vec<(i64, String, u32, Option<String>)> = {
        let mut statement = transaction
            .prepare_cached(
                "SELECT id, body, receive_count, last_error FROM messages \
                 WHERE queue = ?1 AND visible_at_ms <= ?2 ORDER BY id LIMIT ?3",
            )
            .map_err(unavailable)?;
        let rows = statement
            .query_map(params![queue, now, max as i64], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
            })
            .map_err(unavailable)?;
        rows.collect::<Result<_, _>>().map_err(unavailable)?
    };
    let hidden_until =
        now.saturating_add(i64::try_from(rules.visibility.as_millis()).unwrap_or(i64::MAX));
    let mut deliveries = Vec::with_capacity(ready.len());
    for (id, body, receive_count, last_error) in ready {
        if receive_count >= rules.receives_max {
            let reason = dead_reason(receive_count, last_error.as_deref(), rules.visibility);
            dead_letters::move_to_dead(&transaction, id, &reason)?;
            continue;
        }
        transaction
            .prepare_cached(
                "UPDATE messages SET receive_count = receive_count + 1, visible_at_ms = ?2 WHERE id = ?1",
            )
            .and_then(|mut statement| statement.execute(params![id, hidden_until]))
            .map_err(unavailable)?;
        deliveries.push(Delivery {
            receipt: u64::try_from(id).map_err(unavailable)?,
            body,
            receive_count: receive_count + 1,
        });
    }
    transaction.commit().map_err(unavailable)?;
    Ok(deliveries)
}

impl QueueSend for DurableQueue {
    async fn send_all(&self, bodies: &[String]) -> Result<(), QueueError> {
        self.take_owned(None, bodies.to_vec(), Vec::new(), Duration::ZERO)
            .await
    }

    async fn taken_before(&self, key: &str) -> Result<bool, QueueError> {
        let key = key.to_owned();
        self.store
            .with(move |connection| schema::intake_known(connection, &key).map_err(unavailable))
            .await
    }

    async fn take(&self, intake: Intake<'_>) -> Result<(), QueueError> {
        self.take_owned(
            Some(intake.key.to_owned()),
            intake.bodies.to_vec(),
            intake.dead_letters.to_vec(),
            Duration::ZERO,
        )
        .await
    }
}

impl crate::ports::notices::QueueSendDelayed for DurableQueue {
    /// On disk before it returns, hidden until `delay` passes (across restarts too: the delay is
    /// stored as the instant it ends). Unlike SQS there is no 15-minute cap.
    async fn send_delayed(&self, body: String, delay: Duration) -> Result<(), QueueError> {
        self.take_owned(None, vec![body], Vec::new(), delay).await
    }
}

/// `Some(x)` of an optional single row, for the helpers.
pub(crate) fn optional<T>(result: rusqlite::Result<T>) -> rusqlite::Result<Option<T>> {
    result.optional()
}

#[cfg(test)]
mod tests;
