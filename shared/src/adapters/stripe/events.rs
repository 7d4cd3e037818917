//! The Stripe webhook events imcredits acts on, read tolerantly: unknown fields are ignored (Stripe
//! adds them often), optional fields may be absent or null, expandable fields may be an id or an
//! object, and event types we do not use parse as [`EventKind::Other`] (answer 200, ignore).
//!
//! Parse only a body whose signature was verified ([`super::webhook`]), at most
//! [`WEBHOOK_BODY_LEN_MAX`] bytes. A body that is not an event, or a known event whose object
//! lacks its id, is an [`EventError`]: answer 400 and alert (Stripe retries for three days).
//!
//! Which events mean what for a purchase:
//! - `checkout.session.completed` with `payment_status: paid`: paid, fulfil;
//! - `checkout.session.completed` with `unpaid`: the buyer finished, but a delayed payment method
//!   (a bank debit) settles later: wait for
//! - `checkout.session.async_payment_succeeded` (fulfil) or `…async_payment_failed` (mark failed);
//! - `checkout.session.expired`: the page was abandoned (mark expired).
//!
//! [`StripeEvent::paid_checkout`] encodes this. Auto-recharge charges are confirmed by
//! `payment_intent.succeeded` / `payment_intent.payment_failed` with `metadata.attempt_id`.

use serde::Deserialize;
use time::OffsetDateTime;

use super::webhook::WEBHOOK_BODY_LEN_MAX;
use crate::ids::{AccountId, IdError};
use crate::money::{Currency, Money, MoneyError};
use crate::payments::{
    CheckoutSessionId, ProviderCustomerId, ProviderEventId, ProviderPaymentId,
    ProviderPaymentMethodId, PurchaseId, RechargeAttemptId,
};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("the body is larger than {WEBHOOK_BODY_LEN_MAX} bytes")]
    TooLarge,
    #[error("not a Stripe event: {0}")]
    Malformed(String),
    #[error("event {event_id}: {reason}")]
    Inconsistent {
        event_id: String,
        reason: &'static str,
    },
    #[error(transparent)]
    Id(#[from] IdError),
    #[error(transparent)]
    Money(#[from] MoneyError),
}

/// One webhook delivery. `id` is what deduplicates redeliveries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeEvent {
    pub id: ProviderEventId,
    /// As sent (`checkout.session.completed`, ...), including for [`EventKind::Other`].
    pub event_type: String,
    pub created: OffsetDateTime,
    /// `false` for test-mode events: a production endpoint should ignore them.
    pub livemode: bool,
    pub kind: EventKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    CheckoutSessionCompleted(CheckoutSessionObject),
    CheckoutSessionAsyncPaymentSucceeded(CheckoutSessionObject),
    CheckoutSessionAsyncPaymentFailed(CheckoutSessionObject),
    CheckoutSessionExpired(CheckoutSessionObject),
    PaymentIntentSucceeded(PaymentIntentObject),
    PaymentIntentPaymentFailed(PaymentIntentObject),
    /// An event type imcredits does not use: acknowledge (200) and ignore.
    Other {
        event_type: String,
    },
}

/// `payment_status` of a Checkout Session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckoutPaymentStatus {
    Paid,
    Unpaid,
    NoPaymentRequired,
    /// A status Stripe may add later: never treated as paid.
    #[serde(other)]
    Unknown,
}

/// The metadata keys imcredits writes, as sent back (raw: see the typed accessors).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ImcreditsMetadata {
    pub purchase_id: Option<String>,
    pub account_id: Option<String>,
    pub attempt_id: Option<String>,
    pub credits: Option<String>,
}

/// The fields of a Checkout Session that fulfilment needs.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CheckoutSessionObject {
    pub id: CheckoutSessionId,
    #[serde(default)]
    pub client_reference_id: Option<String>,
    #[serde(default, deserialize_with = "metadata")]
    pub metadata: ImcreditsMetadata,
    #[serde(default, deserialize_with = "expandable_id")]
    pub customer: Option<ProviderCustomerId>,
    #[serde(default, deserialize_with = "session_intent")]
    pub payment_intent: Option<SessionIntent>,
    #[serde(default = "unknown_status")]
    pub payment_status: CheckoutPaymentStatus,
    /// In the currency's minor units.
    #[serde(default)]
    pub amount_total: Option<i64>,
    /// Lowercase, as Stripe writes it.
    #[serde(default)]
    pub currency: Option<String>,
}

/// The session's PaymentIntent: its id, and its payment method when the event carries the intent
/// expanded (`data.object.payment_intent` as an object).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionIntent {
    pub id: ProviderPaymentId,
    pub payment_method: Option<ProviderPaymentMethodId>,
}

/// The fields of a PaymentIntent that auto-recharge (and saving the card) need.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PaymentIntentObject {
    pub id: ProviderPaymentId,
    #[serde(default)]
    pub status: Option<String>,
    /// In the currency's minor units.
    #[serde(default)]
    pub amount: Option<i64>,
    #[serde(default)]
    pub amount_received: Option<i64>,
    /// Lowercase, as Stripe writes it.
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default, deserialize_with = "expandable_id")]
    pub customer: Option<ProviderCustomerId>,
    /// The card to save for auto-recharge (present once the intent has one).
    #[serde(default, deserialize_with = "expandable_id")]
    pub payment_method: Option<ProviderPaymentMethodId>,
    #[serde(default, deserialize_with = "metadata")]
    pub metadata: ImcreditsMetadata,
    #[serde(default)]
    pub last_payment_error: Option<LastPaymentError>,
}

/// Why the last attempt of a PaymentIntent failed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct LastPaymentError {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub decline_code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

/// Reads one event from a verified webhook body.
pub fn parse_event(body: &[u8]) -> Result<StripeEvent, EventError> {
    if body.len() > WEBHOOK_BODY_LEN_MAX {
        return Err(EventError::TooLarge);
    }
    let raw: RawEvent = serde_json::from_slice(body).map_err(malformed)?;
    let created = OffsetDateTime::from_unix_timestamp(raw.created)
        .map_err(|_| EventError::Malformed("created is out of range".into()))?;
    let object = raw.data.object;
    let kind = match raw.event_type.as_str() {
        "checkout.session.completed" => EventKind::CheckoutSessionCompleted(typed(object)?),
        "checkout.session.async_payment_succeeded" => {
            EventKind::CheckoutSessionAsyncPaymentSucceeded(typed(object)?)
        }
        "checkout.session.async_payment_failed" => {
            EventKind::CheckoutSessionAsyncPaymentFailed(typed(object)?)
        }
        "checkout.session.expired" => EventKind::CheckoutSessionExpired(typed(object)?),
        "payment_intent.succeeded" => EventKind::PaymentIntentSucceeded(typed(object)?),
        "payment_intent.payment_failed" => EventKind::PaymentIntentPaymentFailed(typed(object)?),
        other => EventKind::Other {
            event_type: other.to_owned(),
        },
    };
    Ok(StripeEvent {
        id: raw.id,
        event_type: raw.event_type,
        created,
        livemode: raw.livemode,
        kind,
    })
}

impl StripeEvent {
    /// The session whose purchase this event says is paid, if it says so: a completed session
    /// with `payment_status: paid`, or a delayed payment that succeeded. `None` for everything
    /// else, including a completed but `unpaid` session (its money has not arrived yet).
    pub fn paid_checkout(&self) -> Option<&CheckoutSessionObject> {
        match &self.kind {
            EventKind::CheckoutSessionCompleted(session)
                if session.payment_status == CheckoutPaymentStatus::Paid =>
            {
                Some(session)
            }
            EventKind::CheckoutSessionAsyncPaymentSucceeded(session) => Some(session),
            _ => None,
        }
    }
}

impl CheckoutSessionObject {
    /// The purchase this session pays for: `metadata.purchase_id`, or `client_reference_id` when
    /// the metadata is absent; both are written by imcredits, so they must agree. `None` for a
    /// session imcredits did not create (another integration on the same Stripe account).
    pub fn purchase_id(&self) -> Result<Option<PurchaseId>, EventError> {
        let reference = match (&self.metadata.purchase_id, &self.client_reference_id) {
            (Some(from_metadata), Some(from_reference)) if from_metadata != from_reference => {
                return Err(EventError::Inconsistent {
                    event_id: self.id.to_string(),
                    reason: "metadata.purchase_id and client_reference_id differ",
                });
            }
            (Some(reference), _) | (None, Some(reference)) => reference,
            (None, None) => return Ok(None),
        };
        Ok(Some(PurchaseId::parse(reference)?))
    }

    pub fn account_id(&self) -> Result<Option<AccountId>, EventError> {
        self.metadata.account_id().map_err(EventError::from)
    }

    /// `amount_total` in `currency`, as exact money (to compare with the purchase's quote).
    pub fn amount_total(&self) -> Result<Option<Money>, EventError> {
        money(self.amount_total, self.currency.as_deref())
    }

    pub fn payment_intent_id(&self) -> Option<&ProviderPaymentId> {
        self.payment_intent.as_ref().map(|intent| &intent.id)
    }

    /// The payment method to save for auto-recharge, when the event carries it.
    pub fn payment_method(&self) -> Option<&ProviderPaymentMethodId> {
        self.payment_intent
            .as_ref()
            .and_then(|intent| intent.payment_method.as_ref())
    }
}

impl PaymentIntentObject {
    /// The recharge attempt this intent charged for; `None` for an intent auto-recharge did not
    /// create (a checkout's intent carries `purchase_id` instead).
    pub fn attempt_id(&self) -> Result<Option<RechargeAttemptId>, EventError> {
        Ok(self
            .metadata
            .attempt_id
            .as_deref()
            .map(RechargeAttemptId::parse)
            .transpose()?)
    }

    /// The purchase whose checkout created this intent, if one did.
    pub fn purchase_id(&self) -> Result<Option<PurchaseId>, EventError> {
        Ok(self
            .metadata
            .purchase_id
            .as_deref()
            .map(PurchaseId::parse)
            .transpose()?)
    }

    pub fn account_id(&self) -> Result<Option<AccountId>, EventError> {
        self.metadata.account_id().map_err(EventError::from)
    }

    /// `amount` in `currency`, as exact money.
    pub fn amount(&self) -> Result<Option<Money>, EventError> {
        money(self.amount, self.currency.as_deref())
    }
}

impl ImcreditsMetadata {
    fn account_id(&self) -> Result<Option<AccountId>, IdError> {
        self.account_id.as_deref().map(AccountId::parse).transpose()
    }
}

fn money(minor_units: Option<i64>, currency: Option<&str>) -> Result<Option<Money>, EventError> {
    let (Some(minor_units), Some(currency)) = (minor_units, currency) else {
        return Ok(None);
    };
    let currency: Currency = currency.to_ascii_uppercase().parse()?;
    Ok(Some(Money::from_minor_units(minor_units, currency)?))
}

#[derive(Deserialize)]
struct RawEvent {
    id: ProviderEventId,
    #[serde(rename = "type")]
    event_type: String,
    created: i64,
    #[serde(default)]
    livemode: bool,
    data: RawData,
}

#[derive(Deserialize)]
struct RawData {
    object: serde_json::Value,
}

fn typed<T: serde::de::DeserializeOwned>(object: serde_json::Value) -> Result<T, EventError> {
    serde_json::from_value(object).map_err(malformed)
}

fn malformed(error: serde_json::Error) -> EventError {
    // serde's message names the field and never echoes whole values; still, keep it short.
    EventError::Malformed(error.to_string().chars().take(300).collect())
}

fn unknown_status() -> CheckoutPaymentStatus {
    CheckoutPaymentStatus::Unknown
}

/// An expandable field: `"cus_123"`, `{"id": "cus_123", ...}`, or null.
#[derive(Deserialize)]
#[serde(untagged)]
enum Expandable<T> {
    Id(T),
    Object { id: T },
}

impl<T> Expandable<T> {
    fn into_id(self) -> T {
        match self {
            Expandable::Id(id) | Expandable::Object { id } => id,
        }
    }
}

fn expandable_id<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Expandable<T>>::deserialize(deserializer)?.map(Expandable::into_id))
}

/// `payment_intent` on a session: an id, or the expanded intent with its payment method.
fn session_intent<'de, D>(deserializer: D) -> Result<Option<SessionIntent>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Id(ProviderPaymentId),
        Object {
            id: ProviderPaymentId,
            #[serde(default, deserialize_with = "expandable_id")]
            payment_method: Option<ProviderPaymentMethodId>,
        },
    }
    Ok(
        Option::<Raw>::deserialize(deserializer)?.map(|raw| match raw {
            Raw::Id(id) => SessionIntent {
                id,
                payment_method: None,
            },
            Raw::Object { id, payment_method } => SessionIntent { id, payment_method },
        }),
    )
}

/// Metadata may be absent or null; values other than our keys are ignored.
fn metadata<'de, D>(deserializer: D) -> Result<ImcreditsMetadata, D::Error>
where
    D: serde::Deserializer<'de>,
{
    Ok(Option::<ImcreditsMetadata>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event_body(event_type: &str, object: serde_json::Value) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "id": "evt_1Q2w3E",
            "object": "event",
            "api_version": "2025-03-31.basil",
            "created": 1_763_726_400,
            "livemode": false,
            "pending_webhooks": 1,
            "request": {"id": null, "idempotency_key": null},
            "type": event_type,
            "data": {"object": object},
            "a_field_stripe_adds_next_year": {"nested": [1, 2]}
        }))
        .unwrap()
    }

    /// A session as Stripe sends it (trimmed), with fields we do not read left in.
    fn session(payment_status: &str) -> serde_json::Value {
        json!({
            "id": "cs_test_a1b2",
            "object": "checkout.session",
            "amount_subtotal": 618,
            "amount_total": 618,
            "client_reference_id": "pur-42",
            "currency": "usd",
            "customer": "cus_Q1",
            "customer_details": {"email": "a@example.com", "name": null},
            "metadata": {"purchase_id": "pur-42", "account_id": "acme", "credits": "3"},
            "mode": "payment",
            "payment_intent": "pi_3P",
            "payment_status": payment_status,
            "status": "complete",
            "url": null
        })
    }

    #[test]
    fn a_paid_completed_session_carries_what_fulfilment_needs() {
        let event =
            parse_event(&event_body("checkout.session.completed", session("paid"))).unwrap();
        assert_eq!(event.id.as_str(), "evt_1Q2w3E");
        assert_eq!(event.event_type, "checkout.session.completed");
        assert_eq!(event.created.unix_timestamp(), 1_763_726_400);
        assert!(!event.livemode);
        let EventKind::CheckoutSessionCompleted(session) = &event.kind else {
            panic!("parsed as {:?}", event.kind);
        };
        assert_eq!(session.id.as_str(), "cs_test_a1b2");
        assert_eq!(session.payment_status, CheckoutPaymentStatus::Paid);
        assert_eq!(session.client_reference_id.as_deref(), Some("pur-42"));
        assert_eq!(
            session.purchase_id().unwrap(),
            Some(PurchaseId::parse("pur-42").unwrap())
        );
        assert_eq!(
            session.account_id().unwrap(),
            Some(AccountId::parse("acme").unwrap())
        );
        assert_eq!(session.customer.as_ref().unwrap().as_str(), "cus_Q1");
        assert_eq!(session.payment_intent_id().unwrap().as_str(), "pi_3P");
        assert_eq!(session.payment_method(), None);
        assert_eq!(
            session.amount_total().unwrap(),
            Some(Money::parse("6.18", Currency::Usd).unwrap())
        );
        assert_eq!(event.paid_checkout(), Some(session));
    }

    #[test]
    fn only_paid_or_async_succeeded_sessions_are_paid() {
        for (event_type, status, paid) in [
            ("checkout.session.completed", "paid", true),
            ("checkout.session.completed", "unpaid", false),
            ("checkout.session.completed", "no_payment_required", false),
            (
                "checkout.session.completed",
                "a_status_from_the_future",
                false,
            ),
            ("checkout.session.async_payment_succeeded", "paid", true),
            ("checkout.session.async_payment_failed", "unpaid", false),
            ("checkout.session.expired", "unpaid", false),
        ] {
            let event = parse_event(&event_body(event_type, session(status))).unwrap();
            assert_eq!(
                event.paid_checkout().is_some(),
                paid,
                "{event_type} {status}"
            );
        }
        let unpaid =
            parse_event(&event_body("checkout.session.completed", session("unpaid"))).unwrap();
        assert!(matches!(
            unpaid.kind,
            EventKind::CheckoutSessionCompleted(CheckoutSessionObject {
                payment_status: CheckoutPaymentStatus::Unpaid,
                ..
            })
        ));
        let failed = parse_event(&event_body(
            "checkout.session.async_payment_failed",
            session("unpaid"),
        ))
        .unwrap();
        assert!(matches!(
            failed.kind,
            EventKind::CheckoutSessionAsyncPaymentFailed(_)
        ));
        let expired =
            parse_event(&event_body("checkout.session.expired", session("unpaid"))).unwrap();
        assert!(matches!(expired.kind, EventKind::CheckoutSessionExpired(_)));
    }

    #[test]
    fn an_expanded_intent_yields_the_payment_method_to_save() {
        let mut object = session("paid");
        object["payment_intent"] = json!({"id": "pi_3P", "object": "payment_intent",
            "payment_method": {"id": "pm_1Card", "object": "payment_method"}});
        object["customer"] = json!({"id": "cus_Q1", "object": "customer"});
        let event = parse_event(&event_body("checkout.session.completed", object)).unwrap();
        let session = event.paid_checkout().unwrap();
        assert_eq!(session.payment_intent_id().unwrap().as_str(), "pi_3P");
        assert_eq!(session.payment_method().unwrap().as_str(), "pm_1Card");
        assert_eq!(session.customer.as_ref().unwrap().as_str(), "cus_Q1");
    }

    #[test]
    fn absent_and_null_optional_fields_are_tolerated() {
        let object = json!({"id": "cs_1", "customer": null, "payment_intent": null,
            "metadata": null, "client_reference_id": null});
        let event = parse_event(&event_body("checkout.session.expired", object)).unwrap();
        let EventKind::CheckoutSessionExpired(session) = event.kind else {
            panic!("wrong kind");
        };
        assert_eq!(session.purchase_id().unwrap(), None);
        assert_eq!(session.payment_status, CheckoutPaymentStatus::Unknown);
        assert_eq!(session.amount_total().unwrap(), None);
        assert_eq!(session.customer, None);
    }

    #[test]
    fn disagreeing_references_are_refused() {
        let mut object = session("paid");
        object["client_reference_id"] = json!("pur-other");
        let event = parse_event(&event_body("checkout.session.completed", object)).unwrap();
        let session = event.paid_checkout().unwrap();
        assert!(matches!(
            session.purchase_id(),
            Err(EventError::Inconsistent { .. })
        ));
        // Only the reference present: it is used.
        let mut object = session_without_metadata();
        object["client_reference_id"] = json!("pur-9");
        let event = parse_event(&event_body("checkout.session.completed", object)).unwrap();
        assert_eq!(
            event.paid_checkout().unwrap().purchase_id().unwrap(),
            Some(PurchaseId::parse("pur-9").unwrap())
        );
    }

    fn session_without_metadata() -> serde_json::Value {
        let mut object = session("paid");
        object["metadata"] = json!({});
        object
    }

    #[test]
    fn payment_intent_events_carry_the_attempt_and_the_decline() {
        let object = json!({
            "id": "pi_9",
            "object": "payment_intent",
            "amount": 2_060_000,
            "amount_received": 0,
            "currency": "eur",
            "customer": "cus_Q1",
            "payment_method": "pm_1Card",
            "status": "requires_payment_method",
            "metadata": {"attempt_id": "acme-2026-11-21-1", "account_id": "acme", "credits": "10000"},
            "last_payment_error": {"type": "card_error", "code": "card_declined",
                "decline_code": "insufficient_funds", "message": "Your card has insufficient funds."}
        });
        let event = parse_event(&event_body("payment_intent.payment_failed", object)).unwrap();
        let EventKind::PaymentIntentPaymentFailed(intent) = &event.kind else {
            panic!("wrong kind: {:?}", event.kind);
        };
        assert_eq!(intent.id.as_str(), "pi_9");
        assert_eq!(
            intent.attempt_id().unwrap(),
            Some(RechargeAttemptId::parse("acme-2026-11-21-1").unwrap())
        );
        assert_eq!(intent.purchase_id().unwrap(), None);
        assert_eq!(
            intent.amount().unwrap(),
            Some(Money::parse("20600", Currency::Eur).unwrap())
        );
        assert_eq!(intent.payment_method.as_ref().unwrap().as_str(), "pm_1Card");
        let error = intent.last_payment_error.as_ref().unwrap();
        assert_eq!(error.code.as_deref(), Some("card_declined"));
        assert_eq!(error.decline_code.as_deref(), Some("insufficient_funds"));
        assert_eq!(event.paid_checkout(), None);

        let object = json!({"id": "pi_9", "status": "succeeded", "amount": 618, "currency": "usd",
            "metadata": {"attempt_id": "a-1"}});
        let event = parse_event(&event_body("payment_intent.succeeded", object)).unwrap();
        assert!(matches!(event.kind, EventKind::PaymentIntentSucceeded(_)));
    }

    #[test]
    fn other_event_types_parse_as_other() {
        let object = json!({"id": "ch_1", "object": "charge", "whatever": true});
        let event = parse_event(&event_body("charge.refunded", object)).unwrap();
        assert_eq!(
            event.kind,
            EventKind::Other {
                event_type: "charge.refunded".into()
            }
        );
        assert_eq!(event.event_type, "charge.refunded");
        // An unused type is not inspected, whatever its object holds.
        let event = parse_event(&event_body("customer.updated", json!(null))).unwrap();
        assert!(matches!(event.kind, EventKind::Other { .. }));
    }

    #[test]
    fn bodies_that_are_not_events_are_refused() {
        for body in [
            &b"not json"[..],
            br#"{"type": "checkout.session.completed"}"#,
            br#"{"id": "evt_1", "type": "x", "created": 1}"#,
            br#"{"id": "evt 1", "type": "x", "created": 1, "data": {"object": {}}}"#,
        ] {
            assert!(
                matches!(parse_event(body), Err(EventError::Malformed(_))),
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
        // A known type whose object has no id cannot be acted on.
        let body = event_body(
            "checkout.session.completed",
            json!({"payment_status": "paid"}),
        );
        assert!(matches!(parse_event(&body), Err(EventError::Malformed(_))));
        let body = vec![b' '; WEBHOOK_BODY_LEN_MAX + 1];
        assert_eq!(parse_event(&body), Err(EventError::TooLarge));
    }

    #[test]
    fn unsupported_currencies_are_an_error_not_a_guess() {
        let mut object = session("paid");
        object["currency"] = json!("chf");
        let event = parse_event(&event_body("checkout.session.completed", object)).unwrap();
        assert!(matches!(
            event.paid_checkout().unwrap().amount_total(),
            Err(EventError::Money(MoneyError::UnsupportedCurrency(_)))
        ));
    }
}
