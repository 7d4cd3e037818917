//! Composition of notices at cold start: the notifications function's typed configuration (the
//! retry schedule is configuration), and what the API needs to publish events and check URLs.

use std::sync::Arc;
use std::time::Duration;

use crate::adapters::http_webhooks::{SystemResolver, WebhookClient};
use crate::adapters::sqs::SqsQueue;
use crate::api::notices::NoticesApi;
use crate::config::ConfigError;
use crate::notices::address::AddressPolicy;
use crate::notices::retry::RetryPolicy;

/// The notifications function's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationsConfig {
    /// `NOTIFICATIONS_QUEUE_URL`: events arrive on it, and attempts are scheduled on it.
    pub queue_url: String,
    /// `WEBHOOK_RETRY_BASE_SECONDS` (5), `WEBHOOK_RETRY_CAP_SECONDS` (28800),
    /// `WEBHOOK_RETRY_WINDOW_SECONDS` (259200: 3 days), `WEBHOOK_DISABLE_AFTER_SECONDS` (86400),
    /// `WEBHOOK_ATTEMPT_TIMEOUT_SECONDS` (10).
    pub policy: RetryPolicy,
}

fn seconds(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: Duration,
    max: u64,
) -> Result<Duration, ConfigError> {
    match lookup(name) {
        None => Ok(default),
        Some(text) => text
            .parse::<u64>()
            .ok()
            .filter(|value| (1..=max).contains(value))
            .map(Duration::from_secs)
            .ok_or(ConfigError::Invalid {
                name,
                reason: "a whole number of seconds in range",
            }),
    }
}

fn queue_url(lookup: &impl Fn(&str) -> Option<String>) -> Result<String, ConfigError> {
    crate::config::queue_url(lookup, "NOTIFICATIONS_QUEUE_URL")
}

impl NotificationsConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let standard = RetryPolicy::STANDARD;
        let week = 7 * 24 * 3600;
        let policy = RetryPolicy {
            base: seconds(&lookup, "WEBHOOK_RETRY_BASE_SECONDS", standard.base, 3600)?,
            cap: seconds(
                &lookup,
                "WEBHOOK_RETRY_CAP_SECONDS",
                standard.cap,
                24 * 3600,
            )?,
            window: seconds(
                &lookup,
                "WEBHOOK_RETRY_WINDOW_SECONDS",
                standard.window,
                week,
            )?,
            disable_after: seconds(
                &lookup,
                "WEBHOOK_DISABLE_AFTER_SECONDS",
                standard.disable_after,
                week,
            )?,
            attempt_timeout: seconds(
                &lookup,
                "WEBHOOK_ATTEMPT_TIMEOUT_SECONDS",
                standard.attempt_timeout,
                30,
            )?,
            lease_margin: standard.lease_margin,
        };
        if policy.cap < policy.base {
            return Err(ConfigError::Invalid {
                name: "WEBHOOK_RETRY_CAP_SECONDS",
                reason: "at least WEBHOOK_RETRY_BASE_SECONDS",
            });
        }
        Ok(Self {
            queue_url: queue_url(&lookup)?,
            policy,
        })
    }
}

/// The webhook client of AWS: `https` to public addresses only, names resolved by the system.
pub fn aws_webhook_client() -> Result<WebhookClient, crate::adapters::http_webhooks::ClientError> {
    WebhookClient::new(AddressPolicy::PublicHttpsOnly, Arc::new(SystemResolver))
}

#[derive(Debug, thiserror::Error)]
pub enum NoticesSetupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Client(#[from] crate::adapters::http_webhooks::ClientError),
}

/// The API's notices in AWS: events published on the notifications queue
/// (`NOTIFICATIONS_QUEUE_URL`), endpoint URLs checked as the notifications function will.
pub fn aws_notices_api(sdk: &aws_config::SdkConfig) -> Result<NoticesApi, NoticesSetupError> {
    let url = queue_url(&|name| std::env::var(name).ok())?;
    let queue = SqsQueue::new(aws_sdk_sqs::Client::new(sdk), url);
    Ok(NoticesApi {
        publish: Arc::new(queue),
        urls: Arc::new(aws_webhook_client()?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_is_configuration_with_checked_bounds() {
        let queue = |name: &str| {
            (name == "NOTIFICATIONS_QUEUE_URL")
                .then(|| "https://sqs.us-east-1.amazonaws.com/1/n".to_owned())
        };
        assert_eq!(
            NotificationsConfig::from_lookup(queue).unwrap().policy,
            RetryPolicy::STANDARD
        );
        let short = |name: &str| match name {
            "WEBHOOK_RETRY_BASE_SECONDS" => Some("1".to_owned()),
            "WEBHOOK_RETRY_CAP_SECONDS" => Some("4".to_owned()),
            other => queue(other),
        };
        let config = NotificationsConfig::from_lookup(short).unwrap();
        assert_eq!(
            (config.policy.base, config.policy.cap),
            (Duration::from_secs(1), Duration::from_secs(4))
        );
        let bad = |name: &str| match name {
            "WEBHOOK_ATTEMPT_TIMEOUT_SECONDS" => Some("0".to_owned()),
            other => queue(other),
        };
        assert!(NotificationsConfig::from_lookup(bad).is_err());
        assert!(NotificationsConfig::from_lookup(|_| None).is_err());
    }
}
