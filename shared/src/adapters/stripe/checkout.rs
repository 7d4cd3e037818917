//! `POST /v1/checkout/sessions`: the hosted page where a buyer pays for a credit purchase.

use serde::Deserialize;

use super::client::StripeClient;
use super::stripe_currency;
use crate::payments::CheckoutSessionId;
use crate::ports::payments::{
    CheckoutCreate, CheckoutCustomer, CheckoutRequest, CheckoutSession, PaymentError,
};

/// The form Stripe is sent for `request`, field by field (nested keys in Stripe's bracket form).
///
/// One line item whose unit amount is the quote's total (fee included) and quantity 1, so the card
/// is charged exactly the quoted total with no arithmetic at Stripe. The purchase id travels as
/// `client_reference_id` and in the metadata of both the session and its PaymentIntent, so every
/// webhook about the payment leads back to the purchase. `setup_future_usage=off_session` saves
/// the card on the customer for auto-recharge.
pub(crate) fn checkout_form(request: &CheckoutRequest) -> String {
    let purchase = request.purchase_id.as_str();
    let account = request.account_id.as_str();
    let credits = request.credits.to_string();
    let product_name = if request.credits == 1 {
        "1 messaging credit".to_owned()
    } else {
        format!("{credits} messaging credits")
    };
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("mode", "payment")
        .append_pair("line_items[0][quantity]", "1")
        .append_pair(
            "line_items[0][price_data][currency]",
            &stripe_currency(request.amount.currency()),
        )
        .append_pair(
            "line_items[0][price_data][unit_amount]",
            &request.amount.minor_units().to_string(),
        )
        .append_pair(
            "line_items[0][price_data][product_data][name]",
            &product_name,
        )
        .append_pair("client_reference_id", purchase)
        .append_pair("metadata[purchase_id]", purchase)
        .append_pair("metadata[account_id]", account)
        .append_pair("metadata[credits]", &credits)
        .append_pair("payment_intent_data[setup_future_usage]", "off_session")
        .append_pair("payment_intent_data[metadata][purchase_id]", purchase)
        .append_pair("payment_intent_data[metadata][account_id]", account)
        .append_pair("success_url", request.success_url.as_str())
        .append_pair("cancel_url", request.cancel_url.as_str());
    match &request.customer {
        // Stripe refuses `customer_creation` together with `customer`.
        CheckoutCustomer::New => form.append_pair("customer_creation", "always"),
        CheckoutCustomer::Existing(customer) => form.append_pair("customer", customer.as_str()),
    };
    if let Some(expires_at) = request.expires_at {
        form.append_pair("expires_at", &expires_at.unix_timestamp().to_string());
    }
    form.finish()
}

#[derive(Deserialize)]
struct SessionAnswer {
    id: CheckoutSessionId,
    url: Option<String>,
}

impl CheckoutCreate for StripeClient {
    async fn create_checkout(
        &self,
        request: &CheckoutRequest,
    ) -> Result<CheckoutSession, PaymentError> {
        let body = self
            .post_form(
                "checkout/sessions",
                checkout_form(request),
                &request.idempotency_key,
            )
            .await
            .map_err(|failure| failure.into_payment_error())?;
        let answer: SessionAnswer = serde_json::from_slice(&body).map_err(|error| {
            PaymentError::Misconfigured(format!("unexpected Checkout Session answer: {error}"))
        })?;
        // A hosted session always has a URL; none means an embedded `ui_mode`, not what we asked.
        let url = answer.url.ok_or_else(|| {
            PaymentError::Misconfigured(format!("Checkout Session {} has no url", answer.id))
        })?;
        Ok(CheckoutSession { id: answer.id, url })
    }
}
