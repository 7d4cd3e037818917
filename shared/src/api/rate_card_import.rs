//! `POST /v1/operator/rate-cards` with `Content-Type: text/csv`: Meta's rates file as published,
//! with `?effective_from=2026-10-01&market_list=<version>`. Every row is mapped to its countries
//! through that market list (which must be the list in force at `effective_from`), and the card is
//! saved like a JSON upload. Any problem is a 4xx naming the line or the parameter; nothing is
//! saved. A JSON body goes to the JSON upload unchanged.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::auth::OperatorCaller;
use super::error::ApiError;
use super::json::ApiJson;
use super::operator::{RATE_CARD_BODY_LEN_MAX, upload_rate_card};
use super::{ApiStore, AppState, query};
use crate::pricing::csv::MetaRates;
use crate::pricing::{MarketLists, RateCard, built_in_market_lists};

pub(super) fn is_csv(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            let media_type = value.split(';').next().unwrap_or("").trim();
            media_type.eq_ignore_ascii_case("text/csv")
        })
}

/// The rate-card upload: Meta's CSV or imcredits' JSON, by `Content-Type`.
pub async fn upload_rate_card_any<S: ApiStore>(
    State(app): State<AppState<S>>,
    request: Request,
) -> Result<Response, ApiError> {
    let (mut parts, body) = request.into_parts();
    let operator = OperatorCaller::from_request_parts(&mut parts, &app).await?;
    if !is_csv(&parts.headers) {
        let request = Request::from_parts(parts, body);
        let json = ApiJson::from_request(request, &app).await?;
        return Ok(upload_rate_card(State(app), operator, json)
            .await?
            .into_response());
    }
    let (effective_from, market_list) = import_parameters(parts.uri.query())?;
    let bytes = Bytes::from_request(Request::from_parts(parts, body), &app)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("rate files are at most {RATE_CARD_BODY_LEN_MAX} bytes"),
            )
        })?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| ApiError::bad_request("the rates file is not UTF-8 text"))?;
    let card = card_from_csv(built_in_market_lists(), text, &effective_from, &market_list)?;
    Ok(super::replay::save_rate_card(&app, &card)
        .await?
        .into_response())
}

pub fn import_parameters(query_text: Option<&str>) -> Result<(String, String), ApiError> {
    let mut effective_from = None;
    let mut market_list = None;
    for (name, value) in query::pairs(query_text)? {
        match name.as_str() {
            "effective_from" => effective_from = Some(value),
            "market_list" => market_list = Some(value),
            other => return Err(query::unknown(other, "effective_from, market_list")),
        }
    }
    let effective_from = effective_from
        .ok_or_else(|| ApiError::invalid_field("effective_from", "is required, e.g. 2026-10-01"))?;
    let market_list = market_list.ok_or_else(|| {
        ApiError::invalid_field("market_list", "is required: the market list version")
    })?;
    Ok((effective_from, market_list))
}

/// Meta's rates file to a card under `market_list`, which must be the list in force at
/// `effective_from`. Pure, so that the runner's import and tests share it.
pub fn card_from_csv(
    lists: &MarketLists,
    text: &str,
    effective_from: &str,
    market_list: &str,
) -> Result<RateCard, ApiError> {
    let effective_from = crate::pricing::json::parse_effective_from(effective_from)
        .filter(|at| *at >= time::macros::datetime!(2000-01-01 0:00 UTC))
        .ok_or_else(|| {
            ApiError::invalid_field("effective_from", "a date in 2000 or later, e.g. 2026-10-01")
        })?;
    let list = lists.by_version(market_list).ok_or_else(|| {
        ApiError::invalid_field("market_list", format!("no market list {market_list:?}"))
    })?;
    let in_force = lists.in_force_at(effective_from).map(|list| list.version());
    if in_force != Some(list.version()) {
        return Err(ApiError::invalid_field(
            "market_list",
            format!(
                "{market_list} is not the list in force at effective_from ({})",
                in_force.unwrap_or("none is")
            ),
        ));
    }
    let invalid_file = |error: crate::pricing::csv::CsvError| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_rates_file",
            error.to_string(),
        )
    };
    let rates = MetaRates::parse(text).map_err(invalid_file)?;
    rates
        .to_card(
            list,
            effective_from,
            "Meta rates file uploaded by an operator",
        )
        .map_err(invalid_file)
}
