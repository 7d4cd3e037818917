//! The billing function: records from the billing queue, posted to wallets exactly once, with
//! partial batch failures so only the records that failed come back.
// The handler's future (billing with the market lists' cache) nests deeper than rustc's default
// layout query depth of 128.
#![recursion_limit = "256"]

use std::sync::Arc;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use imcredits::adapters::sqs::SqsQueue;
use imcredits::config::{BillingConfig, StoreConfig};
use imcredits::handlers::batch::{batch_response, records_from_sqs};
use imcredits::handlers::billing::Billing;
use imcredits::ports::clock::SystemClock;
use imcredits::setup;
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // The phone metadata warm-up is most of billing's cold start: it runs on its own thread while
    // configuration and clients are built, and is joined before the first message, which so
    // never pays for it.
    let warm_up = std::thread::spawn(imcredits::pricing::warm_up);
    setup::init_tracing();
    let store_config = StoreConfig::from_env()?;
    let config = BillingConfig::from_env()?;
    let sdk = setup::aws_config().await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let billing = Billing::new(
        setup::dynamo_store(&sdk, &store_config),
        SqsQueue::new(sqs.clone(), config.notifications_queue_url),
        SqsQueue::new(sqs, config.recharge_queue_url),
        Arc::new(SystemClock),
        config.cache_ttl,
    );
    warm_up
        .join()
        .map_err(|_| anyhow::anyhow!("the phone metadata warm-up panicked"))?;
    let billing = &billing;
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| async move {
        let outcome = billing.handle(&records_from_sqs(event.payload)).await;
        Ok::<SqsBatchResponse, lambda_runtime::Error>(batch_response(&outcome.failed))
    }))
    .await
    .map_err(|error| anyhow::anyhow!(error))
}
