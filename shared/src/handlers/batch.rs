//! The one partial-batch consumer of the queue-fed functions (billing, auto-recharge), after the
//! aws-lambda-rust-runtime `advanced-sqs-partial-batch-failures` example: records in, the ids of
//! the records that failed out, and only those go back to the queue (`ReportBatchItemFailures`).

use std::fmt::Display;
use std::future::Future;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use serde::de::DeserializeOwned;
use tracing::{info, warn};

/// One queue record: its id (to report it failed) and its body.
#[derive(Debug, Clone)]
pub struct Record {
    pub id: String,
    pub body: String,
}

/// What a batch left on the queue: the ids of the records that failed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Failures {
    pub failed: Vec<String>,
    /// Why each failed record failed, by record id (the local runner's dead letters state it).
    pub reasons: std::collections::BTreeMap<String, String>,
}

/// The SQS event's records; a record without an id or body cannot be reported back, so it is
/// logged (SQS redelivers what is not acknowledged, and such a record never is).
pub fn records_from_sqs(event: SqsEvent) -> Vec<Record> {
    event
        .records
        .into_iter()
        .filter_map(|message| match (message.message_id, message.body) {
            (Some(id), Some(body)) => Some(Record { id, body }),
            (id, _) => {
                warn!(?id, "SQS record without id or body");
                None
            }
        })
        .collect()
}

/// Partial batch failure: only the `failed` records return to the queue.
pub fn batch_response(failed: &[String]) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failed
        .iter()
        .map(|id| {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id.clone();
            failure
        })
        .collect();
    response
}

/// Each record's body read as a `T` and handed to `handle`, one after the other. A body that is
/// not a `T` fails like a handler error: it goes back, and on to the dead-letter queue.
pub async fn each_message<T, F, Fut, D, E>(records: &[Record], handle: F) -> Failures
where
    T: DeserializeOwned,
    F: Fn(T) -> Fut,
    Fut: Future<Output = Result<D, E>>,
    D: std::fmt::Debug,
    E: Display,
{
    let mut outcome = Failures::default();
    for record in records {
        let result = match serde_json::from_str::<T>(&record.body) {
            Ok(message) => handle(message).await.map_err(|error| error.to_string()),
            Err(error) => Err(format!("unreadable message: {error}")),
        };
        match result {
            Ok(done) => info!(message_id = %record.id, ?done, "message handled"),
            Err(error) => {
                warn!(message_id = %record.id, %error, "message failed; retried");
                outcome.failed.push(record.id.clone());
                outcome.reasons.insert(record.id.clone(), error);
            }
        }
    }
    outcome
}
