//! Payments on a laptop: a clearly labelled **fake** provider by default, or Stripe (test mode)
//! when real keys are in the environment.
//!
//! The fake replaces only the hosted page. Its checkout URL is a page served by this runner
//! (`/local/fake-checkout/{account}/{purchase}`) with a "Pay" and a "Decline" button; pressing one
//! sends Stripe-shaped events, signed with the runner's webhook secret exactly as Stripe signs
//! them, over HTTP to the runner's own `POST /webhooks/stripe`. So the real webhook path (signature
//! check, event parsing, fulfilment) is what credits the wallet, as it would in AWS.

use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Html;
use axum::routing::{get, post};
use imcredits::adapters::dynamodb::DynamoStore;
use imcredits::adapters::stripe::webhook::{
    TOLERANCE_S_DEFAULT, WebhookSecret, WebhookVerifier, signature_header,
};
use imcredits::api::purchases::Payments;
use imcredits::config::PaymentsConfig;
use imcredits::ids::AccountId;
use imcredits::payments::purchase::Purchase;
use imcredits::payments::{CheckoutSessionId, PurchaseId, ReturnUrl};
use imcredits::ports::payments::{CheckoutCreate, CheckoutRequest, CheckoutSession, PaymentError};
use imcredits::ports::store::PurchaseRead;
use serde::Deserialize;
use serde_json::json;

/// Which provider the runner uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PaymentsMode {
    Fake,
    Stripe,
}

impl PaymentsMode {
    /// `--payments` when given; otherwise Stripe if its secret key is in the environment.
    pub fn choose(flag: Option<PaymentsMode>, has_stripe_key: bool) -> Self {
        flag.unwrap_or(if has_stripe_key {
            PaymentsMode::Stripe
        } else {
            PaymentsMode::Fake
        })
    }
}

/// Ids the fake makes from ours: Stripe's alphabet is letters, digits and `_`.
fn stripe_token(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// The fake hosted checkout: a page on this runner instead of Stripe's. Like Stripe under an
/// idempotency key, the same purchase always gets the same session.
pub struct FakeCheckout {
    base_url: String,
}

impl CheckoutCreate for FakeCheckout {
    async fn create_checkout(
        &self,
        request: &CheckoutRequest,
    ) -> Result<CheckoutSession, PaymentError> {
        let session = format!("cs_fake_{}", stripe_token(request.purchase_id.as_str()));
        let id = CheckoutSessionId::parse(&session)
            .map_err(|error| PaymentError::Misconfigured(error.to_string()))?;
        Ok(CheckoutSession {
            id,
            url: format!(
                "{}/local/fake-checkout/{}/{}",
                self.base_url, request.account_id, request.purchase_id
            ),
        })
    }
}

struct FakeState {
    store: DynamoStore,
    secret: WebhookSecret,
    base_url: String,
    http: reqwest::Client,
}

/// Payments for the runner listening on `base_url`, and the extra routes the mode serves.
pub fn payments(
    mode: PaymentsMode,
    base_url: &str,
    store: &DynamoStore,
) -> anyhow::Result<(
    Payments,
    Router,
    Option<imcredits::adapters::stripe::StripeConfig>,
)> {
    let return_url = |result: &str| {
        ReturnUrl::parse(&format!("{base_url}/local/checkout-return?result={result}"))
            .context("the runner's return URL")
    };
    let pages = Router::new().route("/local/checkout-return", get(checkout_return));
    match mode {
        PaymentsMode::Stripe => {
            let success = return_url("success")?.to_string();
            let cancel = return_url("cancel")?.to_string();
            let config = PaymentsConfig::from_lookup(|name| {
                std::env::var(name).ok().or_else(|| match name {
                    "CHECKOUT_SUCCESS_URL" => Some(success.clone()),
                    "CHECKOUT_CANCEL_URL" => Some(cancel.clone()),
                    _ => None,
                })
            })
            .context("--payments stripe needs STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRETS")?;
            let stripe = config.stripe.clone();
            Ok((
                imcredits::setup::payments_through_stripe(config)?,
                pages,
                Some(stripe),
            ))
        }
        PaymentsMode::Fake => {
            let (payments, routes) = fake_payments(
                store,
                base_url,
                return_url("success")?,
                return_url("cancel")?,
            )?;
            Ok((payments, routes.merge(pages), None))
        }
    }
}

/// The fake provider: the API's payments and the fake checkout page's routes.
fn fake_payments(
    store: &DynamoStore,
    base_url: &str,
    success_url: ReturnUrl,
    cancel_url: ReturnUrl,
) -> anyhow::Result<(Payments, Router)> {
    // A fresh secret per start: only this process signs and checks the fake's events.
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).map_err(|error| anyhow::anyhow!("random: {error}"))?;
    let secret = WebhookSecret::parse(&format!("whsec_fake_{}", hex::encode(bytes)))?;
    let state = Arc::new(FakeState {
        store: store.clone(),
        secret: secret.clone(),
        base_url: base_url.to_owned(),
        http: reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()?,
    });
    let payments = Payments {
        checkout: Arc::new(FakeCheckout {
            base_url: base_url.to_owned(),
        }),
        webhook: Arc::new(WebhookVerifier::new(vec![secret], TOLERANCE_S_DEFAULT)?),
        success_url,
        cancel_url,
    };
    let routes = Router::new()
        .route("/local/fake-checkout/{account}/{purchase}", get(fake_page))
        .route(
            "/local/fake-checkout/{account}/{purchase}/pay",
            post(fake_pay),
        )
        .route(
            "/local/fake-checkout/{account}/{purchase}/decline",
            post(fake_decline),
        )
        .with_state(state);
    Ok((payments, routes))
}

fn page(status: StatusCode, title: &str, body: &str) -> (StatusCode, Html<String>) {
    (
        status,
        Html(format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
             <body style=\"font-family: sans-serif; max-width: 40em; margin: 2em auto\">\
             <p style=\"background: #fe6; padding: .5em\"><b>FAKE PAYMENTS</b>: imcredits-local; \
             no card is charged and no money moves.</p><h1>{title}</h1>{body}</body></html>"
        )),
    )
}

/// Our ids are restricted to characters that need no escaping; amounts are digits. Escaped anyway,
/// so a change there cannot turn into markup.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn find(
    state: &FakeState,
    account: &str,
    purchase: &str,
) -> Result<Purchase, (StatusCode, Html<String>)> {
    let not_found = || page(StatusCode::NOT_FOUND, "No such purchase", "");
    let (Ok(account), Ok(purchase)) = (AccountId::parse(account), PurchaseId::parse(purchase))
    else {
        return Err(not_found());
    };
    match state.store.get_purchase(&account, &purchase).await {
        Ok(Some(found)) => Ok(found),
        Ok(None) => Err(not_found()),
        Err(error) => Err(page(
            StatusCode::SERVICE_UNAVAILABLE,
            "The store did not answer",
            &escape(&error.to_string()),
        )),
    }
}

async fn fake_page(
    State(state): State<Arc<FakeState>>,
    Path((account, purchase)): Path<(String, String)>,
) -> (StatusCode, Html<String>) {
    let purchase = match find(&state, &account, &purchase).await {
        Ok(purchase) => purchase,
        Err(answer) => return answer,
    };
    let quote = &purchase.quote;
    let action = format!(
        "/local/fake-checkout/{}/{}",
        escape(purchase.account_id.as_str()),
        escape(purchase.id.as_str())
    );
    page(
        StatusCode::OK,
        "Checkout",
        &format!(
            "<p>Account <code>{account}</code>, purchase <code>{id}</code> ({status}).</p>\
             <p>{credits} credits: {subtotal} + fee {fee} = <b>{total} {currency}</b></p>\
             <form method=\"post\" action=\"{action}/pay\"><button>Pay</button></form>\
             <form method=\"post\" action=\"{action}/decline\"><button>Decline</button></form>",
            account = escape(purchase.account_id.as_str()),
            id = escape(purchase.id.as_str()),
            status = purchase.status,
            credits = quote.credits,
            subtotal = quote.subtotal.display_rounded(),
            fee = quote.fee.display_rounded(),
            total = quote.total.display_rounded(),
            currency = quote.total.currency(),
        ),
    )
}

/// The events Stripe would send for this purchase's session.
fn session_object(purchase: &Purchase, payment_status: &str, status: &str) -> serde_json::Value {
    let id = stripe_token(purchase.id.as_str());
    let customer = purchase.checkout_customer.as_ref().map_or_else(
        || format!("cus_fake_{}", stripe_token(purchase.account_id.as_str())),
        |customer| customer.to_string(),
    );
    json!({
        "id": format!("cs_fake_{id}"),
        "object": "checkout.session",
        "amount_total": purchase.quote.total.to_minor_units().ok(),
        "currency": purchase.quote.total.currency().code().to_ascii_lowercase(),
        "client_reference_id": purchase.id,
        "customer": customer,
        "metadata": {
            "purchase_id": purchase.id,
            "account_id": purchase.account_id,
            "credits": purchase.quote.credits.to_string()
        },
        "mode": "payment",
        "payment_intent": format!("pi_fake_{id}"),
        "payment_status": payment_status,
        "status": status
    })
}

fn event(purchase: &Purchase, event_type: &str, object: serde_json::Value) -> Vec<u8> {
    let suffix = event_type.replace('.', "_");
    serde_json::to_vec(&json!({
        "id": format!("evt_fake_{}_{suffix}", stripe_token(purchase.id.as_str())),
        "object": "event",
        "created": time::OffsetDateTime::now_utc().unix_timestamp(),
        "livemode": false,
        "type": event_type,
        "data": {"object": object}
    }))
    .unwrap_or_default()
}

/// Sends one signed event to the runner's own webhook; answers its `outcome`.
async fn deliver(state: &FakeState, body: Vec<u8>) -> Result<String, String> {
    let signature = signature_header(&state.secret, time::OffsetDateTime::now_utc(), &body);
    let response = state
        .http
        .post(format!("{}/webhooks/stripe", state.base_url))
        .header("Stripe-Signature", signature)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .map_err(|error| format!("the webhook did not answer: {error}"))?;
    let status = response.status();
    let bytes = response
        .bytes()
        .await
        .map_err(|error| format!("the webhook's answer was cut: {error}"))?;
    let answer: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|error| format!("the webhook answered {status} with no JSON: {error}"))?;
    if status.is_success() {
        Ok(answer["outcome"].as_str().unwrap_or("?").to_owned())
    } else {
        Err(format!("the webhook answered {status}: {answer}"))
    }
}

/// The events Stripe would send for the fake page's button: paid (the session completed and the
/// card that paid, saved for auto-recharge) or declined.
fn fake_events(purchase: &Purchase, pay: bool) -> Vec<Vec<u8>> {
    let mut events = Vec::new();
    if pay {
        events.push(event(
            purchase,
            "checkout.session.completed",
            session_object(purchase, "paid", "complete"),
        ));
        // The card that paid, as `payment_intent.succeeded` names it: saved for auto-recharge.
        let session = session_object(purchase, "paid", "complete");
        events.push(event(
            purchase,
            "payment_intent.succeeded",
            json!({
                "id": session["payment_intent"],
                "object": "payment_intent",
                "amount": session["amount_total"],
                "currency": session["currency"],
                "customer": session["customer"],
                "payment_method": "pm_fake_visa",
                "status": "succeeded",
                "metadata": {"purchase_id": purchase.id, "account_id": purchase.account_id}
            }),
        ));
    } else {
        events.push(event(
            purchase,
            "checkout.session.async_payment_failed",
            session_object(purchase, "unpaid", "complete"),
        ));
    }
    events
}

async fn complete(
    state: Arc<FakeState>,
    account: String,
    purchase: String,
    pay: bool,
) -> (StatusCode, Html<String>) {
    let purchase = match find(&state, &account, &purchase).await {
        Ok(purchase) => purchase,
        Err(answer) => return answer,
    };
    let events = fake_events(&purchase, pay);
    let mut lines = Vec::new();
    for body in events {
        match deliver(&state, body).await {
            Ok(outcome) => lines.push(format!(
                "<li>webhook: <code>{}</code></li>",
                escape(&outcome)
            )),
            Err(problem) => {
                return page(
                    StatusCode::BAD_GATEWAY,
                    "The webhook failed",
                    &escape(&problem),
                );
            }
        }
    }
    let (title, next) = if pay {
        (
            "Paid",
            "the credits are in the wallet: <code>GET /v1/wallet</code>",
        )
    } else {
        (
            "Declined",
            "the purchase is marked failed; nothing was credited",
        )
    };
    page(
        StatusCode::OK,
        title,
        &format!("<ul>{}</ul><p>{next}.</p>", lines.join("")),
    )
}

async fn fake_pay(
    State(state): State<Arc<FakeState>>,
    Path((account, purchase)): Path<(String, String)>,
) -> (StatusCode, Html<String>) {
    complete(state, account, purchase, true).await
}

async fn fake_decline(
    State(state): State<Arc<FakeState>>,
    Path((account, purchase)): Path<(String, String)>,
) -> (StatusCode, Html<String>) {
    complete(state, account, purchase, false).await
}

#[derive(Deserialize)]
struct ReturnQuery {
    result: Option<String>,
}

/// Where the hosted page (Stripe's or the fake's) sends the buyer back.
async fn checkout_return(Query(query): Query<ReturnQuery>) -> (StatusCode, Html<String>) {
    let text = match query.result.as_deref() {
        Some("success") => {
            "Payment submitted: the wallet is credited when the provider confirms it."
        }
        _ => "Checkout cancelled: nothing was charged.",
    };
    (
        StatusCode::OK,
        Html(format!(
            "<!doctype html><html><body><h1>imcredits-local</h1><p>{text}</p></body></html>"
        )),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stripe_keys_switch_the_default_and_the_flag_wins() {
        assert_eq!(PaymentsMode::choose(None, false), PaymentsMode::Fake);
        assert_eq!(PaymentsMode::choose(None, true), PaymentsMode::Stripe);
        assert_eq!(
            PaymentsMode::choose(Some(PaymentsMode::Fake), true),
            PaymentsMode::Fake
        );
        assert_eq!(
            PaymentsMode::choose(Some(PaymentsMode::Stripe), false),
            PaymentsMode::Stripe
        );
    }

    #[test]
    fn fake_ids_use_stripe_s_alphabet() {
        assert_eq!(stripe_token("pur_ab-c.d"), "pur_ab_c_d");
    }
}
