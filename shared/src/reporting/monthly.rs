//! The monthly statement of a wallet: opening balance, credits bought, granted and
//! auto-recharged, refunds and adjustments, charges by category and market, closing balance.
//!
//! # Where a month begins in the ledger
//! Entries are in sequence order, and their posting times are *nearly* so (two postings racing
//! for a wallet commit in version order, each stamped when it began). A month is therefore cut by
//! sequence, never entry by entry: `cut(t)` is the newest entry posted before `t` (reading the
//! ledger newest first, the first one found), and month M holds the entries after `cut(start of M)`
//! up to and including `cut(start of M+1)`, in the wallet's reporting time zone. Consecutive months
//! share their cut, every entry lies in exactly one month, and
//! `opening + Σ amounts = closing` holds by the running balance itself: the builder asserts it.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use time::OffsetDateTime;

use crate::billing::usage::{META_CATEGORY, META_MARKET, UNKNOWN_MARKET};
use crate::ledger::{EntryKind, LedgerEntry};
use crate::money::{Currency, Money};

/// Charges of one category in one market.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChargeLine {
    pub messages: u64,
    /// Positive: what they cost.
    pub amount: Decimal,
}

/// A month's statement, in the wallet's currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthlyStatement {
    pub currency: Currency,
    pub opening: Money,
    pub purchased: Money,
    pub granted: Money,
    pub auto_recharged: Money,
    /// Refunds (negative) and operator adjustments (either sign).
    pub refunds: Money,
    pub adjustments: Money,
    /// Positive totals by (category, market).
    pub charges: BTreeMap<(String, String), ChargeLine>,
    pub charges_total: Money,
    pub closing: Money,
    /// Sequence numbers of the month's first and last entries (`None` for a month without any).
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    pub entries: u64,
}

impl MonthlyStatement {
    /// Credits in: bought + granted + auto-recharged.
    pub fn credits(&self) -> Money {
        let amount = self.purchased.amount() + self.granted.amount() + self.auto_recharged.amount();
        Money::new(amount, self.currency).expect("sums of amounts keep their scale")
    }
}

/// Builds a month's statement from the ledger read newest first, page by page.
#[derive(Debug)]
pub struct MonthlyBuilder {
    currency: Currency,
    start: OffsetDateTime,
    end: OffsetDateTime,
    closing: Option<Money>,
    /// Entries of the month, newest first.
    entries: Vec<LedgerEntry>,
    opening: Option<Money>,
    last_seq_seen: Option<u64>,
}

impl MonthlyBuilder {
    /// The month `[start, end)` (instants where the zone's month begins and the next one does).
    pub fn new(currency: Currency, start: OffsetDateTime, end: OffsetDateTime) -> Self {
        assert!(start < end, "a month has a length");
        Self {
            currency,
            start,
            end,
            closing: None,
            entries: Vec::new(),
            opening: None,
            last_seq_seen: None,
        }
    }

    /// Feeds the next entries (newest first, continuing the previous page); `true` once the
    /// month's opening is known and no more pages are needed.
    pub fn feed(&mut self, page: &[LedgerEntry]) -> bool {
        for entry in page {
            assert!(
                self.last_seq_seen.is_none_or(|seen| entry.seq < seen),
                "the ledger is read newest first without repeats"
            );
            self.last_seq_seen = Some(entry.seq);
            if self.closing.is_none() {
                if entry.posted_at >= self.end {
                    continue;
                }
                self.closing = Some(entry.balance_after);
            }
            if entry.posted_at < self.start {
                self.opening = Some(entry.balance_after);
                return true;
            }
            self.entries.push(entry.clone());
        }
        false
    }

    /// The statement, once [`feed`](Self::feed) said it is done or the ledger ended (then the
    /// opening is zero: the wallet's first entry is in or after the month).
    pub fn finish(self) -> MonthlyStatement {
        let opening = self.opening.map_or(Decimal::ZERO, |money| money.amount());
        let closing = self.closing.map_or(opening, |money| money.amount());
        let mut sums: BTreeMap<&'static str, Decimal> = BTreeMap::new();
        let mut charges: BTreeMap<(String, String), ChargeLine> = BTreeMap::new();
        let mut running = opening;
        for entry in self.entries.iter().rev() {
            running += entry.amount.amount();
            assert_eq!(
                running,
                entry.balance_after.amount(),
                "the running balance is gap-free"
            );
            *sums.entry(entry.kind.as_str()).or_default() += entry.amount.amount();
            if entry.kind == EntryKind::Charge {
                let key = (
                    entry
                        .metadata
                        .get(META_CATEGORY)
                        .unwrap_or("other")
                        .to_owned(),
                    entry
                        .metadata
                        .get(META_MARKET)
                        .unwrap_or(UNKNOWN_MARKET)
                        .to_owned(),
                );
                let line = charges.entry(key).or_insert(ChargeLine {
                    messages: 0,
                    amount: Decimal::ZERO,
                });
                line.messages += 1;
                line.amount -= entry.amount.amount();
            }
        }
        let currency = self.currency;
        let money = |amount: Decimal| {
            Money::new(amount, currency).expect("sums of amounts keep their scale")
        };
        let sum = |kind: EntryKind| sums.get(kind.as_str()).copied().unwrap_or_default();
        let statement = MonthlyStatement {
            currency,
            opening: money(opening),
            purchased: money(sum(EntryKind::Purchase)),
            granted: money(sum(EntryKind::Grant)),
            auto_recharged: money(sum(EntryKind::AutoRecharge)),
            refunds: money(sum(EntryKind::Refund)),
            adjustments: money(sum(EntryKind::Adjustment)),
            charges_total: money(-sum(EntryKind::Charge)),
            charges,
            closing: money(closing),
            first_seq: self.entries.last().map(|entry| entry.seq),
            last_seq: self.entries.first().map(|entry| entry.seq),
            entries: self.entries.len() as u64,
        };
        assert_eq!(
            opening
                + sum(EntryKind::Purchase)
                + sum(EntryKind::Grant)
                + sum(EntryKind::AutoRecharge)
                + sum(EntryKind::Refund)
                + sum(EntryKind::Adjustment)
                + sum(EntryKind::Charge),
            closing,
            "a month adds up"
        );
        statement
    }
}
