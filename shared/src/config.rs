//! Typed configuration, read once at cold start: a function with bad configuration fails to start
//! instead of failing its first request.

use std::collections::BTreeMap;
use std::env;

use rust_decimal::Decimal;

use crate::adapters::stripe::webhook::{TOLERANCE_S_DEFAULT, WebhookSecret, WebhookVerifier};
use crate::adapters::stripe::{StripeConfig, StripeSecretKey};
use crate::api::auth::{ACCOUNT_CLAIM_DEFAULT, OPERATOR_SCOPE_DEFAULT};
use crate::money::CreditPricing;
use crate::money::{Currency, parse_exact_decimal};
use crate::payments::ReturnUrl;

#[derive(Debug, Clone, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid {
        name: &'static str,
        reason: &'static str,
    },
}

/// Settings every function shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// The single DynamoDB table (`TABLE_NAME`).
    pub table_name: String,
}

const TABLE_NAME_LEN_MAX: usize = 255;

impl StoreConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let table_name = lookup("TABLE_NAME").ok_or(ConfigError::Missing("TABLE_NAME"))?;
        let valid = (3..=TABLE_NAME_LEN_MAX).contains(&table_name.len())
            && table_name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        if !valid {
            return Err(ConfigError::Invalid {
                name: "TABLE_NAME",
                reason: "3-255 letters, digits, '_', '-' or '.'",
            });
        }
        Ok(Self { table_name })
    }
}

/// Settings of the HTTP API (the checkout function).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiConfig {
    /// The JWT claim naming the caller's account (`ACCOUNT_CLAIM`, default `account_id`).
    pub account_claim: String,
    /// The scope that grants operator routes (`OPERATOR_SCOPE`, default `imcredits/operator`).
    pub operator_scope: String,
    /// `CREDIT_UNIT_PRICES` (default 2.00 in every two-decimal currency), `CREDIT_FEE_RATE`
    /// (default 0.03),
    /// `CREDITS_PER_PURCHASE_MAX` (default 10000).
    pub credits: CreditPricing,
}

const CLAIM_LEN_MAX: usize = 128;

impl ApiConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let text = |name: &'static str, default: &str| -> Result<String, ConfigError> {
            let value = lookup(name).unwrap_or_else(|| default.to_owned());
            if value.is_empty()
                || value.len() > CLAIM_LEN_MAX
                || value.contains(char::is_whitespace)
            {
                return Err(ConfigError::Invalid {
                    name,
                    reason: "1-128 characters, no spaces",
                });
            }
            Ok(value)
        };
        let defaults = CreditPricing::default();
        let fee_rate = lookup("CREDIT_FEE_RATE").map_or(Ok(defaults.fee_rate), |value| {
            parse_exact_decimal(&value).map_err(|_| ConfigError::Invalid {
                name: "CREDIT_FEE_RATE",
                reason: "a plain decimal number such as 0.03",
            })
        })?;
        let unit_prices = match lookup("CREDIT_UNIT_PRICES") {
            None => defaults.unit_prices,
            Some(list) => parse_unit_prices(&list)?,
        };
        let credits_max = match lookup("CREDITS_PER_PURCHASE_MAX") {
            None => defaults.credits_per_purchase_max,
            Some(value) => value.parse().map_err(|_| ConfigError::Invalid {
                name: "CREDITS_PER_PURCHASE_MAX",
                reason: "a whole number",
            })?,
        };
        let credits = CreditPricing {
            unit_prices,
            fee_rate,
            credits_per_purchase_max: credits_max,
        }
        .validated()
        .map_err(|_| ConfigError::Invalid {
            name: "CREDIT_UNIT_PRICES",
            reason: "each price must be positive and whole minor units, the fee rate within \
                     0..=1 with at most 4 places, and the maximum within 1..=1,000,000 credits",
        })?;
        Ok(Self {
            account_claim: text("ACCOUNT_CLAIM", ACCOUNT_CLAIM_DEFAULT)?,
            operator_scope: text("OPERATOR_SCOPE", OPERATOR_SCOPE_DEFAULT)?,
            credits,
        })
    }
}

/// Where the webhook function sends what Meta reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    /// `BILLING_QUEUE_URL`.
    pub billing_queue_url: String,
    /// `WEBHOOK_SKIPPED_QUEUE_URL`: a record, with its reason, of each item that may be billable
    /// but could not be read.
    pub skipped_queue_url: String,
}

/// What the billing function needs besides the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillingConfig {
    /// `NOTIFICATIONS_QUEUE_URL`: low balance, depleted, recovered.
    pub notifications_queue_url: String,
    /// `RECHARGE_QUEUE_URL`: requests for the auto-recharge function.
    pub recharge_queue_url: String,
    /// `BILLING_CACHE_TTL_SECONDS` (default 60): how long routes and rate cards are cached.
    pub cache_ttl: std::time::Duration,
}

const CACHE_TTL_SECONDS_MAX: u64 = 3600;

pub(crate) fn queue_url(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<String, ConfigError> {
    let url = lookup(name).ok_or(ConfigError::Missing(name))?;
    if !(url.starts_with("https://") || url.starts_with("http://")) || url.len() > 1024 {
        return Err(ConfigError::Invalid {
            name,
            reason: "an SQS queue URL",
        });
    }
    Ok(url)
}

impl WebhookConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            billing_queue_url: queue_url(&lookup, "BILLING_QUEUE_URL")?,
            skipped_queue_url: queue_url(&lookup, "WEBHOOK_SKIPPED_QUEUE_URL")?,
        })
    }
}

impl BillingConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let seconds = match lookup("BILLING_CACHE_TTL_SECONDS") {
            None => 60,
            Some(text) => text
                .parse::<u64>()
                .ok()
                .filter(|seconds| (1..=CACHE_TTL_SECONDS_MAX).contains(seconds))
                .ok_or(ConfigError::Invalid {
                    name: "BILLING_CACHE_TTL_SECONDS",
                    reason: "1 to 3600",
                })?,
        };
        Ok(Self {
            notifications_queue_url: queue_url(&lookup, "NOTIFICATIONS_QUEUE_URL")?,
            recharge_queue_url: queue_url(&lookup, "RECHARGE_QUEUE_URL")?,
            cache_ttl: std::time::Duration::from_secs(seconds),
        })
    }
}

/// `USD=2.00,EUR=1.85,CLP=1900`: a unit price per currency sold.
fn parse_unit_prices(list: &str) -> Result<BTreeMap<Currency, Decimal>, ConfigError> {
    let invalid = ConfigError::Invalid {
        name: "CREDIT_UNIT_PRICES",
        reason: "a list such as USD=2.00,EUR=1.85",
    };
    let mut prices = BTreeMap::new();
    for pair in list.split(',').filter(|pair| !pair.trim().is_empty()) {
        let (code, price) = pair.trim().split_once('=').ok_or(invalid.clone())?;
        let currency: Currency = code.parse().map_err(|_| invalid.clone())?;
        let price = parse_exact_decimal(price).map_err(|_| invalid.clone())?;
        if prices.insert(currency, price).is_some() {
            return Err(invalid);
        }
    }
    if prices.is_empty() {
        return Err(invalid);
    }
    Ok(prices)
}

/// Settings of payments through Stripe (the checkout function, and the local runner in Stripe
/// mode). In AWS the two secrets are not in the template: the function reads them from Secrets
/// Manager at cold start ([`crate::setup::resolve_secrets`]) and serves them to this lookup.
#[derive(Debug, Clone)]
pub struct PaymentsConfig {
    /// `STRIPE_SECRET_KEY` (`sk_…`/`rk_…`); `STRIPE_API_BASE_URL` (default Stripe's, tests point it
    /// at a stand-in); `STRIPE_API_VERSION` (optional, pins the answers' shape).
    pub stripe: StripeConfig,
    /// `STRIPE_WEBHOOK_SECRETS`: the endpoint's signing secret(s), comma-separated (the current one
    /// and, while rolling, the previous ones; at most 4), checked with a 300 s tolerance.
    pub webhook: WebhookVerifier,
    /// `CHECKOUT_SUCCESS_URL` and `CHECKOUT_CANCEL_URL`: where the hosted page sends the buyer.
    pub success_url: ReturnUrl,
    pub cancel_url: ReturnUrl,
}

impl PaymentsConfig {
    pub const SECRET_KEY: &str = "STRIPE_SECRET_KEY";
    pub const WEBHOOK_SECRETS: &str = "STRIPE_WEBHOOK_SECRETS";

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |name: &'static str| lookup(name).ok_or(ConfigError::Missing(name));
        // Values are never echoed into errors: two of them are secrets.
        let secret_key =
            StripeSecretKey::parse(required(Self::SECRET_KEY)?.trim()).map_err(|_| {
                ConfigError::Invalid {
                    name: Self::SECRET_KEY,
                    reason: "a Stripe secret (sk_...) or restricted (rk_...) key",
                }
            })?;
        let invalid_secrets = ConfigError::Invalid {
            name: Self::WEBHOOK_SECRETS,
            reason: "1 to 4 signing secrets (whsec_...), comma-separated",
        };
        let secrets = required(Self::WEBHOOK_SECRETS)?
            .split(',')
            .map(str::trim)
            .filter(|secret| !secret.is_empty())
            .map(WebhookSecret::parse)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| invalid_secrets.clone())?;
        let webhook =
            WebhookVerifier::new(secrets, TOLERANCE_S_DEFAULT).map_err(|_| invalid_secrets)?;
        let stripe = stripe_settings(secret_key, &lookup)?;
        let url = |name: &'static str| -> Result<ReturnUrl, ConfigError> {
            ReturnUrl::parse(&required(name)?).map_err(|_| ConfigError::Invalid {
                name,
                reason: "an absolute http(s) URL of at most 2048 visible ASCII characters",
            })
        };
        Ok(Self {
            stripe,
            webhook,
            success_url: url("CHECKOUT_SUCCESS_URL")?,
            cancel_url: url("CHECKOUT_CANCEL_URL")?,
        })
    }
}

/// `STRIPE_API_BASE_URL` and `STRIPE_API_VERSION` around a secret key already read.
fn stripe_settings(
    secret_key: StripeSecretKey,
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<StripeConfig, ConfigError> {
    let mut stripe = StripeConfig::new(secret_key);
    if let Some(base_url) = lookup("STRIPE_API_BASE_URL") {
        let plausible = (base_url.starts_with("https://") || base_url.starts_with("http://"))
            && base_url.len() <= 2_048
            && base_url.bytes().all(|byte| byte.is_ascii_graphic());
        if !plausible {
            return Err(ConfigError::Invalid {
                name: "STRIPE_API_BASE_URL",
                reason: "an http(s) URL such as https://api.stripe.com",
            });
        }
        stripe.base_url = base_url;
    }
    if let Some(version) = lookup("STRIPE_API_VERSION") {
        if version.is_empty()
            || version.len() > 64
            || !version.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(ConfigError::Invalid {
                name: "STRIPE_API_VERSION",
                reason: "a Stripe API version such as 2025-03-31.basil",
            });
        }
        stripe.api_version = Some(version);
    }
    Ok(stripe)
}

/// The auto-recharge function's settings besides the table. Its Stripe key is read like the
/// checkout function's (`STRIPE_SECRET_KEY`, from Secrets Manager in AWS); it needs no webhook
/// secret and no return pages.
#[derive(Debug, Clone)]
pub struct AutoRechargeConfig {
    /// `NOTIFICATIONS_QUEUE_URL`: recharge succeeded, failed, auto-recharge disabled.
    pub notifications_queue_url: String,
    pub stripe: StripeConfig,
    /// `CREDIT_UNIT_PRICES`, `CREDIT_FEE_RATE`, `CREDITS_PER_PURCHASE_MAX`: the same prices the
    /// API quotes.
    pub credits: crate::money::CreditPricing,
    /// `RECHARGES_PER_DAY_MAX` (default 3, 1..=24), `RECHARGE_MONTHLY_CREDITS_MAX` (optional),
    /// `RECHARGE_LEASE_SECONDS` (default 120, 60..=900), `RECHARGE_SWEEP_WALLETS_MAX` (default 200,
    /// 1..=10,000), `RECHARGE_SWEEP_BUDGET_SECONDS` (default 240, 10..=800).
    pub limits: crate::recharge::RechargeLimits,
}

fn bounded_number(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    range: std::ops::RangeInclusive<u64>,
    reason: &'static str,
) -> Result<Option<u64>, ConfigError> {
    lookup(name)
        .map(|text| {
            text.trim()
                .parse::<u64>()
                .ok()
                .filter(|value| range.contains(value))
                .ok_or(ConfigError::Invalid { name, reason })
        })
        .transpose()
}

impl AutoRechargeConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let secret_key = StripeSecretKey::parse(
            lookup(PaymentsConfig::SECRET_KEY)
                .ok_or(ConfigError::Missing(PaymentsConfig::SECRET_KEY))?
                .trim(),
        )
        .map_err(|_| ConfigError::Invalid {
            name: PaymentsConfig::SECRET_KEY,
            reason: "a Stripe secret (sk_...) or restricted (rk_...) key",
        })?;
        let defaults = crate::recharge::RechargeLimits::default();
        let seconds = |value: Option<u64>, default: std::time::Duration| {
            value.map_or(default, std::time::Duration::from_secs)
        };
        let limits = crate::recharge::RechargeLimits {
            per_day_max: bounded_number(&lookup, "RECHARGES_PER_DAY_MAX", 1..=24, "1 to 24")?
                .map_or(defaults.per_day_max, |value| value as u32),
            monthly_credits_max: bounded_number(
                &lookup,
                "RECHARGE_MONTHLY_CREDITS_MAX",
                1..=100_000_000,
                "1 to 100,000,000 credits",
            )?,
            lease: seconds(
                bounded_number(&lookup, "RECHARGE_LEASE_SECONDS", 60..=900, "60 to 900")?,
                defaults.lease,
            ),
            sweep_wallets_max: bounded_number(
                &lookup,
                "RECHARGE_SWEEP_WALLETS_MAX",
                1..=10_000,
                "1 to 10,000",
            )?
            .map_or(defaults.sweep_wallets_max, |value| value as usize),
            sweep_budget: seconds(
                bounded_number(
                    &lookup,
                    "RECHARGE_SWEEP_BUDGET_SECONDS",
                    10..=800,
                    "10 to 800",
                )?,
                defaults.sweep_budget,
            ),
        };
        Ok(Self {
            notifications_queue_url: queue_url(&lookup, "NOTIFICATIONS_QUEUE_URL")?,
            stripe: stripe_settings(secret_key, &lookup)?,
            credits: ApiConfig::from_lookup(&lookup)?.credits,
            limits,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_name_is_required_and_checked() {
        assert!(matches!(
            StoreConfig::from_lookup(|_| None),
            Err(ConfigError::Missing("TABLE_NAME"))
        ));
        assert!(StoreConfig::from_lookup(|_| Some("a b".into())).is_err());
        let config = StoreConfig::from_lookup(|_| Some("imcredits-prod".into())).unwrap();
        assert_eq!(config.table_name, "imcredits-prod");
    }

    #[test]
    fn api_config_has_defaults_and_refuses_bad_values() {
        let config = ApiConfig::from_lookup(|_| None).unwrap();
        assert_eq!(config.account_claim, "account_id");
        assert_eq!(config.credits, CreditPricing::default());
        let custom = ApiConfig::from_lookup(|name| match name {
            "ACCOUNT_CLAIM" => Some("custom:account".into()),
            "CREDIT_UNIT_PRICES" => Some("USD=1.50, CLP=1900".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(custom.account_claim, "custom:account");
        assert_eq!(
            custom.credits.unit_prices[&Currency::Usd],
            Decimal::new(150, 2)
        );
        assert_eq!(
            custom.credits.unit_prices[&Currency::Clp],
            Decimal::from(1900)
        );
        assert!(!custom.credits.unit_prices.contains_key(&Currency::Eur));
        for (name, value) in [
            ("CREDIT_UNIT_PRICES", "USD=0.015"),
            ("CREDIT_UNIT_PRICES", "USD=2e0"),
            ("CREDIT_UNIT_PRICES", "CLP=1.5"),
            ("CREDIT_UNIT_PRICES", "JPY=300"),
            ("CREDIT_UNIT_PRICES", "USD=2,USD=3"),
            ("CREDIT_UNIT_PRICES", "XYZ=2"),
            ("CREDIT_UNIT_PRICES", ""),
            ("CREDIT_FEE_RATE", "1.5"),
            ("CREDITS_PER_PURCHASE_MAX", "0"),
            ("ACCOUNT_CLAIM", "has space"),
        ] {
            let result = ApiConfig::from_lookup(|asked| (asked == name).then(|| value.to_owned()));
            assert!(result.is_err(), "{name}={value} accepted");
        }
    }

    #[test]
    fn pipeline_configs_need_their_queues() {
        assert!(matches!(
            WebhookConfig::from_lookup(|_| None),
            Err(ConfigError::Missing("BILLING_QUEUE_URL"))
        ));
        let url = |name: &str| {
            name.ends_with("_URL")
                .then(|| format!("https://sqs.us-east-1.amazonaws.com/1/{name}"))
        };
        let billing = BillingConfig::from_lookup(url).unwrap();
        assert_eq!(billing.cache_ttl, std::time::Duration::from_secs(60));
        assert!(
            BillingConfig::from_lookup(|name| match name {
                "BILLING_CACHE_TTL_SECONDS" => Some("0".into()),
                other => url(other),
            })
            .is_err()
        );
        assert!(WebhookConfig::from_lookup(|_| Some("not a url".into())).is_err());
        // The skipped items' records have a queue of their own, which the webhook must have.
        assert!(matches!(
            WebhookConfig::from_lookup(|name| (name == "BILLING_QUEUE_URL")
                .then(|| url(name))
                .flatten()),
            Err(ConfigError::Missing("WEBHOOK_SKIPPED_QUEUE_URL"))
        ));
        assert!(
            WebhookConfig::from_lookup(url)
                .unwrap()
                .skipped_queue_url
                .ends_with("SKIPPED_QUEUE_URL")
        );
    }

    fn payments_lookup(overrides: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let mut values: BTreeMap<String, String> = [
            ("STRIPE_SECRET_KEY", "sk_test_51Hx0secret"),
            ("STRIPE_WEBHOOK_SECRETS", "whsec_current, whsec_previous"),
            (
                "CHECKOUT_SUCCESS_URL",
                "https://app.example.com/paid?s={CHECKOUT_SESSION_ID}",
            ),
            ("CHECKOUT_CANCEL_URL", "https://app.example.com/cancelled"),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect();
        for (name, value) in overrides {
            if value.is_empty() {
                values.remove(*name);
            } else {
                values.insert((*name).to_owned(), (*value).to_owned());
            }
        }
        move |name| values.get(name).cloned()
    }

    #[test]
    fn payments_config_reads_secrets_urls_and_the_stripe_base_url() {
        let config = PaymentsConfig::from_lookup(payments_lookup(&[])).unwrap();
        assert_eq!(config.stripe.base_url, "https://api.stripe.com");
        assert_eq!(config.stripe.api_version, None);
        assert_eq!(
            config.cancel_url.as_str(),
            "https://app.example.com/cancelled"
        );
        // Both secrets verify: a secret roll in progress.
        let now = time::OffsetDateTime::now_utc();
        for secret in ["whsec_current", "whsec_previous"] {
            let header = crate::adapters::stripe::webhook::signature_header(
                &WebhookSecret::parse(secret).unwrap(),
                now,
                b"{}",
            );
            assert!(
                config.webhook.verify(Some(&header), b"{}", now).is_ok(),
                "{secret}"
            );
        }
        // Secrets never show in Debug output.
        let debug = format!("{config:?}");
        assert!(!debug.contains("sk_test_51Hx0secret") && !debug.contains("whsec_current"));

        let local = PaymentsConfig::from_lookup(payments_lookup(&[
            ("STRIPE_API_BASE_URL", "http://127.0.0.1:12111"),
            ("STRIPE_API_VERSION", "2025-03-31.basil"),
        ]))
        .unwrap();
        assert_eq!(local.stripe.base_url, "http://127.0.0.1:12111");
        assert_eq!(
            local.stripe.api_version.as_deref(),
            Some("2025-03-31.basil")
        );
    }

    #[test]
    fn payments_config_names_what_is_missing_or_wrong_without_echoing_secrets() {
        for name in [
            "STRIPE_SECRET_KEY",
            "STRIPE_WEBHOOK_SECRETS",
            "CHECKOUT_SUCCESS_URL",
            "CHECKOUT_CANCEL_URL",
        ] {
            let error = PaymentsConfig::from_lookup(payments_lookup(&[(name, "")])).unwrap_err();
            assert!(
                matches!(error, ConfigError::Missing(missing) if missing == name),
                "{error}"
            );
        }
        for (name, value) in [
            ("STRIPE_SECRET_KEY", "pk_test_publishable"),
            ("STRIPE_SECRET_KEY", "sk_test_with space"),
            ("STRIPE_WEBHOOK_SECRETS", " , "),
            (
                "STRIPE_WEBHOOK_SECRETS",
                "whsec_1,whsec_2,whsec_3,whsec_4,whsec_5",
            ),
            ("STRIPE_API_BASE_URL", "ftp://stripe.example"),
            ("STRIPE_API_VERSION", "has space"),
            ("CHECKOUT_SUCCESS_URL", "/relative"),
            ("CHECKOUT_CANCEL_URL", "javascript:alert(1)"),
        ] {
            let error = PaymentsConfig::from_lookup(payments_lookup(&[(name, value)])).unwrap_err();
            assert!(
                matches!(&error, ConfigError::Invalid { name: invalid, .. } if *invalid == name),
                "{name}={value}: {error}"
            );
            assert!(
                !error.to_string().contains(value),
                "{error} echoes the value"
            );
        }
    }

    #[test]
    fn auto_recharge_config_has_bounded_limits_and_needs_only_the_stripe_key() {
        let base = |name: &str| match name {
            "STRIPE_SECRET_KEY" => Some("sk_test_51Hx0secret".to_owned()),
            "NOTIFICATIONS_QUEUE_URL" => Some("https://sqs.us-east-1.amazonaws.com/1/n".to_owned()),
            _ => None,
        };
        let config = AutoRechargeConfig::from_lookup(base).unwrap();
        assert_eq!(config.limits.per_day_max, 3);
        assert_eq!(config.limits.monthly_credits_max, None);
        assert!(!format!("{config:?}").contains("sk_test_51Hx0secret"));
        let capped = AutoRechargeConfig::from_lookup(|name| match name {
            "RECHARGE_MONTHLY_CREDITS_MAX" => Some("100".into()),
            "RECHARGES_PER_DAY_MAX" => Some("5".into()),
            other => base(other),
        })
        .unwrap();
        assert_eq!(capped.limits.monthly_credits_max, Some(100));
        assert_eq!(capped.limits.per_day_max, 5);
        for (name, value) in [
            ("RECHARGES_PER_DAY_MAX", "0"),
            ("RECHARGES_PER_DAY_MAX", "25"),
            ("RECHARGE_LEASE_SECONDS", "5"),
            ("RECHARGE_SWEEP_WALLETS_MAX", "x"),
        ] {
            let result = AutoRechargeConfig::from_lookup(|asked| {
                if asked == name {
                    Some(value.to_owned())
                } else {
                    base(asked)
                }
            });
            assert!(result.is_err(), "{name}={value} accepted");
        }
        assert!(AutoRechargeConfig::from_lookup(|_| None).is_err());
    }
}
