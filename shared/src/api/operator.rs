//! Operator routes: creating wallets, routing phone numbers, granting credits bought offline.
//! Every route here needs the operator scope.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};

use super::auth::OperatorCaller;
use super::error::ApiError;
use super::json::ApiJson;
use super::replay::post_one;
use super::views::{AmountView, WalletView};
use super::wallet::{credits_error, load_wallet, settings_error};
use super::{ApiStore, AppState};
use crate::ids::fingerprint;
use crate::ids::{AccountId, PhoneNumberId};
use crate::ledger::{EntryId, EntryKind, LedgerEntry, Metadata, NewEntry};
use crate::money::Currency;
use crate::pricing::{CardError, RateCard, RateCardJson};
use crate::wallet::NewWallet;

pub const NOTE_LEN_MAX: usize = 200;

fn account_param(text: &str) -> Result<AccountId, ApiError> {
    AccountId::parse(text).map_err(|error| ApiError::invalid_field("account_id", error))
}

fn phone_param(text: &str) -> Result<PhoneNumberId, ApiError> {
    PhoneNumberId::parse(text).map_err(|error| ApiError::invalid_field("phone_number_id", error))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateWalletRequest {
    pub currency: Currency,
    #[serde(default)]
    pub low_balance_threshold: Option<String>,
}

pub async fn create_wallet<S: ApiStore>(
    State(app): State<AppState<S>>,
    _operator: OperatorCaller,
    Path(account): Path<String>,
    ApiJson(request): ApiJson<CreateWalletRequest>,
) -> Result<(StatusCode, Json<WalletView>), ApiError> {
    let account = account_param(&account)?;
    let mut new = NewWallet::new(account, request.currency);
    if let Some(threshold) = &request.low_balance_threshold {
        let threshold = crate::money::Money::parse(threshold, request.currency)
            .map_err(|error| ApiError::invalid_field("low_balance_threshold", error))?;
        new = new
            .with_low_balance_threshold(threshold)
            .map_err(settings_error)?;
    }
    let wallet = app.store.create_wallet(&new, app.clock.now()).await?;
    Ok((StatusCode::CREATED, Json(WalletView::from(&wallet))))
}

pub async fn get_account_wallet<S: ApiStore>(
    State(app): State<AppState<S>>,
    _operator: OperatorCaller,
    Path(account): Path<String>,
) -> Result<Json<WalletView>, ApiError> {
    let wallet = load_wallet(&app, &account_param(&account)?).await?;
    Ok(Json(WalletView::from(&wallet)))
}

#[derive(Debug, Serialize)]
pub struct RouteView {
    pub phone_number_id: String,
    pub account_id: String,
}

pub async fn attach_phone_number<S: ApiStore>(
    State(app): State<AppState<S>>,
    _operator: OperatorCaller,
    Path((account, phone)): Path<(String, String)>,
) -> Result<Json<RouteView>, ApiError> {
    let (account, phone) = (account_param(&account)?, phone_param(&phone)?);
    app.store
        .attach_route(&phone, &account, app.clock.now())
        .await?;
    Ok(Json(RouteView {
        phone_number_id: phone.to_string(),
        account_id: account.to_string(),
    }))
}

pub async fn detach_phone_number<S: ApiStore>(
    State(app): State<AppState<S>>,
    _operator: OperatorCaller,
    Path((account, phone)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (account, phone) = (account_param(&account)?, phone_param(&phone)?);
    if app.store.detach_route(&phone, &account).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!(
            "phone number {phone} is not attached to account {account}"
        )))
    }
}

/// Where credits bought offline came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantSource {
    /// An order in the store (e.g. Zoho Store).
    Store,
    /// A reseller or partner order.
    Partner,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantRequest {
    pub order_reference: String,
    #[serde(deserialize_with = "super::whole::u64")]
    pub credits: u64,
    pub source: GrantSource,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct GrantView {
    pub order_reference: String,
    pub credits: u64,
    pub source: GrantSource,
    pub amount: AmountView,
    pub entry_id: String,
    pub seq: u64,
    pub balance_after: AmountView,
    #[serde(with = "time::serde::rfc3339")]
    pub posted_at: time::OffsetDateTime,
}

fn grant_view(request: &GrantRequest, entry: &LedgerEntry) -> GrantView {
    GrantView {
        order_reference: request.order_reference.clone(),
        credits: request.credits,
        source: request.source,
        amount: entry.amount.into(),
        entry_id: entry.id.to_string(),
        seq: entry.seq,
        balance_after: entry.balance_after.into(),
        posted_at: entry.posted_at,
    }
}

/// Grants credits bought offline, once per order reference: the same reference with the same body
/// answers the original result; with another body, 409.
pub async fn create_grant<S: ApiStore>(
    State(app): State<AppState<S>>,
    _operator: OperatorCaller,
    Path(account): Path<String>,
    ApiJson(request): ApiJson<GrantRequest>,
) -> Result<(StatusCode, HeaderMap, Json<GrantView>), ApiError> {
    let account = account_param(&account)?;
    let entry_id = EntryId::grant(&request.order_reference)
        .map_err(|error| ApiError::invalid_field("order_reference", error))?;
    let note = request.note.as_deref().unwrap_or("");
    if note.chars().count() > NOTE_LEN_MAX {
        return Err(ApiError::invalid_field(
            "note",
            format!("at most {NOTE_LEN_MAX} characters"),
        ));
    }
    let wallet = load_wallet(&app, &account).await?;
    let policy = app.credits.grant_policy(wallet.currency)?;
    let credits = policy.credits(request.credits).map_err(credits_error)?;
    let amount = policy.credit_value(credits).map_err(credits_error)?;
    let request_sha256 = fingerprint(&request);
    let mut metadata = Metadata::new();
    let source = match request.source {
        GrantSource::Store => "store",
        GrantSource::Partner => "partner",
    };
    for (key, value) in [
        ("source", source),
        ("credits", &credits.get().to_string()),
        ("request_sha256", &request_sha256),
    ] {
        metadata
            .insert(key, value)
            .expect("grant metadata keys and values are within limits");
    }
    let now = app.clock.now();
    let entry = NewEntry::new(entry_id, EntryKind::Grant, amount, note, metadata, now)
        .map_err(|error| ApiError::invalid_field("credits", error))?;
    let (entry, wallet, headers) = post_one(&app, &account, entry, now, &request_sha256, || {
        format!(
            "order reference {} was granted before with a different request",
            request.order_reference
        )
    })
    .await?;
    // Published on a replay too (same ids): a crash after posting loses no notice.
    super::notices::grant_posted(
        &app.notices,
        &account,
        u64::from(credits.get()),
        &entry,
        &wallet,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        headers,
        Json(grant_view(&request, &entry)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grant_fingerprint_changes_with_any_field() {
        let base = || GrantRequest {
            order_reference: "ZS-1".into(),
            credits: 10,
            source: GrantSource::Store,
            note: None,
        };
        let same = fingerprint(&base());
        assert_eq!(same, fingerprint(&base()));
        assert_ne!(
            same,
            fingerprint(&GrantRequest {
                credits: 11,
                ..base()
            })
        );
        assert_ne!(
            same,
            fingerprint(&GrantRequest {
                source: GrantSource::Partner,
                ..base()
            })
        );
        assert_ne!(
            same,
            fingerprint(&GrantRequest {
                note: Some("x".into()),
                ..base()
            })
        );
        assert_eq!(same.len(), 32);
    }
}

/// Rate cards arrive larger than other bodies: up to 300 markets of a price list.
pub const RATE_CARD_BODY_LEN_MAX: usize = 256 * 1024;

#[derive(Debug, Serialize)]
pub struct RateCardView {
    pub currency: Currency,
    #[serde(with = "time::serde::rfc3339")]
    pub effective_from: time::OffsetDateTime,
    /// `flat` (one rate for every charged message or conversation) or `table`.
    pub kind: &'static str,
    pub flat_rate: Option<AmountView>,
    pub markets: usize,
    pub source: Option<String>,
}

impl From<&RateCard> for RateCardView {
    fn from(card: &RateCard) -> Self {
        Self {
            currency: card.currency(),
            effective_from: card.effective_from(),
            kind: if card.flat_rate().is_some() {
                "flat"
            } else {
                "table"
            },
            flat_rate: card.flat_rate().map(Into::into),
            markets: card.markets().count(),
            source: card.source().map(str::to_owned),
        }
    }
}

/// Uploads a rate-card version. Versions are immutable: the same card again is a replay; another
/// card for the same currency and instant is 409.
pub async fn upload_rate_card<S: ApiStore>(
    State(app): State<AppState<S>>,
    _operator: OperatorCaller,
    ApiJson(json): ApiJson<RateCardJson>,
) -> Result<(StatusCode, HeaderMap, Json<RateCardView>), ApiError> {
    let card = RateCard::try_from(json).map_err(|error| match error {
        CardError::Invalid { field, problem } => ApiError::invalid_field(&field, problem),
        other => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            other.to_string(),
        ),
    })?;
    if card.effective_from() < time::macros::datetime!(2000-01-01 0:00 UTC) {
        return Err(ApiError::invalid_field(
            "effective_from",
            "must be in 2000 or later",
        ));
    }
    super::replay::save_rate_card(&app, &card).await
}

#[derive(Debug, Serialize)]
pub struct RateBookView {
    pub currency: Currency,
    /// Oldest first; the card in force at an instant is the latest one effective by then.
    pub versions: Vec<RateCardView>,
}

pub async fn list_rate_cards<S: ApiStore>(
    State(app): State<AppState<S>>,
    _operator: OperatorCaller,
    Path(currency): Path<String>,
) -> Result<Json<RateBookView>, ApiError> {
    let currency: Currency = currency
        .parse()
        .map_err(|error| ApiError::invalid_field("currency", error))?;
    let book = app.store.rate_book(currency).await?;
    Ok(Json(RateBookView {
        currency,
        versions: book.cards().iter().map(RateCardView::from).collect(),
    }))
}
