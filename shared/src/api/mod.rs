//! The HTTP API: one axum router, served by the checkout function through `lambda_http` and by the
//! local runner through `axum::serve`. Every route is listed once in [`routes`], which builds the
//! router and is checked against the OpenAPI file (`docs/openapi.json`) by a test.

pub mod auth;
pub mod error;
pub mod json;
pub mod notices;
pub mod operator;
pub mod purchases;
pub mod query;
pub mod views;
pub mod wallet;
pub mod webhooks;

use std::collections::BTreeMap;
use std::ops::Deref;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRef};
use axum::http::Method;
use axum::routing::{MethodRouter, delete, get, post, put};
use rust_decimal::Decimal;

use crate::money::{Currency, Money, QuoteError, QuotePolicy, quote::CREDITS_ABS_MAX};
use crate::ports::clock::Clock;
use crate::ports::notices::{DeliveryStore, EndpointStore, NoticeFeed};
use crate::ports::store::{
    EntriesPost, RateBookGet, RateCardSave, RouteSet, StatementRead, WalletCreate, WalletGet,
    WalletSettingsSet,
};
use crate::ports::store::{
    PaymentMethodGet, PaymentMethodSave, PurchaseRead, PurchaseRecord, PurchaseSettle,
};
use auth::AuthConfig;
use error::ApiError;

/// Everything the API asks of a store.
pub trait ApiStore:
    WalletGet
    + WalletCreate
    + WalletSettingsSet
    + EntriesPost
    + StatementRead
    + RouteSet
    + RateCardSave
    + RateBookGet
    // Purchases and the card they save.
    + PurchaseRecord
    + PurchaseRead
    + PurchaseSettle
    + PaymentMethodGet
    + PaymentMethodSave
    // Notices: the feed, webhook endpoints and their deliveries.
    + NoticeFeed
    + EndpointStore
    + DeliveryStore
    + Clone
    + Send
    + Sync
    + 'static
{
}

impl<T> ApiStore for T where
    T: WalletGet
        + WalletCreate
        + WalletSettingsSet
        + EntriesPost
        + StatementRead
        + RouteSet
        + RateCardSave
        + RateBookGet
        + PurchaseRecord
        + PurchaseRead
        + PurchaseSettle
        + PaymentMethodGet
        + PaymentMethodSave
        + NoticeFeed
        + EndpointStore
        + DeliveryStore
        + Clone
        + Send
        + Sync
        + 'static
{
}

/// The price of credits: a unit price per currency, one fee rate, one purchase limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditPricing {
    /// Currencies absent here are not sold: a quote in them is refused, never guessed.
    pub unit_prices: BTreeMap<Currency, Decimal>,
    pub fee_rate: Decimal,
    pub credits_per_purchase_max: u32,
}

impl Default for CreditPricing {
    /// Zoho's: 2.00 a credit in the wallet's currency, a 3% fee, up to 10,000 credits at a time.
    /// JPY has no cents, and 2 yen a credit would be no price at all, so it is left unpriced.
    fn default() -> Self {
        Self {
            unit_prices: Currency::ALL
                .into_iter()
                .filter(|currency| currency.minor_unit_digits() == 2)
                .map(|currency| (currency, Decimal::new(200, 2)))
                .collect(),
            fee_rate: Decimal::new(3, 2),
            credits_per_purchase_max: QuotePolicy::CREDITS_MAX_DEFAULT,
        }
    }
}

impl CreditPricing {
    /// Checks every configured price, so a bad one fails at start, not on a request.
    pub fn validated(self) -> Result<Self, QuoteError> {
        for (currency, unit_price) in &self.unit_prices {
            self.try_policy(*currency, *unit_price, self.credits_per_purchase_max)?;
        }
        Ok(self)
    }

    fn try_policy(
        &self,
        currency: Currency,
        unit_price: Decimal,
        credits_max: u32,
    ) -> Result<QuotePolicy, QuoteError> {
        QuotePolicy::new(
            Money::new(unit_price, currency)?,
            self.fee_rate,
            credits_max,
        )
    }

    fn policy(&self, currency: Currency, credits_max: u32) -> Result<QuotePolicy, ApiError> {
        let unit_price = self.unit_prices.get(&currency).ok_or_else(|| {
            ApiError::conflict(format!(
                "credits are not sold in {currency}; an operator must give them a price"
            ))
        })?;
        Ok(self
            .try_policy(currency, *unit_price, credits_max)
            .expect("credit pricing was validated at start"))
    }

    /// What buyers are quoted.
    pub fn quote_policy(&self, currency: Currency) -> Result<QuotePolicy, ApiError> {
        self.policy(currency, self.credits_per_purchase_max)
    }

    /// Operators may grant larger offline orders than one online purchase.
    pub fn grant_policy(&self, currency: Currency) -> Result<QuotePolicy, ApiError> {
        self.policy(currency, CREDITS_ABS_MAX)
    }
}

/// What the handlers share.
pub struct App<S> {
    pub store: S,
    pub clock: Arc<dyn Clock>,
    pub auth: AuthConfig,
    pub credits: CreditPricing,
    /// Checkout provider, webhook secrets and return URLs (purchases).
    pub payments: purchases::Payments,
    /// The notifications queue and the webhook URL check (notices, endpoints).
    pub notices: notices::NoticesApi,
}

/// The router's state: the shared [`App`].
pub struct AppState<S>(pub Arc<App<S>>);

impl<S> Clone for AppState<S> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<S> Deref for AppState<S> {
    type Target = App<S>;

    fn deref(&self) -> &App<S> {
        &self.0
    }
}

impl<S> FromRef<AppState<S>> for AuthConfig {
    fn from_ref(state: &AppState<S>) -> AuthConfig {
        state.auth.clone()
    }
}

/// Every route of the API: method, path (OpenAPI syntax, which axum shares) and handler.
pub fn routes<S: ApiStore>() -> Vec<(Method, &'static str, MethodRouter<AppState<S>>)> {
    let mut routes = vec![
        (Method::GET, "/v1/wallet", get(wallet::get_wallet::<S>)),
        (
            Method::GET,
            "/v1/wallet/statement",
            get(wallet::get_statement::<S>),
        ),
        (
            Method::POST,
            "/v1/wallet/quotes",
            post(wallet::create_quote::<S>),
        ),
        (
            Method::PUT,
            "/v1/wallet/auto-recharge",
            put(wallet::put_auto_recharge::<S>),
        ),
        (
            Method::PUT,
            "/v1/wallet/alerts",
            put(wallet::put_alerts::<S>),
        ),
        (
            Method::POST,
            "/v1/operator/accounts/{account_id}/wallet",
            post(operator::create_wallet::<S>),
        ),
        (
            Method::GET,
            "/v1/operator/accounts/{account_id}/wallet",
            get(operator::get_account_wallet::<S>),
        ),
        (
            Method::PUT,
            "/v1/operator/accounts/{account_id}/phone-numbers/{phone_number_id}",
            put(operator::attach_phone_number::<S>),
        ),
        (
            Method::DELETE,
            "/v1/operator/accounts/{account_id}/phone-numbers/{phone_number_id}",
            delete(operator::detach_phone_number::<S>),
        ),
        (
            Method::POST,
            "/v1/operator/accounts/{account_id}/grants",
            post(operator::create_grant::<S>),
        ),
        (
            Method::POST,
            "/v1/operator/rate-cards",
            post(operator::upload_rate_card::<S>)
                .layer(DefaultBodyLimit::max(operator::RATE_CARD_BODY_LEN_MAX)),
        ),
        (
            Method::GET,
            "/v1/operator/rate-cards/{currency}",
            get(operator::list_rate_cards::<S>),
        ),
        // Buying credits: purchases, their history, and Stripe's webhook (no bearer token: the
        // Stripe-Signature is its authentication; the template leaves it out of the authorizer).
        (
            Method::POST,
            "/v1/wallet/purchases",
            post(purchases::create_purchase::<S>),
        ),
        (
            Method::GET,
            "/v1/wallet/purchases",
            get(purchases::list_purchases::<S>),
        ),
        (
            Method::POST,
            "/webhooks/stripe",
            post(purchases::stripe_webhook::<S>),
        ),
    ];
    routes.extend(notice_routes::<S>());
    routes
}

/// The feed and the webhook endpoints (an account's own, and the operator's platform-wide ones).
fn notice_routes<S: ApiStore>() -> Vec<(Method, &'static str, MethodRouter<AppState<S>>)> {
    use webhooks as w;
    vec![
        (
            Method::GET,
            "/v1/wallet/notices",
            get(notices::list_notices::<S>),
        ),
        (
            Method::PUT,
            "/v1/wallet/notices/read-marker",
            put(notices::put_read_marker::<S>),
        ),
        (
            Method::POST,
            "/v1/wallet/webhook-endpoints",
            post(w::create_account_endpoint::<S>),
        ),
        (
            Method::GET,
            "/v1/wallet/webhook-endpoints",
            get(w::list_account_endpoints::<S>),
        ),
        (
            Method::DELETE,
            "/v1/wallet/webhook-endpoints/{endpoint_id}",
            delete(w::delete_account_endpoint::<S>),
        ),
        (
            Method::POST,
            "/v1/wallet/webhook-endpoints/{endpoint_id}/rotate-secret",
            post(w::rotate_account_secret::<S>),
        ),
        (
            Method::GET,
            "/v1/wallet/webhook-endpoints/{endpoint_id}/deliveries",
            get(w::account_deliveries::<S>),
        ),
        (
            Method::POST,
            "/v1/wallet/webhook-endpoints/{endpoint_id}/resend",
            post(w::account_resend::<S>),
        ),
        (
            Method::POST,
            "/v1/operator/webhook-endpoints",
            post(w::create_platform_endpoint::<S>),
        ),
        (
            Method::GET,
            "/v1/operator/webhook-endpoints",
            get(w::list_platform_endpoints::<S>),
        ),
        (
            Method::DELETE,
            "/v1/operator/webhook-endpoints/{endpoint_id}",
            delete(w::delete_platform_endpoint::<S>),
        ),
        (
            Method::POST,
            "/v1/operator/webhook-endpoints/{endpoint_id}/rotate-secret",
            post(w::rotate_platform_secret::<S>),
        ),
        (
            Method::GET,
            "/v1/operator/webhook-endpoints/{endpoint_id}/deliveries",
            get(w::platform_deliveries::<S>),
        ),
        (
            Method::POST,
            "/v1/operator/webhook-endpoints/{endpoint_id}/resend",
            post(w::platform_resend::<S>),
        ),
    ]
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method",
    )
}

/// The API's router, built from [`routes`] alone.
pub fn router<S: ApiStore>(app: App<S>) -> Router {
    let mut by_path: BTreeMap<&'static str, MethodRouter<AppState<S>>> = BTreeMap::new();
    for (_, path, handler) in routes::<S>() {
        let merged = match by_path.remove(path) {
            Some(existing) => existing.merge(handler),
            None => handler,
        };
        by_path.insert(path, merged);
    }
    let router = by_path
        .into_iter()
        .fold(Router::new(), |router, (path, handler)| {
            router.route(path, handler)
        });
    router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(json::REQUEST_BODY_LEN_MAX))
        .with_state(AppState(Arc::new(app)))
}
