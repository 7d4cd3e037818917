//! `POST /v1/operator/accounts/{account_id}/adjustments {reference, amount, reason}`: a support
//! desk credits (positive) or debits (negative) a wallet, with a reason, once per reference. The
//! entry (kind `adjustment`, id `adjust:support.<reference>`) shows in the statement with its
//! reason as the description. The same reference and body again is a replay; another body is 409.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};

use super::auth::OperatorCaller;
use super::error::ApiError;
use super::json::ApiJson;
use super::replay::post_one;
use super::views::EntryView;
use super::wallet::load_wallet;
use super::{ApiStore, AppState};
use crate::ids::{AccountId, fingerprint};
use crate::ledger::{EntryId, EntryKind, Metadata, NewEntry};
use crate::money::Money;

/// Largest adjustment either way, in whole currency units: a slip of the keyboard (a few digits
/// too many) is refused rather than posted.
pub const ADJUSTMENT_UNITS_MAX: i64 = 1_000_000_000;
/// Longest reason, in characters (it becomes the entry's description).
pub const REASON_CHARS_MAX: usize = 200;

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdjustmentRequest {
    /// The support ticket or case: the adjustment happens once per reference.
    pub reference: String,
    /// An exact decimal string in the wallet's currency: positive credits, negative debits.
    pub amount: String,
    pub reason: String,
}

pub async fn create_adjustment<S: ApiStore>(
    State(app): State<AppState<S>>,
    _operator: OperatorCaller,
    Path(account): Path<String>,
    ApiJson(request): ApiJson<AdjustmentRequest>,
) -> Result<(StatusCode, HeaderMap, Json<EntryView>), ApiError> {
    let account =
        AccountId::parse(&account).map_err(|error| ApiError::invalid_field("account_id", error))?;
    let entry_id = EntryId::adjustment(&format!("support.{}", request.reference))
        .map_err(|error| ApiError::invalid_field("reference", error))?;
    let reason = request.reason.trim();
    if reason.is_empty()
        || reason.chars().count() > REASON_CHARS_MAX
        || reason.chars().any(char::is_control)
    {
        return Err(ApiError::invalid_field(
            "reason",
            format!("1 to {REASON_CHARS_MAX} characters, no control characters"),
        ));
    }
    let wallet = load_wallet(&app, &account).await?;
    let amount = Money::parse(&request.amount, wallet.currency)
        .map_err(|error| ApiError::invalid_field("amount", error))?;
    if amount.is_zero() || amount.amount().abs() > rust_decimal::Decimal::from(ADJUSTMENT_UNITS_MAX)
    {
        return Err(ApiError::invalid_field(
            "amount",
            format!("must not be zero, and at most {ADJUSTMENT_UNITS_MAX} either way"),
        ));
    }
    let request_sha256 = fingerprint(&request);
    let mut metadata = Metadata::new();
    for (key, value) in [("reason", "support"), ("request_sha256", &request_sha256)] {
        metadata
            .insert(key, value)
            .expect("adjustment metadata is within limits");
    }
    let now = app.clock.now();
    let entry = NewEntry::new(
        entry_id,
        EntryKind::Adjustment,
        amount,
        reason,
        metadata,
        now,
    )
    .map_err(|error| ApiError::invalid_field("amount", error))?;
    let (entry, _, headers) = post_one(&app, &account, entry, now, &request_sha256, || {
        format!(
            "reference {} was used before with a different request",
            request.reference
        )
    })
    .await?;
    Ok((StatusCode::CREATED, headers, Json(EntryView::from(entry))))
}
