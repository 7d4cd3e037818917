//! Purchases held for review: a paid checkout whose amount is not the quoted total is held by the
//! Stripe webhook (never credited automatically, logged at error level for the alarm), and an
//! operator settles it with `POST /v1/operator/accounts/{account_id}/purchases/{purchase_id}/review`
//! `{"decision": "credit" | "reject"}`. Settling is idempotent: the same decision again answers the
//! same outcome; the other decision after one is a 409.

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::auth::OperatorCaller;
use super::error::ApiError;
use super::json::ApiJson;
use super::purchases::PurchaseView;
use super::views::AmountView;
use super::{ApiStore, AppState};
use crate::ids::AccountId;
use crate::ledger::{EntryId, EntryKind, Metadata, NewEntry};
use crate::payments::purchase::{Purchase, PurchaseStatus};
use crate::payments::review::{HELD_FOR_REVIEW_LOG, HeldPayment, ReviewDecision};
use crate::payments::{CheckoutSessionId, PurchaseId};
use crate::ports::metrics::{self, Metric};
use crate::ports::store::{Closed, StoreError};

/// The ledger entry that credits a paid purchase: credits × unit price (the fee is not credited),
/// under the purchase's own id, so it posts once whoever credits it (the webhook or an operator).
pub fn purchase_entry(
    purchase: &Purchase,
    session: &CheckoutSessionId,
    occurred_at: OffsetDateTime,
) -> Result<NewEntry, ApiError> {
    let entry_id = EntryId::purchase(purchase.id.as_str()).map_err(|error| {
        tracing::error!(%error, "a purchase id does not fit an entry id");
        ApiError::internal()
    })?;
    let mut metadata = Metadata::new();
    let credits = purchase.quote.credits.to_string();
    let charged = purchase.quote.total.amount().to_string();
    for (key, value) in [
        ("credits", credits.as_str()),
        ("charged_total", charged.as_str()),
        ("checkout_session", session.as_str()),
    ] {
        // A value longer than metadata allows (a very long provider id) is left out, not fatal.
        let _ = metadata.insert(key, value);
    }
    let description = format!("{} credits bought by card", purchase.quote.credits);
    NewEntry::new(
        entry_id,
        EntryKind::Purchase,
        purchase.quote.subtotal,
        &description,
        metadata,
        occurred_at,
    )
    .map_err(|error| {
        tracing::error!(%error, purchase = %purchase.id, "a stored purchase makes no valid entry");
        ApiError::internal()
    })
}

/// Holds a paid purchase whose amount differs from its quote; the log line is what the alarm
/// counts. Answers whether it moved to `held` now or already had that status or a higher one.
pub async fn hold<S: ApiStore>(
    app: &AppState<S>,
    event_id: &str,
    purchase: &Purchase,
    held: &HeldPayment,
) -> Result<Closed, ApiError> {
    let outcome = app
        .store
        .hold_purchase(purchase, held, app.clock.now())
        .await?;
    metrics::count(Metric::PaymentsHeldForReview, 1);
    tracing::error!(
        event = %event_id,
        purchase_id = %purchase.id,
        account = %purchase.account_id,
        paid = ?held.paid_total.map(|paid| paid.to_string()),
        quoted = %purchase.quote.total,
        ?outcome,
        "{HELD_FOR_REVIEW_LOG}: the paid amount differs from the quote; settle it with POST \
         /v1/operator/accounts/{{account_id}}/purchases/{{purchase_id}}/review"
    );
    Ok(outcome)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewRequest {
    pub decision: ReviewDecision,
}

#[derive(Debug, Serialize)]
pub struct ReviewView {
    pub decision: ReviewDecision,
    pub purchase: PurchaseView,
    /// What the provider said was paid (absent if it said nothing readable).
    pub paid_total: Option<AmountView>,
}

fn not_held(purchase: &Purchase, decision: ReviewDecision) -> ApiError {
    ApiError::conflict(format!(
        "purchase {} is {}, not held: it cannot be settled as {decision:?}",
        purchase.id, purchase.status
    ))
}

async fn settle_credit<S: ApiStore>(
    app: &AppState<S>,
    purchase: &Purchase,
    held: &HeldPayment,
) -> Result<(), ApiError> {
    let entry = purchase_entry(purchase, &held.paid.session_id, held.event_created)?;
    match app
        .store
        .credit_held(purchase, &entry, held, app.clock.now())
        .await
    {
        Ok(_) => Ok(()),
        // Rejected meanwhile: the condition kept the two decisions apart.
        Err(StoreError::ExtraRefused(_)) => Err(ApiError::conflict(format!(
            "purchase {} stopped being held before it was credited",
            purchase.id
        ))),
        Err(error) => Err(error.into()),
    }
}

/// `POST /v1/operator/accounts/{account_id}/purchases/{purchase_id}/review`.
pub async fn review_purchase<S: ApiStore>(
    State(app): State<AppState<S>>,
    _operator: OperatorCaller,
    Path((account, purchase_id)): Path<(String, String)>,
    ApiJson(request): ApiJson<ReviewRequest>,
) -> Result<Json<ReviewView>, ApiError> {
    let account =
        AccountId::parse(&account).map_err(|error| ApiError::invalid_field("account_id", error))?;
    let purchase_id = PurchaseId::parse(&purchase_id)
        .map_err(|error| ApiError::invalid_field("purchase_id", error))?;
    let (purchase, held) = app
        .store
        .held_purchase(&account, &purchase_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("account {account} has no {purchase_id}")))?;
    let decision = request.decision;
    let done = match decision {
        ReviewDecision::Credit => PurchaseStatus::Paid,
        ReviewDecision::Reject => PurchaseStatus::Rejected,
    };
    let Some(held) = held else {
        return Err(not_held(&purchase, decision));
    };
    if purchase.status != done {
        if purchase.status != PurchaseStatus::Held {
            return Err(not_held(&purchase, decision));
        }
        match decision {
            ReviewDecision::Credit => settle_credit(&app, &purchase, &held).await?,
            ReviewDecision::Reject => {
                match app
                    .store
                    .reject_held(&account, &purchase_id, app.clock.now())
                    .await?
                {
                    Some(Closed::Changed(_) | Closed::Unchanged(PurchaseStatus::Rejected)) => {}
                    _ => return Err(not_held(&purchase, decision)),
                }
            }
        }
    }
    let (settled, _) = app
        .store
        .held_purchase(&account, &purchase_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("account {account} has no {purchase_id}")))?;
    tracing::info!(purchase_id = %purchase_id, %account, ?decision, "held purchase settled");
    Ok(Json(ReviewView {
        decision,
        purchase: PurchaseView::from(&settled),
        paid_total: held.paid_total.map(Into::into),
    }))
}
