//! The one place where clients and logging are built: once, at cold start, in each `main`.

use aws_config::BehaviorVersion;

use crate::adapters::dynamodb::DynamoStore;
use crate::config::StoreConfig;

/// JSON logs (CloudWatch reads them as structured), filtered by `RUST_LOG` (default `info`).
/// Logs never carry secrets, and phone numbers only hashed.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_ansi(false)
        .without_time() // Lambda stamps every line itself.
        .init();
}

/// AWS configuration from the environment (region, credentials, and endpoint overrides such as
/// `AWS_ENDPOINT_URL_DYNAMODB`, which is how tests and the local runner reach their engines).
pub async fn aws_config() -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

pub fn dynamo_store(sdk: &aws_config::SdkConfig, config: &StoreConfig) -> DynamoStore {
    DynamoStore::new(aws_sdk_dynamodb::Client::new(sdk), &config.table_name)
}
