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
use crate::billing::usage::{
    Dimension, LabelError, UsageKey, UsageTag, day_text, increments, keys_of_new, market_code,
    parse_category, parse_day, parse_market,
};
use crate::ids::AccountId;
use crate::ledger::{LedgerEntry, NewEntry};
use crate::money::{Currency, Money};
use crate::ports::store::{
    ChargesPost, PostReceipt, StoreError, USAGE_DAYS_MAX, UsageRead, UsageRow,
};

/// `dimension` of a category × market aggregate.
const DIMENSION_CATEGORY_MARKET: &str = "category_market";
/// `dimension` of a template tag aggregate.
const DIMENSION_TAG: &str = "tag";

fn usage_sk(key: &UsageKey) -> String {
    let day = day_text(key.day);
    let (_, d1, d2) = dimension_texts(&key.dimension);
    match &key.dimension {
        Dimension::CategoryMarket { .. } => format!("USAGE#{day}#CM#{d1}#{d2}"),
        Dimension::Tag(_) => format!("USAGE#{day}#TAG#{d1}"),
    }
}

/// The item's text form of a dimension: `dimension`, `d1`, `d2`.
fn dimension_texts(dimension: &Dimension) -> (&'static str, &str, &str) {
    match dimension {
        Dimension::CategoryMarket { category, market } => (
            DIMENSION_CATEGORY_MARKET,
            category.as_str(),
            market_code(market),
        ),
        Dimension::Tag(tag) => (DIMENSION_TAG, tag.as_str(), ""),
    }
}

/// The inverse of [`dimension_texts`]: a stored value that does not read back is corrupt data,
/// named by its attribute.
fn dimension_of(read: &Reader<'_>) -> Result<Dimension, StoreError> {
    let sk = read.str(keys::SK).unwrap_or("?");
    let corrupt = |name: &'static str| {
        move |error: LabelError| StoreError::Corrupt(format!("usage {name}: {error} in item {sk}"))
    };
    match read.str("dimension")? {
        DIMENSION_TAG => Ok(Dimension::Tag(
            UsageTag::parse(read.str("d1")?).map_err(corrupt("d1"))?,
        )),
        DIMENSION_CATEGORY_MARKET => Ok(Dimension::CategoryMarket {
            category: parse_category(read.str("d1")?).map_err(corrupt("d1"))?,
            market: parse_market(read.str("d2")?).map_err(corrupt("d2"))?,
        }),
        other => Err(StoreError::Corrupt(format!(
            "usage dimension {:?} is neither {DIMENSION_CATEGORY_MARKET} nor {DIMENSION_TAG} in \
             item {sk}",
            other.chars().take(32).collect::<String>()
        ))),
    }
}

/// The usage updates of a chunk's posted entries, whose labels [`ChargesPost::post_charge_chunk`]
/// read before posting.
fn usage_items(table: &str, account: &AccountId, posted: &[LedgerEntry]) -> Vec<TransactWriteItem> {
    increments(posted)
        .expect("the posted entries are the chunk's, whose labels were read before posting")
        .into_iter()
        .map(|increment| {
            let (kind, first, second) = dimension_texts(&increment.key.dimension);
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
        // Every label is read before anything is written, so `usage_items` may rely on them.
        for entry in chunk {
            keys_of_new(entry)?;
        }
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
                let dimension = dimension_of(&read)?;
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

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::super::codec::Item;
    use super::*;
    use crate::billing::usage::{TAG_LEN_MAX, UsageLabels};
    use crate::billing::usage_tests::{categories, markets, tags};
    use crate::ledger::Metadata;
    use crate::pricing::{Category, Market, RecipientMarket};

    /// The item form of `key` as stored: `sk`, `dimension`, `d1`, `d2`.
    fn stored(key: &UsageKey) -> [String; 4] {
        let (kind, d1, d2) = dimension_texts(&key.dimension);
        [usage_sk(key), kind.to_owned(), d1.to_owned(), d2.to_owned()]
    }

    fn read_back(kind: &str, d1: &str, d2: &str) -> Result<Dimension, StoreError> {
        let item: Item = [("dimension", kind), ("d1", d1), ("d2", d2)]
            .into_iter()
            .map(|(name, text)| (name.to_owned(), s(text)))
            .collect();
        dimension_of(&Reader(&item))
    }

    #[test]
    fn known_keys_keep_the_strings_the_table_always_held() {
        let day = date!(2026 - 03 - 31);
        let jamaica = RecipientMarket::Known(Market::parse("JM").unwrap());
        let table = [
            (
                Dimension::CategoryMarket {
                    category: Category::AuthenticationInternational,
                    market: RecipientMarket::Unknown,
                },
                [
                    "USAGE#2026-03-31#CM#authentication_international#unknown",
                    "category_market",
                    "authentication_international",
                    "unknown",
                ],
            ),
            (
                Dimension::CategoryMarket {
                    category: Category::Marketing,
                    market: jamaica,
                },
                [
                    "USAGE#2026-03-31#CM#marketing#JM",
                    "category_market",
                    "marketing",
                    "JM",
                ],
            ),
            (
                Dimension::Tag(UsageTag::parse("template:welcome_v2").unwrap()),
                [
                    "USAGE#2026-03-31#TAG#template:welcome_v2",
                    "tag",
                    "template:welcome_v2",
                    "",
                ],
            ),
        ];
        for (dimension, expected) in table {
            let key = UsageKey { day, dimension };
            assert_eq!(stored(&key), expected.map(str::to_owned));
            let back = read_back(expected[1], expected[2], expected[3]).unwrap();
            assert_eq!(back, key.dimension);
        }
    }

    /// Every category × a few markets × tags, from the ledger entry's metadata to the item and
    /// back: the item holds the metadata's very strings, and reads back to the same key.
    #[test]
    fn every_label_goes_from_metadata_to_the_item_and_back_unchanged() {
        let day = date!(2026 - 03 - 31);
        for (category, category_text) in categories() {
            for (market, market_text) in markets() {
                for tag in tags() {
                    let mut metadata = Metadata::new();
                    UsageLabels {
                        category: category.clone(),
                        market,
                        tag: tag.as_deref().map(|tag| UsageTag::parse(tag).unwrap()),
                    }
                    .write(&mut metadata)
                    .unwrap();
                    let labels = UsageLabels::read(&metadata).unwrap().unwrap();
                    let cm = UsageKey {
                        day,
                        dimension: Dimension::CategoryMarket {
                            category: labels.category,
                            market: labels.market,
                        },
                    };
                    let expected = [
                        format!("USAGE#2026-03-31#CM#{category_text}#{market_text}"),
                        "category_market".to_owned(),
                        metadata.get("category").unwrap().to_owned(),
                        metadata.get("market").unwrap().to_owned(),
                    ];
                    assert_eq!(stored(&cm), expected);
                    assert_eq!((category_text, market_text), (&*expected[2], &*expected[3]));
                    let back = read_back(&expected[1], &expected[2], &expected[3]).unwrap();
                    assert_eq!(back, cm.dimension);
                    let Some(tag) = labels.tag else { continue };
                    let text = metadata.get("tag").unwrap();
                    let key = UsageKey {
                        day,
                        dimension: Dimension::Tag(tag),
                    };
                    let expected = [
                        format!("USAGE#2026-03-31#TAG#{text}"),
                        "tag".into(),
                        text.into(),
                        String::new(),
                    ];
                    assert_eq!(stored(&key), expected);
                    assert_eq!(read_back("tag", text, "").unwrap(), key.dimension);
                }
            }
        }
    }

    #[test]
    fn a_stored_value_that_does_not_read_back_is_corrupt_naming_its_attribute() {
        let table = [
            ("category_market", "Marketing", "US", "usage d1"),
            (
                "category_market",
                "authentication-international",
                "US",
                "usage d1",
            ),
            ("category_market", "marketing", "UK", "usage d2"),
            ("category_market", "marketing", "", "usage d2"),
            ("tag", &"t".repeat(TAG_LEN_MAX + 1), "", "usage d1"),
            ("conversation", "marketing", "US", "usage dimension"),
        ];
        for (kind, d1, d2, named) in table {
            match read_back(kind, d1, d2) {
                Err(StoreError::Corrupt(message)) => {
                    assert!(message.starts_with(named), "{message}");
                }
                other => panic!("{kind} {d1:?} {d2:?} read as {other:?}"),
            }
        }
        let item: Item = [
            ("dimension".to_owned(), s("category_market")),
            ("d1".to_owned(), s("utility")),
        ]
        .into_iter()
        .collect();
        assert!(matches!(
            dimension_of(&Reader(&item)),
            Err(StoreError::Corrupt(_))
        ));
    }
}
