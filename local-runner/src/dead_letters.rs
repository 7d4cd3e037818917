//! Dead letters on the runner: listed and redriven by the `dead-letters` command (straight on the
//! data dir's queue file, whether or not a runner is serving) and by operator routes:
//!
//! - `GET /local/operator/dead-letters?queue=billing&after=0&limit=100`: a page, oldest first;
//! - `POST /local/operator/dead-letters/redrive {"ids": [..]}` or `{"all": true, "queue": ..}`.

use axum::extract::{DefaultBodyLimit, FromRef, RawQuery, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use imcredits::adapters::sqlite_queue::{DeadLetterPage, QueueLimits, QueueStore, RedriveOutcome};
use imcredits::api::auth::{AuthConfig, OperatorCaller};
use imcredits::api::error::ApiError;
use imcredits::api::json::{ApiJson, REQUEST_BODY_LEN_MAX};
use imcredits::api::query;
use serde::Deserialize;

use crate::cli::{DeadLettersCommand, QueueName};
use crate::pipeline::{BILLING, NOTIFICATIONS, Queues, RECHARGES};

/// Most dead letters a page or a redrive takes.
const PER_CALL_MAX: u32 = 1_000;

fn queue_name(queue: QueueName) -> &'static str {
    match queue {
        QueueName::Billing => BILLING,
        QueueName::Notifications => NOTIFICATIONS,
        QueueName::Recharges => RECHARGES,
    }
}

/// The ids of the redrivable dead letters (of `queue`, or all), oldest first, at most one call's.
fn redrivable_ids(store: &QueueStore, queue: Option<&str>) -> anyhow::Result<Vec<u64>> {
    let page = store.dead_letters(queue, 0, PER_CALL_MAX)?;
    Ok(page
        .dead_letters
        .iter()
        .filter(|letter| letter.redrivable)
        .map(|letter| letter.id)
        .collect())
}

/// `dead-letters list|redrive`: JSON lines on stdout.
pub fn run(command: DeadLettersCommand, billing_limits: QueueLimits) -> anyhow::Result<()> {
    match command {
        DeadLettersCommand::List {
            queue,
            after,
            limit,
            data,
        } => {
            let store = crate::engine::queue_store(&data.data_dir)?;
            let page = store.dead_letters(queue.map(queue_name), after, limit)?;
            for letter in &page.dead_letters {
                println!("{}", serde_json::to_string(letter)?);
            }
            if let Some(next) = page.next_after {
                eprintln!("more: dead-letters list --after {next}");
            }
            Ok(())
        }
        DeadLettersCommand::Redrive {
            id,
            all,
            queue,
            data,
        } => {
            let store = crate::engine::queue_store(&data.data_dir)?;
            let ids = if all {
                redrivable_ids(&store, queue.map(queue_name))?
            } else {
                id
            };
            let outcome = store.redrive(&ids, Queues::limits_of(billing_limits))?;
            println!("{}", serde_json::to_string(&outcome)?);
            Ok(())
        }
    }
}

#[derive(Clone)]
struct RouteState {
    store: QueueStore,
    billing_limits: QueueLimits,
    auth: AuthConfig,
}

impl FromRef<RouteState> for AuthConfig {
    fn from_ref(state: &RouteState) -> AuthConfig {
        state.auth.clone()
    }
}

pub fn routes(store: QueueStore, billing_limits: QueueLimits, auth: AuthConfig) -> Router {
    Router::new()
        .route("/local/operator/dead-letters", get(list))
        .route("/local/operator/dead-letters/redrive", post(redrive))
        .layer(DefaultBodyLimit::max(REQUEST_BODY_LEN_MAX))
        .with_state(RouteState {
            store,
            billing_limits,
            auth,
        })
}

fn unavailable(error: impl std::fmt::Display) -> ApiError {
    tracing::error!(%error, "the dead letters cannot be read");
    ApiError::unavailable("the dead letters cannot be read now; retry")
}

fn queue_param(value: &str) -> Result<&'static str, ApiError> {
    [BILLING, NOTIFICATIONS, RECHARGES]
        .into_iter()
        .find(|name| *name == value)
        .ok_or_else(|| {
            ApiError::invalid_field("queue", "expected billing, notifications or recharges")
        })
}

async fn list(
    State(state): State<RouteState>,
    _operator: OperatorCaller,
    RawQuery(raw): RawQuery,
) -> Result<Json<DeadLetterPage>, ApiError> {
    let (mut queue, mut after, mut limit) = (None, 0, 100);
    for (name, value) in query::pairs(raw.as_deref())? {
        match name.as_str() {
            "queue" => queue = Some(queue_param(&value)?),
            "after" => {
                after = value
                    .parse()
                    .map_err(|_| ApiError::invalid_field("after", "expected a dead letter id"))?
            }
            "limit" => limit = query::limit(&value, PER_CALL_MAX)?,
            other => return Err(query::unknown(other, "queue, after, limit")),
        }
    }
    let page = tokio::task::spawn_blocking(move || state.store.dead_letters(queue, after, limit))
        .await
        .map_err(unavailable)?
        .map_err(unavailable)?;
    Ok(Json(page))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RedriveRequest {
    #[serde(default)]
    ids: Vec<u64>,
    #[serde(default)]
    all: bool,
    #[serde(default)]
    queue: Option<String>,
}

async fn redrive(
    State(state): State<RouteState>,
    _operator: OperatorCaller,
    ApiJson(request): ApiJson<RedriveRequest>,
) -> Result<Json<RedriveOutcome>, ApiError> {
    if request.all != request.ids.is_empty() {
        return Err(ApiError::invalid_field(
            "ids",
            "give ids, or all: true (not both)",
        ));
    }
    if request.ids.len() > PER_CALL_MAX as usize {
        return Err(ApiError::invalid_field(
            "ids",
            format!("at most {PER_CALL_MAX} a call"),
        ));
    }
    let queue = request.queue.as_deref().map(queue_param).transpose()?;
    let outcome = tokio::task::spawn_blocking(move || {
        let ids = if request.all {
            redrivable_ids(&state.store, queue)?
        } else {
            request.ids
        };
        Ok::<_, anyhow::Error>(
            state
                .store
                .redrive(&ids, Queues::limits_of(state.billing_limits))?,
        )
    })
    .await
    .map_err(unavailable)?
    .map_err(unavailable)?;
    Ok(Json(outcome))
}
