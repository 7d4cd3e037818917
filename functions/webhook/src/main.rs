//! The webhook function: Meta's webhook calls, checked, normalised and enqueued for billing (and
//! each item that may be billable but could not be read kept as a record with its reason). It
//! reads no table.

use imcredits::adapters::sqs::SqsQueue;
use imcredits::adapters::sqs_webhook::WebhookQueues;
use imcredits::config::WebhookConfig;
use imcredits::handlers::webhook::{WebhookApp, router};
use imcredits::setup;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    setup::init_tracing();
    let config = WebhookConfig::from_env()?;
    let sdk = setup::aws_config().await;
    let (secret, verify_token) = setup::meta_secrets(&sdk).await?;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let app = WebhookApp {
        secret,
        verify_token,
        queue: WebhookQueues {
            billing: SqsQueue::new(sqs.clone(), config.billing_queue_url),
            skipped: SqsQueue::new(sqs, config.skipped_queue_url),
        },
    };
    lambda_http::run(router(app))
        .await
        .map_err(|error| anyhow::anyhow!(error))
}
