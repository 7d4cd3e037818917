//! Meta's market lists on DynamoDB (keys in `docs/table-design.md`):
//!
//! | item | pk | sk |
//! |------|----|----|
//! | market list version | `MARKETLISTS` | `FROM#<effective_from ns:030>` |
//!
//! Written by an operator, read (cached) by billing and the import routes: never a hot key.

use std::collections::HashMap;

use time::OffsetDateTime;

use super::codec::{Item, Reader, s, timestamp};
use super::{DynamoStore, keys};
use crate::ports::market_lists::MarketListStore;
use crate::ports::store::{Saved, StoreError};
use crate::pricing::{MarketList, MarketLists};

const MARKET_LISTS_PK: &str = "MARKETLISTS";

fn key(sk: String) -> Item {
    HashMap::from([
        (keys::PK.to_owned(), s(MARKET_LISTS_PK)),
        (keys::SK.to_owned(), s(sk)),
    ])
}

impl DynamoStore {
    /// Each saved version with the text it was read from, oldest first.
    async fn market_list_texts(&self) -> Result<Vec<(MarketList, String)>, StoreError> {
        let items = self
            .query_prefix(MARKET_LISTS_PK.to_owned(), "FROM#".to_owned())
            .await?;
        if items.len() > crate::pricing::market_list::MARKET_LIST_VERSIONS_MAX {
            return Err(StoreError::Corrupt(
                "the market lists are over their bound".to_owned(),
            ));
        }
        items
            .iter()
            .map(|item| {
                let text = Reader(item).str("json")?.to_owned();
                let list = MarketList::from_json(&text)
                    .map_err(|error| StoreError::Corrupt(format!("a market list: {error}")))?;
                Ok((list, text))
            })
            .collect()
    }
}

impl MarketListStore for DynamoStore {
    async fn save_market_list(
        &self,
        list: &MarketList,
        json: &str,
        now: OffsetDateTime,
    ) -> Result<Saved, StoreError> {
        let mut item = key(keys::rate_card_sk(list.effective_from()));
        item.insert("type".to_owned(), s("market_list"));
        item.insert("version".to_owned(), s(list.version()));
        item.insert("json".to_owned(), s(json));
        item.insert(
            "effective_from".to_owned(),
            timestamp(list.effective_from()),
        );
        item.insert("saved_at".to_owned(), timestamp(now));
        self.put_version(
            item,
            || self.market_list_texts(),
            |saved: &Vec<(MarketList, String)>| {
                saved
                    .iter()
                    .find(|(old, _)| old.effective_from() == list.effective_from())
                    .map(|(_, text)| text == json)
            },
            |saved| {
                let all = saved.into_iter().map(|(old, _)| old).chain([list.clone()]);
                MarketLists::new(all)
                    .map(drop)
                    .map_err(|error| StoreError::MarketListConflict(error.to_string()))
            },
            || {
                StoreError::MarketListConflict(format!(
                    "another market list takes effect at the instant of {}",
                    list.version()
                ))
            },
        )
        .await
    }

    async fn market_lists(&self) -> Result<MarketLists, StoreError> {
        let lists = self.market_list_texts().await?;
        MarketLists::new(lists.into_iter().map(|(list, _)| list))
            .map_err(|error| StoreError::Corrupt(format!("the market lists: {error}")))
    }
}
