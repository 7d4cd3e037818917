//! The auto-recharge function: recharge requests from the queue (partial batch failures) and the
//! scheduled sweep of wallets the sparse index lists as below their minimum.
//!
//! Thin on purpose: configuration and clients are built once per cold start, and events go to a
//! handler in the `imcredits` library, where they are tested without AWS.

use std::sync::Arc;

use aws_lambda_events::event::sqs::SqsEvent;
use imcredits::adapters::sqs::SqsQueue;
use imcredits::config::{AutoRechargeConfig, PaymentsConfig, StoreConfig};
use imcredits::handlers::auto_recharge::AutoRecharger;
use imcredits::handlers::billing::{records_from_sqs, sqs_batch_response};
use imcredits::payments::stripe::StripeClient;
use imcredits::ports::clock::SystemClock;
use imcredits::setup;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    setup::init_tracing();
    let store_config = StoreConfig::from_env()?;
    let sdk = setup::aws_config().await;
    // The Stripe key only: read from Secrets Manager when STRIPE_SECRET_KEY_SECRET_ID names it.
    let secrets = setup::resolve_secrets(&sdk, &[PaymentsConfig::SECRET_KEY], |name| {
        std::env::var(name).ok()
    })
    .await?;
    let config = AutoRechargeConfig::from_lookup(|name| {
        secrets
            .get(name)
            .cloned()
            .or_else(|| std::env::var(name).ok())
    })?;
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
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        // SQS batches carry `Records`; the EventBridge schedule sends a `Scheduled Event`.
        if event.payload.get("Records").is_some() {
            let sqs: SqsEvent = serde_json::from_value(event.payload)?;
            let outcome = recharger.handle_requests(&records_from_sqs(sqs)).await;
            return Ok::<Value, lambda_runtime::Error>(serde_json::to_value(sqs_batch_response(
                &outcome,
            ))?);
        }
        if event.payload.get("detail-type").and_then(Value::as_str) == Some("Scheduled Event") {
            let outcome = recharger.sweep().await?;
            // The same schedule releases expired holds, found through their sparse index.
            let holds = imcredits::handlers::holds::sweep_expired_holds(
                &recharger.store,
                recharger.clock.now(),
            )
            .await?;
            return Ok(json!({
                "due": outcome.due,
                "credited": outcome.credited,
                "failed": outcome.failed,
                "deferred": outcome.deferred,
                "holds_due": holds.due,
                "holds_expired": holds.expired,
            }));
        }
        Err("unknown event: neither an SQS batch nor the schedule".into())
    }))
    .await
    .map_err(|error| anyhow::anyhow!(error))
}
