//! A local stand-in for Stripe's API (`wiremock` on loopback) that records what the code sends,
//! and Stripe-shaped webhook events signed the way Stripe signs them.

use std::sync::Arc;

use imcredits::adapters::stripe::webhook::{
    TOLERANCE_S_DEFAULT, WebhookSecret, WebhookVerifier, signature_header,
};
use imcredits::adapters::stripe::{StripeClient, StripeConfig, StripeSecretKey};
use imcredits::api::purchases::Payments;
use imcredits::payments::ReturnUrl;
use serde_json::{Value, json};
use time::OffsetDateTime;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const SECRET_KEY: &str = "sk_test_51Hx0standin";
pub const WEBHOOK_SECRET: &str = "whsec_standin_signing_secret";
pub const SUCCESS_URL: &str = "https://app.example.com/paid?session={CHECKOUT_SESSION_ID}";
pub const CANCEL_URL: &str = "https://app.example.com/cancelled";

/// Answers `POST /v1/checkout/sessions` as Stripe does for an idempotent request: the session is
/// a function of the `Idempotency-Key`, so the same key always yields the same session.
struct SessionPerKey;

pub fn session_id_for_key(key: &str) -> String {
    let tail: String = key
        .rsplit('.')
        .next()
        .unwrap_or(key)
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("cs_test_{tail}")
}

impl Respond for SessionPerKey {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let Some(key) = request
            .headers
            .get("Idempotency-Key")
            .and_then(|value| value.to_str().ok())
        else {
            return ResponseTemplate::new(400).set_body_json(json!({"error": {
                "type": "invalid_request_error", "message": "the stand-in wants an Idempotency-Key"}}));
        };
        let id = session_id_for_key(key);
        let form = form(request);
        ResponseTemplate::new(200).set_body_json(json!({
            "id": id,
            "object": "checkout.session",
            "url": format!("https://checkout.stripe.com/c/pay/{id}"),
            "amount_total": form.get("line_items[0][price_data][unit_amount]")
                .and_then(|amount| amount.parse::<i64>().ok()),
            "currency": form.get("line_items[0][price_data][currency]"),
            "payment_status": "unpaid",
            "status": "open"
        }))
    }
}

/// The form fields of a request to Stripe (a field sent twice fails the test: it would be a bug).
pub fn form(request: &Request) -> std::collections::HashMap<String, String> {
    let mut fields = std::collections::HashMap::new();
    for (key, value) in form_urlencoded::parse(&request.body) {
        let previous = fields.insert(key.into_owned(), value.into_owned());
        assert!(previous.is_none(), "a field is sent twice");
    }
    fields
}

/// Stripe's API on loopback.
pub struct StripeStandIn {
    pub server: MockServer,
}

impl StripeStandIn {
    pub async fn start() -> Self {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1/checkout/sessions"))
            .respond_with(SessionPerKey)
            .mount(&server)
            .await;
        Self { server }
    }

    /// Every Checkout Session creation the code sent, in order.
    pub async fn checkout_requests(&self) -> Vec<Request> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|request| request.url.path() == "/v1/checkout/sessions")
            .collect()
    }

    /// The API's payments pointed at this stand-in, with quick retries.
    pub fn payments(&self) -> Payments {
        let mut config = StripeConfig::new(StripeSecretKey::parse(SECRET_KEY).expect("a test key"));
        config.base_url = self.server.uri();
        config.backoff_base_ms = 1;
        config.backoff_max_ms = 5;
        Payments {
            checkout: Arc::new(StripeClient::new(config).expect("a valid client")),
            webhook: Arc::new(verifier()),
            success_url: ReturnUrl::parse(SUCCESS_URL).expect("a valid URL"),
            cancel_url: ReturnUrl::parse(CANCEL_URL).expect("a valid URL"),
        }
    }
}

pub fn secret() -> WebhookSecret {
    WebhookSecret::parse(WEBHOOK_SECRET).expect("a valid secret")
}

pub fn verifier() -> WebhookVerifier {
    WebhookVerifier::new(vec![secret()], TOLERANCE_S_DEFAULT).expect("one secret")
}

/// `Stripe-Signature` for `body` signed now (or at `at`) with the endpoint's secret.
pub fn sign(body: &[u8], at: OffsetDateTime) -> String {
    signature_header(&secret(), at, body)
}

/// What a Checkout Session event says about one purchase.
#[derive(Debug, Clone)]
pub struct SessionFacts {
    pub session_id: String,
    pub purchase_id: String,
    pub account_id: String,
    pub credits: u32,
    pub amount_total: i64,
    pub currency: &'static str,
    pub customer: String,
    pub payment_intent: String,
}

impl SessionFacts {
    /// The facts of the session the stand-in created for `purchase_id`.
    pub fn for_purchase(
        purchase_id: &str,
        account_id: &str,
        credits: u32,
        amount_total: i64,
    ) -> Self {
        Self {
            session_id: session_id_for_key(&format!("imcredits.checkout.{purchase_id}")),
            purchase_id: purchase_id.to_owned(),
            account_id: account_id.to_owned(),
            credits,
            amount_total,
            currency: "usd",
            customer: format!("cus_{}", account_id.replace(['-', '.'], "_")),
            payment_intent: format!("pi_{}", purchase_id.replace(['-', '.'], "_")),
        }
    }
}

/// A Checkout Session event (`checkout.session.completed`, `...expired`, ...), shaped as Stripe
/// sends it, with fields imcredits does not read left in.
pub fn session_event(
    event_id: &str,
    event_type: &str,
    payment_status: &str,
    facts: &SessionFacts,
) -> Vec<u8> {
    let object = json!({
        "id": facts.session_id,
        "object": "checkout.session",
        "amount_subtotal": facts.amount_total,
        "amount_total": facts.amount_total,
        "client_reference_id": facts.purchase_id,
        "currency": facts.currency,
        "customer": facts.customer,
        "customer_details": {"email": "buyer@example.com"},
        "metadata": {
            "purchase_id": facts.purchase_id,
            "account_id": facts.account_id,
            "credits": facts.credits.to_string()
        },
        "mode": "payment",
        "payment_intent": facts.payment_intent,
        "payment_status": payment_status,
        "status": if event_type == "checkout.session.expired" { "expired" } else { "complete" },
        "url": null
    });
    event(event_id, event_type, object)
}

/// `payment_intent.succeeded` of a checkout's payment: it names the card.
pub fn intent_succeeded(event_id: &str, facts: &SessionFacts, payment_method: &str) -> Vec<u8> {
    let object = json!({
        "id": facts.payment_intent,
        "object": "payment_intent",
        "amount": facts.amount_total,
        "amount_received": facts.amount_total,
        "currency": facts.currency,
        "customer": facts.customer,
        "payment_method": payment_method,
        "setup_future_usage": "off_session",
        "status": "succeeded",
        "metadata": {"purchase_id": facts.purchase_id, "account_id": facts.account_id}
    });
    event(event_id, "payment_intent.succeeded", object)
}

pub fn event(event_id: &str, event_type: &str, object: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "id": event_id,
        "object": "event",
        "api_version": "2025-03-31.basil",
        "created": OffsetDateTime::now_utc().unix_timestamp(),
        "livemode": false,
        "pending_webhooks": 1,
        "request": {"id": null, "idempotency_key": null},
        "type": event_type,
        "data": {"object": object}
    }))
    .expect("events serialize")
}
