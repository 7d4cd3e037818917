//! The webhook's queues on SQS: the billing queue, and the queue that keeps every item that may be
//! billable but could not be read, each a JSON dead-letter record with its reason (as the local
//! runner keeps them in its dead letters). The `PossiblyBillableSkipped` metric and its alarm say
//! that it happened; the record says what and why, for 14 days.

use crate::adapters::sqs::SqsQueue;
use crate::ports::queue::{
    Intake, MESSAGE_BODY_LEN_MAX, MESSAGES_PER_SEND_MAX, QueueError, QueueSend,
};

/// What a record over SQS's size keeps of itself: its start, which holds the source and reason
/// (the item as sent comes last), within the limit with room for the wrapper.
const LETTER_START_LEN_MAX: usize = MESSAGE_BODY_LEN_MAX - 4 * 1024;

#[derive(Debug, Clone)]
pub struct WebhookQueues {
    pub billing: SqsQueue,
    /// Records of items skipped that may be billable (`WEBHOOK_SKIPPED_QUEUE_URL`).
    pub skipped: SqsQueue,
}

/// `letter` as it can be sent: itself, or (past SQS's limit) a record of its start and size.
pub fn fit_letter(letter: &str) -> String {
    if letter.len() <= MESSAGE_BODY_LEN_MAX {
        return letter.to_owned();
    }
    let mut end = LETTER_START_LEN_MAX;
    // JSON escaping can grow the start: each pass that does not fit keeps three quarters of it,
    // so the loop ends (an empty start always fits).
    loop {
        while !letter.is_char_boundary(end) {
            end -= 1;
        }
        let fitted = serde_json::json!({
            "source": crate::meta::skipped::SOURCE,
            "truncated_from_bytes": letter.len(),
            "letter_start": &letter[..end],
        })
        .to_string();
        if fitted.len() <= MESSAGE_BODY_LEN_MAX {
            return fitted;
        }
        assert!(end > 0, "an empty start fits");
        end = end * 3 / 4;
    }
}

impl QueueSend for WebhookQueues {
    async fn send_all(&self, bodies: &[String]) -> Result<(), QueueError> {
        self.billing.send_all(bodies).await
    }

    /// The records first, then the billing messages: a failure of either answers Meta 503 and
    /// its retry sends both again (a record twice is noise; billing is idempotent).
    async fn take(&self, intake: Intake<'_>) -> Result<(), QueueError> {
        let letters: Vec<String> = intake.dead_letters.iter().map(|l| fit_letter(l)).collect();
        for chunk in letters.chunks(MESSAGES_PER_SEND_MAX) {
            self.skipped.send_all(chunk).await?;
        }
        self.billing.send_all(intake.bodies).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_past_the_limit_keeps_its_start_with_the_reason_and_fits() {
        let small = r#"{"source":"meta_webhook","reason":"status.timestamp is not valid"}"#;
        assert_eq!(fit_letter(small), small);
        for filler in ["x", "\u{1}", "é"] {
            let letter = format!(
                r#"{{"source":"meta_webhook","reason":"status.id is too long","item":{{"id":"{}"}}}}"#,
                filler.repeat(MESSAGE_BODY_LEN_MAX)
            );
            let fitted = fit_letter(&letter);
            assert!(fitted.len() <= MESSAGE_BODY_LEN_MAX);
            let record: serde_json::Value = serde_json::from_str(&fitted).unwrap();
            assert_eq!(record["truncated_from_bytes"], letter.len());
            let start = record["letter_start"].as_str().unwrap();
            assert!(start.contains(r#""reason":"status.id is too long""#));
            assert!(letter.starts_with(start));
        }
    }
}
