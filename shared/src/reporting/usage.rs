//! Usage reports: the daily aggregates billing writes, summed into day or month buckets and
//! grouped by category, market or template tag. Pure code over [`UsageRow`]s; the store reads the
//! rows (one bounded `Query` range per window) and the API shapes the answer.
//!
//! # Template tags
//! A sender names the template a message came from in `biz_opaque_callback_data`, by convention
//! `template:<name>` (any text up to 64 characters is kept as given). Each charge carrying a tag
//! counts once in that tag's aggregate and always in its category × market aggregate, so the
//! usage of messages sent **without** a tag is exact: the category × market total of a bucket minus
//! its tagged total. It is reported as its own row, with the key `null`.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use time::Date;

use super::ReportingZone;
use crate::billing::usage::{Dimension, META_DAY, UsageRow, day_text, market_code};
use crate::ledger::NewEntry;

/// Longest range by day, in days (both ends included).
pub const DAYS_MAX: i64 = 400;
/// Longest range by month, in calendar months (both ends included).
pub const MONTHS_MAX: i64 = 36;

/// Stamps a charge with the local day it counts on, unless the zone is UTC (whose day is the
/// entry's own UTC date: UTC wallets' entries stay exactly as they were).
pub fn stamp_day(entry: NewEntry, zone: &ReportingZone) -> NewEntry {
    if *zone == ReportingZone::utc() {
        return entry;
    }
    let day = day_text(zone.date_of(entry.occurred_at()));
    entry
        .with_metadata(META_DAY, &day)
        .expect("charges use at most 9 of the 10 metadata pairs")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Granularity {
    Day,
    Month,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    Category,
    Market,
    Template,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    #[error("from: must not be after to")]
    Reversed,
    #[error("to: a range by day covers at most {DAYS_MAX} days")]
    TooManyDays,
    #[error("to: a range by month covers at most {MONTHS_MAX} months")]
    TooManyMonths,
}

/// A checked usage request: local dates, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsageRange {
    pub from: Date,
    pub to: Date,
    pub granularity: Granularity,
}

fn month_index(date: Date) -> i64 {
    i64::from(date.year()) * 12 + i64::from(u8::from(date.month())) - 1
}

impl UsageRange {
    /// By month, `from` is moved to the first of its month and `to` to the last of its month.
    pub fn new(from: Date, to: Date, granularity: Granularity) -> Result<Self, RangeError> {
        if from > to {
            return Err(RangeError::Reversed);
        }
        let (from, to) = match granularity {
            Granularity::Day => {
                if (to - from).whole_days() + 1 > DAYS_MAX {
                    return Err(RangeError::TooManyDays);
                }
                (from, to)
            }
            Granularity::Month => {
                if month_index(to) - month_index(from) + 1 > MONTHS_MAX {
                    return Err(RangeError::TooManyMonths);
                }
                let first = from.replace_day(1).expect("every month has a 1st");
                let last = to
                    .replace_day(to.month().length(to.year()))
                    .expect("a month's length is a day of it");
                (first, last)
            }
        };
        Ok(Self {
            from,
            to,
            granularity,
        })
    }

    /// The bucket a day falls in: `YYYY-MM-DD` or `YYYY-MM`.
    pub fn bucket_of(&self, day: Date) -> String {
        match self.granularity {
            Granularity::Day => day_text(day),
            Granularity::Month => format!("{:04}-{:02}", day.year(), u8::from(day.month())),
        }
    }

    /// Every bucket of the range, oldest first.
    pub fn buckets(&self) -> Vec<String> {
        let mut buckets: Vec<String> = Vec::new();
        let mut day = self.from;
        while day <= self.to {
            let bucket = self.bucket_of(day);
            if buckets.last() != Some(&bucket) {
                buckets.push(bucket);
            }
            match day.next_day() {
                Some(next) => day = next,
                None => break,
            }
        }
        buckets
    }
}

/// Counts of one row, bucket or range.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub messages: u64,
    pub charged_messages: u64,
    pub conversations: u64,
    /// Exact, positive: what the messages cost.
    pub amount: Decimal,
}

impl Counts {
    pub fn free_messages(&self) -> u64 {
        self.messages - self.charged_messages
    }

    fn add(&mut self, row: &UsageRow) {
        self.messages += row.messages;
        self.charged_messages += row.charged;
        self.conversations += row.conversations;
        self.amount += row.cost.amount();
    }

    fn minus(&self, other: &Counts) -> Counts {
        assert!(
            other.messages <= self.messages && other.charged_messages <= self.charged_messages,
            "tagged usage is part of the category × market usage"
        );
        Counts {
            messages: self.messages - other.messages,
            charged_messages: self.charged_messages - other.charged_messages,
            conversations: self.conversations.saturating_sub(other.conversations),
            amount: self.amount - other.amount,
        }
    }

    fn is_empty(&self) -> bool {
        self.messages == 0 && self.amount.is_zero()
    }
}

/// One bucket: its groups (key `None` = untagged, by template only) and its total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    pub period: String,
    pub groups: BTreeMap<Option<String>, Counts>,
    pub total: Counts,
}

/// Sums `rows` (any order) into every bucket of `range`, grouped by `group_by`.
pub fn report(rows: &[UsageRow], range: &UsageRange, group_by: GroupBy) -> (Vec<Bucket>, Counts) {
    let mut buckets: BTreeMap<String, Bucket> = range
        .buckets()
        .into_iter()
        .map(|period| {
            let bucket = Bucket {
                period: period.clone(),
                groups: BTreeMap::new(),
                total: Counts::default(),
            };
            (period, bucket)
        })
        .collect();
    let mut tagged: BTreeMap<String, Counts> = BTreeMap::new();
    for row in rows {
        if row.key.day < range.from || row.key.day > range.to {
            continue;
        }
        let period = range.bucket_of(row.key.day);
        let bucket = buckets
            .get_mut(&period)
            .expect("every day of the range has its bucket");
        match (&row.key.dimension, group_by) {
            (Dimension::CategoryMarket { category, market }, _) => {
                bucket.total.add(row);
                let key = match group_by {
                    GroupBy::Category => Some(category.as_str().to_owned()),
                    GroupBy::Market => Some(market_code(market).to_owned()),
                    GroupBy::Template => continue,
                };
                bucket.groups.entry(key).or_default().add(row);
            }
            (Dimension::Tag(tag), GroupBy::Template) => {
                let key = Some(tag.as_str().to_owned());
                bucket.groups.entry(key).or_default().add(row);
                tagged.entry(period).or_default().add(row);
            }
            (Dimension::Tag(_), _) => {}
        }
    }
    if group_by == GroupBy::Template {
        for bucket in buckets.values_mut() {
            let tagged = tagged.get(&bucket.period).copied().unwrap_or_default();
            let untagged = bucket.total.minus(&tagged);
            if !untagged.is_empty() {
                bucket.groups.insert(None, untagged);
            }
        }
    }
    let mut total = Counts::default();
    for bucket in buckets.values() {
        total.messages += bucket.total.messages;
        total.charged_messages += bucket.total.charged_messages;
        total.conversations += bucket.total.conversations;
        total.amount += bucket.total.amount;
    }
    (buckets.into_values().collect(), total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::billing::usage::{UsageKey, UsageTag, parse_category, parse_market};
    use crate::money::{Currency, Money};
    use time::macros::date;

    fn row(day: Date, dimension: Dimension, messages: u64, charged: u64, cost: &str) -> UsageRow {
        UsageRow {
            key: UsageKey { day, dimension },
            messages,
            charged,
            conversations: 0,
            cost: Money::parse(cost, Currency::Usd).unwrap(),
        }
    }

    fn cm(category: &str, market: &str) -> Dimension {
        Dimension::CategoryMarket {
            category: parse_category(category).unwrap(),
            market: parse_market(market).unwrap(),
        }
    }

    #[test]
    fn ranges_are_bounded_by_days_and_months() {
        let day = Granularity::Day;
        let month = Granularity::Month;
        assert!(UsageRange::new(date!(2026 - 01 - 01), date!(2027 - 02 - 04), day).is_ok());
        assert_eq!(
            UsageRange::new(date!(2026 - 01 - 01), date!(2027 - 02 - 05), day),
            Err(RangeError::TooManyDays)
        );
        let range = UsageRange::new(date!(2024 - 01 - 15), date!(2026 - 12 - 02), month).unwrap();
        assert_eq!(
            (range.from, range.to),
            (date!(2024 - 01 - 01), date!(2026 - 12 - 31))
        );
        assert_eq!(range.buckets().len(), 36);
        assert_eq!(
            UsageRange::new(date!(2024 - 01 - 15), date!(2027 - 01 - 01), month),
            Err(RangeError::TooManyMonths)
        );
        assert_eq!(
            UsageRange::new(date!(2026 - 02 - 01), date!(2026 - 01 - 01), day),
            Err(RangeError::Reversed)
        );
    }

    #[test]
    fn buckets_group_and_untagged_usage_is_its_own_row() {
        let (d1, d2) = (date!(2026 - 03 - 31), date!(2026 - 04 - 01));
        let rows = [
            row(d1, cm("marketing", "US"), 3, 3, "0.0375"),
            row(d1, cm("utility", "BR"), 2, 1, "0.008"),
            row(
                d1,
                Dimension::Tag(UsageTag::parse("template:welcome").unwrap()),
                2,
                2,
                "0.025",
            ),
            row(d2, cm("marketing", "US"), 1, 1, "0.0125"),
        ];
        let range = UsageRange::new(d1, d2, Granularity::Day).unwrap();
        let (buckets, total) = report(&rows, &range, GroupBy::Template);
        assert_eq!(buckets.len(), 2);
        let first = &buckets[0];
        assert_eq!(
            first.groups[&Some("template:welcome".to_owned())].messages,
            2
        );
        let untagged = first.groups[&None];
        assert_eq!(
            (
                untagged.messages,
                untagged.charged_messages,
                untagged.amount
            ),
            (3, 2, Decimal::new(205, 4))
        );
        assert_eq!(untagged.free_messages(), 1);
        assert_eq!(total.messages, 6);
        assert_eq!(total.amount, Decimal::new(580, 4));

        let by_month = UsageRange::new(d1, d2, Granularity::Month).unwrap();
        let (buckets, _) = report(&rows, &by_month, GroupBy::Market);
        assert_eq!(buckets[0].period, "2026-03");
        assert_eq!(buckets[0].groups[&Some("BR".to_owned())].messages, 2);
        assert_eq!(buckets[1].groups[&Some("US".to_owned())].messages, 1);
    }
}
