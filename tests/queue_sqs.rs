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
