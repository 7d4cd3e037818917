//! A payment provider's webhook, as the purchase flow reads it: the port the API depends on
//! (`POST /webhooks/stripe`), implemented by [`crate::adapters::stripe`] on Stripe's signed
//! events. The adapter verifies the signature and maps the provider's event types onto
//! [`PaymentEventKind`]; the API decides what each kind does to a purchase.

use time::OffsetDateTime;

use crate::ids::AccountId;
use crate::money::Money;
use crate::payments::{
    CheckoutSessionId, ProviderCustomerId, ProviderEventId, ProviderPaymentId,
    ProviderPaymentMethodId, PurchaseId,
};

/// A field of an event that is present but unreadable (the provider's words for why).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EventFieldError(pub String);

/// Why a delivery was refused; either way nothing in its body is acted on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookRefused {
    /// Missing, malformed, stale or forged signature.
    #[error("{0}")]
    Signature(String),
    /// Signed, but not an event that can be read.
    #[error("{0}")]
    Unreadable(String),
}

/// One verified delivery. `id` is what deduplicates redeliveries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentEvent {
    pub id: ProviderEventId,
    /// The provider's own name of the event, for logs.
    pub event_type: String,
    pub created: OffsetDateTime,
    pub kind: PaymentEventKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentEventKind {
    /// A checkout's money arrived: fulfil its purchase.
    CheckoutPaid(CheckoutEvent),
    /// The buyer finished, but a delayed payment method has not settled yet.
    CheckoutAwaitingPayment,
    /// A delayed payment failed.
    CheckoutFailed(CheckoutEvent),
    /// The checkout page was abandoned.
    CheckoutExpired(CheckoutEvent),
    /// A payment succeeded: the card that paid a checkout, to save for auto-recharge.
    PaymentSucceeded(PaymentSucceeded),
    /// Anything the purchase flow does not act on: acknowledge and ignore.
    Other,
}

/// What a checkout event says about its purchase. Fields read from our own metadata are
/// `Result`s: an unreadable one is refused only where the flow needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutEvent {
    pub session_id: CheckoutSessionId,
    /// `None` for a checkout imcredits did not create.
    pub purchase_id: Result<Option<PurchaseId>, EventFieldError>,
    pub account_id: Result<Option<AccountId>, EventFieldError>,
    pub customer: Option<ProviderCustomerId>,
    pub payment_intent: Option<ProviderPaymentId>,
    pub payment_method: Option<ProviderPaymentMethodId>,
    /// What was paid, as exact money.
    pub amount_total: Result<Option<Money>, EventFieldError>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentSucceeded {
    /// The purchase whose checkout took this payment; `None` for auto-recharge's own charges.
    pub purchase_id: Result<Option<PurchaseId>, EventFieldError>,
    pub account_id: Result<Option<AccountId>, EventFieldError>,
    pub customer: Option<ProviderCustomerId>,
    pub payment_method: Option<ProviderPaymentMethodId>,
}

/// Verifies and reads one webhook delivery.
pub trait PaymentWebhook: Send + Sync {
    /// The largest body read; the HTTP layer refuses a larger one before reading it.
    fn body_len_max(&self) -> usize;

    /// `signature`: the signature header if present; `body`: the raw bytes as received.
    fn read(
        &self,
        signature: Option<&str>,
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<PaymentEvent, WebhookRefused>;
}
