//! The in-app feed (`GET /v1/wallet/notices`, newest first, each marked unread until the read
//! marker passes it) and how the API's own producers (purchases, grants) publish their events.

use std::sync::Arc;

use axum::Json;
use axum::extract::{RawQuery, State};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::auth::AccountCaller;
use super::error::ApiError;
use super::json::ApiJson;
use super::{ApiStore, AppState};
use crate::billing::thresholds::crossings;
use crate::ids::AccountId;
use crate::ledger::LedgerEntry;
use crate::notices::delivery::event_message;
use crate::notices::event::{Event, EventData};
use crate::notices::feed::{EventList, is_feed_cursor};
use crate::ports::notices::{EventPublish, NOTICES_PAGE_LIMIT_MAX, UrlCheck};
use crate::wallet::Wallet;

pub const NOTICES_LIMIT_DEFAULT: u32 = 20;
/// How long a rotated-out signing secret still signs, unless the rotation asks otherwise.
pub const ROTATION_OVERLAP_DEFAULT: time::Duration = time::Duration::hours(24);

/// What the API needs for notices: the notifications queue (purchases, grants and resends publish
/// on it) and the SSRF guard's URL check for registrations.
#[derive(Clone)]
pub struct NoticesApi {
    pub publish: Arc<dyn EventPublish>,
    pub urls: Arc<dyn UrlCheck>,
}

#[derive(Debug, Serialize)]
pub struct NoticeView {
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: &'static str,
    pub unread: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub stored_at: OffsetDateTime,
    pub event: Event,
}

#[derive(Debug, Serialize)]
pub struct NoticesView {
    pub notices: Vec<NoticeView>,
    /// Notices stored at or before this are read (the dashboard moves it forward).
    #[serde(with = "time::serde::rfc3339")]
    pub read_through: OffsetDateTime,
    pub next_cursor: Option<String>,
}

pub(super) fn from_ms(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn to_ms(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// `limit` (1..=100) and `cursor`, each checked and named when wrong.
pub fn page_query(
    query: Option<&str>,
    max: u32,
    cursor_ok: impl Fn(&str) -> bool,
) -> Result<(u32, Option<String>), ApiError> {
    let (mut limit, mut cursor) = (NOTICES_LIMIT_DEFAULT.min(max), None);
    for (name, value) in super::query::pairs(query)? {
        match name.as_str() {
            "limit" => limit = super::query::limit(&value, max)?,
            "cursor" if cursor_ok(&value) => cursor = Some(value),
            "cursor" => {
                return Err(ApiError::invalid_field(
                    "cursor",
                    "not a cursor this API issued",
                ));
            }
            other => return Err(super::query::unknown(other, "limit, cursor")),
        }
    }
    Ok((limit, cursor))
}

pub async fn list_notices<S: ApiStore>(
    State(app): State<AppState<S>>,
    AccountCaller(account): AccountCaller,
    RawQuery(query): RawQuery,
) -> Result<Json<NoticesView>, ApiError> {
    let feed_position = |cursor: &str| {
        EventList::Feed
            .decode(cursor)
            .filter(|position| is_feed_cursor(&account, position))
    };
    let (limit, cursor) = page_query(query.as_deref(), NOTICES_PAGE_LIMIT_MAX, |cursor| {
        feed_position(cursor).is_some()
    })?;
    let position = cursor.as_deref().and_then(feed_position);
    let page = app
        .store
        .notices_page(&account, limit, position.as_deref())
        .await?;
    Ok(Json(NoticesView {
        notices: page
            .notices
            .into_iter()
            .map(|notice| NoticeView {
                id: notice.event.id.to_string(),
                event_type: notice.event.event_type().as_str(),
                unread: notice.stored_ms > page.read_through_ms,
                stored_at: from_ms(notice.stored_ms),
                event: notice.event,
            })
            .collect(),
        read_through: from_ms(page.read_through_ms),
        next_cursor: page
            .next_cursor
            .map(|position| EventList::Feed.encode(&position)),
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadMarkerRequest {
    /// The `stored_at` of the newest notice the person has seen.
    #[serde(with = "time::serde::rfc3339")]
    pub read_through: OffsetDateTime,
}

#[derive(Debug, Serialize)]
pub struct ReadMarkerView {
    #[serde(with = "time::serde::rfc3339")]
    pub read_through: OffsetDateTime,
}

/// `PUT /v1/wallet/notices/read-marker`: everything stored up to `read_through` is read. The
/// marker only moves forward, so two tabs cannot make a read notice unread again.
pub async fn put_read_marker<S: ApiStore>(
    State(app): State<AppState<S>>,
    AccountCaller(account): AccountCaller,
    ApiJson(request): ApiJson<ReadMarkerRequest>,
) -> Result<Json<ReadMarkerView>, ApiError> {
    let now = app.clock.now();
    if request.read_through > now + time::Duration::minutes(5) {
        return Err(ApiError::invalid_field("read_through", "is in the future"));
    }
    let marker = app
        .store
        .mark_read(&account, to_ms(request.read_through))
        .await?;
    Ok(Json(ReadMarkerView {
        read_through: from_ms(marker),
    }))
}

/// Publishes events on the notifications queue; a queue that does not take them is a 503 (the
/// caller retries, and the same ids make the same events).
pub(super) async fn publish(notices: &NoticesApi, events: &[Event]) -> Result<(), ApiError> {
    let bodies: Vec<String> = events.iter().map(event_message).collect();
    notices.publish.publish(&bodies).await.map_err(|error| {
        tracing::warn!(%error, "publishing notices failed");
        ApiError::unavailable("notices could not be queued; retry the request")
    })
}

/// The events of a credit posted to `wallet`: `data` (e.g. `purchase.paid`) and the crossings
/// the entry made (a top-up may recover a depleted wallet).
pub(super) fn credit_events(
    account: &AccountId,
    key: &str,
    entry: &LedgerEntry,
    wallet: &Wallet,
    data: EventData,
) -> Vec<Event> {
    let mut events: Vec<Event> = crossings(wallet, std::slice::from_ref(entry))
        .0
        .iter()
        .map(Event::from)
        .collect();
    match Event::new(account, key, entry.posted_at, data) {
        Ok(event) => events.insert(0, event),
        Err(error) => tracing::error!(%error, "a credit's event id is not valid; not published"),
    }
    events
}

/// `purchase.paid` (and any crossing) for a purchase credited now or before: a repeated Stripe
/// event publishes the same ids again, so a crash after crediting loses no notice.
pub(super) async fn purchase_paid<S: ApiStore>(
    app: &AppState<S>,
    purchase: &crate::payments::purchase::Purchase,
    outcome: &crate::ports::store::Fulfilment,
) -> Result<(), ApiError> {
    use crate::ports::store::Fulfilment;
    let account = &purchase.account_id;
    let (entry, wallet) = match outcome {
        Fulfilment::Credited { entry, wallet } => (entry, wallet.clone()),
        Fulfilment::AlreadyCredited(entry) => {
            (entry, super::wallet::load_wallet(app, account).await?)
        }
    };
    let data = EventData::PurchasePaid {
        purchase_id: purchase.id.to_string(),
        channel: crate::notices::event::PurchaseChannel::Card,
        credits: u64::from(purchase.quote.credits),
        credited: entry.amount,
        balance: entry.balance_after,
    };
    let events = credit_events(account, purchase.id.as_str(), entry, &wallet, data);
    publish(&app.notices, &events).await
}

/// `purchase.failed` for a checkout that failed or expired (published again on a repeat).
pub(super) async fn purchase_closed<S: ApiStore>(
    app: &AppState<S>,
    account: &AccountId,
    purchase_id: &crate::payments::PurchaseId,
    status: crate::payments::purchase::PurchaseStatus,
) -> Result<(), ApiError> {
    use crate::payments::purchase::PurchaseStatus;
    if !matches!(status, PurchaseStatus::Failed | PurchaseStatus::Expired) {
        return Ok(());
    }
    let Some(purchase) = app.store.get_purchase(account, purchase_id).await? else {
        return Ok(());
    };
    let data = EventData::PurchaseFailed {
        purchase_id: purchase_id.to_string(),
        credits: u64::from(purchase.quote.credits),
        amount: purchase.quote.total,
        reason: status.as_str().to_owned(),
    };
    match Event::new(account, purchase_id.as_str(), app.clock.now(), data) {
        Ok(event) => publish(&app.notices, &[event]).await,
        Err(error) => {
            tracing::error!(%error, "a purchase's event id is not valid; not published");
            Ok(())
        }
    }
}

/// `purchase.paid` (channel `offline`) and any crossing for a grant, posted now or before.
pub(super) async fn grant_posted(
    notices: &NoticesApi,
    account: &AccountId,
    credits: u64,
    entry: &LedgerEntry,
    wallet: &Wallet,
) -> Result<(), ApiError> {
    let data = EventData::PurchasePaid {
        purchase_id: entry.id.to_string(),
        channel: crate::notices::event::PurchaseChannel::Offline,
        credits,
        credited: entry.amount,
        balance: entry.balance_after,
    };
    let events = credit_events(account, entry.id.as_str(), entry, wallet, data);
    publish(notices, &events).await
}
