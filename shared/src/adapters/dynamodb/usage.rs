//! Usage aggregates on DynamoDB: one item per wallet, day and aggregate, updated with `ADD` in the
//! transaction that posts the charges it counts.
//!
//! | pk | sk |
//! |----|----|
//! | `ACCOUNT#<account>` | `USAGE#<yyyy-mm-dd>#CM#<category>#<market>` |
//! | `ACCOUNT#<account>` | `USAGE#<yyyy-mm-dd>#TAG#<tag>` |

use std::collections::HashMap;

use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use time::{Date, OffsetDateTime};

use super::codec::{Reader, decimal_to_n, n, s};
use super::{DynamoStore, EXTRA_ITEMS_MAX, keys};
use crate::billing::usage::{Dimension, UsageKey, day_text, increments, parse_day};
use crate::ids::AccountId;
use crate::ledger::{LedgerEntry, NewEntry};
use crate::money::{Currency, Money};
use crate::ports::store::{
    ChargesPost, PostReceipt, StoreError, USAGE_DAYS_MAX, UsageRead, UsageRow,
};

fn usage_sk(key: &UsageKey) -> String {
    let day = day_text(key.day);
    match &key.dimension {
        Dimension::CategoryMarket { category, market } => {
            format!("USAGE#{day}#CM#{category}#{market}")
        }
        Dimension::Tag(tag) => format!("USAGE#{day}#TAG#{tag}"),
    }
}

fn usage_items(table: &str, account: &AccountId, posted: &[LedgerEntry]) -> Vec<TransactWriteItem> {
    increments(posted)
        .into_iter()
        .map(|increment| {
            let (kind, first, second) = match &increment.key.dimension {
                Dimension::CategoryMarket { category, market } => {
                    ("category_market", category.clone(), market.clone())
                }
                Dimension::Tag(tag) => ("tag", tag.clone(), String::new()),
            };
            let update = Update::builder()
                .table_name(table)
                .key(keys::PK, s(keys::account_pk(account)))
                .key(keys::SK, s(usage_sk(&increment.key)))
                .update_expression(
                    "ADD messages :messages, charged :charged, conversations :conversations, \
                     cost :cost \
                     SET #type = :type, #day = :day, dimension = :dimension, d1 = :d1, d2 = :d2",
                )
                .expression_attribute_names("#type", "type")
                .expression_attribute_names("#day", "day")
                .expression_attribute_values(":messages", n(increment.messages))
                .expression_attribute_values(":charged", n(increment.charged))
                .expression_attribute_values(":conversations", n(increment.conversations))
                .expression_attribute_values(":cost", decimal_to_n(increment.cost))
                .expression_attribute_values(":type", s("usage"))
                .expression_attribute_values(":day", s(day_text(increment.key.day)))
                .expression_attribute_values(":dimension", s(kind))
                .expression_attribute_values(":d1", s(first))
                .expression_attribute_values(":d2", s(second))
                .build()
                .expect("table, key and expression are set");
            TransactWriteItem::builder().update(update).build()
        })
        .collect()
}

impl ChargesPost for DynamoStore {
    const CHUNK_KEYS_MAX: usize = EXTRA_ITEMS_MAX;

    async fn post_charge_chunk(
        &self,
        account: &AccountId,
        chunk: &[NewEntry],
        posted_at: OffsetDateTime,
    ) -> Result<PostReceipt, StoreError> {
        let table = self.table().to_owned();
        let extras = move |wallet: &crate::wallet::Wallet, posted: &[LedgerEntry]| {
            usage_items(&table, &wallet.account_id, posted)
        };
        self.post_entries_with(account, chunk, posted_at, &extras)
            .await
    }
}

impl UsageRead for DynamoStore {
    async fn usage(
        &self,
        account: &AccountId,
        currency: Currency,
        from: Date,
        to: Date,
    ) -> Result<Vec<UsageRow>, StoreError> {
        if to < from || (to - from).whole_days() >= USAGE_DAYS_MAX {
            return Err(StoreError::Rejected(crate::ledger::LedgerError::TooLong {
                what: "usage range (days)",
                len_max: USAGE_DAYS_MAX as usize,
            }));
        }
        // A day holds at most a few hundred aggregates (markets × categories + tags); the page
        // bound keeps a pathological account from turning one read into an unbounded loop.
        const QUERY_PAGES_MAX: usize = 32;
        let mut rows = Vec::new();
        let mut start_key: Option<HashMap<String, AttributeValue>> = None;
        for _ in 0..QUERY_PAGES_MAX {
            let output = self
                .account_range(
                    account,
                    format!("USAGE#{}#", day_text(from)),
                    format!("USAGE#{}#~", day_text(to)),
                )
                .set_exclusive_start_key(start_key.take())
                .send()
                .await
                .map_err(|error| StoreError::Unavailable(DisplayErrorContext(error).to_string()))?;
            for item in output.items() {
                let read = Reader(item);
                let day = parse_day(read.str("day")?)
                    .ok_or_else(|| StoreError::Corrupt("usage day".into()))?;
                let dimension = match read.str("dimension")? {
                    "tag" => Dimension::Tag(read.str("d1")?.to_owned()),
                    _ => Dimension::CategoryMarket {
                        category: read.str("d1")?.to_owned(),
                        market: read.str("d2")?.to_owned(),
                    },
                };
                rows.push(UsageRow {
                    key: UsageKey { day, dimension },
                    messages: read.u64("messages")?,
                    charged: read.u64("charged")?,
                    // Aggregates written before conversations were counted have none.
                    conversations: if item.contains_key("conversations") {
                        read.u64("conversations")?
                    } else {
                        0
                    },
                    cost: Money::new(read.decimal("cost")?, currency)
                        .map_err(|error| StoreError::Corrupt(format!("usage cost: {error}")))?,
                });
            }
            start_key = output.last_evaluated_key().cloned();
            if start_key.is_none() {
                return Ok(rows);
            }
        }
        Err(StoreError::Unavailable(format!(
            "usage of {account} spans more than {QUERY_PAGES_MAX} pages; ask for fewer days"
        )))
    }
}
