//! One simulated deployment: the real API, webhook, billing and auto-recharge handlers, wired as
//! the functions wire them, over dynoxide behind a fault-injecting DynamoDB client, with the
//! simulation's clock, queues and payment provider.

use std::sync::Arc;

use aws_smithy_types::retry::RetryConfig;
use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use imcredits::adapters::dynamodb::DynamoStore;
use imcredits::adapters::http_webhooks::{StaticResolver, WebhookClient};
use imcredits::api::auth::{AuthConfig, LocalJwtKey};
use imcredits::api::notices::NoticesApi;
use imcredits::api::purchases::Payments;
use imcredits::api::{App, router};
use imcredits::handlers::auto_recharge::AutoRecharger;
use imcredits::handlers::billing::Billing;
use imcredits::handlers::webhook::{self, WebhookApp};
use imcredits::ids::AccountId;
use imcredits::meta::{AppSecret, SIGNATURE_HEADER, VerifyToken};
use imcredits::money::CreditPricing;
use imcredits::notices::address::AddressPolicy;
use imcredits::payments::ReturnUrl;
use imcredits::ports::store::RateCardSave;
use imcredits::pricing::RateCard;
use imcredits::recharge::RechargeLimits;
use imcredits_tests::Backend;
use serde_json::Value;
use time::{Duration, OffsetDateTime};
use tower::ServiceExt;

use crate::faults::{Faults, StoreFaults};
use crate::ports::{FakeStripe, SimClock, SimQueue};

pub const APP_SECRET: &[u8] = b"sim-app-secret";

/// The caps the simulation holds auto-recharge to.
pub fn limits() -> RechargeLimits {
    RechargeLimits {
        per_day_max: 2,
        monthly_credits_max: Some(60),
        ..RechargeLimits::default()
    }
}

pub struct World {
    pub clock: Arc<SimClock>,
    pub faults: Faults,
    pub store: DynamoStore,
    pub stripe: FakeStripe,
    pub billing_queue: SimQueue,
    pub recharge_queue: SimQueue,
    pub notice_queue: SimQueue,
    pub billing: Billing<DynamoStore, SimQueue, SimQueue>,
    pub recharger: AutoRecharger<DynamoStore, FakeStripe, SimQueue>,
    api: Router,
    webhook: Router,
    operator: String,
    key: LocalJwtKey,
    auth: AuthConfig,
    start: OffsetDateTime,
    _engine: Backend,
}

/// The store on dynoxide behind the fault-injecting interceptor. The SDK's own retries are off,
/// so every injected fault reaches the handlers, whose retries and redeliveries are under test.
async fn faulty_store(engine: &Backend, faults: &Faults) -> DynamoStore {
    let interceptor = StoreFaults(faults.clone());
    engine
        .store_with(move |config| {
            config
                .retry_config(RetryConfig::disabled())
                .interceptor(interceptor)
        })
        .await
}

/// The API's purchases on the simulated Stripe, its webhook checked with the tests' secret.
fn payments(stripe: &FakeStripe) -> Payments {
    Payments {
        checkout: Arc::new(stripe.clone()),
        webhook: Arc::new(imcredits_tests::stripe::verifier()),
        success_url: ReturnUrl::parse("https://app.example.com/paid").expect("a URL"),
        cancel_url: ReturnUrl::parse("https://app.example.com/no").expect("a URL"),
    }
}

/// The API's notices on the simulated notifications queue; endpoints may be loopback URLs.
fn notices(queue: &SimQueue) -> NoticesApi {
    NoticesApi {
        publish: Arc::new(queue.clone()),
        urls: Arc::new(
            WebhookClient::new(
                AddressPolicy::AllowLoopbackHttp,
                Arc::new(StaticResolver::default()),
            )
            .expect("a webhook client"),
        ),
    }
}

impl World {
    pub async fn build(faults: Faults, start: OffsetDateTime, delay_max: Duration) -> Self {
        let engine = Backend::dynoxide().await;
        let store = faulty_store(&engine, &faults).await;
        let clock = SimClock::new(start);
        let billing_queue = SimQueue::new(faults.clone(), clock.clone(), delay_max);
        let recharge_queue = SimQueue::new(faults.clone(), clock.clone(), delay_max);
        let notice_queue = SimQueue::new(faults.clone(), clock.clone(), Duration::ZERO);
        let stripe = FakeStripe::new(faults.clone(), clock.clone());
        let key = LocalJwtKey::generate().expect("random bytes");
        let auth = AuthConfig::local(key.clone());
        let credits = CreditPricing::default().validated().expect("defaults");
        let app = App {
            store: store.clone(),
            clock: clock.clone(),
            auth: auth.clone(),
            credits: credits.clone(),
            payments: payments(&stripe),
            notices: notices(&notice_queue),
        };
        let webhook = webhook::router(WebhookApp {
            secret: AppSecret::new(APP_SECRET).expect("a secret"),
            verify_token: VerifyToken::new("sim-verify").expect("a token"),
            queue: billing_queue.clone(),
        });
        let billing = Billing::new(
            store.clone(),
            notice_queue.clone(),
            recharge_queue.clone(),
            clock.clone(),
            std::time::Duration::from_secs(60),
        );
        let recharger = AutoRecharger {
            store: store.clone(),
            payments: stripe.clone(),
            notifications: notice_queue.clone(),
            clock: clock.clone(),
            pricing: credits,
            limits: limits(),
        };
        let mut world = Self {
            clock,
            faults,
            store,
            stripe,
            billing_queue,
            recharge_queue,
            notice_queue,
            billing,
            recharger,
            api: router(app),
            webhook,
            operator: String::new(),
            key,
            auth,
            start,
            _engine: engine,
        };
        world.operator = world.token(None, true);
        world.save_rate_card().await;
        world
    }

    async fn save_rate_card(&self) {
        let flat = include_str!("../../shared/rate-cards/zoho-flat-usd.json");
        let card = RateCard::from_json(flat).expect("the sample card reads");
        self.store
            .save_rate_card(&card, self.start)
            .await
            .expect("the card saves");
    }

    /// A bearer token valid from the simulation's start until well past today.
    pub fn token(&self, account: Option<&AccountId>, operator: bool) -> String {
        let lifetime = OffsetDateTime::now_utc() + Duration::days(3 * 365) - self.start;
        self.key
            .mint(&self.auth, account, operator, self.start, lifetime)
            .expect("signing works")
    }

    pub fn operator(&self) -> &str {
        &self.operator
    }

    /// Calls the API in-process; answers the status and the JSON body (`Null` if empty).
    pub async fn api(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        for (name, value) in headers {
            request = request.header(*name, value.as_str());
        }
        call(
            &self.api,
            request.body(Body::from(body)).expect("a request"),
        )
        .await
    }

    /// Meta's delivery of a webhook body, signed.
    pub async fn deliver_meta(&self, body: &[u8]) -> StatusCode {
        let secret = AppSecret::new(APP_SECRET).expect("a secret");
        let signature = imcredits::meta::signature::signature_header_value(&secret, body);
        let request = Request::post("/webhooks/meta")
            .header(header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, signature)
            .body(Body::from(body.to_vec()))
            .expect("a request");
        call(&self.webhook, request).await.0
    }

    /// Stripe's delivery of an event, signed at the moment of delivery as Stripe does.
    pub async fn deliver_stripe(&self, body: &[u8]) -> StatusCode {
        let signature =
            imcredits_tests::stripe::sign(body, imcredits::ports::clock::Clock::now(&*self.clock));
        let headers = [("Stripe-Signature", signature)];
        self.api(
            Method::POST,
            "/webhooks/stripe",
            None,
            &headers,
            body.to_vec(),
        )
        .await
        .0
    }
}

async fn call(router: &Router, request: Request<Body>) -> (StatusCode, Value) {
    let response = router
        .clone()
        .oneshot(request)
        .await
        .expect("the router is infallible");
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map(|body| body.to_bytes())
        .unwrap_or_default();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, body)
}
