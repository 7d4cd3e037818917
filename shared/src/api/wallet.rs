//! Account routes: a caller reads and changes only the wallet of the account its token names.

use axum::Json;
use axum::extract::{RawQuery, State};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::auth::AccountCaller;
use super::error::ApiError;
use super::json::ApiJson;
use super::views::{AutoRechargeView, QuoteView, StatementView, WalletView};
use super::{ApiStore, AppState};
use crate::ids::AccountId;
use crate::ledger::StatementCursor;
use crate::money::{Money, QuoteError};
use crate::ports::store::{PostedRange, STATEMENT_PAGE_LIMIT_MAX, StatementRequest};
use crate::wallet::{AutoRecharge, SettingsError, Wallet};

pub const STATEMENT_LIMIT_DEFAULT: u32 = 20;

pub(super) async fn load_wallet<S: ApiStore>(
    app: &AppState<S>,
    account: &AccountId,
) -> Result<Wallet, ApiError> {
    app.store
        .get_wallet(account)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("account {account} has no wallet")))
}

pub async fn get_wallet<S: ApiStore>(
    State(app): State<AppState<S>>,
    AccountCaller(account): AccountCaller,
) -> Result<Json<WalletView>, ApiError> {
    let wallet = load_wallet(&app, &account).await?;
    Ok(Json(WalletView::from(&wallet)))
}

/// `from`, `to` (RFC 3339), `limit` (1..=100) and `cursor`, each checked and named when wrong.
pub fn statement_request(query: Option<&str>) -> Result<StatementRequest, ApiError> {
    let mut limit = STATEMENT_LIMIT_DEFAULT;
    let (mut cursor, mut from, mut to) = (None, None, None);
    for (name, value) in super::query::pairs(query)? {
        let time = |field: &str| {
            OffsetDateTime::parse(&value, &Rfc3339)
                .map_err(|_| ApiError::invalid_field(field, "expected an RFC 3339 time"))
        };
        match name.as_str() {
            "limit" => limit = super::query::limit(&value, STATEMENT_PAGE_LIMIT_MAX)?,
            "cursor" => {
                cursor = Some(StatementCursor::decode(&value).map_err(|_| {
                    ApiError::invalid_field("cursor", "not a cursor this API issued")
                })?);
            }
            "from" => from = Some(time("from")?),
            "to" => to = Some(time("to")?),
            other => return Err(super::query::unknown(other, "from, to, limit, cursor")),
        }
    }
    let request = StatementRequest::new(limit, cursor);
    if from.is_none() && to.is_none() {
        return Ok(request);
    }
    let range = PostedRange {
        from: from.unwrap_or(OffsetDateTime::UNIX_EPOCH),
        to: to.unwrap_or(time::macros::datetime!(9999-12-31 23:59:59.999 UTC)),
    };
    if range.from > range.to {
        return Err(ApiError::invalid_field("from", "must not be after to"));
    }
    Ok(request.posted_within(range))
}

pub async fn get_statement<S: ApiStore>(
    State(app): State<AppState<S>>,
    AccountCaller(account): AccountCaller,
    headers: axum::http::HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let (format, rest) =
        super::exports::negotiate(&headers, query.as_deref(), super::exports::Format::Csv)?;
    if format == super::exports::Format::Csv {
        return super::exports::statement_csv(app, account, rest.as_deref()).await;
    }
    let request = statement_request(rest.as_deref())?;
    let page = app.store.statement_page(&account, &request).await?;
    if page.entries.is_empty() && request.cursor.is_none() {
        // An empty first page of a wallet that does not exist is a 404, not an empty statement.
        load_wallet(&app, &account).await?;
    }
    Ok(Json(StatementView {
        entries: page.entries.into_iter().map(Into::into).collect(),
        next_cursor: page.next_cursor.map(|cursor| cursor.encode()),
    })
    .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuoteRequest {
    #[serde(deserialize_with = "super::whole::u64")]
    pub credits: u64,
}

pub fn credits_error(error: QuoteError) -> ApiError {
    match error {
        QuoteError::CreditsOutOfRange { max, .. } => {
            ApiError::invalid_field("credits", format!("must be between 1 and {max}"))
        }
        other => {
            tracing::error!(error = %other, "credit pricing is misconfigured");
            ApiError::internal()
        }
    }
}

pub async fn create_quote<S: ApiStore>(
    State(app): State<AppState<S>>,
    AccountCaller(account): AccountCaller,
    ApiJson(request): ApiJson<QuoteRequest>,
) -> Result<Json<QuoteView>, ApiError> {
    let wallet = load_wallet(&app, &account).await?;
    let policy = app.credits.quote_policy(wallet.currency)?;
    let credits = policy.credits(request.credits).map_err(credits_error)?;
    let quote = policy.quote(credits).map_err(credits_error)?;
    Ok(Json(QuoteView::from(&quote)))
}

/// Amounts in request bodies are decimal strings in the wallet's currency, e.g. `"5.00"`.
pub(super) fn amount_field(field: &str, text: &str, wallet: &Wallet) -> Result<Money, ApiError> {
    Money::parse(text, wallet.currency).map_err(|error| ApiError::invalid_field(field, error))
}

pub fn settings_error(error: SettingsError) -> ApiError {
    match &error {
        SettingsError::WrongCurrency { field, .. } | SettingsError::Negative(field) => {
            ApiError::invalid_field(field, error)
        }
        SettingsError::CreditsOutOfRange => ApiError::invalid_field("credits", error),
        SettingsError::Money(_) => ApiError::invalid_field("amount", error),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoRechargeRequest {
    pub enabled: bool,
    pub minimum_balance: String,
    #[serde(deserialize_with = "super::whole::u32")]
    pub credits: u32,
}

#[derive(Debug, Serialize)]
pub struct AutoRechargeSaved {
    pub message: &'static str,
    pub auto_recharge: AutoRechargeView,
}

pub async fn put_auto_recharge<S: ApiStore>(
    State(app): State<AppState<S>>,
    AccountCaller(account): AccountCaller,
    ApiJson(request): ApiJson<AutoRechargeRequest>,
) -> Result<Json<AutoRechargeSaved>, ApiError> {
    let wallet = load_wallet(&app, &account).await?;
    let minimum = amount_field("minimum_balance", &request.minimum_balance, &wallet)?;
    let settings = AutoRecharge::new(request.enabled, minimum, request.credits, wallet.currency)
        .map_err(settings_error)?;
    if settings.enabled {
        // Auto-recharge charges the card a purchase saved. A saved card is never removed, so this
        // read cannot be invalidated between the check and the save.
        let saved = app.store.get_payment_method(&account).await?;
        if !saved.is_some_and(|saved| saved.is_chargeable()) {
            return Err(ApiError::conflict(
                "auto-recharge charges the card saved by a purchase, and none is saved yet: buy \
                 credits once by card (POST /v1/wallet/purchases), then enable auto-recharge",
            ));
        }
    }
    let saved = app
        .store
        .set_auto_recharge(&account, &settings, app.clock.now())
        .await?;
    Ok(Json(AutoRechargeSaved {
        message: "Auto-Recharge Updated Successfully",
        auto_recharge: (&saved.auto_recharge).into(),
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsRequest {
    pub low_balance_threshold: String,
}

pub async fn put_alerts<S: ApiStore>(
    State(app): State<AppState<S>>,
    AccountCaller(account): AccountCaller,
    ApiJson(request): ApiJson<AlertsRequest>,
) -> Result<Json<WalletView>, ApiError> {
    let wallet = load_wallet(&app, &account).await?;
    let threshold = amount_field(
        "low_balance_threshold",
        &request.low_balance_threshold,
        &wallet,
    )?;
    if threshold.is_negative() {
        return Err(ApiError::invalid_field(
            "low_balance_threshold",
            "must not be negative",
        ));
    }
    let saved = app
        .store
        .set_low_balance_threshold(&account, threshold, app.clock.now())
        .await?;
    Ok(Json(WalletView::from(&saved)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_queries_are_checked_field_by_field() {
        assert_eq!(
            statement_request(None).unwrap().limit(),
            STATEMENT_LIMIT_DEFAULT
        );
        let request = statement_request(Some("limit=5&from=2026-01-01T00%3A00%3A00Z")).unwrap();
        assert_eq!(request.limit(), 5);
        assert!(request.posted.is_some());
        for (query, field) in [
            ("limit=0", "limit"),
            ("limit=101", "limit"),
            ("cursor=zz", "cursor"),
            ("from=yesterday", "from"),
            ("from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", "from"),
            ("sort=asc", "sort"),
            ("limit=%zz", "limit"),
        ] {
            let error = statement_request(Some(query)).unwrap_err();
            assert!(
                error.message.starts_with(&format!("{field}: ")),
                "{query}: {}",
                error.message
            );
        }
    }
}
