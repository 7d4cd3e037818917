//! The adapter against a local stand-in for Stripe's API (`wiremock` on loopback), checking what is
//! sent (form fields, headers) as much as how answers are read.

use std::collections::HashMap;

use serde_json::json;
use time::macros::datetime;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use super::*;
use crate::ids::AccountId;
use crate::money::QuotePolicy;
use crate::payments::{
    IdempotencyKey, ProviderCustomerId, ProviderPaymentId, ProviderPaymentMethodId, PurchaseId,
    RechargeAttemptId, ReturnUrl,
};
use crate::ports::payments::{
    ChargeOutcome, CheckoutCreate, CheckoutCustomer, CheckoutRequest, CheckoutSession,
    OffSessionCharge, OffSessionChargeRequest, PaymentError, RetryCause,
};

const SECRET_KEY: &str = "sk_test_51Hx0secret";

fn client_with(server: &MockServer, retries_max: u32, timeout_request_ms: u64) -> StripeClient {
    let mut config = StripeConfig::new(StripeSecretKey::parse(SECRET_KEY).unwrap());
    config.base_url = server.uri();
    config.retries_max = retries_max;
    config.timeout_request_ms = timeout_request_ms;
    // Tests need no real backoff, only its order of events.
    config.backoff_base_ms = 1;
    config.backoff_max_ms = 5;
    StripeClient::new(config).unwrap()
}

fn client(server: &MockServer) -> StripeClient {
    client_with(server, 2, 5_000)
}

fn checkout_request(credits: u64) -> CheckoutRequest {
    let policy = QuotePolicy::zoho_default(Currency::Usd);
    let quote = policy.quote(policy.credits(credits).unwrap()).unwrap();
    CheckoutRequest::for_quote(
        PurchaseId::parse("pur-42").unwrap(),
        AccountId::parse("acme").unwrap(),
        &quote,
        CheckoutCustomer::New,
        ReturnUrl::parse("https://app.example.com/paid?s={CHECKOUT_SESSION_ID}").unwrap(),
        ReturnUrl::parse("https://app.example.com/cancelled").unwrap(),
    )
    .unwrap()
}

fn charge_request() -> OffSessionChargeRequest {
    let policy = QuotePolicy::zoho_default(Currency::Usd);
    let quote = policy.quote(policy.credits(3).unwrap()).unwrap();
    OffSessionChargeRequest::for_attempt(
        RechargeAttemptId::parse("acme-2026-11-21-1").unwrap(),
        AccountId::parse("acme").unwrap(),
        &quote,
        ProviderCustomerId::parse("cus_Q1").unwrap(),
        ProviderPaymentMethodId::parse("pm_1Card").unwrap(),
    )
    .unwrap()
}

fn session_answer() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "id": "cs_test_a1",
        "object": "checkout.session",
        "url": "https://checkout.stripe.com/c/pay/cs_test_a1",
        "amount_total": 618,
        "payment_status": "unpaid"
    }))
}

fn stripe_error(status: u16, error: serde_json::Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({ "error": error }))
}

/// The form fields of a request, decoded; a field sent twice would be a bug, so it fails here.
fn form(request: &Request) -> HashMap<String, String> {
    let mut fields = HashMap::new();
    for (key, value) in form_urlencoded::parse(&request.body) {
        let previous = fields.insert(key.into_owned(), value.into_owned());
        assert!(previous.is_none(), "a field is sent twice");
    }
    fields
}

/// `fields` borrowed, to compare with a literal map.
fn as_strs(fields: &HashMap<String, String>) -> HashMap<&str, &str> {
    fields
        .iter()
        .map(|(key, value)| (key.as_str(), value.as_str()))
        .collect()
}

/// A POST to `api_path` that must carry the secret key as a bearer and the idempotency `key`.
fn keyed_post(api_path: &str, key: &str) -> wiremock::MockBuilder {
    Mock::given(method("POST"))
        .and(path(api_path))
        .and(header(
            "Authorization",
            format!("Bearer {SECRET_KEY}").as_str(),
        ))
        .and(header("Idempotency-Key", key))
}

fn header_value<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request
        .headers
        .get(name)
        .and_then(|value| value.to_str().ok())
}

async fn received(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap_or_default()
}

/// A stand-in that answers every POST (to `path` when given) with `answer`, `expect` times when
/// given (checked when it is dropped).
async fn answering(
    path_only: Option<&str>,
    answer: ResponseTemplate,
    expect: Option<u64>,
) -> MockServer {
    let server = MockServer::start().await;
    let mut mock = Mock::given(method("POST"));
    if let Some(only) = path_only {
        mock = mock.and(path(only));
    }
    let mock = mock.respond_with(answer);
    match expect {
        Some(times) => mock.expect(times),
        None => mock,
    }
    .mount(&server)
    .await;
    server
}

/// The checkout of 3 credits, through the default client.
async fn checkout(server: &MockServer) -> Result<CheckoutSession, PaymentError> {
    client(server).create_checkout(&checkout_request(3)).await
}

/// The off-session charge of [`charge_request`], through the default client.
async fn charge(server: &MockServer) -> Result<ChargeOutcome, PaymentError> {
    client(server).charge_off_session(&charge_request()).await
}

#[tokio::test]
async fn checkout_charges_exactly_the_quote_total_in_minor_units() {
    // 2.00 USD a credit plus 3%: 2.06, 6.18 and 20,600.00 USD.
    for (credits, cents) in [(1, 206), (3, 618), (10_000, 2_060_000)] {
        let server = answering(Some("/v1/checkout/sessions"), session_answer(), Some(1)).await;
        let request = checkout_request(credits);
        assert_eq!(request.amount.money().to_minor_units(), Ok(cents));

        let session = client(&server).create_checkout(&request).await.unwrap();
        assert_eq!(session.id.as_str(), "cs_test_a1");
        assert_eq!(session.url, "https://checkout.stripe.com/c/pay/cs_test_a1");

        let requests = received(&server).await;
        assert_eq!(requests.len(), 1);
        let sent = &requests[0];
        let fields = form(sent);
        assert_eq!(
            fields["line_items[0][price_data][unit_amount]"],
            cents.to_string(),
            "{credits} credits"
        );
        let credits_text = credits.to_string();
        let cents_text = cents.to_string();
        let name = if credits == 1 {
            "1 messaging credit".to_owned()
        } else {
            format!("{credits} messaging credits")
        };
        let expected = HashMap::from([
            ("mode", "payment"),
            ("line_items[0][quantity]", "1"),
            ("line_items[0][price_data][currency]", "usd"),
            (
                "line_items[0][price_data][unit_amount]",
                cents_text.as_str(),
            ),
            (
                "line_items[0][price_data][product_data][name]",
                name.as_str(),
            ),
            ("client_reference_id", "pur-42"),
            ("metadata[purchase_id]", "pur-42"),
            ("metadata[account_id]", "acme"),
            ("metadata[credits]", credits_text.as_str()),
            ("payment_intent_data[setup_future_usage]", "off_session"),
            ("payment_intent_data[metadata][purchase_id]", "pur-42"),
            ("payment_intent_data[metadata][account_id]", "acme"),
            ("customer_creation", "always"),
            (
                "success_url",
                "https://app.example.com/paid?s={CHECKOUT_SESSION_ID}",
            ),
            ("cancel_url", "https://app.example.com/cancelled"),
        ]);
        assert_eq!(as_strs(&fields), expected);
    }
}

#[tokio::test]
async fn every_request_is_authenticated_form_encoded_and_keyed() {
    let server = MockServer::start().await;
    keyed_post("/v1/checkout/sessions", "imcredits.checkout.pur-42")
        .and(header("Content-Type", "application/x-www-form-urlencoded"))
        .respond_with(session_answer())
        .expect(1)
        .mount(&server)
        .await;
    let request = checkout_request(3);
    assert_eq!(
        request.idempotency_key,
        IdempotencyKey::parse("imcredits.checkout.pur-42").unwrap()
    );
    client(&server).create_checkout(&request).await.unwrap();
    // The raw body really is form-encoded with bracketed keys, not JSON.
    let body = String::from_utf8(received(&server).await[0].body.clone()).unwrap();
    assert!(body.starts_with("mode=payment&"), "{body}");
    assert!(body.contains("line_items%5B0%5D%5Bprice_data%5D%5Bunit_amount%5D=618"));
}

#[tokio::test]
async fn an_existing_customer_and_an_expiry_are_sent() {
    let server = answering(Some("/v1/checkout/sessions"), session_answer(), None).await;
    let mut request = checkout_request(3);
    request.customer = CheckoutCustomer::Existing(ProviderCustomerId::parse("cus_Q1").unwrap());
    request.expires_at = Some(datetime!(2026-11-21 13:00:00 UTC));
    client(&server).create_checkout(&request).await.unwrap();
    let fields = form(&received(&server).await[0]);
    assert_eq!(fields["customer"], "cus_Q1");
    assert!(!fields.contains_key("customer_creation"));
    assert_eq!(fields["expires_at"], "1795266000");
}

#[tokio::test]
async fn a_500_is_retried_with_the_same_key_and_body_until_success() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(stripe_error(
            500,
            json!({"type": "api_error", "message": "oops"}),
        ))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(session_answer())
        .with_priority(2)
        .expect(1)
        .mount(&server)
        .await;
    let session = checkout(&server).await.unwrap();
    assert_eq!(session.id.as_str(), "cs_test_a1");
    let requests = received(&server).await;
    assert_eq!(requests.len(), 2);
    let keys: Vec<_> = requests
        .iter()
        .map(|request| header_value(request, "Idempotency-Key"))
        .collect();
    assert_eq!(keys, [Some("imcredits.checkout.pur-42"); 2]);
    assert_eq!(requests[0].body, requests[1].body);
}

#[tokio::test]
async fn rate_limits_and_in_flight_conflicts_are_retried() {
    for status in [429, 409] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(stripe_error(
                status,
                json!({"type": "invalid_request_error"}),
            ))
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .respond_with(session_answer())
            .with_priority(2)
            .mount(&server)
            .await;
        assert!(checkout(&server).await.is_ok());
        assert_eq!(received(&server).await.len(), 2, "status {status}");
    }
}

#[tokio::test]
async fn retries_are_bounded_and_end_retryable() {
    let server = answering(
        None,
        stripe_error(503, json!({"type": "api_error"})),
        Some(3),
    )
    .await;
    let error = client_with(&server, 2, 5_000)
        .create_checkout(&checkout_request(3))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        PaymentError::Retryable {
            cause: RetryCause::Status {
                status: 503,
                code: None
            },
            attempts: 3
        }
    );
}

#[tokio::test]
async fn stripe_saying_do_not_retry_stops_the_retries() {
    // Stripe replays a saved 5xx for the same key: retrying it here would only repeat it.
    let server = answering(
        None,
        stripe_error(500, json!({"type": "api_error"}))
            .insert_header("Stripe-Should-Retry", "false"),
        Some(1),
    )
    .await;
    let error = checkout(&server).await.unwrap_err();
    // The outcome is still unknown: the caller retries later, with the same key.
    assert!(error.is_retryable(), "{error:?}");
}

#[tokio::test]
async fn a_400_is_rejected_without_retry() {
    let server = answering(
        None,
        stripe_error(
            400,
            json!({"type": "invalid_request_error", "code": "parameter_invalid_integer",
                "param": "line_items[0][price_data][unit_amount]", "message": "Invalid integer"}),
        ),
        Some(1),
    )
    .await;
    let error = checkout(&server).await.unwrap_err();
    assert_eq!(
        error,
        PaymentError::Rejected {
            status: 400,
            code: Some("parameter_invalid_integer".into()),
            message: "Invalid integer".into()
        }
    );
    assert_eq!(received(&server).await.len(), 1);
}

#[tokio::test]
async fn a_bad_key_or_base_url_is_misconfiguration_without_retry() {
    for status in [401, 403, 404] {
        let server = answering(
            None,
            stripe_error(
                status,
                json!({"type": "invalid_request_error", "message": "Invalid API Key provided"}),
            ),
            Some(1),
        )
        .await;
        let error = checkout(&server).await.unwrap_err();
        assert!(
            matches!(error, PaymentError::Misconfigured(_)),
            "{status}: {error:?}"
        );
    }
}

#[tokio::test]
async fn a_timeout_is_retried_with_the_same_key_then_retryable() {
    let server = answering(
        None,
        session_answer().set_delay(std::time::Duration::from_secs(3)),
        None,
    )
    .await;
    let error = client_with(&server, 1, 200)
        .create_checkout(&checkout_request(3))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        PaymentError::Retryable {
            cause: RetryCause::Timeout,
            attempts: 2
        }
    );
    let requests = received(&server).await;
    assert_eq!(requests.len(), 2);
    assert!(requests.iter().all(
        |request| header_value(request, "Idempotency-Key") == Some("imcredits.checkout.pur-42")
    ));
}

#[tokio::test]
async fn a_refused_connection_is_retryable() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config = StripeConfig::new(StripeSecretKey::parse(SECRET_KEY).unwrap());
    config.base_url = format!("http://127.0.0.1:{port}");
    config.retries_max = 1;
    config.backoff_base_ms = 1;
    config.backoff_max_ms = 1;
    let error = StripeClient::new(config)
        .unwrap()
        .create_checkout(&checkout_request(3))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        PaymentError::Retryable {
            cause: RetryCause::Connection,
            attempts: 2
        }
    );
}

#[tokio::test]
async fn an_answer_of_an_unknown_shape_is_misconfiguration() {
    let server = answering(
        None,
        ResponseTemplate::new(200).set_body_string("<html>proxy</html>"),
        None,
    )
    .await;
    let error = checkout(&server).await.unwrap_err();
    assert!(matches!(error, PaymentError::Misconfigured(_)), "{error:?}");
}

#[tokio::test]
async fn an_off_session_charge_sends_the_saved_card_and_succeeds() {
    let server = MockServer::start().await;
    keyed_post(
        "/v1/payment_intents",
        "imcredits.recharge.acme-2026-11-21-1",
    )
    .respond_with(ResponseTemplate::new(200).set_body_json(json!({
        "id": "pi_3P", "object": "payment_intent", "status": "succeeded", "amount": 618
    })))
    .expect(1)
    .mount(&server)
    .await;
    let outcome = charge(&server).await.unwrap();
    assert_eq!(
        outcome,
        ChargeOutcome::Succeeded {
            payment_id: ProviderPaymentId::parse("pi_3P").unwrap()
        }
    );
    let fields = form(&received(&server).await[0]);
    assert_eq!(
        as_strs(&fields),
        HashMap::from([
            ("amount", "618"),
            ("currency", "usd"),
            ("customer", "cus_Q1"),
            ("payment_method", "pm_1Card"),
            ("off_session", "true"),
            ("confirm", "true"),
            ("automatic_payment_methods[enabled]", "true"),
            ("automatic_payment_methods[allow_redirects]", "never"),
            ("metadata[attempt_id]", "acme-2026-11-21-1"),
            ("metadata[account_id]", "acme"),
            ("metadata[credits]", "3"),
        ])
    );
}

#[tokio::test]
async fn a_402_decline_is_declined_with_its_codes_and_not_retried() {
    let server = answering(
        Some("/v1/payment_intents"),
        stripe_error(
            402,
            json!({
                "type": "card_error",
                "code": "card_declined",
                "decline_code": "insufficient_funds",
                "message": "Your card has insufficient funds.",
                "payment_intent": {"id": "pi_3P", "status": "requires_payment_method"}
            }),
        ),
        Some(1),
    )
    .await;
    let outcome = charge(&server).await.unwrap();
    assert_eq!(
        outcome,
        ChargeOutcome::Declined {
            code: "card_declined".into(),
            decline_code: Some("insufficient_funds".into()),
            message: "Your card has insufficient funds.".into(),
            payment_id: Some(ProviderPaymentId::parse("pi_3P").unwrap()),
        }
    );
}

#[tokio::test]
async fn authentication_required_means_the_customer_must_act() {
    let server = answering(
        None,
        stripe_error(
            402,
            json!({"type": "card_error", "code": "authentication_required",
                "decline_code": "authentication_required",
                "payment_intent": {"id": "pi_3Q", "status": "requires_payment_method"}}),
        ),
        Some(1),
    )
    .await;
    let outcome = charge(&server).await.unwrap();
    assert_eq!(
        outcome,
        ChargeOutcome::RequiresAction {
            payment_id: Some(ProviderPaymentId::parse("pi_3Q").unwrap())
        }
    );
}

#[tokio::test]
async fn intent_statuses_in_a_200_map_to_outcomes() {
    let cases = [
        (
            json!({"id": "pi_1", "status": "requires_action"}),
            "requires_action",
        ),
        (json!({"id": "pi_1", "status": "processing"}), "processing"),
        (
            json!({"id": "pi_1", "status": "requires_payment_method",
                "last_payment_error": {"code": "expired_card", "message": "Expired"}}),
            "declined",
        ),
    ];
    for (answer, expected) in cases {
        let server = answering(None, ResponseTemplate::new(200).set_body_json(answer), None).await;
        let outcome = charge(&server).await.unwrap();
        let payment_id = ProviderPaymentId::parse("pi_1").unwrap();
        match expected {
            "requires_action" => assert_eq!(
                outcome,
                ChargeOutcome::RequiresAction {
                    payment_id: Some(payment_id)
                }
            ),
            "processing" => assert_eq!(outcome, ChargeOutcome::Processing { payment_id }),
            _ => assert_eq!(
                outcome,
                ChargeOutcome::Declined {
                    code: "expired_card".into(),
                    decline_code: None,
                    message: "Expired".into(),
                    payment_id: Some(payment_id)
                }
            ),
        }
    }
}

#[tokio::test]
async fn a_charge_timeout_is_retryable_not_declined() {
    let server = answering(
        None,
        ResponseTemplate::new(200)
            .set_body_json(json!({"id": "pi_1", "status": "succeeded"}))
            .set_delay(std::time::Duration::from_secs(3)),
        None,
    )
    .await;
    let error = client_with(&server, 0, 200)
        .charge_off_session(&charge_request())
        .await
        .unwrap_err();
    assert_eq!(
        error,
        PaymentError::Retryable {
            cause: RetryCause::Timeout,
            attempts: 1
        }
    );
}

#[test]
fn the_secret_key_never_shows_in_debug_output() {
    let key = StripeSecretKey::parse(SECRET_KEY).unwrap();
    let config = StripeConfig::new(key);
    let client = StripeClient::new(config.clone()).unwrap();
    for printed in [format!("{config:?}"), format!("{client:?}")] {
        assert!(!printed.contains(SECRET_KEY), "{printed}");
        assert!(!printed.contains("51Hx0"), "{printed}");
        assert!(printed.contains("<redacted>"), "{printed}");
    }
}

#[test]
fn bad_settings_are_refused_at_cold_start() {
    assert!(StripeSecretKey::parse("pk_live_1").is_err());
    assert!(StripeSecretKey::parse("sk_live_1\n").is_err());
    let key = || StripeSecretKey::parse(SECRET_KEY).unwrap();
    let mut config = StripeConfig::new(key());
    config.base_url = "api.stripe.com".into();
    assert!(StripeClient::new(config).is_err());
    let mut config = StripeConfig::new(key());
    config.retries_max = StripeConfig::RETRIES_ABS_MAX + 1;
    assert!(StripeClient::new(config).is_err());
    let mut config = StripeConfig::new(key());
    config.timeout_request_ms = 0;
    assert!(StripeClient::new(config).is_err());
    assert!(StripeClient::new(StripeConfig::new(key())).is_ok());
}
