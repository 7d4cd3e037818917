//! The notifications function: events from the notifications queue into the in-app feed and onto
//! signed webhooks, and the attempts it schedules back onto the same queue (partial batch failures,
//! so only the records that failed come back).

use std::sync::Arc;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use imcredits::adapters::sqs::SqsQueue;
use imcredits::config::StoreConfig;
use imcredits::handlers::batch::{batch_response, records_from_sqs};
use imcredits::handlers::notifications::Notifier;
use imcredits::notices_setup::{NotificationsConfig, aws_webhook_client};
use imcredits::ports::clock::SystemClock;
use imcredits::setup;
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    setup::init_tracing();
    let store_config = StoreConfig::from_env()?;
    let config = NotificationsConfig::from_env()?;
    let sdk = setup::aws_config().await;
    let notifier = Notifier {
        store: setup::dynamo_store(&sdk, &store_config),
        queue: SqsQueue::new(aws_sdk_sqs::Client::new(&sdk), config.queue_url),
        web: aws_webhook_client()?,
        clock: Arc::new(SystemClock),
        policy: config.policy,
    };
    let notifier = &notifier;
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| async move {
        let outcome = notifier.handle(&records_from_sqs(event.payload)).await;
        Ok::<SqsBatchResponse, lambda_runtime::Error>(batch_response(&outcome.failed))
    }))
    .await
    .map_err(|error| anyhow::anyhow!(error))
}
