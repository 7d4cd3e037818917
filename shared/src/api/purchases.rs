//! Buying credits: `POST /v1/wallet/purchases` records a purchase and opens a hosted checkout,
//! `POST /webhooks/stripe` credits it once paid ([`super::payment_webhook`]), `GET
//! /v1/wallet/purchases` is the payment history.
//!
//! # Crash safety of a purchase
//! 1. The purchase is recorded `pending` with its quote (a conditional put on an id derived from
//!    the account and the buyer's `Idempotency-Key`): a replay finds it, a different body under the
//!    same key is a 409.
//! 2. The checkout is created at the provider under an idempotency key derived from the purchase
//!    id, so a retry after a crash or a timeout gets the same page, never a second one.
//! 3. The page is stored on the purchase. A retry that finds it answers it without calling the
//!    provider again.
//!
//! # Fulfilment
//! A paid `checkout.session.completed` (or `…async_payment_succeeded`) posts one ledger entry
//! whose id is the purchase's, in the same transaction that marks the purchase paid and saves the
//! customer for auto-recharge; `payment_intent.succeeded` names the card, saved on its own
//! conditional write. `…async_payment_failed` and `…expired` move the status up to failed or
//! expired, never over paid. The order is in [`crate::payments::purchase`]; every repeat and every
//! order of these events ends in the same status and the same balance.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRequestParts, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::auth::AccountCaller;
use super::error::ApiError;
use super::json::ApiJson;
use super::replay::replayed_or_conflict;
use super::views::{AmountView, QuoteView};
use super::wallet::{credits_error, load_wallet};
use super::{ApiStore, AppState};
use crate::ids::fingerprint;
use crate::payments::purchase::{
    Purchase, PurchaseCursor, PurchaseKey, PurchaseStatus, StoredCheckout,
};
use crate::payments::{PurchaseId, ReturnUrl};
use crate::ports::payment_events::PaymentWebhook;
use crate::ports::payments::{
    CheckoutCreate, CheckoutCustomer, CheckoutRequest, CheckoutSession, PaymentError,
};
use crate::ports::store::{PurchaseListRequest, PurchaseRecorded};

pub const PURCHASE_LIMIT_DEFAULT: u32 = 20;

/// [`CheckoutCreate`] as a trait object, so the API holds any provider (Stripe, the local runner's
/// fake, a test's) without a second type parameter on every handler.
pub trait CheckoutProvider: Send + Sync {
    fn start_checkout<'a>(
        &'a self,
        request: &'a CheckoutRequest,
    ) -> Pin<Box<dyn Future<Output = Result<CheckoutSession, PaymentError>> + Send + 'a>>;
}

impl<T: CheckoutCreate + Send + Sync> CheckoutProvider for T {
    fn start_checkout<'a>(
        &'a self,
        request: &'a CheckoutRequest,
    ) -> Pin<Box<dyn Future<Output = Result<CheckoutSession, PaymentError>> + Send + 'a>> {
        Box::pin(CheckoutCreate::create_checkout(self, request))
    }
}

/// What the API needs to take payments: a checkout provider, the webhook's signing secrets, and
/// where the hosted page sends the buyer back.
#[derive(Clone)]
pub struct Payments {
    pub checkout: Arc<dyn CheckoutProvider>,
    pub webhook: Arc<dyn PaymentWebhook>,
    pub success_url: ReturnUrl,
    pub cancel_url: ReturnUrl,
}

/// The buyer's `Idempotency-Key` header, required on `POST /v1/wallet/purchases`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurchaseKeyHeader(pub PurchaseKey);

impl<S: Send + Sync> FromRequestParts<S> for PurchaseKeyHeader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let rule = "1 to 128 letters, digits, '-', '_', '.' or ':'";
        let mut values = parts.headers.get_all(PurchaseKey::HEADER).iter();
        let value = values.next().ok_or_else(|| {
            ApiError::bad_request(format!(
                "{}: this header is required: send a new key ({rule}, e.g. a UUID) for each \
                 purchase, and the same key when retrying it",
                PurchaseKey::HEADER
            ))
        })?;
        if values.next().is_some() {
            return Err(ApiError::bad_request(format!(
                "{}: send the header once",
                PurchaseKey::HEADER
            )));
        }
        let key = value
            .to_str()
            .ok()
            .and_then(|text| PurchaseKey::parse(text).ok())
            .ok_or_else(|| {
                ApiError::bad_request(format!("{}: expected {rule}", PurchaseKey::HEADER))
            })?;
        Ok(Self(key))
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PurchaseRequest {
    #[serde(deserialize_with = "super::whole::u64")]
    pub credits: u64,
}

/// A purchase as the buyer sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PurchaseView {
    pub purchase_id: String,
    pub status: PurchaseStatus,
    pub quote: QuoteView,
    /// What the wallet is credited once paid (credits × unit price; the fee is not credited).
    pub credited: AmountView,
    /// Where to pay, while the purchase is pending and its page exists.
    pub checkout_url: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub paid_at: Option<OffsetDateTime>,
}

impl From<&Purchase> for PurchaseView {
    fn from(purchase: &Purchase) -> Self {
        Self {
            purchase_id: purchase.id.to_string(),
            status: purchase.status,
            quote: QuoteView::from(&purchase.quote),
            credited: purchase.quote.subtotal.into(),
            checkout_url: purchase
                .checkout
                .as_ref()
                .filter(|_| purchase.status == PurchaseStatus::Pending)
                .map(|checkout| checkout.url.clone()),
            created_at: purchase.created_at,
            updated_at: purchase.updated_at,
            paid_at: purchase.paid_at,
        }
    }
}

fn checkout_failure(error: &PaymentError) -> ApiError {
    match error {
        PaymentError::Retryable { .. } => {
            tracing::warn!(%error, "checkout not created");
            ApiError::unavailable(format!(
                "the payment provider did not answer; retry with the same {}",
                PurchaseKey::HEADER
            ))
        }
        PaymentError::Rejected { message, .. } => {
            tracing::error!(%error, "the payment provider refused a checkout");
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                "payment_provider_refused",
                format!("the payment provider refused the checkout: {message}"),
            )
        }
        PaymentError::Misconfigured(_) => {
            tracing::error!(%error, "payments are misconfigured");
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                "payment_provider_unavailable",
                "payments are misconfigured; it has been logged",
            )
        }
    }
}

/// Creates the checkout page of a pending purchase that has none yet, and stores it.
async fn open_checkout<S: ApiStore>(
    app: &AppState<S>,
    purchase: Purchase,
) -> Result<Purchase, ApiError> {
    let customer = match &purchase.checkout_customer {
        Some(customer) => CheckoutCustomer::Existing(customer.clone()),
        None => CheckoutCustomer::New,
    };
    let request = CheckoutRequest::for_quote(
        purchase.id.clone(),
        purchase.account_id.clone(),
        &purchase.quote,
        customer,
        app.payments.success_url.clone(),
        app.payments.cancel_url.clone(),
    )
    .map_err(|error| {
        tracing::error!(%error, purchase = %purchase.id, "a stored quote cannot be charged");
        ApiError::internal()
    })?;
    match app.payments.checkout.start_checkout(&request).await {
        Ok(session) => Ok(app
            .store
            .set_purchase_checkout(
                &purchase.account_id,
                &purchase.id,
                &StoredCheckout {
                    session_id: session.id,
                    url: session.url,
                },
                app.clock.now(),
            )
            .await?),
        Err(error) => {
            if matches!(error, PaymentError::Rejected { .. }) {
                // The provider will refuse this request every time: the purchase has failed.
                app.store
                    .close_purchase(
                        &purchase.account_id,
                        &purchase.id,
                        PurchaseStatus::Failed,
                        app.clock.now(),
                    )
                    .await?;
            }
            Err(checkout_failure(&error))
        }
    }
}

/// `POST /v1/wallet/purchases`: records a purchase of `credits` at the current quote and answers
/// where to pay. Once per `Idempotency-Key`.
pub async fn create_purchase<S: ApiStore>(
    State(app): State<AppState<S>>,
    AccountCaller(account): AccountCaller,
    PurchaseKeyHeader(key): PurchaseKeyHeader,
    ApiJson(request): ApiJson<PurchaseRequest>,
) -> Result<(StatusCode, HeaderMap, Json<PurchaseView>), ApiError> {
    let wallet = load_wallet(&app, &account).await?;
    let policy = app.credits.quote_policy(wallet.currency)?;
    let credits = policy.credits(request.credits).map_err(credits_error)?;
    let quote = policy.quote(credits).map_err(credits_error)?;
    let id = PurchaseId::for_request(&account, &key);
    let request_sha256 = fingerprint(&request);
    // A buyer with a saved customer pays as that customer, so every card lands on one customer.
    let checkout_customer = app
        .store
        .get_payment_method(&account)
        .await?
        .map(|saved| saved.customer);
    let pending = Purchase::pending(
        id,
        account.clone(),
        quote,
        request_sha256.clone(),
        checkout_customer,
        app.clock.now(),
    );
    let (purchase, headers) = match app.store.record_purchase(&pending).await? {
        PurchaseRecorded::Created(purchase) => (purchase, HeaderMap::new()),
        PurchaseRecorded::Existing(purchase) => {
            let headers =
                replayed_or_conflict(&purchase.request_sha256, &request_sha256, "purchase")?;
            (purchase, headers)
        }
    };
    let purchase = if purchase.status == PurchaseStatus::Pending && purchase.checkout.is_none() {
        open_checkout(&app, purchase).await?
    } else {
        purchase
    };
    Ok((
        StatusCode::CREATED,
        headers,
        Json(PurchaseView::from(&purchase)),
    ))
}

#[derive(Debug, Serialize)]
pub struct PurchaseHistoryView {
    pub purchases: Vec<PurchaseView>,
    /// Pass as `cursor` for the next, older page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// `limit` (1..=100) and `cursor`, each checked and named when wrong.
pub fn history_request(query: Option<&str>) -> Result<PurchaseListRequest, ApiError> {
    let mut limit = PURCHASE_LIMIT_DEFAULT;
    let mut cursor = None;
    for (name, value) in super::query::pairs(query)? {
        match name.as_str() {
            "limit" => {
                limit = super::query::limit(&value, crate::ports::store::PURCHASE_PAGE_LIMIT_MAX)?
            }
            "cursor" => {
                cursor = Some(PurchaseCursor::decode(&value).map_err(|_| {
                    ApiError::invalid_field("cursor", "not a cursor this API issued")
                })?);
            }
            other => return Err(super::query::unknown(other, "limit, cursor")),
        }
    }
    Ok(PurchaseListRequest::new(limit, cursor))
}

/// `GET /v1/wallet/purchases`: the caller's purchases, newest first.
pub async fn list_purchases<S: ApiStore>(
    State(app): State<AppState<S>>,
    AccountCaller(account): AccountCaller,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let (format, rest) =
        super::exports::negotiate(&headers, query.as_deref(), super::exports::Format::Csv)?;
    if format == super::exports::Format::Csv {
        return super::exports::payments_csv(app, account, rest.as_deref()).await;
    }
    let request = history_request(rest.as_deref())?;
    let page = app.store.purchase_page(&account, &request).await?;
    if page.purchases.is_empty() && request.cursor.is_none() {
        // No history of an account without a wallet is a 404, not an empty list.
        load_wallet(&app, &account).await?;
    }
    Ok(Json(PurchaseHistoryView {
        purchases: page.purchases.iter().map(PurchaseView::from).collect(),
        next_cursor: page.next_cursor.map(|cursor| cursor.encode()),
    })
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_purchase_fingerprint_changes_with_the_body() {
        let three = fingerprint(&PurchaseRequest { credits: 3 });
        assert_eq!(three, fingerprint(&PurchaseRequest { credits: 3 }));
        assert_ne!(three, fingerprint(&PurchaseRequest { credits: 4 }));
        assert_eq!(three.len(), 32);
    }

    #[test]
    fn history_queries_are_checked_field_by_field() {
        assert_eq!(
            history_request(None).unwrap().limit(),
            PURCHASE_LIMIT_DEFAULT
        );
        assert_eq!(history_request(Some("limit=5")).unwrap().limit(), 5);
        for (query, field) in [
            ("limit=0", "limit"),
            ("limit=101", "limit"),
            ("cursor=zz", "cursor"),
            ("status=paid", "status"),
        ] {
            let error = history_request(Some(query)).unwrap_err();
            assert!(
                error.message.starts_with(&format!("{field}: ")),
                "{query}: {}",
                error.message
            );
        }
    }

    #[tokio::test]
    async fn the_key_header_is_required_bounded_and_single() {
        async fn extract(values: &[&str]) -> Result<PurchaseKeyHeader, ApiError> {
            let mut request = axum::http::Request::builder();
            for value in values {
                request = request.header(PurchaseKey::HEADER, *value);
            }
            let (mut parts, ()) = request.body(()).unwrap().into_parts();
            PurchaseKeyHeader::from_request_parts(&mut parts, &()).await
        }
        assert_eq!(
            extract(&["k-1"]).await.unwrap().0,
            PurchaseKey::parse("k-1").unwrap()
        );
        for values in [&[][..], &["a b"], &["a", "b"], &[&*"k".repeat(129)]] {
            let error = extract(values).await.unwrap_err();
            assert_eq!(error.status, StatusCode::BAD_REQUEST, "{values:?}");
            assert!(
                error.message.starts_with("Idempotency-Key: "),
                "{values:?}: {}",
                error.message
            );
        }
    }
}
