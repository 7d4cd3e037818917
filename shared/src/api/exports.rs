//! Exports: the statement and the payment history as CSV (`Accept: text/csv` or `?format=csv` on
//! their list routes), streamed page by page with the running balance on every row and bounded by
//! a range; and the monthly statement (`GET /v1/wallet/statements/{YYYY-MM}`) as JSON or as a
//! printable HTML page (`Accept: text/html` or `?format=html`; strict CSP, no script).

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};

use super::auth::AccountCaller;
use super::error::ApiError;
use super::wallet::load_wallet;
use super::{ApiStore, AppState};
use crate::billing::usage::{META_CATEGORY, META_MARKET};
use crate::ids::AccountId;
use crate::ledger::{LedgerEntry, StatementCursor};
use crate::ports::store::{PostedRange, StatementRequest};
use crate::reporting::monthly::{MonthlyBuilder, MonthlyStatement};

mod csv;
mod html;

pub use csv::{payments_csv, range_params, statement_csv};

/// Ledger pages (of 100 entries) one monthly statement may read, newest first, to reach the
/// month's start: a month more than this many entries ago is refused, not read without end.
pub const MONTH_PAGES_MAX: usize = 100;
const PAGE_LIMIT: u32 = 100;

/// What a caller asked to receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
    Html,
}

/// `?format=` wins over `Accept`; JSON when neither names CSV or HTML. The `format` pair is
/// removed from the query so the list's own parser sees only its parameters. A `format` the route
/// does not serve (`offered`, JSON besides) is a 422 naming it, never silently JSON.
pub fn negotiate(
    headers: &HeaderMap,
    query: Option<&str>,
    offered: Format,
) -> Result<(Format, Option<String>), ApiError> {
    let mut format = None;
    let mut rest = Vec::new();
    for pair in query.unwrap_or("").split('&') {
        match pair.strip_prefix("format=") {
            Some(value) => {
                format = Some(match value {
                    "json" => Format::Json,
                    "csv" if offered == Format::Csv => Format::Csv,
                    "html" if offered == Format::Html => Format::Html,
                    _ => {
                        let expected = if offered == Format::Csv {
                            "csv"
                        } else {
                            "html"
                        };
                        return Err(ApiError::invalid_field(
                            "format",
                            format!("expected json or {expected}"),
                        ));
                    }
                });
            }
            None if !pair.is_empty() => rest.push(pair),
            None => {}
        }
    }
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    let format = format.unwrap_or(if accept.contains("text/csv") {
        Format::Csv
    } else if accept.contains("text/html") {
        Format::Html
    } else {
        Format::Json
    });
    Ok((format, (!rest.is_empty()).then(|| rest.join("&"))))
}

/// `YYYY-MM`.
pub fn month_param(text: &str) -> Result<Date, ApiError> {
    let invalid = || ApiError::invalid_field("month", "expected YYYY-MM, e.g. 2026-01");
    if text.len() != 7 || text.as_bytes()[4] != b'-' {
        return Err(invalid());
    }
    let first = crate::billing::usage::parse_day(&format!("{text}-01")).ok_or_else(invalid)?;
    if first.year() < 2000 {
        return Err(ApiError::invalid_field("month", "must be in 2000 or later"));
    }
    Ok(first)
}

fn next_month(first: Date) -> Date {
    let (year, month) = match first.month() {
        time::Month::December => (first.year() + 1, time::Month::January),
        month => (first.year(), month.next()),
    };
    Date::from_calendar_date(year, month, 1).expect("the 1st exists")
}

/// The month's statement, from the ledger read newest first until the month's start.
pub async fn monthly_statement<S: ApiStore>(
    app: &AppState<S>,
    account: &AccountId,
    first: Date,
) -> Result<(crate::wallet::Wallet, MonthlyStatement), ApiError> {
    let wallet = load_wallet(app, account).await?;
    let zone = &wallet.reporting_zone;
    if first > zone.date_of(app.clock.now()) {
        return Err(ApiError::invalid_field("month", "has not begun yet"));
    }
    let (start, end) = (zone.start_of(first), zone.start_of(next_month(first)));
    let mut builder = MonthlyBuilder::new(wallet.currency, start, end);
    let mut cursor: Option<StatementCursor> = None;
    for _ in 0..MONTH_PAGES_MAX {
        let page = app
            .store
            .statement_page(account, &StatementRequest::new(PAGE_LIMIT, cursor))
            .await?;
        if builder.feed(&page.entries) {
            return Ok((wallet, builder.finish()));
        }
        cursor = page.next_cursor;
        if cursor.is_none() {
            return Ok((wallet, builder.finish()));
        }
    }
    Err(ApiError::invalid_field(
        "month",
        format!(
            "more than {} entries were posted since it began: a statement this far back is not \
             computed on request; export the range as CSV instead",
            MONTH_PAGES_MAX * PAGE_LIMIT as usize
        ),
    ))
}

/// `GET /v1/wallet/statements/{month}`: JSON, or printable HTML.
pub async fn get_monthly_statement<S: ApiStore>(
    State(app): State<AppState<S>>,
    AccountCaller(account): AccountCaller,
    Path(month): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let (format, rest) = negotiate(&headers, query.as_deref(), Format::Html)?;
    if let Some(rest) = rest {
        let name = rest.split('=').next().unwrap_or("");
        return Err(super::query::unknown(name, "format"));
    }
    let first = month_param(&month)?;
    let (wallet, statement) = monthly_statement(&app, &account, first).await?;
    let view = html::MonthlyView::new(&wallet, &month, &statement);
    Ok(match format {
        Format::Html => html::page(&view),
        _ => axum::Json(view).into_response(),
    })
}

/// A `text/csv` answer streamed from `body`, named `filename`.
fn csv_response(filename: &str, body: Body) -> Response {
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    *response.status_mut() = StatusCode::OK;
    response
}

/// An RFC 3339 time, for CSV cells.
fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

/// The category and market of a charge, for CSV cells and the monthly table.
fn charge_labels(entry: &LedgerEntry) -> (&str, &str) {
    (
        entry.metadata.get(META_CATEGORY).unwrap_or(""),
        entry.metadata.get(META_MARKET).unwrap_or(""),
    )
}

/// A bounded export range: both ends, at most [`csv::EXPORT_DAYS_MAX`] days apart.
fn export_range(
    from: Option<OffsetDateTime>,
    to: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> Result<PostedRange, ApiError> {
    let to = to.unwrap_or(now);
    let from = from.unwrap_or(to - time::Duration::days(csv::EXPORT_DAYS_DEFAULT));
    if from > to {
        return Err(ApiError::invalid_field("from", "must not be after to"));
    }
    if to - from > time::Duration::days(csv::EXPORT_DAYS_MAX) {
        return Err(ApiError::invalid_field(
            "to",
            format!("an export covers at most {} days", csv::EXPORT_DAYS_MAX),
        ));
    }
    Ok(PostedRange { from, to })
}

fn bytes(text: String) -> Bytes {
    Bytes::from(text)
}

#[cfg(test)]
mod negotiate_tests {
    use super::*;

    #[test]
    fn a_format_the_route_does_not_serve_is_refused_by_name() {
        let headers = HeaderMap::new();
        let (format, rest) = negotiate(&headers, Some("format=csv&limit=5"), Format::Csv).unwrap();
        assert_eq!((format, rest.as_deref()), (Format::Csv, Some("limit=5")));
        assert_eq!(
            negotiate(&headers, Some("format=json"), Format::Html)
                .unwrap()
                .0,
            Format::Json
        );
        assert_eq!(
            negotiate(&headers, None, Format::Csv).unwrap().0,
            Format::Json
        );
        // Until the schema check found it, an unknown format (`¹`) answered JSON with a 200.
        for (query, offered) in [
            ("format=%C2%B9", Format::Csv),
            ("format=", Format::Csv),
            ("format=html", Format::Csv),
            ("format=csv", Format::Html),
        ] {
            let error = negotiate(&headers, Some(query), offered).unwrap_err();
            assert_eq!(error.status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
            assert!(
                error.message.starts_with("format: "),
                "{query}: {}",
                error.message
            );
        }
    }
}
