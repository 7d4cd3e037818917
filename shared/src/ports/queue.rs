//! Queues as a port: SQS in AWS, an in-process queue on the local runner.

use std::future::Future;
use std::time::Duration;

/// SQS's limit on a message body, defined where billing packs its messages to it.
pub use crate::billing::message::MESSAGE_BODY_LEN_MAX;
/// SQS takes at most 10 entries in a `SendMessageBatch`.
pub const MESSAGES_PER_BATCH_MAX: usize = 10;
/// Attempts at sending an entry the queue failed on its side before giving up.
pub const SEND_ATTEMPTS_MAX: u32 = 5;
/// Messages one `send_all` call may carry (a webhook body of 1,000 statuses packs into far fewer).
pub const MESSAGES_PER_SEND_MAX: usize = 1_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    // The messages are wrong: do not retry them as they are.
    #[error("message {index} is {len} bytes, over the {MESSAGE_BODY_LEN_MAX}-byte limit")]
    TooLarge { index: usize, len: usize },
    #[error("{0} messages in one send, over the {MESSAGES_PER_SEND_MAX} limit")]
    TooMany(usize),
    #[error("the queue refused a message: {0}")]
    Rejected(String),
    // The queue did not take them all: some may have been sent. Retry later (receivers are
    // idempotent, so a message sent twice is harmless; a message never sent is not).
    #[error("queue unavailable: {0}")]
    Unavailable(String),
}

impl QueueError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, QueueError::Unavailable(_))
    }
}

pub trait QueueSend {
    /// Sends every message, or fails. Never returns `Ok` with a message unsent.
    fn send_all(&self, bodies: &[String]) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// True if an [`Intake`] under `key` was taken before, so a replay of the very same bytes can
    /// be acknowledged without being read again. A queue that keeps no record of intakes (SQS)
    /// answers false, and the replay is handled in full (billing is idempotent either way).
    fn taken_before(&self, _key: &str) -> impl Future<Output = Result<bool, QueueError>> + Send {
        std::future::ready(Ok(false))
    }

    /// Takes one webhook body's messages and dead letters at once, remembering `key`. The default
    /// sends the messages and keeps no dead letters (a plain queue); the webhook's queues keep them:
    /// the runner's dead letters, and in AWS the skipped-items queue (`adapters::sqs_webhook`).
    fn take(&self, intake: Intake<'_>) -> impl Future<Output = Result<(), QueueError>> + Send
    where
        Self: Sync,
    {
        async move { self.send_all(intake.bodies).await }
    }
}

/// What one accepted webhook body puts on the billing queue.
#[derive(Debug, Clone, Copy)]
pub struct Intake<'a> {
    /// Names the exact bytes taken (their verified signature), so a replay is recognised.
    pub key: &'a str,
    pub bodies: &'a [String],
    /// Items that may be billable but could not be read, each a JSON record with its reason.
    pub dead_letters: &'a [String],
}

/// One entry a batch send did not take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedEntry {
    /// Index of the message within the batch that was sent.
    pub index: usize,
    /// The sender's fault (a bad message): retrying will not help.
    pub sender_fault: bool,
    pub reason: String,
}

/// Refuses a send with a body over [`MESSAGE_BODY_LEN_MAX`], naming the first.
pub fn check_body_lengths(bodies: &[String]) -> Result<(), QueueError> {
    match bodies
        .iter()
        .enumerate()
        .find(|(_, body)| body.len() > MESSAGE_BODY_LEN_MAX)
    {
        Some((index, body)) => Err(QueueError::TooLarge {
            index,
            len: body.len(),
        }),
        None => Ok(()),
    }
}

/// Checks sizes, then packs `bodies` into batches of at most [`MESSAGES_PER_BATCH_MAX`] entries
/// and [`MESSAGE_BODY_LEN_MAX`] bytes, sends each with `send_batch`, and resends the entries that
/// failed on the queue's side, up to [`SEND_ATTEMPTS_MAX`] times with backoff. Shared by the
/// adapters so the batching rules are written once.
pub async fn send_in_batches<F, Fut>(bodies: &[String], send_batch: F) -> Result<(), QueueError>
where
    F: Fn(Vec<String>) -> Fut,
    Fut: Future<Output = Result<Vec<FailedEntry>, QueueError>>,
{
    if bodies.len() > MESSAGES_PER_SEND_MAX {
        return Err(QueueError::TooMany(bodies.len()));
    }
    check_body_lengths(bodies)?;
    for batch in pack(bodies) {
        let mut pending: Vec<&str> = batch;
        for attempt in 0..SEND_ATTEMPTS_MAX {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(20 << attempt)).await;
            }
            // Owned bodies keep the sender's future free of borrows from this loop.
            let failed =
                send_batch(pending.iter().map(|body| (*body).to_owned()).collect()).await?;
            if let Some(bad) = failed.iter().find(|entry| entry.sender_fault) {
                return Err(QueueError::Rejected(bad.reason.clone()));
            }
            debug_assert!(failed.iter().all(|entry| entry.index < pending.len()));
            pending = failed
                .iter()
                .filter_map(|entry| pending.get(entry.index).copied())
                .collect();
            if pending.is_empty() {
                break;
            }
        }
        if !pending.is_empty() {
            return Err(QueueError::Unavailable(format!(
                "{} messages still unsent after {SEND_ATTEMPTS_MAX} attempts",
                pending.len()
            )));
        }
    }
    Ok(())
}

/// Greedy packing in order: a batch closes when the next body would break a limit.
fn pack(bodies: &[String]) -> Vec<Vec<&str>> {
    let mut batches: Vec<Vec<&str>> = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    let mut current_len = 0;
    for body in bodies {
        let full = current.len() == MESSAGES_PER_BATCH_MAX
            || current_len + body.len() > MESSAGE_BODY_LEN_MAX;
        if full && !current.is_empty() {
            batches.push(std::mem::take(&mut current));
            current_len = 0;
        }
        current_len += body.len();
        current.push(body);
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn packing_respects_both_limits_and_keeps_order() {
        let small: Vec<String> = (0..23).map(|i| i.to_string()).collect();
        let batches = pack(&small);
        assert_eq!(
            batches.iter().map(Vec::len).collect::<Vec<_>>(),
            [10, 10, 3]
        );
        assert_eq!(
            batches.concat(),
            small.iter().map(String::as_str).collect::<Vec<_>>()
        );
        let big: Vec<String> = (0..3).map(|_| "x".repeat(100 * 1024)).collect();
        assert_eq!(pack(&big).iter().map(Vec::len).collect::<Vec<_>>(), [2, 1]);
    }

    #[tokio::test]
    async fn entries_the_queue_failed_are_resent_until_all_are_taken() {
        let bodies: Vec<String> = (0..12).map(|i| format!("m{i}")).collect();
        let sent = Mutex::new(Vec::new());
        let calls = Mutex::new(0);
        send_in_batches(&bodies, |batch| {
            let mut calls_so_far = calls.lock().unwrap();
            *calls_so_far += 1;
            // The first call fails its 2nd and 4th entries on the queue's side.
            let failed: Vec<FailedEntry> = if *calls_so_far == 1 {
                [1, 3]
                    .map(|index| FailedEntry {
                        index,
                        sender_fault: false,
                        reason: "busy".into(),
                    })
                    .to_vec()
            } else {
                Vec::new()
            };
            let mut sent = sent.lock().unwrap();
            for (index, body) in batch.iter().enumerate() {
                if !failed.iter().any(|entry| entry.index == index) {
                    sent.push(body.to_string());
                }
            }
            async move { Ok(failed) }
        })
        .await
        .unwrap();
        let mut sent = sent.into_inner().unwrap();
        sent.sort();
        let mut expected = bodies.clone();
        expected.sort();
        assert_eq!(sent, expected);
        assert_eq!(calls.into_inner().unwrap(), 3);
    }

    #[tokio::test]
    async fn limits_and_sender_faults_are_errors_and_persistent_failure_is_unavailable() {
        let oversized = vec!["ok".to_owned(), "x".repeat(MESSAGE_BODY_LEN_MAX + 1)];
        let never = |_: Vec<String>| async { panic!("nothing may be sent") };
        assert_eq!(
            send_in_batches(&oversized, never).await,
            Err(QueueError::TooLarge {
                index: 1,
                len: MESSAGE_BODY_LEN_MAX + 1
            })
        );
        let too_many = vec!["m".to_owned(); MESSAGES_PER_SEND_MAX + 1];
        assert!(matches!(
            send_in_batches(&too_many, never).await,
            Err(QueueError::TooMany(_))
        ));

        let bodies = vec!["a".to_owned(), "b".to_owned()];
        let bad = send_in_batches(&bodies, |_| async {
            Ok(vec![FailedEntry {
                index: 0,
                sender_fault: true,
                reason: "invalid".into(),
            }])
        })
        .await;
        assert_eq!(bad, Err(QueueError::Rejected("invalid".into())));
        let down = send_in_batches(&bodies, |batch| async move {
            Ok((0..batch.len())
                .map(|index| FailedEntry {
                    index,
                    sender_fault: false,
                    reason: "x".into(),
                })
                .collect())
        })
        .await;
        assert!(matches!(down, Err(QueueError::Unavailable(_))));
    }
}
