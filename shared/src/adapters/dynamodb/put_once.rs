//! Putting an item once: the one conditional put of a new item (alone, or in a transaction), and
//! on it the one write of an immutable version (a rate card, a tiers file, a market list): put
//! once at its key, the same content again a replay, other content at that key a conflict.
//!
//! (Holds and purchases put their new item in a transaction with others, [`DynamoStore::put_new`],
//! and answer the item they find for the API to compare fingerprints, `api::replay`.)

use std::future::Future;

use aws_sdk_dynamodb::types::{Put, TransactWriteItem};

use super::codec::Item;
use super::{DynamoStore, built, conditional};
use crate::ports::store::{Saved, StoreError};

/// The condition of every put of a new item: no item has its key.
const ABSENT: &str = "attribute_not_exists(pk)";

impl DynamoStore {
    /// Puts `item` if no item has its key: `true` written, `false` one was there already.
    pub(super) async fn put_if_absent(&self, item: Item) -> Result<bool, StoreError> {
        let result = self
            .client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(item))
            .condition_expression(ABSENT)
            .send()
            .await;
        Ok(conditional(result)?.is_some())
    }

    /// `item`, put in a transaction only if no item has its key.
    pub(super) fn put_new(&self, item: Item) -> TransactWriteItem {
        TransactWriteItem::builder()
            .put(built(
                Put::builder()
                    .table_name(self.table())
                    .set_item(Some(item))
                    .condition_expression(ABSENT)
                    .build(),
            ))
            .build()
    }

    /// Saves an immutable version, `item`, among the versions `read` answers: `same` finds the
    /// stored version at its key (`None`: none) and says whether it has this content; `admit`
    /// refuses a version that may not join the others (a bound, a clash); `conflict` is the
    /// caller's refusal of other content at the key. A replay of the same content is
    /// [`Saved::AlreadySaved`], before the put or after losing a race for the key.
    pub(super) async fn put_version<V, Fut>(
        &self,
        item: Item,
        read: impl Fn() -> Fut,
        same: impl Fn(&V) -> Option<bool>,
        admit: impl FnOnce(V) -> Result<(), StoreError>,
        conflict: impl Fn() -> StoreError,
    ) -> Result<Saved, StoreError>
    where
        Fut: Future<Output = Result<V, StoreError>>,
    {
        let stored = read().await?;
        match same(&stored) {
            Some(true) => return Ok(Saved::AlreadySaved),
            Some(false) => return Err(conflict()),
            None => admit(stored)?,
        }
        if self.put_if_absent(item).await? {
            return Ok(Saved::Created);
        }
        // Another upload of the same key won the race: the same content or not?
        match same(&read().await?) {
            Some(true) => Ok(Saved::AlreadySaved),
            _ => Err(conflict()),
        }
    }
}
