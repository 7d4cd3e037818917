//! The one place where clients and logging are built: once, at cold start, in each `main`.

use aws_config::BehaviorVersion;

use crate::adapters::dynamodb::DynamoStore;
use crate::config::StoreConfig;

/// JSON logs for operators ([`crate::adapters::logging`]): every line names the function, its
/// version, the cold start and the request; the level comes from `LOG_LEVEL` (the template's
/// `LogLevel`), and metrics become CloudWatch EMF lines in `METRICS_NAMESPACE` when it is set.
/// Logs never carry secrets, and phone numbers only hashed.
pub fn init_tracing() {
    init_tracing_as(LogFormat::Json, std::io::stdout);
}

/// How logs are written: the operators' JSON lines (the functions), or text for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Human,
}

/// The one tracing setup, for the functions and the local runner alike; `format` and `writer` say
/// how and where. JSON is [`crate::adapters::logging::OperatorLog`] (level from `LOG_LEVEL`);
/// text for people is filtered by `RUST_LOG` (default `info`) and carries the time.
pub fn init_tracing_as<W>(format: LogFormat, writer: W)
where
    W: for<'a> tracing_subscriber::fmt::MakeWriter<'a> + Send + Sync + 'static,
{
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    match format {
        LogFormat::Json => tracing_subscriber::registry()
            .with(crate::adapters::logging::OperatorLog::new(
                log_context(),
                writer,
            ))
            .init(),
        LogFormat::Human => {
            let filter = tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
            tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_writer(writer)
                .with_ansi(false)
                .init();
        }
    }
}

/// What every operator line says about the process, read from the environment once.
fn log_context() -> crate::adapters::logging::LogContext {
    let lookup = |name: &str| std::env::var(name).ok();
    let function = lookup("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|| {
        std::env::args()
            .next()
            .and_then(|path| {
                let name = std::path::Path::new(&path)
                    .file_name()?
                    .to_str()?
                    .to_owned();
                Some(name)
            })
            .unwrap_or_default()
    });
    crate::adapters::logging::LogContext {
        function,
        version: lookup("AWS_LAMBDA_FUNCTION_VERSION").unwrap_or_default(),
        metrics_namespace: lookup("METRICS_NAMESPACE").filter(|namespace| {
            // CloudWatch namespaces: 1-255 characters; a bad one would lose every metric silently.
            (1..=255).contains(&namespace.len()) && !namespace.starts_with("AWS/")
        }),
        level: crate::adapters::logging::level_from(lookup),
    }
}

/// AWS configuration from the environment (region, credentials, and endpoint overrides such as
/// `AWS_ENDPOINT_URL_DYNAMODB`, which is how tests and the local runner reach their engines).
pub async fn aws_config() -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

pub fn dynamo_store(sdk: &aws_config::SdkConfig, config: &StoreConfig) -> DynamoStore {
    DynamoStore::new(aws_sdk_dynamodb::Client::new(sdk), &config.table_name)
}

/// A secret that could not be read at cold start. Never carries the secret's value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("reading secret {id} (for {name}) from Secrets Manager failed: {reason}")]
    Read {
        name: &'static str,
        id: String,
        reason: String,
    },
    #[error("secret {id} (for {name}) holds no text")]
    NoText { name: &'static str, id: String },
}

/// Secrets are referenced, not held, by the deployment: for each of `names` whose
/// `<NAME>_SECRET_ID` variable (looked up with `reference`, the environment in a function) names a
/// Secrets Manager secret (ARN or name), its text is read once, here, at cold start, and the map
/// answers it under `<NAME>`. Names without a reference are left to the environment (how tests and
/// the local runner pass them). Rotating a secret needs a cold start, not a deployment.
pub async fn resolve_secrets(
    sdk: &aws_config::SdkConfig,
    names: &[&'static str],
    reference: impl Fn(&str) -> Option<String>,
) -> Result<std::collections::HashMap<&'static str, String>, SecretError> {
    let mut resolved = std::collections::HashMap::new();
    let mut client = None;
    for name in names {
        let Some(id) = reference(&format!("{name}_SECRET_ID")) else {
            continue;
        };
        let client = client.get_or_insert_with(|| aws_sdk_secretsmanager::Client::new(sdk));
        let output = client
            .get_secret_value()
            .secret_id(&id)
            .send()
            .await
            .map_err(|error| SecretError::Read {
                name,
                id: id.clone(),
                reason: aws_sdk_secretsmanager::error::DisplayErrorContext(error).to_string(),
            })?;
        let text = output.secret_string().ok_or_else(|| SecretError::NoText {
            name,
            id: id.clone(),
        })?;
        resolved.insert(*name, text.trim().to_owned());
    }
    Ok(resolved)
}

/// The one "secret, then environment" lookup of every function: each of `names` read from Secrets
/// Manager where `<NAME>_SECRET_ID` references it ([`resolve_secrets`]), everything else (and any
/// name without a reference) from the environment.
pub async fn secrets_then_env(
    sdk: &aws_config::SdkConfig,
    names: &[&'static str],
) -> Result<impl Fn(&str) -> Option<String> + use<>, SecretError> {
    let secrets = resolve_secrets(sdk, names, |name| std::env::var(name).ok()).await?;
    Ok(move |name: &str| {
        secrets
            .get(name)
            .cloned()
            .or_else(|| std::env::var(name).ok())
    })
}

#[derive(Debug, thiserror::Error)]
pub enum PaymentsSetupError {
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Stripe(#[from] crate::adapters::stripe::StripeSetupError),
}

/// Payments through Stripe, configured from the environment, with the secrets read from Secrets
/// Manager where the environment references them.
pub async fn stripe_payments(
    sdk: &aws_config::SdkConfig,
) -> Result<crate::api::purchases::Payments, PaymentsSetupError> {
    use crate::config::PaymentsConfig;
    let lookup = secrets_then_env(
        sdk,
        &[PaymentsConfig::SECRET_KEY, PaymentsConfig::WEBHOOK_SECRETS],
    )
    .await?;
    Ok(payments_through_stripe(PaymentsConfig::from_lookup(
        lookup,
    )?)?)
}

/// Payments through Stripe's API, as configured.
pub fn payments_through_stripe(
    config: crate::config::PaymentsConfig,
) -> Result<crate::api::purchases::Payments, crate::adapters::stripe::StripeSetupError> {
    Ok(crate::api::purchases::Payments {
        checkout: std::sync::Arc::new(crate::adapters::stripe::StripeClient::new(config.stripe)?),
        webhook: std::sync::Arc::new(config.webhook),
        success_url: config.success_url,
        cancel_url: config.cancel_url,
    })
}

/// The auto-recharge function's settings; its Stripe key from Secrets Manager where
/// `STRIPE_SECRET_KEY_SECRET_ID` names it (as in AWS).
pub async fn auto_recharge_config(
    sdk: &aws_config::SdkConfig,
) -> Result<crate::config::AutoRechargeConfig, PaymentsSetupError> {
    use crate::config::{AutoRechargeConfig, PaymentsConfig};
    let lookup = secrets_then_env(sdk, &[PaymentsConfig::SECRET_KEY]).await?;
    Ok(AutoRechargeConfig::from_lookup(lookup)?)
}

/// The webhook's secrets: from the environment, or from Secrets Manager where
/// `META_APP_SECRET_SECRET_ID` / `META_VERIFY_TOKEN_SECRET_ID` name them (as in AWS).
pub async fn meta_secrets(
    sdk: &aws_config::SdkConfig,
) -> Result<(crate::meta::AppSecret, crate::meta::VerifyToken), MetaSecretsError> {
    const NAMES: [&str; 2] = ["META_APP_SECRET", "META_VERIFY_TOKEN"];
    let lookup = secrets_then_env(sdk, &NAMES).await?;
    let value = |name: &'static str| lookup(name).ok_or(crate::config::ConfigError::Missing(name));
    let app_secret =
        crate::meta::AppSecret::new(value("META_APP_SECRET")?.as_bytes()).map_err(|_| {
            crate::config::ConfigError::Invalid {
                name: "META_APP_SECRET",
                reason: "must not be empty",
            }
        })?;
    let verify_token =
        crate::meta::VerifyToken::new(&value("META_VERIFY_TOKEN")?).map_err(|_| {
            crate::config::ConfigError::Invalid {
                name: "META_VERIFY_TOKEN",
                reason: "1-256 bytes",
            }
        })?;
    Ok((app_secret, verify_token))
}

#[derive(Debug, thiserror::Error)]
pub enum MetaSecretsError {
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
}
