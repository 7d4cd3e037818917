//! Usage aggregates: per wallet, per day × category × market (messages, charged messages, amount)
//! and per day × template tag. They are counted from the charge entries a posting actually writes,
//! in the same transaction, so a replayed event is never counted twice.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use time::{Date, OffsetDateTime};

use crate::ledger::{EntryKind, LedgerEntry, Metadata, NewEntry};

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
const DAY_FORMAT: &[time::format_description::FormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

/// `YYYY-MM-DD`.
pub fn day_text(day: Date) -> String {
    day.format(DAY_FORMAT).expect("a date always formats")
}

pub fn parse_day(text: &str) -> Option<Date> {
    Date::parse(text, DAY_FORMAT).ok()
}
pub const UNKNOWN_MARKET: &str = "unknown";
pub const TAG_LEN_MAX: usize = 64;

/// What one aggregate counts.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dimension {
    CategoryMarket { category: String, market: String },
    Tag(String),
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

/// The aggregates an entry counts in (none for entries that are not usage charges).
fn keys_of(kind: EntryKind, metadata: &Metadata, occurred_at: OffsetDateTime) -> Vec<UsageKey> {
    let (Some(category), Some(market)) = (metadata.get(META_CATEGORY), metadata.get(META_MARKET))
    else {
        return Vec::new();
    };
    if kind != EntryKind::Charge {
        return Vec::new();
    }
    let day = metadata
        .get(META_DAY)
        .and_then(parse_day)
        .unwrap_or_else(|| occurred_at.to_offset(time::UtcOffset::UTC).date());
    let mut keys = vec![UsageKey {
        day,
        dimension: Dimension::CategoryMarket {
            category: category.to_owned(),
            market: market.to_owned(),
        },
    }];
    if let Some(tag) = metadata.get(META_TAG) {
        keys.push(UsageKey {
            day,
            dimension: Dimension::Tag(tag.to_owned()),
        });
    }
    keys
}

pub fn keys_of_new(entry: &NewEntry) -> Vec<UsageKey> {
    keys_of(entry.kind(), entry.metadata(), entry.occurred_at())
}

/// The increments that `posted` entries add, one per aggregate.
pub fn increments(posted: &[LedgerEntry]) -> Vec<UsageIncrement> {
    let mut totals: BTreeMap<UsageKey, UsageIncrement> = BTreeMap::new();
    for entry in posted {
        for key in keys_of(entry.kind, &entry.metadata, entry.occurred_at) {
            let total = totals.entry(key.clone()).or_insert(UsageIncrement {
                key,
                messages: 0,
                charged: 0,
                conversations: 0,
                cost: Decimal::ZERO,
            });
            total.messages += 1;
            if entry.metadata.get(META_MODEL) == Some("cbp") {
                total.conversations += 1;
            }
            if !entry.amount.is_zero() {
                total.charged += 1;
            }
            total.cost += -entry.amount.amount();
        }
    }
    totals.into_values().collect()
}

/// Splits `entries` into consecutive chunks of at most `entries_max` entries touching at most
/// `keys_max` distinct aggregates and holds, so each chunk fits one transaction with its usage
/// updates and the holds its charges settle (one update each).
pub fn chunks(
    entries: &[NewEntry],
    entries_max: usize,
    keys_max: usize,
) -> Vec<std::ops::Range<usize>> {
    assert!(
        entries_max >= 1 && keys_max >= 3,
        "an entry may touch two aggregates and a hold"
    );
    let mut ranges = Vec::new();
    let mut start = 0;
    let mut keys = std::collections::BTreeSet::new();
    let mut holds = std::collections::BTreeSet::new();
    for (index, entry) in entries.iter().enumerate() {
        let entry_keys = keys_of_new(entry);
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
    ranges
}

/// The chunking policy of a batch of charges, whole: which entries go in which transaction, as
/// indexes into `entries`, chunk by chunk. Entries that count in the same aggregates go together
/// (the order of a batch is free to choose), so each chunk touches few of them and carries many
/// entries; each chunk is one of [`chunks`].
pub fn charge_chunks(entries: &[NewEntry], entries_max: usize, keys_max: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_by_cached_key(|index| keys_of_new(&entries[*index]));
    let ordered: Vec<NewEntry> = order.iter().map(|index| entries[*index].clone()).collect();
    chunks(&ordered, entries_max, keys_max)
        .into_iter()
        .map(|range| order[range].to_vec())
        .collect()
}
