//! The checkout function: the wallet API behind API Gateway, and the payment provider's webhook.
//!
//! Thin on purpose: configuration and clients are built once per cold start, and events go to a
//! handler in the `imcredits` library, where they are tested without AWS.

use imcredits::{config::StoreConfig, handlers, setup};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    setup::init_tracing();
    let config = StoreConfig::from_env()?;
    let sdk = setup::aws_config().await;
    let _store = setup::dynamo_store(&sdk, &config);
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        handlers::refuse_unserved("checkout", event.payload)
            .await
            .map_err(lambda_runtime::Error::from)
    }))
    .await
    .map_err(|error| anyhow::anyhow!(error))
}
