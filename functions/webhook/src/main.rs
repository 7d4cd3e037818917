//! The webhook function: Meta's webhook calls, checked, normalised and enqueued for billing. It
//! reads no table.

use imcredits::adapters::sqs::SqsQueue;
use imcredits::config::WebhookConfig;
use imcredits::handlers::webhook::{WebhookApp, router};
use imcredits::setup;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    setup::init_tracing();
    let config = WebhookConfig::from_env()?;
    let sdk = setup::aws_config().await;
    let (secret, verify_token) = setup::meta_secrets(&sdk).await?;
    let app = WebhookApp {
        secret,
        verify_token,
        queue: SqsQueue::new(aws_sdk_sqs::Client::new(&sdk), config.billing_queue_url),
    };
    lambda_http::run(router(app))
        .await
        .map_err(|error| anyhow::anyhow!(error))
}
