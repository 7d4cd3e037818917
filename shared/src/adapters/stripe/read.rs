//! Stripe's signed events onto the [`PaymentWebhook`] port: the signature first, then the event,
//! then which event means what for a purchase (see [`super::events`]).

use time::OffsetDateTime;

use super::events::{CheckoutSessionObject, EventKind, PaymentIntentObject, parse_event};
use super::webhook::{WEBHOOK_BODY_LEN_MAX, WebhookVerifier};
use crate::ports::payment_events::{
    CheckoutEvent, EventFieldError, PaymentEvent, PaymentEventKind, PaymentSucceeded,
    PaymentWebhook, WebhookRefused,
};

fn field<T>(read: Result<T, super::events::EventError>) -> Result<T, EventFieldError> {
    read.map_err(|error| EventFieldError(error.to_string()))
}

fn checkout(session: &CheckoutSessionObject) -> CheckoutEvent {
    CheckoutEvent {
        session_id: session.id.clone(),
        purchase_id: field(session.purchase_id()),
        account_id: field(session.account_id()),
        customer: session.customer.clone(),
        payment_intent: session.payment_intent_id().cloned(),
        payment_method: session.payment_method().cloned(),
        amount_total: field(session.amount_total()),
    }
}

fn succeeded(intent: &PaymentIntentObject) -> PaymentSucceeded {
    PaymentSucceeded {
        purchase_id: field(intent.purchase_id()),
        account_id: field(intent.account_id()),
        customer: intent.customer.clone(),
        payment_method: intent.payment_method.clone(),
    }
}

impl PaymentWebhook for WebhookVerifier {
    fn body_len_max(&self) -> usize {
        WEBHOOK_BODY_LEN_MAX
    }

    fn read(
        &self,
        signature: Option<&str>,
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<PaymentEvent, WebhookRefused> {
        self.verify(signature, body, now)
            .map_err(|error| WebhookRefused::Signature(error.to_string()))?;
        let event =
            parse_event(body).map_err(|error| WebhookRefused::Unreadable(error.to_string()))?;
        let kind = match &event.kind {
            EventKind::CheckoutSessionCompleted(session)
            | EventKind::CheckoutSessionAsyncPaymentSucceeded(session)
                if event.paid_checkout().is_some() =>
            {
                PaymentEventKind::CheckoutPaid(checkout(session))
            }
            EventKind::CheckoutSessionCompleted(_) => PaymentEventKind::CheckoutAwaitingPayment,
            EventKind::CheckoutSessionAsyncPaymentFailed(session) => {
                PaymentEventKind::CheckoutFailed(checkout(session))
            }
            EventKind::CheckoutSessionExpired(session) => {
                PaymentEventKind::CheckoutExpired(checkout(session))
            }
            EventKind::PaymentIntentSucceeded(intent) => {
                PaymentEventKind::PaymentSucceeded(succeeded(intent))
            }
            _ => PaymentEventKind::Other,
        };
        Ok(PaymentEvent {
            id: event.id,
            event_type: event.event_type,
            created: event.created,
            kind,
        })
    }
}
