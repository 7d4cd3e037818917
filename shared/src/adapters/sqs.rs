//! The queue port on SQS.

use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;

use crate::ports::queue::{FailedEntry, QueueError, QueueSend, send_in_batches};

/// One SQS queue, by URL. Cheap to clone: the client is shared.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: Client,
    url: String,
}

impl SqsQueue {
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        Self {
            client,
            url: url.into(),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }
}

impl QueueSend for SqsQueue {
    async fn send_all(&self, bodies: &[String]) -> Result<(), QueueError> {
        send_in_batches(bodies, |batch| async move {
            // Entry ids only need to be unique within one call: the position serves.
            let entries = batch
                .into_iter()
                .enumerate()
                .map(|(index, body)| {
                    SendMessageBatchRequestEntry::builder()
                        .id(index.to_string())
                        .message_body(body)
                        .build()
                        .expect("id and body are set")
                })
                .collect();
            let output = self
                .client
                .send_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|error| QueueError::Unavailable(DisplayErrorContext(error).to_string()))?;
            output
                .failed()
                .iter()
                .map(|failed| {
                    let index = failed.id().parse::<usize>().map_err(|_| {
                        QueueError::Unavailable(format!(
                            "SQS answered an unknown entry id {:?}",
                            failed.id()
                        ))
                    })?;
                    Ok(FailedEntry {
                        index,
                        sender_fault: failed.sender_fault(),
                        reason: format!("{}: {}", failed.code(), failed.message().unwrap_or("")),
                    })
                })
                .collect()
        })
        .await
    }
}

/// SQS holds a message back at most 15 minutes; a longer wait is made of hops by the consumer.
pub const DELAY_MAX: std::time::Duration = std::time::Duration::from_secs(900);

impl crate::ports::notices::QueueSendDelayed for SqsQueue {
    async fn send_delayed(
        &self,
        body: String,
        delay: std::time::Duration,
    ) -> Result<(), QueueError> {
        if body.len() > crate::ports::queue::MESSAGE_BODY_LEN_MAX {
            return Err(QueueError::TooLarge {
                index: 0,
                len: body.len(),
            });
        }
        let seconds = i32::try_from(delay.min(DELAY_MAX).as_secs()).expect("at most 900");
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .delay_seconds(seconds)
            .send()
            .await
            .map_err(|error| QueueError::Unavailable(DisplayErrorContext(error).to_string()))?;
        Ok(())
    }
}
