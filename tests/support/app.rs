//! `spawn_app` for the API: the real router on a store in DynamoDB Local, called in-process.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use imcredits::adapters::dynamodb::DynamoStore;
use imcredits::adapters::http_webhooks::{StaticResolver, WebhookClient};
use imcredits::adapters::memory_queue::MemoryQueue;
use imcredits::api::auth::{AuthConfig, LocalJwtKey};
use imcredits::api::notices::NoticesApi;
use imcredits::api::{App, router};
use imcredits::handlers::billing::Billing;
use imcredits::ids::AccountId;
use imcredits::money::CreditPricing;
use imcredits::notices::address::AddressPolicy;
use imcredits::ports::clock::SystemClock;
use imcredits::ports::store::EntriesPost;
use serde_json::Value;
use time::OffsetDateTime;
use tower::ServiceExt;

use crate::stripe::StripeStandIn;

pub struct TestApp {
    pub router: Router,
    pub store: DynamoStore,
    /// Where the API publishes events (purchases, grants, resends).
    pub notifications: MemoryQueue,
    /// Stripe's API, stood in for on loopback.
    pub stripe: StripeStandIn,
    key: LocalJwtKey,
    auth: AuthConfig,
}

/// What a call answered.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    /// The message of an error answer (empty for a success).
    pub fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or("")
    }
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_on(crate::dynamo_store().await).await
    }

    /// The API on `store` (e.g. a table of its own, for rate cards no other test shares).
    pub async fn spawn_on(store: DynamoStore) -> Self {
        Self::spawn_full(
            store,
            AddressPolicy::AllowLoopbackHttp,
            StaticResolver::default(),
        )
        .await
    }

    /// An app whose webhook registrations are checked by `policy`, names resolved by `resolver`
    /// (a fixed table: no test asks a real DNS server).
    pub async fn spawn_with(policy: AddressPolicy, resolver: StaticResolver) -> Self {
        Self::spawn_full(crate::dynamo_store().await, policy, resolver).await
    }

    async fn spawn_full(
        store: DynamoStore,
        policy: AddressPolicy,
        resolver: StaticResolver,
    ) -> Self {
        imcredits::ports::market_lists::seed_market_lists(&store, crate::at())
            .await
            .expect("the seed fixture's market lists load");
        let notifications = MemoryQueue::new(5, std::time::Duration::from_secs(30));
        let urls = WebhookClient::new(policy, Arc::new(resolver)).expect("a webhook client");
        let stripe = StripeStandIn::start().await;
        let key = LocalJwtKey::generate().expect("random bytes");
        let auth = AuthConfig::local(key.clone());
        let app = App {
            store: store.clone(),
            clock: Arc::new(SystemClock),
            auth: auth.clone(),
            credits: CreditPricing::default()
                .validated()
                .expect("defaults are valid"),
            payments: stripe.payments(),
            notices: NoticesApi {
                publish: Arc::new(notifications.clone()),
                urls: Arc::new(urls),
            },
        };
        Self {
            router: router(app),
            store,
            notifications,
            stripe,
            key,
            auth,
        }
    }

    pub fn token(&self, account: Option<&AccountId>, operator: bool) -> String {
        self.key
            .mint(
                &self.auth,
                account,
                operator,
                OffsetDateTime::now_utc(),
                time::Duration::hours(1),
            )
            .expect("signing works")
    }

    /// A token issued at `issued_at` (a year ahead, say), valid for three years from now.
    pub fn token_issued_at(
        &self,
        account: Option<&AccountId>,
        operator: bool,
        issued_at: OffsetDateTime,
    ) -> String {
        let lifetime = OffsetDateTime::now_utc() + time::Duration::days(3 * 365) - issued_at;
        self.key
            .mint(&self.auth, account, operator, issued_at, lifetime)
            .expect("signing works")
    }

    pub fn operator(&self) -> String {
        self.token(None, true)
    }

    /// Calls the router with an optional bearer token and raw body of `content_type`.
    pub async fn call_raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Answer {
        self.call_with_headers(method, path, token, content_type, &[], body)
            .await
    }

    /// Like [`TestApp::call_raw`], with extra headers (`Idempotency-Key`, `Stripe-Signature`).
    pub async fn call_with_headers(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        content_type: Option<&str>,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Answer {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = self
            .router
            .clone()
            .oneshot(request.body(Body::from(body)).expect("a valid request"))
            .await
            .expect("the router is infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                panic!(
                    "{path} answered non-JSON: {}",
                    String::from_utf8_lossy(&bytes)
                )
            })
        };
        if status.is_client_error() || status.is_server_error() {
            assert!(
                body["error"]["code"].is_string(),
                "{path}: error body {body}"
            );
            assert!(
                body["error"]["message"].is_string(),
                "{path}: error body {body}"
            );
        }
        Answer {
            status,
            headers,
            body,
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Answer {
        let (content_type, bytes) = match body {
            Some(body) => (
                Some("application/json"),
                serde_json::to_vec(&body).expect("json"),
            ),
            None => (None, Vec::new()),
        };
        self.call_raw(method, path, Some(token), content_type, bytes)
            .await
    }

    /// `POST /v1/wallet/purchases` with an `Idempotency-Key`.
    pub async fn purchase(&self, token: &str, key: &str, body: Value) -> Answer {
        self.post_keyed("/v1/wallet/purchases", token, key, body)
            .await
    }

    /// `POST /v1/wallet/holds` with an `Idempotency-Key`.
    pub async fn place_hold(&self, token: &str, key: &str, body: Value) -> Answer {
        self.post_keyed("/v1/wallet/holds", token, key, body).await
    }

    async fn post_keyed(&self, path: &str, token: &str, key: &str, body: Value) -> Answer {
        self.call_with_headers(
            Method::POST,
            path,
            Some(token),
            Some("application/json"),
            &[("Idempotency-Key", key)],
            serde_json::to_vec(&body).expect("json"),
        )
        .await
    }

    /// An operator's upload of `body` as `content_type` (a rates or tiers CSV, a market list).
    pub async fn upload(&self, path: &str, content_type: &str, body: Vec<u8>) -> Answer {
        let operator = self.operator();
        self.call_raw(
            Method::POST,
            path,
            Some(&operator),
            Some(content_type),
            body,
        )
        .await
    }

    /// Billing on this app's store, its notices and recharge requests on queues nobody reads.
    pub fn billing(&self) -> Billing<DynamoStore, MemoryQueue, MemoryQueue> {
        Billing::new(
            self.store.clone(),
            MemoryQueue::new(5, Duration::from_secs(1)),
            MemoryQueue::new(5, Duration::from_secs(1)),
            Arc::new(SystemClock),
            Duration::from_millis(1),
        )
    }

    /// Delivers a webhook to `/webhooks/stripe` as Stripe does: no bearer token, the raw body and
    /// (if given) a `Stripe-Signature`.
    pub async fn deliver(&self, body: &[u8], signature: Option<&str>) -> Answer {
        let headers: Vec<(&str, &str)> = signature
            .map(|signature| ("Stripe-Signature", signature))
            .into_iter()
            .collect();
        self.call_with_headers(
            Method::POST,
            "/webhooks/stripe",
            None,
            Some("application/json; charset=utf-8"),
            &headers,
            body.to_vec(),
        )
        .await
    }

    /// Delivers `body` signed now with the endpoint's secret.
    pub async fn deliver_signed(&self, body: &[u8]) -> Answer {
        let signature = crate::stripe::sign(body, OffsetDateTime::now_utc());
        self.deliver(body, Some(&signature)).await
    }

    /// The wallet's balance as the owner reads it (`GET /v1/wallet`): the exact decimal text.
    pub async fn balance(&self, account: &AccountId) -> String {
        let wallet = self
            .call(
                Method::GET,
                "/v1/wallet",
                &self.token(Some(account), false),
                None,
            )
            .await;
        wallet.body["balance"]["amount"]
            .as_str()
            .expect("a balance")
            .to_owned()
    }

    /// `POST /v1/wallet/quotes` for `credits`, as the holder of `token`.
    pub async fn quote(&self, token: &str, credits: u64) -> Answer {
        self.call(
            Method::POST,
            "/v1/wallet/quotes",
            token,
            Some(serde_json::json!({ "credits": credits })),
        )
        .await
    }

    /// Creates a USD wallet for a fresh account through the operator route.
    pub async fn wallet(&self, prefix: &str) -> AccountId {
        let account = crate::unique_account(prefix);
        let created = self
            .call(
                Method::POST,
                &format!("/v1/operator/accounts/{account}/wallet"),
                &self.operator(),
                Some(serde_json::json!({"currency": "USD"})),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        account
    }

    /// A USD wallet for a fresh account with `routes` of it attached through the operator routes
    /// (`phone-numbers/<id>`, `wabas/<id>`).
    pub async fn routed_wallet(&self, prefix: &str, routes: &[String]) -> AccountId {
        let account = self.wallet(prefix).await;
        let operator = self.operator();
        for route in routes {
            let path = format!("/v1/operator/accounts/{account}/{route}");
            let attached = self.call(Method::PUT, &path, &operator, None).await;
            assert_eq!(attached.status, StatusCode::OK, "{path}: {}", attached.body);
        }
        account
    }

    /// A USD wallet for a fresh account on the flat card (`holds::flat_card`), granted `funds`
    /// under `reference`, and its owner's token: where a hold test starts.
    pub async fn funded_wallet(
        &self,
        prefix: &str,
        reference: &str,
        funds: &str,
    ) -> (AccountId, String) {
        crate::holds::flat_card(&self.store).await;
        let account = self.wallet(prefix).await;
        self.store
            .post_entries(&account, &[crate::grant(reference, funds)], crate::at())
            .await
            .expect("the grant posts");
        let token = self.token(Some(&account), false);
        (account, token)
    }
}

/// An amount an answer holds (`{"amount": "1.5", ...}`), as a number (DynamoDB keeps no
/// trailing zeros).
pub fn amount(value: &Value) -> rust_decimal::Decimal {
    value["amount"]
        .as_str()
        .expect("an amount")
        .parse()
        .expect("a decimal")
}
