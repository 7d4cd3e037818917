//! Settling holds: what the charges of one posting, or a batch of failed messages, take off the
//! holds they name. Pure: the store reads the holds (after the wallet, in the attempt whose wallet
//! version the transaction is conditional on) and commits these changes with the posting.

use std::collections::{BTreeMap, BTreeSet};

use super::{Hold, HoldId, META_HOLD};
use crate::ledger::{LedgerEntry, NewEntry};
use crate::money::Money;
use crate::pricing::{Category, Market};

/// What one posting (or one batch of failures) does to one open hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldChange {
    pub id: HoldId,
    /// Taken off `remaining` (and so off the wallet's `held`).
    pub taken: Money,
    pub remaining_after: Money,
    /// Charges settled against the hold.
    pub settled_messages: u64,
    /// Failed messages whose estimate was released.
    pub failed_messages: u64,
    /// What the charges took from the hold (zero for failures).
    pub settled: Money,
}

impl HoldChange {
    /// No change yet to `hold`: where a posting's or a batch's changes start from.
    fn none(hold: &Hold) -> Self {
        Self {
            id: hold.id.clone(),
            taken: Money::zero(hold.amount.currency()),
            remaining_after: hold.remaining,
            settled_messages: 0,
            failed_messages: 0,
            settled: Money::zero(hold.amount.currency()),
        }
    }
}

/// The holds entries about to be posted name (each once, in order).
pub fn hold_ids_of(entries: &[&NewEntry]) -> Vec<HoldId> {
    let ids: BTreeSet<HoldId> = entries
        .iter()
        .filter_map(|entry| entry.metadata().get(META_HOLD))
        .filter_map(HoldId::parse_strict)
        .collect();
    ids.into_iter().collect()
}

fn open_holds(holds: &[Hold]) -> BTreeMap<&HoldId, &Hold> {
    holds
        .iter()
        .filter(|hold| hold.is_open())
        .map(|hold| (&hold.id, hold))
        .collect()
}

/// The changes `posted` charges make to the open holds among `holds`: each charge takes its
/// amount off its hold's remaining, at most down to zero (the rest of a charge above the estimate
/// is simply the balance's). A charge naming a closed or unknown hold settles nothing.
pub fn settle_charges(holds: &[Hold], posted: &[LedgerEntry]) -> Vec<HoldChange> {
    let open = open_holds(holds);
    let mut changes: BTreeMap<HoldId, HoldChange> = BTreeMap::new();
    for entry in posted {
        let Some(hold) = entry
            .metadata
            .get(META_HOLD)
            .and_then(HoldId::parse_strict)
            .and_then(|id| open.get(&id).copied())
        else {
            continue;
        };
        let change = changes
            .entry(hold.id.clone())
            .or_insert_with(|| HoldChange::none(hold));
        let cost = entry.amount.negated();
        let taken = min_money(cost, change.remaining_after);
        change.remaining_after = sub(change.remaining_after, taken);
        change.taken = add(change.taken, taken);
        change.settled = add(change.settled, taken);
        change.settled_messages += 1;
    }
    changes.into_values().collect()
}

/// A message sent under a hold that Meta reported `failed`: its estimate is released once (per
/// wamid).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedSend {
    pub hold: HoldId,
    /// The message: the key that makes its release happen once.
    pub wamid: String,
    pub market: Option<Market>,
    /// Meta often sends no pricing on a failure; then the market decides alone.
    pub category: Option<Category>,
}

/// What a failed message of `hold` gives back: the unit price of the line it belongs to (its
/// market and, when known, category); when none matches, the cheapest line's, so a guess never
/// frees more than the message could have cost (the rest goes back at release or expiry).
pub fn failed_estimate(hold: &Hold, failed: &FailedSend) -> Money {
    let matching = |line: &&super::HoldLine| {
        line.market == failed.market
            && failed
                .category
                .as_ref()
                .is_none_or(|category| *category == line.category)
    };
    let unit = hold
        .lines
        .iter()
        .find(matching)
        .or_else(|| {
            hold.lines
                .iter()
                .min_by_key(|line| line.unit_price.amount())
        })
        .map_or(Money::zero(hold.amount.currency()), |line| line.unit_price);
    min_money(unit, hold.remaining)
}

/// The changes releasing `failed` (all new, each once) makes to the open holds among `holds`.
pub fn release_failed(holds: &[Hold], failed: &[&FailedSend]) -> Vec<HoldChange> {
    let open = open_holds(holds);
    let mut changes: BTreeMap<HoldId, HoldChange> = BTreeMap::new();
    for send in failed {
        let Some(hold) = open.get(&send.hold).copied() else {
            continue;
        };
        let change = changes
            .entry(hold.id.clone())
            .or_insert_with(|| HoldChange::none(hold));
        let with_remaining = Hold {
            remaining: change.remaining_after,
            ..hold.clone()
        };
        let taken = failed_estimate(&with_remaining, send);
        change.remaining_after = sub(change.remaining_after, taken);
        change.taken = add(change.taken, taken);
        change.failed_messages += 1;
    }
    changes.into_values().collect()
}

fn min_money(a: Money, b: Money) -> Money {
    let a = if a.is_negative() {
        Money::zero(a.currency())
    } else {
        a
    };
    if a.amount() <= b.amount() { a } else { b }
}

fn add(a: Money, b: Money) -> Money {
    a.checked_add(b)
        .expect("a hold's amounts share its currency")
}

fn sub(a: Money, b: Money) -> Money {
    a.checked_sub(b)
        .expect("a hold's amounts share its currency")
}
