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

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("set {0} (or {0}_PARAM, the name of an SSM SecureString parameter)")]
    Missing(&'static str),
    #[error("reading SSM parameter for {name}: {reason}")]
    Ssm { name: &'static str, reason: String },
}

/// A secret, read once at cold start: from the environment variable `name` where it is set (the
/// local runner and tests), else from the SSM SecureString parameter named by `{name}_PARAM` (AWS,
/// where the template passes only the parameter's name, never the value). Never logged.
pub async fn secret(
    sdk: &aws_config::SdkConfig,
    name: &'static str,
) -> Result<String, SecretError> {
    if let Ok(value) = std::env::var(name) {
        return Ok(value);
    }
    let parameter =
        std::env::var(format!("{name}_PARAM")).map_err(|_| SecretError::Missing(name))?;
    let output = aws_sdk_ssm::Client::new(sdk)
        .get_parameter()
        .name(parameter)
        .with_decryption(true)
        .send()
        .await
        .map_err(|error| SecretError::Ssm {
            name,
            reason: aws_sdk_ssm::error::DisplayErrorContext(error).to_string(),
        })?;
    output
        .parameter()
        .and_then(|parameter| parameter.value())
        .map(str::to_owned)
        .ok_or_else(|| SecretError::Ssm {
            name,
            reason: "the parameter has no value".into(),
        })
}
