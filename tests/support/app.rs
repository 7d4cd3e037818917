//! `spawn_app` for the API: the real router on a store in DynamoDB Local, called in-process.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use imcredits::adapters::dynamodb::DynamoStore;
use imcredits::api::auth::{AuthConfig, LocalJwtKey};
use imcredits::api::{App, CreditPricing, router};
use imcredits::ids::AccountId;
use imcredits::ports::clock::SystemClock;
use serde_json::Value;
use time::OffsetDateTime;
use tower::ServiceExt;

pub struct TestApp {
    pub router: Router,
    pub store: DynamoStore,
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
        let store = crate::dynamo_store().await;
        let key = LocalJwtKey::generate().expect("random bytes");
        let auth = AuthConfig::local(key.clone());
        let app = App {
            store: store.clone(),
            clock: Arc::new(SystemClock),
            auth: auth.clone(),
            credits: CreditPricing::default()
                .validated()
                .expect("defaults are valid"),
        };
        Self {
            router: router(app),
            store,
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
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
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
}
