//! Meta's market lists, for operators (issue 12, point 3):
//! - `POST /v1/operator/market-lists`: one version of the country → Meta market list (the JSON of
//!   [`crate::pricing::market_list`]), immutable, in force from its `effective_from` until a later
//!   one. The same list again is a replay; another at the same instant or with the same version is
//!   409; a list that breaks a rule is 422 naming the field, and nothing is saved.
//! - `GET /v1/operator/market-lists`: every version, oldest first.
//!
//! Everything that prices reads the lists saved here; the files in `shared/market-lists/` are only
//! a seed fixture (the local runner loads them when it starts, tests load them as they need).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use serde::Serialize;

use super::auth::OperatorCaller;
use super::error::ApiError;
use super::json::ApiJson;
use super::{ApiStore, AppState};
use crate::ports::store::Saved;
use crate::pricing::{MarketList, MarketListError};

#[derive(Debug, Serialize)]
pub struct MarketListView {
    pub version: String,
    #[serde(with = "time::serde::rfc3339")]
    pub effective_from: time::OffsetDateTime,
    pub source: String,
    /// Markets the list names (its `other` market aside).
    pub markets: usize,
    pub other: String,
}

impl From<&MarketList> for MarketListView {
    fn from(list: &MarketList) -> Self {
        Self {
            version: list.version().to_owned(),
            effective_from: list.effective_from(),
            source: list.source().to_owned(),
            markets: list.markets().count(),
            other: list.other().to_string(),
        }
    }
}

fn refused(error: MarketListError) -> ApiError {
    match error {
        MarketListError::Invalid { field, problem } => ApiError::invalid_field(&field, problem),
        other => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_market_list",
            other.to_string(),
        ),
    }
}

pub async fn upload_market_list<S: ApiStore>(
    State(app): State<AppState<S>>,
    _operator: OperatorCaller,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> Result<(StatusCode, HeaderMap, Json<MarketListView>), ApiError> {
    // Stored as serde_json writes the value (keys sorted): the same list is the same text.
    let text = body.to_string();
    let list = MarketList::from_json(&text).map_err(refused)?;
    let mut answer = HeaderMap::new();
    if app
        .store
        .save_market_list(&list, &text, app.clock.now())
        .await?
        == Saved::AlreadySaved
    {
        answer.insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok((
        StatusCode::CREATED,
        answer,
        Json(MarketListView::from(&list)),
    ))
}

#[derive(Debug, Serialize)]
pub struct MarketListsView {
    /// Oldest first.
    pub versions: Vec<MarketListView>,
}

pub async fn list_market_lists<S: ApiStore>(
    State(app): State<AppState<S>>,
    _operator: OperatorCaller,
) -> Result<Json<MarketListsView>, ApiError> {
    let lists = app.store.market_lists().await?;
    Ok(Json(MarketListsView {
        versions: lists.lists().iter().map(MarketListView::from).collect(),
    }))
}
