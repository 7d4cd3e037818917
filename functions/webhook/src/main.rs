//! The webhook function: Meta's webhook calls, checked and enqueued for billing. It reads no table.
//!
//! Thin on purpose: configuration and clients are built once per cold start, and events go to a
//! handler in the `imcredits` library, where they are tested without AWS.

use imcredits::{handlers, setup};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    setup::init_tracing();
    let _sdk = setup::aws_config().await;
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        handlers::refuse_unserved("webhook", event.payload)
            .await
            .map_err(lambda_runtime::Error::from)
    }))
    .await
    .map_err(|error| anyhow::anyhow!(error))
}
