//! Webhook endpoints: an account's own (`/v1/wallet/webhook-endpoints`) and the operator's
//! platform-wide ones (`/v1/operator/webhook-endpoints`), the same handlers for both owners. The
//! signing secret is shown once, when an endpoint is created or its secret rotated. An account
//! reaches only endpoints under its own key: another's id is a 404, never a 403 that confirms it.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::auth::{AccountCaller, OperatorCaller};
use super::error::ApiError;
use super::json::ApiJson;
use super::notices::{ROTATION_OVERLAP_DEFAULT, from_ms, page_query};
use super::{ApiStore, AppState};
use crate::notices::delivery::{
    AttemptRecord, AttemptTask, Delivery, DeliveryStatus, QueueMessage, delivery_key,
};
use crate::notices::endpoint::{Endpoint, EndpointId, Owner, PreviousSecret};
use crate::notices::event::{EventId, EventType};
use crate::notices::feed::EventList;
use crate::notices::signing::SigningSecret;
use crate::ports::notices::{DELIVERIES_PAGE_LIMIT_MAX, StoredNotice};
use crate::ports::store::StoreError;

/// Hours a rotation may keep the old secret signing.
pub const ROTATION_OVERLAP_HOURS_MAX: i64 = 7 * 24;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateEndpointRequest {
    pub url: String,
    /// Omitted or empty: every type.
    #[serde(default)]
    pub event_types: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct EndpointView {
    pub id: String,
    pub url: String,
    pub event_types: Vec<&'static str>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub failing_since: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub previous_secret_until: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Only in the answer that created the endpoint or rotated its secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl EndpointView {
    fn of(endpoint: &Endpoint, show_secret: bool) -> Self {
        Self {
            id: endpoint.id.to_string(),
            url: endpoint.url.clone(),
            event_types: endpoint.event_types.iter().map(|t| t.as_str()).collect(),
            enabled: endpoint.enabled,
            disabled_reason: endpoint.disabled_reason.clone(),
            failing_since: endpoint.failing_since,
            previous_secret_until: endpoint.previous.as_ref().map(|p| p.until),
            created_at: endpoint.created_at,
            secret: show_secret.then(|| endpoint.secret.expose()),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct EndpointsView {
    pub endpoints: Vec<EndpointView>,
}

fn endpoint_param(text: &str) -> Result<EndpointId, ApiError> {
    EndpointId::parse(text).map_err(|error| ApiError::invalid_field("endpoint_id", error))
}

fn no_endpoint(id: &EndpointId) -> ApiError {
    ApiError::not_found(format!("no webhook endpoint {id}"))
}

async fn create<S: ApiStore>(
    app: &AppState<S>,
    owner: Owner,
    request: CreateEndpointRequest,
) -> Result<(StatusCode, Json<EndpointView>), ApiError> {
    let event_types = request
        .event_types
        .iter()
        .map(|name| {
            EventType::parse(name).ok_or_else(|| {
                ApiError::invalid_field("event_types", format!("unknown event type {name:?}"))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let url = app
        .notices
        .urls
        .check_url(&request.url)
        .await
        .map_err(|refused| ApiError::invalid_field("url", refused))?;
    let secret = SigningSecret::generate().map_err(|error| {
        tracing::error!(%error, "no random bytes for a signing secret");
        ApiError::internal()
    })?;
    let endpoint = Endpoint::new(owner, &url, event_types, secret, app.clock.now());
    match app.store.create_endpoint(&endpoint).await {
        Ok(()) => Ok((StatusCode::CREATED, Json(EndpointView::of(&endpoint, true)))),
        Err(StoreError::ExtraRefused(0)) => Err(ApiError::conflict(format!(
            "{} is registered already as {}; delete it or rotate its secret",
            endpoint.url, endpoint.id
        ))),
        Err(StoreError::ExtraRefused(_)) => Err(ApiError::conflict(format!(
            "at most {} webhook endpoints; delete one first",
            crate::notices::endpoint::ENDPOINTS_PER_OWNER_MAX
        ))),
        Err(error) => Err(error.into()),
    }
}

async fn list<S: ApiStore>(
    app: &AppState<S>,
    owner: Owner,
) -> Result<Json<EndpointsView>, ApiError> {
    let endpoints = app.store.list_endpoints(&owner).await?;
    Ok(Json(EndpointsView {
        endpoints: endpoints
            .iter()
            .map(|e| EndpointView::of(e, false))
            .collect(),
    }))
}

async fn delete<S: ApiStore>(
    app: &AppState<S>,
    owner: Owner,
    id: &str,
) -> Result<StatusCode, ApiError> {
    let id = endpoint_param(id)?;
    if app.store.delete_endpoint(&owner, &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(no_endpoint(&id))
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateRequest {
    /// How long the old secret keeps signing next to the new one (default 24, at most 168).
    #[serde(default, deserialize_with = "super::whole::option_i64")]
    pub overlap_hours: Option<i64>,
}

async fn rotate<S: ApiStore>(
    app: &AppState<S>,
    owner: Owner,
    id: &str,
    request: RotateRequest,
) -> Result<Json<EndpointView>, ApiError> {
    let id = endpoint_param(id)?;
    let overlap = match request.overlap_hours {
        None => ROTATION_OVERLAP_DEFAULT,
        Some(hours) if (0..=ROTATION_OVERLAP_HOURS_MAX).contains(&hours) => {
            time::Duration::hours(hours)
        }
        Some(_) => {
            return Err(ApiError::invalid_field(
                "overlap_hours",
                format!("expected 0 to {ROTATION_OVERLAP_HOURS_MAX}"),
            ));
        }
    };
    let current = app
        .store
        .get_endpoint(&owner, &id)
        .await?
        .ok_or_else(|| no_endpoint(&id))?;
    let secret = SigningSecret::generate().map_err(|_| ApiError::internal())?;
    let previous = PreviousSecret {
        secret: current.secret,
        until: app.clock.now() + overlap,
    };
    let rotated = app
        .store
        .rotate_secret(&owner, &id, &secret, &previous)
        .await?
        .ok_or_else(|| no_endpoint(&id))?;
    Ok(Json(EndpointView::of(&rotated, true)))
}

#[derive(Debug, Serialize)]
pub struct DeliveryView {
    pub event_id: String,
    #[serde(rename = "type")]
    pub event_type: &'static str,
    pub status: DeliveryStatus,
    pub attempts: Vec<AttemptView>,
}

#[derive(Debug, Serialize)]
pub struct AttemptView {
    pub attempt: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub latency_ms: u64,
}

impl From<&AttemptRecord> for AttemptView {
    fn from(record: &AttemptRecord) -> Self {
        Self {
            attempt: record.attempt,
            at: from_ms(record.at_ms),
            status_code: record.status_code,
            error: record.error.clone(),
            latency_ms: record.latency_ms,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct DeliveriesView {
    pub deliveries: Vec<DeliveryView>,
    pub next_cursor: Option<String>,
}

async fn deliveries<S: ApiStore>(
    app: &AppState<S>,
    owner: Owner,
    id: &str,
    query: Option<&str>,
) -> Result<Json<DeliveriesView>, ApiError> {
    let id = endpoint_param(id)?;
    let (limit, cursor) = page_query(query, DELIVERIES_PAGE_LIMIT_MAX, |cursor| {
        EventList::Deliveries.decode(cursor).is_some()
    })?;
    let position = cursor.and_then(|cursor| EventList::Deliveries.decode(&cursor));
    app.store
        .get_endpoint(&owner, &id)
        .await?
        .ok_or_else(|| no_endpoint(&id))?;
    let page = app
        .store
        .deliveries_page(&id, limit, position.as_deref())
        .await?;
    Ok(Json(DeliveriesView {
        deliveries: page
            .deliveries
            .iter()
            .map(|delivery| {
                let mut attempts: Vec<AttemptView> = delivery.log.iter().map(Into::into).collect();
                attempts.sort_by_key(|attempt| attempt.attempt);
                DeliveryView {
                    event_id: delivery.event_id.to_string(),
                    event_type: delivery.event_id.event_type().as_str(),
                    status: delivery.status,
                    attempts,
                }
            })
            .collect(),
        next_cursor: page
            .next_cursor
            .map(|position| EventList::Deliveries.encode(&position)),
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResendRequest {
    pub event_id: String,
}

#[derive(Debug, Serialize)]
pub struct ResendView {
    pub event_id: String,
    pub attempt: u32,
}

/// The attempt a resend makes: the delivery's first if it had none yet, else the one reopening it.
async fn resent_attempt<S: ApiStore>(
    app: &AppState<S>,
    id: &EndpointId,
    event_id: &EventId,
    notice: &StoredNotice,
    key: &str,
) -> Result<u32, ApiError> {
    let (delivery, created) = app
        .store
        .open_delivery(&Delivery {
            endpoint_id: id.clone(),
            event_id: event_id.clone(),
            key: key.to_owned(),
            body: notice.event.to_json(),
            status: DeliveryStatus::Pending,
            attempts_made: 0,
            first_attempt_ms: None,
            lease_until_ms: 0,
            log: Vec::new(),
            created_ms: notice.stored_ms,
        })
        .await?;
    if created || (delivery.status == DeliveryStatus::Pending && delivery.attempts_made == 0) {
        return Ok(1);
    }
    app.store.reopen_delivery(id, key).await?.ok_or_else(|| {
        ApiError::conflict("the event is being delivered now, or was resent too often")
    })
}

/// Sends one event to the endpoint again: a new attempt of its delivery (the same `webhook-id`),
/// or a first one if the endpoint never had it (registered later, or not subscribed then).
async fn resend<S: ApiStore>(
    app: &AppState<S>,
    owner: Owner,
    id: &str,
    request: ResendRequest,
) -> Result<(StatusCode, Json<ResendView>), ApiError> {
    let id = endpoint_param(id)?;
    let event_id = EventId::parse(&request.event_id)
        .map_err(|error| ApiError::invalid_field("event_id", error))?;
    let endpoint = app
        .store
        .get_endpoint(&owner, &id)
        .await?
        .ok_or_else(|| no_endpoint(&id))?;
    let no_event = || ApiError::not_found(format!("no event {event_id}"));
    if matches!(&owner, Owner::Account(account) if *account != event_id.account()) {
        return Err(no_event());
    }
    let notice = app
        .store
        .get_notice(&event_id)
        .await?
        .ok_or_else(no_event)?;
    if !endpoint.enabled {
        return Err(ApiError::conflict(
            "the endpoint is disabled; register it again to receive events",
        ));
    }
    let key = delivery_key(notice.stored_ms, &event_id);
    let attempt = resent_attempt(app, &id, &event_id, &notice, &key).await?;
    let task = QueueMessage::Attempt(AttemptTask {
        owner: owner.to_string(),
        endpoint_id: id,
        event_id: event_id.clone(),
        delivery_key: key,
        attempt,
        not_before_ms: 0,
    });
    app.notices
        .publish
        .publish(&[task.to_json()])
        .await
        .map_err(|error| {
            tracing::warn!(%error, "queueing a resend failed");
            ApiError::unavailable("the resend could not be queued; retry")
        })?;
    Ok((
        StatusCode::ACCEPTED,
        Json(ResendView {
            event_id: event_id.to_string(),
            attempt,
        }),
    ))
}

/// One pair of route handlers per owner, so each route names its caller.
macro_rules! owner_routes {
    ($caller:ty, $owner:ident, $create:ident, $list:ident, $delete:ident, $rotate:ident, $deliveries:ident, $resend:ident) => {
        pub async fn $create<S: ApiStore>(
            State(app): State<AppState<S>>,
            caller: $caller,
            ApiJson(request): ApiJson<CreateEndpointRequest>,
        ) -> Result<(StatusCode, Json<EndpointView>), ApiError> {
            create(&app, $owner(caller), request).await
        }

        pub async fn $list<S: ApiStore>(
            State(app): State<AppState<S>>,
            caller: $caller,
        ) -> Result<Json<EndpointsView>, ApiError> {
            list(&app, $owner(caller)).await
        }

        pub async fn $delete<S: ApiStore>(
            State(app): State<AppState<S>>,
            caller: $caller,
            Path(id): Path<String>,
        ) -> Result<StatusCode, ApiError> {
            delete(&app, $owner(caller), &id).await
        }

        pub async fn $rotate<S: ApiStore>(
            State(app): State<AppState<S>>,
            caller: $caller,
            Path(id): Path<String>,
            ApiJson(request): ApiJson<RotateRequest>,
        ) -> Result<Json<EndpointView>, ApiError> {
            rotate(&app, $owner(caller), &id, request).await
        }

        pub async fn $deliveries<S: ApiStore>(
            State(app): State<AppState<S>>,
            caller: $caller,
            Path(id): Path<String>,
            RawQuery(query): RawQuery,
        ) -> Result<Json<DeliveriesView>, ApiError> {
            deliveries(&app, $owner(caller), &id, query.as_deref()).await
        }

        pub async fn $resend<S: ApiStore>(
            State(app): State<AppState<S>>,
            caller: $caller,
            Path(id): Path<String>,
            ApiJson(request): ApiJson<ResendRequest>,
        ) -> Result<(StatusCode, Json<ResendView>), ApiError> {
            resend(&app, $owner(caller), &id, request).await
        }
    };
}

fn account_owner(AccountCaller(account): AccountCaller) -> Owner {
    Owner::Account(account)
}

fn platform_owner(_: OperatorCaller) -> Owner {
    Owner::Platform
}

owner_routes!(
    AccountCaller,
    account_owner,
    create_account_endpoint,
    list_account_endpoints,
    delete_account_endpoint,
    rotate_account_secret,
    account_deliveries,
    account_resend
);

owner_routes!(
    OperatorCaller,
    platform_owner,
    create_platform_endpoint,
    list_platform_endpoints,
    delete_platform_endpoint,
    rotate_platform_secret,
    platform_deliveries,
    platform_resend
);
