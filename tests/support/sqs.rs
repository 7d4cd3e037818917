//! SQS on moto, which `scripts/test` starts. Each test makes queues of its own and keeps them
//! shallow (moto slows down as a queue deepens).

use aws_sdk_sqs::Client;

pub fn sqs_endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL_SQS").unwrap_or_else(|_| {
        panic!(
            "AWS_ENDPOINT_URL_SQS is not set: run the tests with scripts/test, which starts moto"
        )
    })
}

pub async fn sqs_client() -> Client {
    let endpoint = sqs_endpoint();
    assert!(
        endpoint.starts_with("http://127.0.0.1:"),
        "tests only talk to emulators on loopback"
    );
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let config = aws_sdk_sqs::config::Builder::from(&sdk)
        .endpoint_url(endpoint)
        .region(aws_sdk_sqs::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "test",
            "test",
            None,
            None,
            "imcredits-tests",
        ))
        .build();
    Client::from_conf(config)
}

/// A new queue with a unique name; answers its URL.
pub async fn new_queue(client: &Client, prefix: &str) -> String {
    let name = crate::unique_account(prefix).to_string().replace('.', "-");
    client
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .expect("moto creates queues")
        .queue_url()
        .expect("a queue URL")
        .to_owned()
}

/// Receives (and deletes) every message, up to `messages_max`, until the queue answers empty.
pub async fn drain(client: &Client, url: &str, messages_max: usize) -> Vec<String> {
    let mut bodies = Vec::new();
    for _ in 0..messages_max.div_ceil(10) + 2 {
        let output = client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .send()
            .await
            .expect("moto receives");
        let messages = output.messages();
        if messages.is_empty() {
            break;
        }
        for message in messages {
            bodies.push(message.body().unwrap_or_default().to_owned());
            client
                .delete_message()
                .queue_url(url)
                .receipt_handle(message.receipt_handle().unwrap_or_default())
                .send()
                .await
                .expect("moto deletes");
        }
    }
    assert!(bodies.len() <= messages_max, "more messages than expected");
    bodies
}
