//! The auto-recharge function: recharge requests from the queue (partial batch failures) and the
//! scheduled sweep of wallets the sparse index lists as below their minimum.
//!
//! Thin on purpose: configuration and clients are built once per cold start, and events go to a
//! handler in the `imcredits` library, where they are tested without AWS.

use std::sync::Arc;

use imcredits::adapters::sqs::SqsQueue;
use imcredits::adapters::stripe::StripeClient;
use imcredits::config::StoreConfig;
use imcredits::handlers::auto_recharge::{AutoRecharger, RechargeTrigger};
use imcredits::ports::clock::SystemClock;
use imcredits::setup;
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    setup::init_tracing();
    let store_config = StoreConfig::from_env()?;
    let sdk = setup::aws_config().await;
    let config = setup::auto_recharge_config(&sdk).await?;
    let recharger = AutoRecharger {
        store: setup::dynamo_store(&sdk, &store_config),
        payments: StripeClient::new(config.stripe)?,
        notifications: SqsQueue::new(
            aws_sdk_sqs::Client::new(&sdk),
            config.notifications_queue_url,
        ),
        clock: Arc::new(SystemClock),
        pricing: config.credits,
        limits: config.limits,
    };
    let recharger = &recharger;
    lambda_runtime::run(service_fn(
        |event: LambdaEvent<RechargeTrigger>| async move {
            let answer = recharger.handle_trigger(event.payload).await;
            answer.map_err(lambda_runtime::Error::from)
        },
    ))
    .await
    .map_err(|error| anyhow::anyhow!(error))
}
