//! Dead letters: messages received too often, and items the webhook could not read but that may
//! be billable. They persist, are listed a page at a time, and (the former) are redriven to their
//! queue.

use rusqlite::{Connection, Transaction, TransactionBehavior, params};
use serde::{Deserialize, Serialize};

use super::schema::{DEAD, check_room, stats};
use super::{QueueLimits, QueueStore, now_ms, unavailable};
use crate::ports::queue::QueueError;

/// Dead letters held at most (all queues): past this a message stays on its queue, so the queue
/// fills and refuses new work rather than anything being dropped.
pub const DEAD_LETTERS_LIMITS: QueueLimits = QueueLimits {
    messages_max: 100_000,
    bytes_max: 256 * 1024 * 1024,
};
/// Most dead letters one page lists, and one redrive moves.
pub const DEAD_LETTERS_PER_PAGE_MAX: u32 = 1_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeadLetter {
    pub id: u64,
    /// The queue it belongs to (and is redriven to).
    pub queue: String,
    pub body: String,
    pub receive_count: u32,
    pub reason: String,
    /// False for an item the webhook could not read: sending it again would fail the same way.
    pub redrivable: bool,
    pub dead_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeadLetterPage {
    pub dead_letters: Vec<DeadLetter>,
    /// Pass as `after` for the next page; absent on the last.
    pub next_after: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RedriveOutcome {
    pub redriven: Vec<u64>,
    pub not_found: Vec<u64>,
    pub not_redrivable: Vec<u64>,
}

/// The reason a webhook dead letter states (see `meta::skipped`).
#[derive(Deserialize)]
struct Stated {
    reason: String,
}

/// The webhook's letters for items it skipped, on `queue`'s dead letters, not redrivable.
pub fn insert_skipped(
    transaction: &Transaction<'_>,
    queue: &str,
    letters: &[String],
) -> Result<(), QueueError> {
    if letters.is_empty() {
        return Ok(());
    }
    let bytes = letters.iter().map(String::len).sum();
    check_room(transaction, DEAD, DEAD_LETTERS_LIMITS, letters.len(), bytes)?;
    let now = now_ms();
    let mut statement = transaction
        .prepare_cached(
            "INSERT INTO dead_letters (queue, body, receive_count, reason, redrivable, dead_at_ms) \
             VALUES (?1, ?2, 0, ?3, 0, ?4)",
        )
        .map_err(unavailable)?;
    for letter in letters {
        let stated = serde_json::from_str::<Stated>(letter)
            .map(|stated| stated.reason)
            .unwrap_or_else(|_| "unreadable".to_owned());
        let reason = format!("skipped by the webhook, may be billable: {stated}");
        statement
            .execute(params![queue, letter, reason, now])
            .map_err(unavailable)?;
    }
    Ok(())
}

/// Moves message `id` to the dead letters with `reason`; if they are full it stays where it is.
pub fn move_to_dead(
    transaction: &Transaction<'_>,
    id: i64,
    reason: &str,
) -> Result<(), QueueError> {
    let length: i64 = transaction
        .query_row(
            "SELECT length(CAST(body AS BLOB)) FROM messages WHERE id = ?1",
            [id],
            |row| row.get(0),
        )
        .map_err(unavailable)?;
    if let Err(full) = check_room(
        transaction,
        DEAD,
        DEAD_LETTERS_LIMITS,
        1,
        length.max(0) as usize,
    ) {
        tracing::error!(%full, "a message cannot be dead-lettered; it stays on its queue");
        return Ok(());
    }
    transaction
        .execute(
            "INSERT INTO dead_letters (queue, body, receive_count, reason, redrivable, dead_at_ms) \
             SELECT queue, body, receive_count, ?2, 1, ?3 FROM messages WHERE id = ?1",
            params![id, reason, now_ms()],
        )
        .map_err(unavailable)?;
    transaction
        .execute("DELETE FROM messages WHERE id = ?1", [id])
        .map_err(unavailable)?;
    tracing::warn!(id, reason, "message dead-lettered");
    Ok(())
}

fn list(
    connection: &Connection,
    queue: Option<&str>,
    after: u64,
    limit: u32,
) -> rusqlite::Result<Vec<DeadLetter>> {
    let mut statement = connection.prepare_cached(
        "SELECT id, queue, body, receive_count, reason, redrivable, dead_at_ms FROM dead_letters \
         WHERE id > ?1 AND (?2 IS NULL OR queue = ?2) ORDER BY id LIMIT ?3",
    )?;
    let rows = statement.query_map(params![after as i64, queue, limit], |row| {
        Ok(DeadLetter {
            id: row.get::<_, i64>(0)?.max(0) as u64,
            queue: row.get(1)?,
            body: row.get(2)?,
            receive_count: row.get(3)?,
            reason: row.get(4)?,
            redrivable: row.get(5)?,
            dead_at_ms: row.get(6)?,
        })
    })?;
    rows.collect()
}

impl QueueStore {
    /// Dead letters oldest first, after id `after` (0: from the start), of `queue` or all.
    pub fn dead_letters(
        &self,
        queue: Option<&str>,
        after: u64,
        limit: u32,
    ) -> Result<DeadLetterPage, QueueError> {
        let limit = limit.clamp(1, DEAD_LETTERS_PER_PAGE_MAX);
        let dead_letters = list(&self.connection(), queue, after, limit).map_err(unavailable)?;
        let next_after = (dead_letters.len() == limit as usize)
            .then(|| dead_letters.last().map(|letter| letter.id))
            .flatten();
        Ok(DeadLetterPage {
            dead_letters,
            next_after,
        })
    }

    /// Dead letters held, and their bytes.
    pub fn dead_letter_count(&self) -> Result<(u64, u64), QueueError> {
        stats(&self.connection(), DEAD).map_err(unavailable)
    }

    /// Moves the dead letters `ids` back to their queues, as new messages (first delivery next),
    /// all or none; a queue's bound still holds (`Unavailable` when it would pass it).
    pub fn redrive(
        &self,
        ids: &[u64],
        limits: impl Fn(&str) -> Option<QueueLimits>,
    ) -> Result<RedriveOutcome, QueueError> {
        if ids.len() > DEAD_LETTERS_PER_PAGE_MAX as usize {
            return Err(QueueError::TooMany(ids.len()));
        }
        let mut outcome = RedriveOutcome::default();
        let mut queues = Vec::new();
        {
            let mut connection = self.connection();
            let transaction = connection
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(unavailable)?;
            for &id in ids {
                let found = super::optional(transaction.query_row(
                    "SELECT queue, redrivable, length(CAST(body AS BLOB)) FROM dead_letters WHERE id = ?1",
                    [id as i64],
                    |row| Ok((row.get::<_, String>(0)?, row.get::<_, bool>(1)?, row.get::<_, i64>(2)?)),
                ))
                .map_err(unavailable)?;
                let Some((queue, redrivable, length)) = found else {
                    outcome.not_found.push(id);
                    continue;
                };
                let Some(queue_limits) = limits(&queue).filter(|_| redrivable) else {
                    outcome.not_redrivable.push(id);
                    continue;
                };
                check_room(
                    &transaction,
                    &queue,
                    queue_limits,
                    1,
                    length.max(0) as usize,
                )?;
                transaction
                    .execute(
                        "INSERT INTO messages (queue, body) SELECT queue, body FROM dead_letters WHERE id = ?1",
                        [id as i64],
                    )
                    .map_err(unavailable)?;
                transaction
                    .execute("DELETE FROM dead_letters WHERE id = ?1", [id as i64])
                    .map_err(unavailable)?;
                outcome.redriven.push(id);
                queues.push(queue);
            }
            transaction.commit().map_err(unavailable)?;
        }
        for queue in queues {
            self.arrival(&queue).notify_one();
        }
        Ok(outcome)
    }
}
