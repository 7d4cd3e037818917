//! The payment provider, as narrow traits: the checkout function asks only for
//! [`CheckoutCreate`], the auto-recharge function only for [`OffSessionCharge`], so a test (or the
//! local runner's fake provider) implements only what it is asked for.
//!
//! Results are grouped by what the caller must do. An off-session charge the provider answered
//! ([`ChargeOutcome`]: succeeded, processing, requires action, declined) is a business outcome the
//! auto-recharge policy reacts to; a [`PaymentError`] means the call itself did not get an answer
//! that could be acted upon.

use std::future::Future;

use time::OffsetDateTime;

use crate::ids::AccountId;
use crate::money::CreditQuote;
use crate::payments::{
    ChargeAmount, CheckoutSessionId, IdempotencyKey, PaymentRequestError, ProviderCustomerId,
    ProviderPaymentId, ProviderPaymentMethodId, PurchaseId, RechargeAttemptId, ReturnUrl,
};

/// Who pays at the hosted checkout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckoutCustomer {
    /// A first purchase: the provider creates a customer, so the card can be saved for
    /// auto-recharge.
    New,
    /// The account already has a customer at the provider: the card is saved to it.
    Existing(ProviderCustomerId),
}

/// A hosted checkout for one credit purchase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutRequest {
    pub purchase_id: PurchaseId,
    pub account_id: AccountId,
    /// The quote's total, fee included: exactly what the card is charged.
    pub amount: ChargeAmount,
    /// Credits the purchase adds to the wallet once paid (shown to the buyer, kept in metadata).
    pub credits: u32,
    pub customer: CheckoutCustomer,
    pub success_url: ReturnUrl,
    pub cancel_url: ReturnUrl,
    /// When the page stops accepting payment; `None` leaves the provider's default (24 h at
    /// Stripe, which accepts 30 minutes to 24 hours from creation).
    pub expires_at: Option<OffsetDateTime>,
    pub idempotency_key: IdempotencyKey,
}

impl CheckoutRequest {
    /// A checkout for `quote`, keyed by the purchase so that creating it twice yields one page.
    pub fn for_quote(
        purchase_id: PurchaseId,
        account_id: AccountId,
        quote: &CreditQuote,
        customer: CheckoutCustomer,
        success_url: ReturnUrl,
        cancel_url: ReturnUrl,
    ) -> Result<Self, PaymentRequestError> {
        Ok(Self {
            idempotency_key: IdempotencyKey::checkout(&purchase_id),
            purchase_id,
            account_id,
            amount: ChargeAmount::new(quote.total)?,
            credits: quote.credits,
            customer,
            success_url,
            cancel_url,
            expires_at: None,
        })
    }
}

/// A hosted checkout page, created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutSession {
    pub id: CheckoutSessionId,
    /// Where to send the buyer.
    pub url: String,
}

/// One auto-recharge charge of a saved card, without the customer present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffSessionChargeRequest {
    pub attempt_id: RechargeAttemptId,
    pub account_id: AccountId,
    pub amount: ChargeAmount,
    /// Credits the charge adds to the wallet once it succeeds.
    pub credits: u32,
    pub customer: ProviderCustomerId,
    pub payment_method: ProviderPaymentMethodId,
    pub idempotency_key: IdempotencyKey,
}

impl OffSessionChargeRequest {
    /// A charge keyed by the attempt, so a retried attempt can never charge twice.
    pub fn for_attempt(
        attempt_id: RechargeAttemptId,
        account_id: AccountId,
        quote: &CreditQuote,
        customer: ProviderCustomerId,
        payment_method: ProviderPaymentMethodId,
    ) -> Result<Self, PaymentRequestError> {
        Ok(Self {
            idempotency_key: IdempotencyKey::recharge(&attempt_id),
            attempt_id,
            account_id,
            amount: ChargeAmount::new(quote.total)?,
            credits: quote.credits,
            customer,
            payment_method,
        })
    }
}

/// What the provider answered about an off-session charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChargeOutcome {
    /// The money is taken: credit the wallet (the webhook confirms it too; the ledger entry id
    /// keeps the two from crediting twice).
    Succeeded { payment_id: ProviderPaymentId },
    /// Accepted but not final (some payment methods settle later): wait for the webhook.
    Processing { payment_id: ProviderPaymentId },
    /// The bank wants the customer to authenticate (3-D Secure), which cannot happen off-session:
    /// ask the customer to buy on-session; do not retry off-session with the same card.
    RequiresAction {
        payment_id: Option<ProviderPaymentId>,
    },
    /// The card was declined: back off, count it, disable auto-recharge after repeated declines.
    /// `code` is the provider's error code (`card_declined`, `expired_card`, ...); `decline_code`
    /// the issuer's reason when given (`insufficient_funds`, ...).
    Declined {
        code: String,
        decline_code: Option<String>,
        message: String,
        payment_id: Option<ProviderPaymentId>,
    },
}

/// Why a call got no answer that could be acted upon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetryCause {
    Timeout,
    Connection,
    /// 5xx, 429 (rate limited or a lock timeout), 409 (the same idempotency key is in flight).
    Status {
        status: u16,
        code: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentError {
    /// The outcome is unknown or the provider is briefly unavailable. Retry later with the **same**
    /// request and idempotency key (never a new key: the first call may have gone through), within
    /// 24 hours (Stripe may forget a key after that; past it, look the payment up or wait for its
    /// webhook first). `attempts` is how many calls the adapter already made.
    #[error("payment provider unavailable after {attempts} attempts: {cause:?}")]
    Retryable { cause: RetryCause, attempts: u32 },
    /// The provider refused the request as sent (a 4xx that will not change on retry): a bug or
    /// data the provider will not take (an unknown customer, an amount below its minimum).
    #[error("payment provider rejected the request ({status}, {code:?}): {message}")]
    Rejected {
        status: u16,
        code: Option<String>,
        message: String,
    },
    /// Our side is wrong (a bad or revoked key, a wrong base URL, an answer of a shape we do not
    /// know): alert an operator; retrying will not help.
    #[error("payment provider misconfigured: {0}")]
    Misconfigured(String),
}

impl PaymentError {
    /// Whether the same request, with the same idempotency key, may succeed later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, PaymentError::Retryable { .. })
    }
}

pub trait CheckoutCreate {
    /// Creates the hosted checkout page for a purchase. Safe to retry with the same request: the
    /// idempotency key makes the provider answer with the page it created the first time.
    fn create_checkout(
        &self,
        request: &CheckoutRequest,
    ) -> impl Future<Output = Result<CheckoutSession, PaymentError>> + Send;
}

pub trait OffSessionCharge {
    /// Charges the saved payment method of the customer, who is not present. Safe to retry with the
    /// same request: the idempotency key makes the provider charge at most once.
    fn charge_off_session(
        &self,
        request: &OffSessionChargeRequest,
    ) -> impl Future<Output = Result<ChargeOutcome, PaymentError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::{Currency, QuotePolicy};

    #[test]
    fn requests_from_a_quote_charge_its_total_under_a_derived_key() {
        let policy = QuotePolicy::zoho_default(Currency::Eur);
        let quote = policy.quote(policy.credits(3).unwrap()).unwrap();
        let purchase = PurchaseId::parse("pur-7").unwrap();
        let url = ReturnUrl::parse("https://app.example.com/back").unwrap();
        let checkout = CheckoutRequest::for_quote(
            purchase.clone(),
            AccountId::parse("acme").unwrap(),
            &quote,
            CheckoutCustomer::New,
            url.clone(),
            url,
        )
        .unwrap();
        assert_eq!(checkout.amount.minor_units(), 618);
        assert_eq!(checkout.amount.currency(), Currency::Eur);
        assert_eq!(checkout.credits, 3);
        assert_eq!(
            checkout.idempotency_key,
            IdempotencyKey::checkout(&purchase)
        );

        let attempt = RechargeAttemptId::parse("acme-2026-11-21-1").unwrap();
        let charge = OffSessionChargeRequest::for_attempt(
            attempt.clone(),
            AccountId::parse("acme").unwrap(),
            &quote,
            ProviderCustomerId::parse("cus_1").unwrap(),
            ProviderPaymentMethodId::parse("pm_1").unwrap(),
        )
        .unwrap();
        assert_eq!(charge.amount.minor_units(), 618);
        assert_eq!(charge.idempotency_key, IdempotencyKey::recharge(&attempt));
    }

    #[test]
    fn only_unknown_outcomes_are_retryable() {
        let retryable = PaymentError::Retryable {
            cause: RetryCause::Timeout,
            attempts: 3,
        };
        assert!(retryable.is_retryable());
        let rejected = PaymentError::Rejected {
            status: 400,
            code: None,
            message: "bad".into(),
        };
        assert!(!rejected.is_retryable());
        assert!(!PaymentError::Misconfigured("key".into()).is_retryable());
    }
}
