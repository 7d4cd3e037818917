//! What placing a hold does to the state judged on `available`: sending allowed or not, due an
//! auto-recharge or not, a low-balance or depleted crossing or not.
//!
//! The placement is one conditional write that does not read `available` first (concurrent
//! placements must not refuse each other), so what it changes besides `held` cannot be computed
//! from a read. Instead each fact is a comparison of `available` *before* the placement with a
//! constant derived from the hold's amount and the wallet's settings ([`Band`]): the write is
//! conditioned on every comparison still having the outcome the facts were computed from (and on
//! the settings being the ones read). A write that commits therefore committed exactly these
//! facts; one refused by a comparison is retried with the facts of a fresh read.

use rust_decimal::Decimal;
use serde::Serialize;

use crate::money::Money;
use crate::wallet::Wallet;

/// One comparison of `available` before the placement with `bound`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Band {
    /// `available > bound` when true, `available < bound` when false.
    pub greater_than: bool,
    pub bound: Decimal,
    /// The outcome the facts were computed from; the write's condition asks for it again.
    pub outcome: bool,
}

impl Band {
    fn new(greater_than: bool, bound: Decimal, available: Decimal) -> Self {
        let outcome = if greater_than {
            available > bound
        } else {
            available < bound
        };
        Self {
            greater_than,
            bound,
            outcome,
        }
    }
}

/// The crossings a placement made, stored on the hold so a replay of its key finds them again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PlacementCrossings {
    /// `available` went from above the low-balance threshold to at or below it (still positive).
    pub low: bool,
    /// `available` went to zero: the whole of it is held.
    pub depleted: bool,
}

/// What a placement of `amount` on `wallet` (as read) commits, and the comparisons it rests on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacementFacts {
    pub bands: Vec<Band>,
    /// `available` after is positive (the stored `can_send`).
    pub can_send_after: bool,
    /// Auto-recharge is on and `available` after is below its minimum (the due index).
    pub due_after: bool,
    pub crossings: PlacementCrossings,
}

/// The facts of placing `amount` on `wallet`, judged on `available` as the wallet was read. Only
/// meaningful for a placement the store grants (`available >= amount`, its own condition).
pub fn placement_facts(wallet: &Wallet, amount: Money) -> PlacementFacts {
    assert!(
        !amount.is_negative(),
        "a hold never holds less than nothing"
    );
    assert_eq!(
        amount.currency(),
        wallet.currency,
        "a hold is in the wallet's currency"
    );
    let available = wallet.available().amount();
    let held = amount.amount();
    let threshold = wallet.low_balance_threshold.amount();
    // after > 0  ⟺  available > amount
    let sends = Band::new(true, held, available);
    // before > threshold
    let above_before = Band::new(true, threshold, available);
    // after > threshold  ⟺  available > amount + threshold
    let above_after = Band::new(true, held + threshold, available);
    let mut bands = vec![sends, above_before, above_after];
    let mut due_after = false;
    let settings = &wallet.auto_recharge;
    if settings.enabled {
        // after < minimum  ⟺  available < amount + minimum
        let due = Band::new(false, held + settings.minimum_balance.amount(), available);
        due_after = due.outcome;
        bands.push(due);
    }
    PlacementFacts {
        bands,
        can_send_after: sends.outcome,
        due_after,
        crossings: PlacementCrossings {
            low: above_before.outcome && !above_after.outcome && sends.outcome,
            // Granted means available ≥ amount, so a positive hold had something to take.
            depleted: !sends.outcome && amount.is_positive(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::AccountId;
    use crate::money::Currency;
    use crate::wallet::AutoRecharge;

    fn usd(text: &str) -> Money {
        Money::parse(text, Currency::Usd).unwrap()
    }

    fn wallet(balance: &str, held: &str) -> Wallet {
        let now = time::OffsetDateTime::UNIX_EPOCH;
        Wallet {
            account_id: AccountId::parse("acme").unwrap(),
            currency: Currency::Usd,
            balance: usd(balance),
            held: usd(held),
            low_balance_threshold: usd("10"),
            auto_recharge: AutoRecharge::new(true, usd("5"), 10, Currency::Usd).unwrap(),
            version: 0,
            entry_count: 0,
            created_at: now,
            updated_at: now,
            reporting_zone: Default::default(),
        }
    }

    #[test]
    fn facts_follow_available_after_the_hold() {
        // 30 available; a hold of 5 leaves 25: nothing crosses.
        let facts = placement_facts(&wallet("40", "10"), usd("5"));
        assert!(facts.can_send_after && !facts.due_after);
        assert_eq!(facts.crossings, PlacementCrossings::default());
        // A hold of 22 leaves 8: below the threshold of 10, not below the minimum of 5.
        let facts = placement_facts(&wallet("40", "10"), usd("22"));
        assert!(facts.can_send_after && !facts.due_after && facts.crossings.low);
        // A hold of 27 leaves 3: low and due.
        let facts = placement_facts(&wallet("40", "10"), usd("27"));
        assert!(facts.due_after && facts.crossings.low && !facts.crossings.depleted);
        // A hold of all 30: depleted, due, sending stops; no low notice at zero.
        let facts = placement_facts(&wallet("40", "10"), usd("30"));
        assert!(!facts.can_send_after && facts.due_after && facts.crossings.depleted);
        assert!(!facts.crossings.low);
        // Already at or below the threshold before: no second low crossing.
        let facts = placement_facts(&wallet("18", "10"), usd("1"));
        assert!(!facts.crossings.low);
        // Every band's outcome is the comparison it names.
        for band in placement_facts(&wallet("40", "10"), usd("27")).bands {
            let available = Decimal::from(30);
            let holds = if band.greater_than {
                available > band.bound
            } else {
                available < band.bound
            };
            assert_eq!(holds, band.outcome, "{band:?}");
        }
    }

    #[test]
    fn auto_recharge_off_is_never_due() {
        let mut off = wallet("40", "10");
        off.auto_recharge = AutoRecharge::disabled(Currency::Usd);
        let facts = placement_facts(&off, usd("30"));
        assert!(!facts.due_after);
        assert_eq!(facts.bands.len(), 3);
    }
}
