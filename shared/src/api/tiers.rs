//! Volume tiers, for operators:
//! - `POST /v1/operator/volume-tiers?effective_from=2026-10-01&market_list=<version>` with
//!   `Content-Type: text/csv`: Meta's volume tiers file for one currency (layout in
//!   [`crate::pricing::tiers`]), stored by date like a rate card. A problem is a 4xx naming the
//!   line or the parameter, and nothing is saved; the same file again is a replay.
//! - `GET /v1/operator/volume-tiers/{currency}`: the versions.
//! - `PUT` / `DELETE /v1/operator/accounts/{account_id}/wabas/{waba_id}`: which wallet a WABA's
//!   tier updates (Meta's `account_update` webhook) true up.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use serde::Serialize;

use super::auth::OperatorCaller;
use super::error::ApiError;
use super::rate_card_import::{import_parameters, is_csv};
use super::{ApiStore, AppState};
use crate::ids::AccountId;
use crate::meta::ids::WabaId;
use crate::money::Currency;
use crate::ports::store::Saved;
use crate::pricing::built_in_market_lists;
use crate::pricing::tier_book::{TierCard, TierCardError};
use crate::pricing::tiers::TIERS_CSV_BYTES_MAX;

#[derive(Debug, Serialize)]
pub struct TierCardView {
    pub currency: Currency,
    #[serde(with = "time::serde::rfc3339")]
    pub effective_from: time::OffsetDateTime,
    pub market_list: String,
    /// Bands over all markets and categories.
    pub bands: usize,
}

impl From<&TierCard> for TierCardView {
    fn from(card: &TierCard) -> Self {
        Self {
            currency: card.currency(),
            effective_from: card.effective_from(),
            market_list: card.market_list().to_owned(),
            bands: card.tiers().band_count(),
        }
    }
}

pub async fn upload_tiers<S: ApiStore>(
    State(app): State<AppState<S>>,
    _operator: OperatorCaller,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, HeaderMap, Json<TierCardView>), ApiError> {
    // Over the limit is a 413 that states the limit; anything else reading the body, a 400.
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            super::json::too_large(TIERS_BODY_LEN_MAX)
        } else {
            ApiError::bad_request(rejection.body_text())
        }
    })?;
    if !is_csv(&headers) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "a volume tiers file is sent as Content-Type: text/csv",
        ));
    }
    let (effective_from, market_list) = import_parameters(query.as_deref())?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::bad_request("the tiers file is not UTF-8 text"))?;
    let card = TierCard::import(built_in_market_lists(), text, &effective_from, &market_list)
        .map_err(|error| match error {
            TierCardError::Parameter { field, problem } => ApiError::invalid_field(field, problem),
            TierCardError::File(error) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_tiers_file",
                error.to_string(),
            ),
        })?;
    let mut answer = HeaderMap::new();
    if app.store.save_tier_card(&card, app.clock.now()).await? == Saved::AlreadySaved {
        answer.insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok((StatusCode::CREATED, answer, Json(TierCardView::from(&card))))
}

#[derive(Debug, Serialize)]
pub struct TierBookView {
    pub currency: Currency,
    /// Oldest first.
    pub versions: Vec<TierCardView>,
}

pub async fn list_tiers<S: ApiStore>(
    State(app): State<AppState<S>>,
    _operator: OperatorCaller,
    Path(currency): Path<String>,
) -> Result<Json<TierBookView>, ApiError> {
    let currency: Currency = currency
        .parse()
        .map_err(|error| ApiError::invalid_field("currency", error))?;
    let book = app.store.tier_book(currency).await?;
    Ok(Json(TierBookView {
        currency,
        versions: book.cards().iter().map(TierCardView::from).collect(),
    }))
}

/// Largest tiers file accepted (the route's body limit).
pub const TIERS_BODY_LEN_MAX: usize = TIERS_CSV_BYTES_MAX;

#[derive(Debug, Serialize)]
pub struct WabaRouteView {
    pub waba_id: String,
    pub account_id: String,
}

fn params(account: &str, waba: &str) -> Result<(AccountId, WabaId), ApiError> {
    let account =
        AccountId::parse(account).map_err(|error| ApiError::invalid_field("account_id", error))?;
    let waba = WabaId::parse(waba).map_err(|error| ApiError::invalid_field("waba_id", error))?;
    Ok((account, waba))
}

pub async fn attach_waba<S: ApiStore>(
    State(app): State<AppState<S>>,
    _operator: OperatorCaller,
    Path((account, waba)): Path<(String, String)>,
) -> Result<Json<WabaRouteView>, ApiError> {
    let (account, waba) = params(&account, &waba)?;
    app.store
        .attach_waba(&waba, &account, app.clock.now())
        .await?;
    Ok(Json(WabaRouteView {
        waba_id: waba.to_string(),
        account_id: account.to_string(),
    }))
}

pub async fn detach_waba<S: ApiStore>(
    State(app): State<AppState<S>>,
    _operator: OperatorCaller,
    Path((account, waba)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (account, waba) = params(&account, &waba)?;
    if app.store.detach_waba(&waba, &account).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!(
            "WABA {waba} is not attached to account {account}"
        )))
    }
}
