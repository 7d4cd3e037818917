//! `POST /v1/operator/accounts/{account_id}/re-rates {reference, from, to, dry_run}`: after an
//! operator published a corrected card for a past period, the wallet's charges that occurred in
//! `from..to` are priced again with the rate book as it stands, and each difference is an
//! adjustment (positive: money back), idempotent by `reference` ([`crate::billing::re_rate`]).
//! `dry_run: true` posts nothing and answers what would be posted, with the total: the operator
//! looks first. The range is at most [`RE_RATE_DAYS_MAX`] days, and the postings read at most
//! [`RE_RATE_PAGES_MAX`] statement pages (a larger period is re-rated in parts).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::auth::OperatorCaller;
use super::error::ApiError;
use super::json::ApiJson;
use super::views::AmountView;
use super::wallet::load_wallet;
use super::{ApiStore, AppState};
use crate::billing::re_rate::{ReRateError, re_rate};
use crate::ids::AccountId;
use crate::ledger::{LedgerEntry, NewEntry};
use crate::money::{Currency, Money};
use crate::ports::postings::{post_in_chunks, posted_within};
use crate::ports::store::PostedRange;

/// Longest period one re-rate covers.
pub const RE_RATE_DAYS_MAX: i64 = 92;
/// Statement pages of 100 entries one re-rate reads (postings since `from`).
pub const RE_RATE_PAGES_MAX: usize = 200;
/// Lines shown in the answer (the total covers them all).
const LINES_SHOWN_MAX: usize = 100;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReRateRequest {
    /// The correction (e.g. the corrected card's ticket): adjustments happen once per reference.
    pub reference: String,
    /// `2026-11-01` or an RFC 3339 instant; charges that occurred at or after it.
    pub from: String,
    /// Charges that occurred before it.
    pub to: String,
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Serialize)]
pub struct ReRateLine {
    pub entry_id: String,
    pub amount: AmountView,
}

#[derive(Debug, Serialize)]
pub struct ReRateView {
    pub reference: String,
    pub dry_run: bool,
    /// Adjustments the re-rate calls for (posted now or before, or proposed by a dry run).
    pub adjustments: usize,
    /// Their sum: positive is money back to the wallet.
    pub total: AmountView,
    /// Newly posted by this call (0 for a dry run or a replay).
    pub posted: usize,
    /// The first adjustments, at most 100.
    pub lines: Vec<ReRateLine>,
}

fn instant(field: &str, text: &str) -> Result<OffsetDateTime, ApiError> {
    crate::pricing::json::parse_effective_from(text).ok_or_else(|| {
        ApiError::invalid_field(field, "a date such as 2026-11-01 or an RFC 3339 instant")
    })
}

/// The answer to a re-rate that cannot be proposed.
fn refused(error: ReRateError) -> ApiError {
    match error {
        ReRateError::Reference(problem) => ApiError::invalid_field("reference", problem),
        pricing @ ReRateError::Pricing { .. } => ApiError::conflict(pricing.to_string()),
        labels @ ReRateError::Labels { .. } => {
            tracing::error!(error = %labels, "stored data is corrupt");
            ApiError::internal()
        }
    }
}

pub async fn create_re_rate<S: ApiStore>(
    State(app): State<AppState<S>>,
    _operator: OperatorCaller,
    Path(account): Path<String>,
    ApiJson(request): ApiJson<ReRateRequest>,
) -> Result<(StatusCode, Json<ReRateView>), ApiError> {
    let account =
        AccountId::parse(&account).map_err(|error| ApiError::invalid_field("account_id", error))?;
    let (from, to) = checked_period(&request)?;
    let wallet = load_wallet(&app, &account).await?;
    let book = app.store.rate_book(wallet.currency).await?;
    let lists = app.store.market_lists().await?;
    let entries = postings_since(&app, &account, from).await?;
    let proposed = re_rate(
        &entries,
        &book,
        &lists,
        wallet.currency,
        (from, to),
        &request.reference,
    )
    .map_err(refused)?;
    let total = total_of(&proposed, wallet.currency)?;
    let posted = if request.dry_run {
        0
    } else {
        post_in_chunks(&app.store, &account, &proposed, app.clock.now()).await?
    };
    Ok(answer(request, &proposed, total, posted))
}

/// The request's reference and period, checked before anything is read: the reference must make
/// valid adjustment ids, the period must run forward and span at most [`RE_RATE_DAYS_MAX`] days.
fn checked_period(request: &ReRateRequest) -> Result<(OffsetDateTime, OffsetDateTime), ApiError> {
    // The longest id the reference will make (`~` and 16 hex digits follow it).
    crate::ledger::EntryId::adjustment(&format!("rerate.{}~{}", request.reference, "0".repeat(16)))
        .map_err(|error| ApiError::invalid_field("reference", error))?;
    let (from, to) = (instant("from", &request.from)?, instant("to", &request.to)?);
    if to <= from || (to - from).whole_days() > RE_RATE_DAYS_MAX {
        return Err(ApiError::invalid_field(
            "to",
            format!("must be after from, at most {RE_RATE_DAYS_MAX} days later"),
        ));
    }
    Ok((from, to))
}

/// The sum of the proposed adjustments (they are all in the wallet's currency).
fn total_of(proposed: &[NewEntry], currency: Currency) -> Result<Money, ApiError> {
    let mut total = Money::zero(currency);
    for entry in proposed {
        total = total
            .checked_add(entry.amount())
            .map_err(|_| ApiError::internal())?;
    }
    Ok(total)
}

/// 200 for a dry run (nothing posted), 201 once posted; the first [`LINES_SHOWN_MAX`] lines.
fn answer(
    request: ReRateRequest,
    proposed: &[NewEntry],
    total: Money,
    posted: usize,
) -> (StatusCode, Json<ReRateView>) {
    let lines = proposed
        .iter()
        .take(LINES_SHOWN_MAX)
        .map(|entry| ReRateLine {
            entry_id: entry.id().to_string(),
            amount: entry.amount().into(),
        })
        .collect();
    let status = if request.dry_run {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    (
        status,
        Json(ReRateView {
            reference: request.reference,
            dry_run: request.dry_run,
            adjustments: proposed.len(),
            total: total.into(),
            posted,
            lines,
        }),
    )
}

/// The wallet's entries posted since `from` (less a slack for clocks), bounded.
async fn postings_since<S: ApiStore>(
    app: &AppState<S>,
    account: &AccountId,
    from: OffsetDateTime,
) -> Result<Vec<LedgerEntry>, ApiError> {
    let range = PostedRange {
        from: from - time::Duration::minutes(10),
        to: app.clock.now(),
    };
    posted_within(&app.store, account, range, RE_RATE_PAGES_MAX)
        .await?
        .ok_or_else(|| {
            ApiError::invalid_field(
                "from",
                format!(
                    "more than {RE_RATE_PAGES_MAX} pages posted since; re-rate a later or shorter period"
                ),
            )
        })
}
