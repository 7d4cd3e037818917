//! `GET /v1/wallet/usage`: usage by day or month, grouped by category, market or template tag,
//! read from the daily aggregates billing writes in its posting transaction (one bounded `Query`
//! range per window of at most [`USAGE_DAYS_MAX`] days; never the entries, never a scan). And the
//! reporting time zone that decides where those days begin, set by the account or an operator.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use serde::{Deserialize, Serialize};
use time::Date;

use super::auth::{AccountCaller, OperatorCaller};
use super::error::ApiError;
use super::json::ApiJson;
use super::views::{AmountView, WalletView};
use super::wallet::load_wallet;
use super::{ApiStore, AppState};
use crate::billing::usage::{day_text, parse_day};
use crate::ids::AccountId;
use crate::money::{Currency, Money};
use crate::ports::store::{USAGE_DAYS_MAX, UsageRow};
use crate::reporting::usage::{Counts, Granularity, GroupBy, UsageRange, report};
use crate::reporting::{ReportingZone, ZoneError};
use crate::wallet::Wallet;

/// The range when none is asked for: the last 30 days, today included.
pub const DEFAULT_DAYS: i64 = 30;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CountsView {
    pub messages: u64,
    pub charged_messages: u64,
    pub free_messages: u64,
    /// Legacy conversation-pricing (CBP) conversations charged.
    pub conversations: u64,
    /// Exact, in the wallet's currency (and rounded for display).
    pub amount: AmountView,
}

fn counts_view(counts: &Counts, currency: Currency) -> CountsView {
    CountsView {
        messages: counts.messages,
        charged_messages: counts.charged_messages,
        free_messages: counts.free_messages(),
        conversations: counts.conversations,
        amount: Money::new(counts.amount, currency)
            .expect("sums of stored costs keep their scale")
            .into(),
    }
}

#[derive(Debug, Serialize)]
pub struct GroupView {
    /// The category, market or template tag; `null` for usage sent without a tag.
    pub key: Option<String>,
    #[serde(flatten)]
    pub counts: CountsView,
}

#[derive(Debug, Serialize)]
pub struct BucketView {
    /// `YYYY-MM-DD` (by day) or `YYYY-MM` (by month), in the wallet's reporting time zone.
    pub period: String,
    pub groups: Vec<GroupView>,
    pub totals: CountsView,
}

#[derive(Debug, Serialize)]
pub struct UsageView {
    pub currency: Currency,
    pub time_zone: String,
    pub from: String,
    pub to: String,
    pub granularity: Granularity,
    pub group_by: GroupBy,
    /// Every bucket of the range, oldest first (empty ones included).
    pub buckets: Vec<BucketView>,
    pub totals: CountsView,
}

/// A date parameter: `YYYY-MM-DD`, or `YYYY-MM` (its first day for `from`, its last for `to`).
fn date_param(field: &str, value: &str, end_of_month: bool) -> Result<Date, ApiError> {
    let invalid =
        || ApiError::invalid_field(field, "expected a date YYYY-MM-DD or a month YYYY-MM");
    if value.len() == 7 {
        let first = parse_day(&format!("{value}-01")).ok_or_else(invalid)?;
        return Ok(if end_of_month {
            first
                .replace_day(first.month().length(first.year()))
                .expect("a month's length is a day of it")
        } else {
            first
        });
    }
    parse_day(value).ok_or_else(invalid)
}

pub fn usage_request(query: Option<&str>, today: Date) -> Result<(UsageRange, GroupBy), ApiError> {
    let (mut from, mut to) = (None, None);
    let mut granularity = Granularity::Day;
    let mut group_by = GroupBy::Category;
    for (name, value) in super::query::pairs(query)? {
        match name.as_str() {
            "from" => from = Some(date_param("from", &value, false)?),
            "to" => to = Some(date_param("to", &value, true)?),
            "granularity" => {
                granularity = match value.as_str() {
                    "day" => Granularity::Day,
                    "month" => Granularity::Month,
                    _ => {
                        return Err(ApiError::invalid_field(
                            "granularity",
                            "expected day or month",
                        ));
                    }
                }
            }
            "group_by" => {
                group_by = match value.as_str() {
                    "category" => GroupBy::Category,
                    "market" => GroupBy::Market,
                    "template" => GroupBy::Template,
                    _ => {
                        return Err(ApiError::invalid_field(
                            "group_by",
                            "expected category, market or template",
                        ));
                    }
                }
            }
            other => {
                return Err(super::query::unknown(
                    other,
                    "from, to, granularity, group_by",
                ));
            }
        }
    }
    let to = to.unwrap_or(today);
    let from = from.unwrap_or_else(|| {
        to.checked_sub(time::Duration::days(DEFAULT_DAYS - 1))
            .unwrap_or(to)
    });
    let range = UsageRange::new(from, to, granularity).map_err(|error| {
        let text = error.to_string();
        let (field, problem) = text.split_once(": ").unwrap_or(("to", &text));
        ApiError::invalid_field(field, problem)
    })?;
    Ok((range, group_by))
}

/// The rows of `range`, read in windows of at most [`USAGE_DAYS_MAX`] days (a bounded number:
/// 36 months are 12 windows).
async fn rows_of<S: ApiStore>(
    app: &AppState<S>,
    wallet: &Wallet,
    range: &UsageRange,
) -> Result<Vec<UsageRow>, ApiError> {
    let mut rows = Vec::new();
    let mut start = range.from;
    let windows_max = (range.to - range.from).whole_days() / USAGE_DAYS_MAX + 1;
    for _ in 0..windows_max {
        let end = start
            .checked_add(time::Duration::days(USAGE_DAYS_MAX - 1))
            .map_or(range.to, |end| end.min(range.to));
        rows.extend(
            app.store
                .usage(&wallet.account_id, wallet.currency, start, end)
                .await?,
        );
        match end.next_day() {
            Some(next) if next <= range.to => start = next,
            _ => return Ok(rows),
        }
    }
    unreachable!("the windows cover the range")
}

pub async fn get_usage<S: ApiStore>(
    State(app): State<AppState<S>>,
    AccountCaller(account): AccountCaller,
    RawQuery(query): RawQuery,
) -> Result<Json<UsageView>, ApiError> {
    let wallet = load_wallet(&app, &account).await?;
    let today = wallet.reporting_zone.date_of(app.clock.now());
    let (range, group_by) = usage_request(query.as_deref(), today)?;
    let rows = rows_of(&app, &wallet, &range).await?;
    let (buckets, totals) = report(&rows, &range, group_by);
    let currency = wallet.currency;
    Ok(Json(UsageView {
        currency,
        time_zone: wallet.reporting_zone.name().to_owned(),
        from: day_text(range.from),
        to: day_text(range.to),
        granularity: range.granularity,
        group_by,
        buckets: buckets
            .into_iter()
            .map(|bucket| BucketView {
                period: bucket.period,
                groups: bucket
                    .groups
                    .iter()
                    .map(|(key, counts)| GroupView {
                        key: key.clone(),
                        counts: counts_view(counts, currency),
                    })
                    .collect(),
                totals: counts_view(&bucket.total, currency),
            })
            .collect(),
        totals: counts_view(&totals, currency),
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneRequest {
    /// An IANA time zone name, e.g. `Europe/Berlin`; `UTC` is the default.
    pub time_zone: String,
}

fn zone_field(text: &str) -> Result<ReportingZone, ApiError> {
    ReportingZone::parse(text).map_err(|ZoneError(name)| {
        ApiError::invalid_field(
            "time_zone",
            format!("{name:?} is not an IANA time zone name (e.g. UTC, Europe/Berlin)"),
        )
    })
}

async fn set_zone<S: ApiStore>(
    app: &AppState<S>,
    account: &AccountId,
    request: &ZoneRequest,
) -> Result<Json<WalletView>, ApiError> {
    let zone = zone_field(&request.time_zone)?;
    let wallet = load_wallet(app, account).await?;
    let saved = app
        .store
        .set_reporting_zone(account, wallet.currency, &zone, app.clock.now())
        .await?;
    Ok(Json(WalletView::from(&saved)))
}

/// `PUT /v1/wallet/reporting-time-zone`: the caller's own account.
pub async fn put_reporting_zone<S: ApiStore>(
    State(app): State<AppState<S>>,
    AccountCaller(account): AccountCaller,
    ApiJson(request): ApiJson<ZoneRequest>,
) -> Result<Json<WalletView>, ApiError> {
    set_zone(&app, &account, &request).await
}

/// `PUT /v1/operator/accounts/{account_id}/reporting-time-zone`.
pub async fn put_account_reporting_zone<S: ApiStore>(
    State(app): State<AppState<S>>,
    _operator: OperatorCaller,
    Path(account): Path<String>,
    ApiJson(request): ApiJson<ZoneRequest>,
) -> Result<Json<WalletView>, ApiError> {
    let account =
        AccountId::parse(&account).map_err(|error| ApiError::invalid_field("account_id", error))?;
    set_zone(&app, &account, &request).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn usage_queries_are_checked_field_by_field() {
        let today = date!(2026 - 11 - 27);
        let (range, group_by) = usage_request(None, today).unwrap();
        assert_eq!((range.from, range.to), (date!(2026 - 10 - 29), today));
        assert_eq!(group_by, GroupBy::Category);
        let (range, _) = usage_request(
            Some("from=2024-01&to=2026-12&granularity=month&group_by=template"),
            today,
        )
        .unwrap();
        assert_eq!(
            (range.from, range.to),
            (date!(2024 - 01 - 01), date!(2026 - 12 - 31))
        );
        for (query, field) in [
            ("from=2026-13-01", "from"),
            ("to=yesterday", "to"),
            ("granularity=week", "granularity"),
            ("group_by=phone", "group_by"),
            ("from=2025-01-01&to=2026-02-05", "to"),
            ("from=2023-01&to=2026-01&granularity=month", "to"),
            ("from=2026-02-01&to=2026-01-01", "from"),
            ("limit=5", "limit"),
        ] {
            let error = usage_request(Some(query), today).unwrap_err();
            assert!(
                error.message.starts_with(&format!("{field}: ")),
                "{query}: {}",
                error.message
            );
        }
    }
}
