//! Payments: the identifiers and amounts a payment provider is asked about.
//!
//! The port (what handlers depend on) is [`crate::ports::payments`]; [`crate::adapters::stripe`]
//! implements it on Stripe's HTTP API and verifies and reads Stripe's webhooks.
//!
//! Everything here is parsed once at the edge: a request that reaches an adapter already carries an
//! amount in whole minor units, identifiers that fit every place they are copied to (a ledger entry
//! id, Stripe metadata, an HTTP header), and return URLs a browser can follow.

pub mod purchase;
pub mod review;

use std::fmt;

use serde::Serialize;

use crate::ids::IdError;
use crate::money::{Currency, Money, MoneyError};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentRequestError {
    #[error("the amount to charge must be positive, got {0}")]
    NotPositive(Money),
    #[error(transparent)]
    Money(#[from] MoneyError),
    #[error(transparent)]
    Id(#[from] IdError),
    #[error("invalid return url: {0}")]
    ReturnUrl(&'static str),
}

/// Our own references (a purchase, a recharge attempt): letters, digits, `.`, `_`, `-`.
fn reference_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-')
}

/// Stripe object ids (`cs_…`, `cus_…`, `pm_…`, `pi_…`, `evt_…`): letters, digits and `_`.
fn provider_id_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

/// What an idempotency key may hold: visible ASCII, so it is a valid HTTP header value as is.
fn header_token_byte(byte: u8) -> bool {
    byte.is_ascii_graphic()
}

use crate::ids::string_id;

// 128 bytes: short enough to fit a ledger entry reference (160), Stripe's `client_reference_id`
// (200) and a metadata value (500) with room to spare.
string_id!(
    /// A credit purchase paid through a hosted checkout; the reference of its ledger entry.
    PurchaseId,
    "purchase id",
    128,
    reference_byte
);

string_id!(
    /// One auto-recharge attempt (one off-session charge); the reference of its ledger entry.
    RechargeAttemptId,
    "recharge attempt id",
    128,
    reference_byte
);

string_id!(
    /// The provider's customer, who owns the saved payment method (Stripe `cus_…`).
    ProviderCustomerId,
    "provider customer id",
    255,
    provider_id_byte
);

string_id!(
    /// A saved payment method, charged off-session by auto-recharge (Stripe `pm_…`).
    ProviderPaymentMethodId,
    "provider payment method id",
    255,
    provider_id_byte
);

string_id!(
    /// One payment at the provider (Stripe PaymentIntent `pi_…`).
    ProviderPaymentId,
    "provider payment id",
    255,
    provider_id_byte
);

string_id!(
    /// A hosted checkout page (Stripe Checkout Session `cs_…`).
    CheckoutSessionId,
    "checkout session id",
    255,
    provider_id_byte
);

string_id!(
    /// The provider's id of a webhook event (Stripe `evt_…`): what deduplicates deliveries.
    ProviderEventId,
    "provider event id",
    255,
    provider_id_byte
);

string_id!(
    /// Sent with every request that creates something at the provider, so that a retry after a
    /// timeout or a lost answer cannot create it twice. Derive it from what the request is (see the
    /// constructors), never from the time or a random number, and keep it for every retry.
    /// 255 visible ASCII bytes at most: Stripe's limit.
    IdempotencyKey,
    "idempotency key",
    255,
    header_token_byte
);

impl IdempotencyKey {
    /// The key of the one hosted checkout a purchase may create.
    pub fn checkout(purchase: &PurchaseId) -> Self {
        Self(format!("imcredits.checkout.{purchase}"))
    }

    /// The key of the one off-session charge a recharge attempt may make.
    pub fn recharge(attempt: &RechargeAttemptId) -> Self {
        Self(format!("imcredits.recharge.{attempt}"))
    }
}

/// An amount a card can be charged: positive and a whole number of the currency's minor units,
/// so what the provider charges is exactly what was quoted (nothing is rounded on the way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChargeAmount {
    money: Money,
    minor_units: i64,
}

impl ChargeAmount {
    pub fn new(money: Money) -> Result<Self, PaymentRequestError> {
        if !money.is_positive() {
            return Err(PaymentRequestError::NotPositive(money));
        }
        let minor_units = money.to_minor_units()?;
        Ok(Self { money, minor_units })
    }

    pub fn money(&self) -> Money {
        self.money
    }

    /// The amount in the currency's minor units (cents for USD, pesos for CLP): what Stripe's
    /// `amount` and `unit_amount` take.
    pub fn minor_units(&self) -> i64 {
        self.minor_units
    }

    pub fn currency(&self) -> Currency {
        self.money.currency()
    }
}

/// Where the hosted checkout sends the buyer back: an absolute `https://` URL (or `http://` for a
/// local runner), at most [`ReturnUrl::LEN_MAX`] bytes, no spaces or control characters. Stripe
/// replaces `{CHECKOUT_SESSION_ID}` in it with the session's id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ReturnUrl(String);

impl ReturnUrl {
    /// Stripe accepts up to 5,000; no page of ours needs more than this.
    pub const LEN_MAX: usize = 2_048;

    pub fn parse(text: &str) -> Result<Self, PaymentRequestError> {
        if text.len() > Self::LEN_MAX {
            return Err(PaymentRequestError::ReturnUrl("too long"));
        }
        if !text.bytes().all(|byte| byte.is_ascii_graphic()) {
            return Err(PaymentRequestError::ReturnUrl(
                "only visible ASCII (percent-encode the rest)",
            ));
        }
        let rest = text
            .strip_prefix("https://")
            .or_else(|| text.strip_prefix("http://"))
            .ok_or(PaymentRequestError::ReturnUrl(
                "must start with https:// or http://",
            ))?;
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if host.is_empty() {
            return Err(PaymentRequestError::ReturnUrl("no host"));
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ReturnUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(text: &str) -> Money {
        Money::parse(text, Currency::Usd).unwrap()
    }

    #[test]
    fn charge_amounts_are_positive_whole_minor_units() {
        let amount = ChargeAmount::new(usd("6.18")).unwrap();
        assert_eq!(amount.minor_units(), 618);
        assert_eq!(amount.currency(), Currency::Usd);
        let pesos = ChargeAmount::new(Money::parse("1200", Currency::Clp).unwrap()).unwrap();
        assert_eq!(pesos.minor_units(), 1200);
        assert!(matches!(
            ChargeAmount::new(usd("0")),
            Err(PaymentRequestError::NotPositive(_))
        ));
        assert!(matches!(
            ChargeAmount::new(usd("-1")),
            Err(PaymentRequestError::NotPositive(_))
        ));
        // A fraction of a cent is refused, never rounded.
        assert!(matches!(
            ChargeAmount::new(usd("6.185")),
            Err(PaymentRequestError::Money(MoneyError::NotInMinorUnits(_)))
        ));
    }

    #[test]
    fn ids_accept_their_alphabet_only() {
        assert!(PurchaseId::parse("pur_01J9.x-y").is_ok());
        for bad in ["", "a b", "a/b", "a:b", &"a".repeat(129)] {
            assert!(PurchaseId::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(ProviderCustomerId::parse("cus_NffrFeUfNV2Hib").is_ok());
        assert!(ProviderCustomerId::parse("cus-1").is_err());
        assert!(serde_json::from_str::<ProviderPaymentId>(r#""pi_1 x""#).is_err());
    }

    #[test]
    fn idempotency_keys_are_derived_from_what_is_created() {
        let purchase = PurchaseId::parse("p-1").unwrap();
        let attempt = RechargeAttemptId::parse("p-1").unwrap();
        assert_eq!(
            IdempotencyKey::checkout(&purchase),
            IdempotencyKey::checkout(&purchase)
        );
        assert_eq!(
            IdempotencyKey::checkout(&purchase).as_str(),
            "imcredits.checkout.p-1"
        );
        // The same reference never yields the same key for two different operations.
        assert_ne!(
            IdempotencyKey::checkout(&purchase).as_str(),
            IdempotencyKey::recharge(&attempt).as_str()
        );
        assert!(IdempotencyKey::parse("has space").is_err());
        assert!(IdempotencyKey::parse(&"k".repeat(256)).is_err());
    }

    #[test]
    fn return_urls_are_absolute_http_urls() {
        let url = ReturnUrl::parse("https://app.example.com/paid?s={CHECKOUT_SESSION_ID}").unwrap();
        assert_eq!(
            url.as_str(),
            "https://app.example.com/paid?s={CHECKOUT_SESSION_ID}"
        );
        assert!(ReturnUrl::parse("http://127.0.0.1:8080/back").is_ok());
        for bad in [
            "",
            "/relative",
            "ftp://x",
            "https://",
            "https:///path",
            "https://a b",
            "javascript:alert(1)",
        ] {
            assert!(ReturnUrl::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(ReturnUrl::parse(&format!("https://x/{}", "a".repeat(2_048))).is_err());
    }
}
