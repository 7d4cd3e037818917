//! The HTTP API: one axum router, served by the checkout function through `lambda_http` and by the
//! local runner through `axum::serve`. Every route is listed once in [`routes`], which builds the
//! router and is checked against the OpenAPI file (`docs/openapi.json`) by a test.

pub mod adjustments;
pub mod auth;
pub mod dashboard;
pub mod exports;
pub mod holds;
pub mod json;
pub mod notices;
pub mod operator;
pub mod payment_webhook;
pub mod purchases;
pub mod rate_card_import;
pub mod re_rate;
pub mod replay;
pub mod review;
pub mod tiers;
pub mod usage;
pub mod views;
pub mod wallet;
pub mod webhooks;
pub mod whole;
/// The HTTP edge the API shares with Meta's webhook (`crate::web`), under its old paths.
pub use crate::web::{envelope, error, query};

use std::collections::BTreeMap;
use std::ops::Deref;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRef};
use axum::http::Method;
use axum::routing::{MethodRouter, delete, get, post, put};

pub use crate::money::CreditPricing;
use crate::ports::clock::Clock;
use crate::ports::holds::HoldStore;
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

/// Everything the API asks of a store: one list of bounds, and every store that meets them.
macro_rules! api_store {
    ($($bound:path),+ $(,)?) => {
        /// Everything the API asks of a store.
        pub trait ApiStore: $($bound +)+ Clone + Send + Sync + 'static {}

        impl<T> ApiStore for T where T: $($bound +)+ Clone + Send + Sync + 'static {}
    };
}

api_store!(
    WalletGet,
    WalletCreate,
    WalletSettingsSet,
    EntriesPost,
    StatementRead,
    RouteSet,
    RateCardSave,
    RateBookGet,
    // Purchases and the card they save.
    PurchaseRecord,
    PurchaseRead,
    PurchaseSettle,
    PaymentMethodGet,
    PaymentMethodSave,
    // Notices: the feed, webhook endpoints and their deliveries.
    NoticeFeed,
    EndpointStore,
    DeliveryStore,
    crate::ports::review::PurchaseReview,
    crate::ports::store::UsageRead,
    crate::ports::reporting::ReportingZoneSet,
    crate::ports::reporting::EntriesGet,
    // Holds: reserve before a send, release what is not used.
    HoldStore,
    // Volume tiers: the files by date, and which wallet a WABA bills to.
    crate::ports::tiers::TierBooks,
    crate::ports::tiers::WabaRoutes,
);

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
pub fn routes<S: ApiStore>() -> Vec<Route<S>> {
    let mut routes = wallet_routes::<S>();
    routes.extend(purchase_routes::<S>());
    routes.extend(reporting_and_hold_routes::<S>());
    routes.extend(notice_routes::<S>());
    routes.extend(platform_endpoint_routes::<S>());
    routes.extend(tier_routes::<S>());
    routes
}

/// One route: method, path and handler.
pub type Route<S> = (Method, &'static str, MethodRouter<AppState<S>>);

/// The wallet's own routes and the operator's.
fn wallet_routes<S: ApiStore>() -> Vec<Route<S>> {
    vec![
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
            "/v1/operator/accounts/{account_id}/adjustments",
            post(adjustments::create_adjustment::<S>),
        ),
        (
            Method::POST,
            "/v1/operator/rate-cards",
            json::body_limit(
                post(rate_card_import::upload_rate_card_any::<S>),
                operator::RATE_CARD_BODY_LEN_MAX,
            ),
        ),
        (
            Method::GET,
            "/v1/operator/rate-cards/{currency}",
            get(operator::list_rate_cards::<S>),
        ),
    ]
}

/// Buying credits: purchases, their history, and Stripe's webhook (no bearer token: the
/// Stripe-Signature is its authentication; the template leaves it out of the authorizer).
fn purchase_routes<S: ApiStore>() -> Vec<Route<S>> {
    vec![
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
            post(payment_webhook::stripe_webhook::<S>),
        ),
        (
            Method::POST,
            "/v1/operator/accounts/{account_id}/purchases/{purchase_id}/review",
            post(review::review_purchase::<S>),
        ),
    ]
}

/// Reporting (usage from the aggregates, the zone that decides its days, statements), holds and
/// the dashboard.
fn reporting_and_hold_routes<S: ApiStore>() -> Vec<Route<S>> {
    vec![
        // Reporting: usage from the aggregates, the zone that decides its days, statements.
        (Method::GET, "/v1/wallet/usage", get(usage::get_usage::<S>)),
        (
            Method::PUT,
            "/v1/wallet/reporting-time-zone",
            put(usage::put_reporting_zone::<S>),
        ),
        (
            Method::PUT,
            "/v1/operator/accounts/{account_id}/reporting-time-zone",
            put(usage::put_account_reporting_zone::<S>),
        ),
        (
            Method::GET,
            "/v1/wallet/statements/{month}",
            get(exports::get_monthly_statement::<S>),
        ),
        // Holds: reserve a send's cost before it goes out; charges with the hold's tag settle it.
        (
            Method::POST,
            "/v1/wallet/holds",
            post(holds::create_hold::<S>),
        ),
        (Method::GET, "/v1/wallet/holds", get(holds::list_holds::<S>)),
        (
            Method::GET,
            "/v1/wallet/holds/{hold_id}",
            get(holds::get_hold::<S>),
        ),
        (
            Method::DELETE,
            "/v1/wallet/holds/{hold_id}",
            delete(holds::delete_hold::<S>),
        ),
        // The dashboard page and its files: no token (the page calls the API with one), so the
        // template leaves them out of the authorizer.
        (Method::GET, "/", get(dashboard::page)),
        (Method::GET, "/dashboard/{asset}", get(dashboard::asset)),
    ]
}

/// The feed and an account's own webhook endpoints.
fn notice_routes<S: ApiStore>() -> Vec<Route<S>> {
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
    ]
}

/// The operator's platform-wide webhook endpoints.
fn platform_endpoint_routes<S: ApiStore>() -> Vec<Route<S>> {
    use webhooks as w;
    vec![
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

/// Volume tiers: Meta's tiers files, and the WABA → account route their updates need.
fn tier_routes<S: ApiStore>() -> Vec<Route<S>> {
    vec![
        (
            Method::POST,
            "/v1/operator/volume-tiers",
            json::body_limit(post(tiers::upload_tiers::<S>), tiers::TIERS_BODY_LEN_MAX),
        ),
        (
            Method::GET,
            "/v1/operator/volume-tiers/{currency}",
            get(tiers::list_tiers::<S>),
        ),
        (
            Method::PUT,
            "/v1/operator/accounts/{account_id}/wabas/{waba_id}",
            put(tiers::attach_waba::<S>),
        ),
        (
            Method::DELETE,
            "/v1/operator/accounts/{account_id}/wabas/{waba_id}",
            delete(tiers::detach_waba::<S>),
        ),
        (
            Method::POST,
            "/v1/operator/accounts/{account_id}/re-rates",
            post(re_rate::create_re_rate::<S>),
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
        .layer(axum::middleware::map_response(envelope::envelope_errors))
        .with_state(AppState(Arc::new(app)))
}
