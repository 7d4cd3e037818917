//! The checkout function: the wallet API behind API Gateway, purchases, and Stripe's webhook. The
//! router is the one the local runner serves; here API Gateway's JWT authorizer has verified the
//! token and its claims name the caller (the webhook route has no authorizer: Stripe signs it).

use std::sync::Arc;

use imcredits::api::auth::AuthConfig;
use imcredits::api::dashboard::DashboardConfig;
use imcredits::api::{App, router};
use imcredits::config::{ApiConfig, StoreConfig};
use imcredits::ports::clock::SystemClock;
use imcredits::setup;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    setup::init_tracing();
    let store_config = StoreConfig::from_env()?;
    let api_config = ApiConfig::from_env()?;
    let sdk = setup::aws_config().await;
    // Who may frame the dashboard page (DASHBOARD_FRAME_ANCESTORS, default nobody).
    let dashboard = DashboardConfig::from_env()?;
    let app = App {
        store: setup::dynamo_store(&sdk, &store_config),
        clock: Arc::new(SystemClock),
        auth: AuthConfig::api_gateway(&api_config.account_claim, &api_config.operator_scope),
        credits: api_config.credits,
        payments: setup::stripe_payments(&sdk).await?,
        notices: imcredits::notices_setup::aws_notices_api(&sdk)?,
    };
    lambda_http::run(dashboard.apply(router(app)))
        .await
        .map_err(|error| anyhow::anyhow!(error))
}
