//! Usage aggregates: per wallet, per day × category × market (messages, charged messages, amount)
//! and per day × template tag. They are counted from the charge entries a posting actually writes,
//! in the same transaction, so a replayed event is never counted twice.
//!
//! # Labels: typed inside, text at two edges
//! What a charge counts under ([`UsageLabels`]: a [`Category`], a [`RecipientMarket`], a
//! [`UsageTag`]) is typed everywhere but at two edges, each with one writer and one reader of the
//! same strings: the ledger entry's metadata ([`UsageLabels::write`], [`UsageLabels::read`]) and
//! the usage item in the table (`adapters::dynamodb::usage`, through [`parse_category`],
//! [`parse_market`], [`UsageTag::parse`] and [`market_code`]). The strings are the ones written
//! since usage was first counted; a value that does not read back exactly is an error naming
//! its field, never a guess.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use rust_decimal::Decimal;
use time::{Date, OffsetDateTime};

use crate::ledger::{EntryKind, LedgerEntry, LedgerError, Metadata, NewEntry};
use crate::pricing::{Category, Market, RecipientMarket};

pub const META_CATEGORY: &str = "category";
pub const META_MARKET: &str = "market";
pub const META_TAG: &str = "tag";
pub const META_FLAG: &str = "flag";
/// The local date (`YYYY-MM-DD`) a charge counts on in the wallet's reporting time zone; absent
/// on charges of UTC wallets and on charges posted before zones existed (their day is the UTC
/// date of `occurred_at`).
pub const META_DAY: &str = "usage_day";
/// The pricing model of a charge: `cbp` charges are conversations.
pub const META_MODEL: &str = "model";
/// [`META_MODEL`] of a charge of legacy conversation pricing (CBP).
pub const MODEL_CBP: &str = "cbp";
/// What priced a charge: `market`, `fallback`, `free`, or `tier <band>`.
pub const META_RATE_BASIS: &str = "rate_basis";
const DAY_FORMAT: &[time::format_description::FormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

/// `YYYY-MM-DD`.
pub fn day_text(day: Date) -> String {
    day.format(DAY_FORMAT).expect("a date always formats")
}

pub fn parse_day(text: &str) -> Option<Date> {
    Date::parse(text, DAY_FORMAT).ok()
}
/// The text of [`RecipientMarket::Unknown`] in metadata and in the table.
pub const UNKNOWN_MARKET: &str = "unknown";
/// Longest template tag, in characters.
pub const TAG_LEN_MAX: usize = 64;

/// A label of a charge that does not read back: its field and why. Carries no tag text (a
/// sender's callback data may hold anything).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelError {
    #[error("usage label {field} cannot be read: {reason}")]
    Unreadable { field: &'static str, reason: String },
    #[error("usage labels need both category and market; {0} is missing")]
    Missing(&'static str),
}

/// A template tag usage counts by: the template part of a status's `biz_opaque_callback_data`,
/// any text of at most [`TAG_LEN_MAX`] characters (empty included: an empty callback data has
/// always counted under the empty tag, and stored aggregates keep it).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UsageTag(String);

impl UsageTag {
    /// Strict, for stored tags: longer than [`TAG_LEN_MAX`] characters is an error.
    pub fn parse(text: &str) -> Result<UsageTag, LabelError> {
        if text.chars().count() > TAG_LEN_MAX {
            return Err(LabelError::Unreadable {
                field: META_TAG,
                reason: format!("longer than {TAG_LEN_MAX} characters"),
            });
        }
        Ok(UsageTag(text.to_owned()))
    }

    /// Lenient, for what a sender wrote: cut to [`TAG_LEN_MAX`] characters; never fails.
    pub fn truncated(text: &str) -> UsageTag {
        UsageTag(text.chars().take(TAG_LEN_MAX).collect())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A market's text: its region code, or [`UNKNOWN_MARKET`].
pub fn market_code(market: &RecipientMarket) -> &str {
    match market {
        RecipientMarket::Known(market) => market.as_str(),
        RecipientMarket::Unknown => UNKNOWN_MARKET,
    }
}

/// The inverse of [`market_code`].
pub fn parse_market(text: &str) -> Result<RecipientMarket, LabelError> {
    if text == UNKNOWN_MARKET {
        return Ok(RecipientMarket::Unknown);
    }
    Market::parse(text)
        .map(RecipientMarket::Known)
        .map_err(|error| LabelError::Unreadable {
            field: META_MARKET,
            reason: error.to_string(),
        })
}

/// The inverse of [`Category::as_str`]: only the canonical name reads back (`-` is refused), so
/// what is read writes back byte for byte.
pub fn parse_category(text: &str) -> Result<Category, LabelError> {
    let unreadable = |reason: String| LabelError::Unreadable {
        field: META_CATEGORY,
        reason,
    };
    let category = Category::parse(text).map_err(|error| unreadable(error.to_string()))?;
    if category.as_str() != text {
        return Err(unreadable(format!("not the canonical name {category}")));
    }
    Ok(category)
}

/// What a charge counts under, as its ledger entry's metadata carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageLabels {
    pub category: Category,
    pub market: RecipientMarket,
    pub tag: Option<UsageTag>,
}

impl UsageLabels {
    /// The one writer of the labels' metadata strings.
    pub fn write(&self, metadata: &mut Metadata) -> Result<(), LedgerError> {
        metadata.insert(META_CATEGORY, self.category.as_str())?;
        metadata.insert(META_MARKET, market_code(&self.market))?;
        if let Some(tag) = &self.tag {
            metadata.insert(META_TAG, tag.as_str())?;
        }
        Ok(())
    }

    /// The one reader: `None` for metadata without labels (entries that count in no usage).
    pub fn read(metadata: &Metadata) -> Result<Option<UsageLabels>, LabelError> {
        let (category, market) = match (metadata.get(META_CATEGORY), metadata.get(META_MARKET)) {
            (None, None) => return Ok(None),
            (Some(category), Some(market)) => (category, market),
            (None, Some(_)) => return Err(LabelError::Missing(META_CATEGORY)),
            (Some(_), None) => return Err(LabelError::Missing(META_MARKET)),
        };
        Ok(Some(UsageLabels {
            category: parse_category(category)?,
            market: parse_market(market)?,
            tag: metadata.get(META_TAG).map(UsageTag::parse).transpose()?,
        }))
    }
}

/// What one aggregate counts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Dimension {
    CategoryMarket {
        category: Category,
        market: RecipientMarket,
    },
    Tag(UsageTag),
}

/// The order of the text form (category name, then market code; tags after), as when dimensions
/// were strings: the chunking policy sorts by it, so chunks stay as they were.
impl Ord for Dimension {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (
                Dimension::CategoryMarket { category, market },
                Dimension::CategoryMarket {
                    category: other_category,
                    market: other_market,
                },
            ) => (category.as_str(), market_code(market))
                .cmp(&(other_category.as_str(), market_code(other_market))),
            (Dimension::CategoryMarket { .. }, Dimension::Tag(_)) => Ordering::Less,
            (Dimension::Tag(_), Dimension::CategoryMarket { .. }) => Ordering::Greater,
            (Dimension::Tag(tag), Dimension::Tag(other_tag)) => tag.cmp(other_tag),
        }
    }
}

impl PartialOrd for Dimension {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UsageKey {
    pub day: Date,
    pub dimension: Dimension,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageIncrement {
    pub key: UsageKey,
    pub messages: u64,
    /// Messages with a non-zero charge.
    pub charged: u64,
    /// Charges of legacy conversation pricing (CBP): one per conversation.
    pub conversations: u64,
    /// What they cost, as a positive amount in the wallet's currency.
    pub cost: Decimal,
}

/// One day's usage of one aggregate (category × market, or template tag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRow {
    pub key: UsageKey,
    pub messages: u64,
    pub charged: u64,
    /// Legacy conversation-pricing (CBP) charges among `messages`.
    pub conversations: u64,
    pub cost: crate::money::Money,
}

/// The aggregates an entry counts in (none for entries that are not labelled usage charges).
fn keys_of(
    kind: EntryKind,
    metadata: &Metadata,
    occurred_at: OffsetDateTime,
) -> Result<Vec<UsageKey>, LabelError> {
    if kind != EntryKind::Charge {
        return Ok(Vec::new());
    }
    let Some(labels) = UsageLabels::read(metadata)? else {
        return Ok(Vec::new());
    };
    let day = match metadata.get(META_DAY) {
        Some(text) => parse_day(text).ok_or_else(|| LabelError::Unreadable {
            field: META_DAY,
            reason: "not a YYYY-MM-DD date".to_owned(),
        })?,
        None => occurred_at.to_offset(time::UtcOffset::UTC).date(),
    };
    let mut keys = vec![UsageKey {
        day,
        dimension: Dimension::CategoryMarket {
            category: labels.category,
            market: labels.market,
        },
    }];
    if let Some(tag) = labels.tag {
        keys.push(UsageKey {
            day,
            dimension: Dimension::Tag(tag),
        });
    }
    Ok(keys)
}

pub fn keys_of_new(entry: &NewEntry) -> Result<Vec<UsageKey>, LabelError> {
    keys_of(entry.kind(), entry.metadata(), entry.occurred_at())
}

/// The increments that `posted` entries add, one per aggregate.
pub fn increments(posted: &[LedgerEntry]) -> Result<Vec<UsageIncrement>, LabelError> {
    let mut totals: BTreeMap<UsageKey, UsageIncrement> = BTreeMap::new();
    for entry in posted {
        for key in keys_of(entry.kind, &entry.metadata, entry.occurred_at)? {
            let total = totals.entry(key.clone()).or_insert(UsageIncrement {
                key,
                messages: 0,
                charged: 0,
                conversations: 0,
                cost: Decimal::ZERO,
            });
            total.messages += 1;
            if entry.metadata.get(META_MODEL) == Some(MODEL_CBP) {
                total.conversations += 1;
            }
            if !entry.amount.is_zero() {
                total.charged += 1;
            }
            total.cost += -entry.amount.amount();
        }
    }
    Ok(totals.into_values().collect())
}

/// Splits `entries` into consecutive chunks of at most `entries_max` entries touching at most
/// `keys_max` distinct aggregates and holds, so each chunk fits one transaction with its usage
/// updates and the holds its charges settle (one update each).
pub fn chunks(
    entries: &[NewEntry],
    entries_max: usize,
    keys_max: usize,
) -> Result<Vec<std::ops::Range<usize>>, LabelError> {
    assert!(
        entries_max >= 1 && keys_max >= 3,
        "an entry may touch two aggregates and a hold"
    );
    let mut ranges = Vec::new();
    let mut start = 0;
    let mut keys = std::collections::BTreeSet::new();
    let mut holds = std::collections::BTreeSet::new();
    for (index, entry) in entries.iter().enumerate() {
        let entry_keys = keys_of_new(entry)?;
        let new_keys = entry_keys.iter().filter(|key| !keys.contains(*key)).count();
        let hold = entry.metadata().get(crate::holds::META_HOLD);
        let new_hold = usize::from(hold.is_some_and(|hold| !holds.contains(hold)));
        let touched = keys.len() + holds.len() + new_keys + new_hold;
        if index > start && (index - start == entries_max || touched > keys_max) {
            ranges.push(start..index);
            start = index;
            keys.clear();
            holds.clear();
        }
        keys.extend(entry_keys);
        holds.extend(hold);
    }
    if start < entries.len() {
        ranges.push(start..entries.len());
    }
    Ok(ranges)
}

/// The chunking policy of a batch of charges, whole: which entries go in which transaction, as
/// indexes into `entries`, chunk by chunk. Entries that count in the same aggregates go together
/// (the order of a batch is free to choose), so each chunk touches few of them and carries many
/// entries; each chunk is one of [`chunks`].
///
/// An entry whose labels do not read back refuses the whole batch, before anything is written.
pub fn charge_chunks(
    entries: &[NewEntry],
    entries_max: usize,
    keys_max: usize,
) -> Result<Vec<Vec<usize>>, LabelError> {
    let keys = entries
        .iter()
        .map(keys_of_new)
        .collect::<Result<Vec<_>, _>>()?;
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_by(|left, right| keys[*left].cmp(&keys[*right]));
    let ordered: Vec<NewEntry> = order.iter().map(|index| entries[*index].clone()).collect();
    Ok(chunks(&ordered, entries_max, keys_max)?
        .into_iter()
        .map(|range| order[range].to_vec())
        .collect())
}
