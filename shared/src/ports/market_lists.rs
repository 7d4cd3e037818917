//! What market lists ask of a store: Meta's country → market lists, loaded by an operator like a
//! rate card (immutable, by the instant each takes effect), read by everything that prices.

use std::future::Future;

use time::OffsetDateTime;

use super::store::{Saved, StoreError};
use crate::pricing::{MarketList, MarketLists};

pub trait MarketListStore {
    /// Saves an immutable market list version (`json` is the text `list` was read from, kept as
    /// sent). The same text again is [`Saved::AlreadySaved`]; another list at the same instant or
    /// with the same version, or one list too many, is [`StoreError::MarketListConflict`].
    fn save_market_list(
        &self,
        list: &MarketList,
        json: &str,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Saved, StoreError>> + Send;

    /// Every version saved, the one in force at each instant found by
    /// [`MarketLists::in_force_at`] (empty if none was loaded).
    fn market_lists(&self) -> impl Future<Output = Result<MarketLists, StoreError>> + Send;
}

/// Loads the seed fixture's lists (`shared/market-lists/`, [`crate::pricing::market_list::SEED_FIXTURE`])
/// into `store` as the API saves a list (its JSON as serde_json writes it); a list already saved
/// is left alone, and so is a fixture list an operator's own list at the same instant or with the
/// same version displaces. The local runner calls it when it starts and tests when they build a
/// store; an operator loads Meta's own lists through the API. Answers how many it created.
pub async fn seed_market_lists<S: MarketListStore + Sync>(
    store: &S,
    now: OffsetDateTime,
) -> Result<usize, StoreError> {
    let mut created = 0;
    for text in crate::pricing::market_list::SEED_FIXTURE {
        let json: serde_json::Value =
            serde_json::from_str(text).expect("the seed fixture is JSON (a test reads it)");
        let json = json.to_string();
        let list =
            MarketList::from_json(&json).expect("the seed fixture is valid (a test reads it)");
        match store.save_market_list(&list, &json, now).await {
            Ok(Saved::Created) => created += 1,
            Ok(Saved::AlreadySaved) | Err(StoreError::MarketListConflict(_)) => {}
            Err(error) => return Err(error),
        }
    }
    Ok(created)
}
