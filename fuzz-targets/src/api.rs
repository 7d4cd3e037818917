//! Every request body and query string of the API, through the extraction the server uses
//! (`ApiJson` on an HTTP request; the routes' own query parsers) and the checks a handler makes
//! before it touches the store. Every refusal must be a 4xx, never a panic or a 5xx.

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use futures_util::FutureExt;
use imcredits::api::error::ApiError;
use imcredits::api::json::ApiJson;
use imcredits::api::{
    adjustments, exports, holds, notices, operator, purchases, rate_card_import, review, usage,
    wallet, webhooks,
};
use imcredits::ids::AccountId;
use imcredits::money::{CreditPricing, Currency, Money};
use imcredits::pricing::{RateCard, RateCardJson};
use imcredits::wallet::zone::ReportingZone;
use imcredits::wallet::{AutoRecharge, NewWallet};
use serde::de::DeserializeOwned;
use time::OffsetDateTime;

fn refused_with_4xx(error: &ApiError) {
    assert!(
        error.status.is_client_error(),
        "outside input must be refused with a 4xx: {error:?}"
    );
}

fn check<T>(result: Result<T, ApiError>) -> Option<T> {
    result.inspect_err(refused_with_4xx).ok()
}

/// The body through `ApiJson`, as axum hands it a request (its future is ready at once: the
/// body is in memory).
fn extract<T: DeserializeOwned>(body: &[u8]) -> Option<T> {
    let request = Request::builder()
        .method("POST")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_vec()))
        .expect("a valid request");
    let extracted = ApiJson::<T>::from_request(request, &())
        .now_or_never()
        .expect("a body in memory is read at once");
    check(extracted).map(|ApiJson(value)| value)
}

fn credits(requested: u64) {
    let policy = CreditPricing::default()
        .quote_policy(Currency::Usd)
        .expect("USD is sold");
    if let Some(credits) = check(policy.credits(requested).map_err(wallet::credits_error)) {
        check(policy.quote(credits).map_err(wallet::credits_error));
    }
}

/// An amount as the handlers read one (`wallet::amount_field`): a decimal string in the currency.
fn amount(field: &str, text: &str, currency: Currency) -> Option<Money> {
    check(Money::parse(text, currency).map_err(|error| ApiError::invalid_field(field, error)))
}

/// `PUT /v1/wallet/auto-recharge`: the minimum balance as an amount, then the settings' rules.
fn auto_recharge(body: &[u8]) {
    let Some(request) = extract::<wallet::AutoRechargeRequest>(body) else {
        return;
    };
    let Some(minimum) = amount("minimum_balance", &request.minimum_balance, Currency::Usd) else {
        return;
    };
    let settings = AutoRecharge::new(request.enabled, minimum, request.credits, Currency::Usd);
    check(settings.map_err(wallet::settings_error));
}

/// An operator's new wallet: its low-balance threshold as an amount in the wallet's currency,
/// then the wallet's rules for it.
fn create_wallet(body: &[u8]) {
    let Some(request) = extract::<operator::CreateWalletRequest>(body) else {
        return;
    };
    let Some(threshold) = &request.low_balance_threshold else {
        return;
    };
    let account = AccountId::parse("fuzz-account").expect("a valid account id");
    if let Some(threshold) = amount("low_balance_threshold", threshold, request.currency) {
        let new_wallet = NewWallet::new(account, request.currency);
        check(
            new_wallet
                .with_low_balance_threshold(threshold)
                .map_err(wallet::settings_error),
        );
    }
}

/// `POST /v1/wallet/holds`: each line as the route checks it (the first 64, a bound on one run's
/// work).
fn hold(body: &[u8]) {
    let Some(request) = extract::<holds::HoldRequest>(body) else {
        return;
    };
    for (index, line) in request.lines.iter().enumerate().take(64) {
        check(holds::line_request(index, line));
    }
}

/// The selector picks the route; the rest is its body.
pub fn api_body(data: &[u8]) {
    let Some((selector, body)) = crate::split_selector(data) else {
        return;
    };
    match selector % 16 {
        0 => {
            if let Some(request) = extract::<wallet::QuoteRequest>(body) {
                credits(request.credits);
            }
        }
        1 => {
            if let Some(request) = extract::<purchases::PurchaseRequest>(body) {
                credits(request.credits);
            }
        }
        2 => auto_recharge(body),
        3 => {
            if let Some(request) = extract::<wallet::AlertsRequest>(body) {
                amount(
                    "low_balance_threshold",
                    &request.low_balance_threshold,
                    Currency::Usd,
                );
            }
        }
        4 => {
            if let Some(request) = extract::<adjustments::AdjustmentRequest>(body) {
                amount("amount", &request.amount, Currency::Usd);
            }
        }
        5 => create_wallet(body),
        6 => {
            if let Some(request) = extract::<operator::GrantRequest>(body) {
                credits(request.credits);
            }
        }
        7 => {
            if let Some(json) = extract::<RateCardJson>(body) {
                let _ = RateCard::try_from(json);
            }
        }
        8 => hold(body),
        9 => {
            let _ = extract::<notices::ReadMarkerRequest>(body);
        }
        10 => {
            let _ = extract::<review::ReviewRequest>(body);
        }
        11 => {
            if let Some(request) = extract::<usage::ZoneRequest>(body) {
                let _ = ReportingZone::parse(&request.time_zone);
            }
        }
        12 => {
            let _ = extract::<webhooks::CreateEndpointRequest>(body);
        }
        13 => {
            let _ = extract::<webhooks::RotateRequest>(body);
        }
        _ => {
            let _ = extract::<webhooks::ResendRequest>(body);
        }
    }
}

/// The selector picks the route; the rest is its query string (what follows `?`).
pub fn api_query(data: &[u8]) {
    let Some((selector, rest)) = crate::split_selector(data) else {
        return;
    };
    let Ok(query) = std::str::from_utf8(rest) else {
        return;
    };
    let query = Some(query);
    let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("a valid time");
    match selector % 8 {
        0 => {
            check(wallet::statement_request(query));
        }
        1 => {
            check(purchases::history_request(query));
        }
        2 => {
            check(holds::list_request(query));
        }
        3 => {
            check(notices::page_query(query, 100, |cursor| !cursor.is_empty()));
        }
        4 => {
            check(usage::usage_request(query, now.date()));
        }
        5 => {
            check(rate_card_import::import_parameters(query));
        }
        6 => {
            check(exports::range_params(query, now));
        }
        _ => {
            let headers = axum::http::HeaderMap::new();
            let offered = if query.is_some_and(|q| q.len() % 2 == 0) {
                exports::Format::Csv
            } else {
                exports::Format::Html
            };
            if let Some((_, rest)) = check(exports::negotiate(&headers, query, offered)) {
                check(exports::month_param(rest.as_deref().unwrap_or("")));
            }
        }
    }
}
