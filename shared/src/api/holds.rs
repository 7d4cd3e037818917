//! Holds: `POST /v1/wallet/holds` reserves a send's estimated cost (granted only if `available`
//! covers it, as the store write's condition), `GET /v1/wallet/holds` lists them (open by
//! default: the holds history with `status=all`), `GET`/`DELETE /v1/wallet/holds/{hold_id}` reads
//! or releases one. See [`crate::holds`] for how charges settle them.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use super::auth::AccountCaller;
use super::error::ApiError;
use super::json::ApiJson;
use super::purchases::PurchaseKeyHeader;
use super::replay::replayed_or_conflict;
use super::views::AmountView;
use super::wallet::load_wallet;
use super::{ApiStore, AppState};
use crate::billing::usage::UNKNOWN_MARKET;
use crate::holds::{
    HOLD_TTL_DEFAULT, Hold, HoldError, HoldId, HoldLine, HoldStatus, LineRequest, messages_covered,
    price_lines,
};
use crate::ids::fingerprint;
use crate::money::Money;
use crate::payments::PurchaseId;
use crate::payments::purchase::PurchaseCursor;
use crate::ports::holds::{HOLD_PAGE_LIMIT_MAX, HoldListRequest, HoldPlaced, HoldReleased};
use crate::pricing::{Category, Market, RecipientMarket, market_of};

pub const HOLD_LIMIT_DEFAULT: u32 = 20;

/// One line of a hold request: a country (ISO 3166 code of the market) or one recipient's phone
/// number (international digits, not stored: only its market is), a category and a count.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    pub category: String,
    #[serde(deserialize_with = "super::whole::u64")]
    pub count: u64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoldRequest {
    pub lines: Vec<LineBody>,
    /// The template the broadcast sends; it goes into the tag, so usage per template still adds up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::whole::option_i64"
    )]
    pub expires_in_seconds: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineView {
    /// The market priced (`unknown`: a number no market was found for, priced by the fallback).
    pub market: String,
    pub category: String,
    pub count: u64,
    pub unit_price: AmountView,
    pub amount: AmountView,
}

impl From<&HoldLine> for LineView {
    fn from(line: &HoldLine) -> Self {
        Self {
            market: line
                .market
                .as_ref()
                .map_or(UNKNOWN_MARKET, |m| m.as_str())
                .to_owned(),
            category: line.category.as_str().to_owned(),
            count: line.count,
            unit_price: line.unit_price.into(),
            amount: line.amount.into(),
        }
    }
}

/// A hold as its sender sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HoldView {
    pub hold_id: String,
    pub status: HoldStatus,
    /// Put this in every message's `biz_opaque_callback_data`: `<hold id>:<template>`.
    pub callback_tag: String,
    pub template: Option<String>,
    pub lines: Vec<LineView>,
    pub amount: AmountView,
    pub remaining: AmountView,
    pub settled_count: u64,
    pub settled_amount: AmountView,
    pub failed_count: u64,
    pub released_amount: AmountView,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub closed_at: Option<OffsetDateTime>,
}

impl From<&Hold> for HoldView {
    fn from(hold: &Hold) -> Self {
        Self {
            hold_id: hold.id.to_string(),
            status: hold.status,
            callback_tag: hold.tag(),
            template: hold.template.clone(),
            lines: hold.lines.iter().map(LineView::from).collect(),
            amount: hold.amount.into(),
            remaining: hold.remaining.into(),
            settled_count: hold.settled_count,
            settled_amount: hold.settled_amount.into(),
            failed_count: hold.failed_count,
            released_amount: hold.released_amount.into(),
            created_at: hold.created_at,
            expires_at: hold.expires_at,
            closed_at: hold.closed_at,
        }
    }
}

pub fn line_request(index: usize, line: &LineBody) -> Result<LineRequest, ApiError> {
    let field = |name: &str| format!("lines[{index}].{name}");
    let market = match (&line.country, &line.phone_number) {
        (Some(country), None) => RecipientMarket::Known(
            Market::parse(country).map_err(|e| ApiError::invalid_field(&field("country"), e))?,
        ),
        (None, Some(phone)) => {
            let digits = phone.strip_prefix('+').unwrap_or(phone);
            crate::pricing::RecipientNumber::parse(digits)
                .map_err(|e| ApiError::invalid_field(&field("phone_number"), e))?;
            market_of(digits)
        }
        _ => {
            return Err(ApiError::invalid_field(
                &field("country"),
                "give exactly one of country and phone_number",
            ));
        }
    };
    let category = Category::parse(&line.category)
        .map_err(|e| ApiError::invalid_field(&field("category"), e))?;
    Ok(LineRequest {
        market,
        category,
        count: line.count,
    })
}

fn hold_error(error: HoldError) -> ApiError {
    match &error {
        HoldError::Lines(_) | HoldError::TooManyMessages => ApiError::invalid_field("lines", error),
        HoldError::ZeroCount(index) => {
            ApiError::invalid_field(&format!("lines[{index}].count"), error)
        }
        HoldError::Template => ApiError::invalid_field("template", error),
        HoldError::Ttl => ApiError::invalid_field("expires_in_seconds", error),
        HoldError::Pricing { line, .. } => ApiError::new(
            StatusCode::CONFLICT,
            "no_price",
            format!("lines[{line}]: {error}"),
        ),
        HoldError::Money(_) => ApiError::invalid_field("lines", error),
    }
}

/// The 402: what is missing and how many of the messages what is available pays for, in the
/// error envelope.
fn insufficient(hold: &Hold, available: Money) -> Response {
    let spendable = if available.is_negative() {
        Money::zero(available.currency())
    } else {
        available
    };
    let missing = hold.amount.checked_sub(spendable).expect("same currency");
    let covered = messages_covered(&hold.lines, available);
    let body = serde_json::json!({"error": {
        "code": "insufficient_available_balance",
        "message": format!(
            "the hold needs {} but {} is available: {} missing; the available balance covers \
             {covered} of the {} messages",
            hold.amount.display_rounded(), available.display_rounded(),
            missing.display_rounded(), hold.message_count()
        ),
        "required": AmountView::from(hold.amount),
        "available": AmountView::from(available),
        "missing": AmountView::from(missing),
        "messages_requested": hold.message_count(),
        "messages_covered": covered,
    }});
    (StatusCode::PAYMENT_REQUIRED, Json(body)).into_response()
}

/// `balance.low` and `balance.depleted` when placing `hold` took `available` across the threshold
/// or to zero (the store commits those facts with the hold). The ids are keyed by the hold, so a
/// replay publishes the same events; `available` is the wallet's as read now.
async fn publish_placement<S: ApiStore>(app: &AppState<S>, hold: &Hold) -> Result<(), ApiError> {
    use crate::notices::event::{Event, EventData};
    let placed = hold.placed;
    if !placed.low && !placed.depleted {
        return Ok(());
    }
    let wallet = load_wallet(app, &hold.account_id).await?;
    let available = Some(wallet.available());
    let mut data = Vec::new();
    if placed.low {
        data.push(EventData::BalanceLow {
            balance: wallet.balance,
            threshold: wallet.low_balance_threshold,
            available,
        });
    }
    if placed.depleted {
        data.push(EventData::BalanceDepleted {
            balance: wallet.balance,
            available,
        });
    }
    let key = format!("hold-{}", hold.id);
    let events: Vec<Event> = data
        .into_iter()
        .filter_map(|data| {
            Event::new(&hold.account_id, &key, hold.created_at, data)
                .inspect_err(|error| tracing::error!(%error, "a hold's event id is not valid"))
                .ok()
        })
        .collect();
    super::notices::publish(&app.notices, &events).await
}

/// `balance.recovered` when releasing `hold` took `available` back above zero (as the store
/// judged and kept it on the hold).
async fn publish_release<S: ApiStore>(app: &AppState<S>, hold: &Hold) -> Result<(), ApiError> {
    match crate::notices::holds::release_event(hold) {
        Ok(Some(event)) => super::notices::publish(&app.notices, &[event]).await,
        Ok(None) => Ok(()),
        Err(error) => {
            tracing::error!(%error, "a hold's event id is not valid; not published");
            Ok(())
        }
    }
}

pub async fn create_hold<S: ApiStore>(
    State(app): State<AppState<S>>,
    AccountCaller(account): AccountCaller,
    PurchaseKeyHeader(key): PurchaseKeyHeader,
    ApiJson(request): ApiJson<HoldRequest>,
) -> Result<Response, ApiError> {
    let wallet = load_wallet(&app, &account).await?;
    if request.lines.is_empty() || request.lines.len() > crate::holds::HOLD_LINES_MAX {
        return Err(hold_error(HoldError::Lines(request.lines.len())));
    }
    let lines = request
        .lines
        .iter()
        .enumerate()
        .map(|(index, line)| line_request(index, line))
        .collect::<Result<Vec<_>, _>>()?;
    let now = app.clock.now();
    let book = app.store.rate_book(wallet.currency).await?;
    let priced = price_lines(&lines, &book, wallet.currency, now).map_err(hold_error)?;
    let ttl = request
        .expires_in_seconds
        .map_or(HOLD_TTL_DEFAULT, Duration::seconds);
    let request_sha256 = fingerprint(&request);
    let hold = Hold::new(
        HoldId::for_request(&account, &key),
        account.clone(),
        request.template.clone(),
        priced,
        request_sha256.clone(),
        now,
        ttl,
    )
    .map_err(hold_error)?;
    match app.store.place_hold(&hold, now).await? {
        HoldPlaced::Granted(hold) => {
            publish_placement(&app, &hold).await?;
            Ok((StatusCode::CREATED, Json(HoldView::from(&hold))).into_response())
        }
        HoldPlaced::Existing(existing) => {
            let headers = replayed_or_conflict(&existing.request_sha256, &request_sha256, "hold")?;
            // Published again: a replay after a lost answer (or a queue outage) loses no notice.
            publish_placement(&app, &existing).await?;
            Ok((
                StatusCode::CREATED,
                headers,
                Json(HoldView::from(&existing)),
            )
                .into_response())
        }
        HoldPlaced::Refused { available } => Ok(insufficient(&hold, available)),
    }
}

#[derive(Debug, Serialize)]
pub struct HoldListView {
    pub holds: Vec<HoldView>,
    pub next_cursor: Option<String>,
}

pub fn list_request(query: Option<&str>) -> Result<HoldListRequest, ApiError> {
    let mut limit = HOLD_LIMIT_DEFAULT;
    let mut status = Some(HoldStatus::Open);
    let mut before = None;
    for (name, value) in super::query::pairs(query)? {
        match name.as_str() {
            "limit" => limit = super::query::limit(&value, HOLD_PAGE_LIMIT_MAX)?,
            "status" if value == "all" => status = None,
            "status" => {
                status = Some(HoldStatus::parse(&value).ok_or_else(|| {
                    ApiError::invalid_field("status", "expected open, released, expired or all")
                })?);
            }
            "cursor" => {
                // The history's cursor has the purchase history's shape: (created ms, id).
                let cursor = PurchaseCursor::decode(&value).ok();
                let parsed = cursor.and_then(|cursor| {
                    Some((
                        cursor.created_ms,
                        HoldId::parse_strict(cursor.purchase.as_str())?,
                    ))
                });
                before = Some(parsed.ok_or_else(|| {
                    ApiError::invalid_field("cursor", "not a cursor this API issued")
                })?);
            }
            other => return Err(super::query::unknown(other, "status, limit, cursor")),
        }
    }
    Ok(HoldListRequest::new(limit, status, before))
}

pub async fn list_holds<S: ApiStore>(
    State(app): State<AppState<S>>,
    AccountCaller(account): AccountCaller,
    RawQuery(query): RawQuery,
) -> Result<Json<HoldListView>, ApiError> {
    let request = list_request(query.as_deref())?;
    load_wallet(&app, &account).await?;
    let page = app.store.hold_page(&account, &request).await?;
    let next_cursor = page.next.map(|(created_ms, id)| {
        PurchaseCursor {
            created_ms,
            purchase: PurchaseId::parse(id.as_str()).expect("a hold id is a valid reference"),
        }
        .encode()
    });
    Ok(Json(HoldListView {
        holds: page.holds.iter().map(HoldView::from).collect(),
        next_cursor,
    }))
}

fn hold_id(text: &str) -> Result<HoldId, ApiError> {
    HoldId::parse_strict(text).ok_or_else(|| ApiError::not_found("no such hold"))
}

pub async fn get_hold<S: ApiStore>(
    State(app): State<AppState<S>>,
    AccountCaller(account): AccountCaller,
    Path(id): Path<String>,
) -> Result<Json<HoldView>, ApiError> {
    let id = hold_id(&id)?;
    let hold = app.store.get_hold(&account, &id).await?;
    hold.map(|hold| Json(HoldView::from(&hold)))
        .ok_or_else(|| ApiError::not_found("no such hold"))
}

/// Releases what the hold has left; a hold already closed is answered as it is (a repeat of the
/// request changes nothing).
pub async fn delete_hold<S: ApiStore>(
    State(app): State<AppState<S>>,
    AccountCaller(account): AccountCaller,
    Path(id): Path<String>,
) -> Result<Json<HoldView>, ApiError> {
    let id = hold_id(&id)?;
    let released = app
        .store
        .release_hold(&account, &id, HoldStatus::Released, app.clock.now())
        .await?;
    match released {
        Some(HoldReleased::Released(hold) | HoldReleased::AlreadyClosed(hold)) => {
            // Published on a repeat too: a retry after a queue outage loses no notice.
            publish_release(&app, &hold).await?;
            Ok(Json(HoldView::from(&hold)))
        }
        Some(HoldReleased::NotDue(_)) => unreachable!("only expiry can be not due"),
        None => Err(ApiError::not_found("no such hold")),
    }
}
