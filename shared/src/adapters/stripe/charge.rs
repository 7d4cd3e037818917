//! `POST /v1/payment_intents` with `confirm=true&off_session=true`: auto-recharge charges the card
//! saved at checkout, without the customer present.

use serde::Deserialize;

use super::client::{ApiError, CallFailure, StripeClient, bounded};
use super::stripe_currency;
use crate::payments::ProviderPaymentId;
use crate::ports::payments::{
    ChargeOutcome, OffSessionCharge, OffSessionChargeRequest, PaymentError,
};

/// Stripe's error code when the bank wants the customer to authenticate (3-D Secure).
const AUTHENTICATION_REQUIRED: &str = "authentication_required";

/// The form Stripe is sent for `request`.
///
/// `automatic_payment_methods[allow_redirects]=never`: an off-session charge cannot send anyone
/// to a bank's page, and without it Stripe may ask for a `return_url` when confirming.
pub(crate) fn charge_form(request: &OffSessionChargeRequest) -> String {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("amount", &request.amount.minor_units().to_string())
        .append_pair("currency", &stripe_currency(request.amount.currency()))
        .append_pair("customer", request.customer.as_str())
        .append_pair("payment_method", request.payment_method.as_str())
        .append_pair("off_session", "true")
        .append_pair("confirm", "true")
        .append_pair("automatic_payment_methods[enabled]", "true")
        .append_pair("automatic_payment_methods[allow_redirects]", "never")
        .append_pair("metadata[attempt_id]", request.attempt_id.as_str())
        .append_pair("metadata[account_id]", request.account_id.as_str())
        .append_pair("metadata[credits]", &request.credits.to_string());
    form.finish()
}

#[derive(Deserialize)]
struct IntentAnswer {
    id: ProviderPaymentId,
    status: String,
    last_payment_error: Option<ApiError>,
}

/// A 200 answer: the PaymentIntent after Stripe tried to confirm it.
fn outcome_of_intent(answer: IntentAnswer) -> Result<ChargeOutcome, PaymentError> {
    let payment_id = answer.id;
    match answer.status.as_str() {
        "succeeded" => Ok(ChargeOutcome::Succeeded { payment_id }),
        "processing" => Ok(ChargeOutcome::Processing { payment_id }),
        "requires_action" => Ok(ChargeOutcome::RequiresAction {
            payment_id: Some(payment_id),
        }),
        // Stripe answers a failed off-session attempt with a 402, but a 200 that left the intent
        // without a usable payment method is the same decline.
        "requires_payment_method" | "canceled" => {
            let error = answer.last_payment_error.unwrap_or_default();
            Ok(ChargeOutcome::Declined {
                code: error.code.clone().unwrap_or_else(|| answer.status.clone()),
                decline_code: error.decline_code.clone(),
                message: error.message_bounded(),
                payment_id: Some(payment_id),
            })
        }
        // `requires_confirmation` / `requires_capture` cannot follow from the form we send.
        other => Err(PaymentError::Misconfigured(format!(
            "PaymentIntent {payment_id} is in unexpected status {}",
            bounded(other)
        ))),
    }
}

/// A 402: "the parameters were valid but the request failed", i.e. the card was declined or
/// needs the customer to authenticate.
fn outcome_of_402(error: ApiError) -> ChargeOutcome {
    let payment_id = error
        .payment_intent
        .as_ref()
        .and_then(|intent| intent.id.as_deref())
        .and_then(|id| ProviderPaymentId::parse(id).ok());
    let needs_authentication = error.code.as_deref() == Some(AUTHENTICATION_REQUIRED)
        || error.decline_code.as_deref() == Some(AUTHENTICATION_REQUIRED);
    if needs_authentication {
        return ChargeOutcome::RequiresAction { payment_id };
    }
    ChargeOutcome::Declined {
        message: error.message_bounded(),
        code: error.code.unwrap_or_else(|| "card_declined".to_owned()),
        decline_code: error.decline_code,
        payment_id,
    }
}

impl OffSessionCharge for StripeClient {
    async fn charge_off_session(
        &self,
        request: &OffSessionChargeRequest,
    ) -> Result<ChargeOutcome, PaymentError> {
        let body = match self
            .post_form(
                "payment_intents",
                charge_form(request),
                &request.idempotency_key,
            )
            .await
        {
            Ok(body) => body,
            Err(CallFailure::Status {
                status: 402, error, ..
            }) => return Ok(outcome_of_402(error)),
            Err(failure) => return Err(failure.into_payment_error()),
        };
        let answer: IntentAnswer = serde_json::from_slice(&body).map_err(|error| {
            PaymentError::Misconfigured(format!("unexpected PaymentIntent answer: {error}"))
        })?;
        outcome_of_intent(answer)
    }
}
