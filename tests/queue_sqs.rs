//! The SQS adapter against moto: everything sent arrives, limits are enforced before sending.

use imcredits::adapters::sqs::SqsQueue;
use imcredits::ports::queue::{MESSAGE_BODY_LEN_MAX, QueueError, QueueSend};
use imcredits_tests::sqs::{drain, new_queue, sqs_client};

#[tokio::test]
async fn every_message_arrives_across_batches_split_by_count_and_size() {
    let client = sqs_client().await;
    let url = new_queue(&client, "send-all").await;
    let queue = SqsQueue::new(client.clone(), &url);
    let mut bodies: Vec<String> = (0..22).map(|index| format!("{{\"n\":{index}}}")).collect();
    // Three 100 KiB bodies force a split by size as well as by count.
    bodies.extend((0..3).map(|index| format!("{index}{}", "x".repeat(100 * 1024))));
    queue.send_all(&bodies).await.unwrap();
    let mut received = drain(&client, &url, bodies.len()).await;
    received.sort();
    bodies.sort();
    assert_eq!(received, bodies);
}

#[tokio::test]
async fn an_oversized_message_fails_the_send_before_anything_is_sent() {
    let client = sqs_client().await;
    let url = new_queue(&client, "oversized").await;
    let queue = SqsQueue::new(client.clone(), &url);
    let bodies = vec!["first".to_owned(), "y".repeat(MESSAGE_BODY_LEN_MAX + 1)];
    assert!(matches!(
        queue.send_all(&bodies).await,
        Err(QueueError::TooLarge { index: 1, .. })
    ));
    assert!(drain(&client, &url, 2).await.is_empty());
}

/// In AWS an item that may be billable but could not be read is a record with its reason on the
/// skipped-items queue, beside the body's billing messages (a record past SQS's limit keeps its
/// start, with the reason), not only a log line and a metric.
#[tokio::test]
async fn the_webhook_keeps_each_skipped_billable_item_as_a_record_with_its_reason() {
    use imcredits::adapters::sqs_webhook::WebhookQueues;
    use imcredits::ports::queue::Intake;
    let client = sqs_client().await;
    let (billing, skipped) = (
        new_queue(&client, "webhook-billing").await,
        new_queue(&client, "webhook-skipped").await,
    );
    let queues = WebhookQueues {
        billing: SqsQueue::new(client.clone(), &billing),
        skipped: SqsQueue::new(client.clone(), &skipped),
    };
    let small = r#"{"source":"meta_webhook","reason":"status.timestamp is not valid"}"#.to_owned();
    let huge = format!(
        r#"{{"source":"meta_webhook","reason":"status.id is too long","item":{{"id":"{}"}}}}"#,
        "x".repeat(MESSAGE_BODY_LEN_MAX)
    );
    let bodies = vec![r#"{"billing":1}"#.to_owned()];
    let letters = vec![small.clone(), huge];
    let intake = Intake {
        key: "sha256=ab",
        bodies: &bodies,
        dead_letters: &letters,
    };
    queues.take(intake).await.unwrap();
    assert_eq!(drain(&client, &billing, 1).await, bodies);
    let records = drain(&client, &skipped, 2).await;
    assert_eq!(records.len(), 2, "{records:?}");
    assert!(records.contains(&small), "{records:?}");
    let cut = records.iter().find(|record| **record != small).unwrap();
    let cut: serde_json::Value = serde_json::from_str(cut).unwrap();
    assert!(cut["truncated_from_bytes"].as_u64().unwrap() > MESSAGE_BODY_LEN_MAX as u64);
    assert!(
        cut["letter_start"]
            .as_str()
            .unwrap()
            .contains(r#""reason":"status.id is too long""#)
    );
}
