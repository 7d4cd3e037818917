//! The in-app feed on DynamoDB (keys and reasons in `docs/table-design.md`):
//!
//! - `ACCOUNT#<account>` / `NOTICE#<event id>`: the guard that stores an event once (a conditional
//!   put), with when it was stored;
//! - `ACCOUNT#<account>` / `NOTICE_LOG#<stored ms:020>#<event id>`: the event, written with the
//!   guard in one transaction and never changed; the feed lists these newest first;
//! - `ACCOUNT#<account>` / `NOTICE_READ`: the read marker, which only moves forward.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use time::OffsetDateTime;

use super::codec::{Item, Reader, s};
use super::{DynamoStore, built, conditional, keys, unavailable};
use crate::ids::AccountId;
use crate::notices::event::{Event, EventId};
use crate::ports::notices::{NOTICES_PAGE_LIMIT_MAX, NoticeFeed, NoticesPage, StoredNotice};
use crate::ports::store::StoreError;

pub const NOTICE_SK_PREFIX: &str = "NOTICE#";
pub const NOTICE_LOG_SK_PREFIX: &str = "NOTICE_LOG#";
pub const NOTICE_READ_SK: &str = "NOTICE_READ";

pub(crate) fn n_i64(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(crate) fn i64_of(item: &Item, name: &str) -> Result<i64, StoreError> {
    item.get(name)
        .and_then(|value| value.as_n().ok())
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| StoreError::Corrupt(format!("missing number {name}")))
}

pub(crate) fn epoch_ms(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn key(account: &AccountId, sk: String) -> Item {
    HashMap::from([
        (keys::PK.to_owned(), s(keys::account_pk(account))),
        (keys::SK.to_owned(), s(sk)),
    ])
}

fn notice_from_item(item: &Item) -> Result<StoredNotice, StoreError> {
    let body = Reader(item).str("body")?;
    let event =
        Event::parse(body).map_err(|error| StoreError::Corrupt(format!("notice: {error}")))?;
    Ok(StoredNotice {
        event,
        stored_ms: i64_of(item, "stored_ms")?,
    })
}

fn cursor_sk(account: &AccountId, cursor: &str) -> Result<String, StoreError> {
    if !crate::notices::feed::is_feed_cursor(account, cursor) {
        return Err(StoreError::Corrupt(
            "a feed cursor that was not checked".into(),
        ));
    }
    Ok(format!("{NOTICE_LOG_SK_PREFIX}{cursor}"))
}

impl DynamoStore {
    async fn read_marker(&self, account: &AccountId) -> Result<i64, StoreError> {
        match self.get_item(key(account, NOTICE_READ_SK.into())).await? {
            Some(item) => i64_of(&item, "read_through_ms"),
            None => Ok(0),
        }
    }
}

impl NoticeFeed for DynamoStore {
    async fn put_notice(
        &self,
        event: &Event,
        now: OffsetDateTime,
    ) -> Result<(StoredNotice, bool), StoreError> {
        let account = &event.account_id;
        let stored_ms = epoch_ms(now);
        let body = event.to_json();
        let mut guard = key(account, format!("{NOTICE_SK_PREFIX}{}", event.id));
        guard.extend([
            ("type".to_owned(), s("notice")),
            ("stored_ms".to_owned(), n_i64(stored_ms)),
            ("body".to_owned(), s(body.clone())),
        ]);
        let mut log = key(
            account,
            format!("{NOTICE_LOG_SK_PREFIX}{stored_ms:020}#{}", event.id),
        );
        log.extend([
            ("type".to_owned(), s("notice_log")),
            ("stored_ms".to_owned(), n_i64(stored_ms)),
            ("body".to_owned(), s(body)),
        ]);
        let put = |item: Item, guarded: bool| {
            let mut put = Put::builder().table_name(self.table()).set_item(Some(item));
            if guarded {
                put = put.condition_expression("attribute_not_exists(pk)");
            }
            TransactWriteItem::builder().put(built(put.build())).build()
        };
        let result = self
            .client()
            .transact_write_items()
            .transact_items(put(guard, true))
            .transact_items(put(log, false))
            .send()
            .await;
        match result {
            Ok(_) => Ok((
                StoredNotice {
                    event: event.clone(),
                    stored_ms,
                },
                true,
            )),
            Err(error) => {
                // Cancelled by the guard's condition: stored before. Anything else is retried.
                match self.get_notice(&event.id).await? {
                    Some(stored) => Ok((stored, false)),
                    None => Err(unavailable(error)),
                }
            }
        }
    }

    async fn get_notice(&self, event_id: &EventId) -> Result<Option<StoredNotice>, StoreError> {
        let account = event_id.account();
        self.get_item(key(&account, format!("{NOTICE_SK_PREFIX}{event_id}")))
            .await?
            .map(|item| notice_from_item(&item))
            .transpose()
    }

    async fn notices_page(
        &self,
        account: &AccountId,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<NoticesPage, StoreError> {
        assert!((1..=NOTICES_PAGE_LIMIT_MAX).contains(&limit));
        let start = cursor
            .map(|cursor| cursor_sk(account, cursor).map(|sk| key(account, sk)))
            .transpose()?;
        let (notices, next_cursor) = self
            .prefix_page(
                keys::account_pk(account),
                NOTICE_LOG_SK_PREFIX,
                limit,
                start,
                notice_from_item,
            )
            .await?;
        Ok(NoticesPage {
            notices,
            read_through_ms: self.read_marker(account).await?,
            next_cursor,
        })
    }

    async fn mark_read(
        &self,
        account: &AccountId,
        read_through_ms: i64,
    ) -> Result<i64, StoreError> {
        let result = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key(account, NOTICE_READ_SK.into())))
            .update_expression("SET read_through_ms = :at")
            .condition_expression("attribute_not_exists(read_through_ms) OR read_through_ms < :at")
            .expression_attribute_values(":at", n_i64(read_through_ms))
            .send()
            .await;
        match conditional(result)? {
            Some(_) => Ok(read_through_ms),
            None => self.read_marker(account).await,
        }
    }
}
