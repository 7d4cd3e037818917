//! Crossings: when a posting moves a wallet below its low-balance threshold, to zero or below, or
//! back above zero, and when it falls below its auto-recharge minimum.
//!
//! Crossings are read from the entries' running balances, posted now or before, so a retried batch
//! finds the same crossings again and re-sends the same messages (with the same ids, for consumers
//! to drop duplicates): a crash between posting and sending loses no notification.

use serde::Serialize;
use time::OffsetDateTime;

use crate::holds::ReleaseRecovery;
use crate::ids::AccountId;
use crate::ledger::LedgerEntry;
use crate::money::Money;
use crate::wallet::Wallet;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CrossingKind {
    LowBalance,
    Depleted,
    Recovered,
}

/// A message for the notifications queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notice {
    /// Deterministic: the same crossing always has the same id.
    pub id: String,
    pub kind: CrossingKind,
    pub account_id: AccountId,
    pub balance: Money,
    /// `balance − held` after the entry: what the crossing was judged on.
    pub available: Money,
    pub threshold: Money,
    /// The entry that crossed.
    pub seq: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// A message for the recharge queue: the auto-recharge function decides (with a lock) whether to
/// charge, so a request is a prompt, never a payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RechargeRequest {
    pub id: String,
    pub account_id: AccountId,
    pub balance: Money,
    pub minimum_balance: Money,
    pub seq: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// The crossings of one move of `available` from `before` to `after`: the one rule for a posted
/// entry ([`crossings`]) and for a hold's release ([`release_recovery`]). Low balance when it goes
/// to at or below `threshold` while still positive, depleted when it goes to zero or below,
/// recovered when it comes back above zero.
pub fn crossed(before: Money, after: Money, threshold: Money) -> Vec<CrossingKind> {
    let at_or_below = |amount: Money, line: Money| amount.amount() <= line.amount();
    let mut kinds = Vec::new();
    if !at_or_below(before, threshold) && at_or_below(after, threshold) && after.is_positive() {
        kinds.push(CrossingKind::LowBalance);
    }
    if before.is_positive() && !after.is_positive() {
        kinds.push(CrossingKind::Depleted);
    }
    if !before.is_positive() && after.is_positive() {
        kinds.push(CrossingKind::Recovered);
    }
    kinds
}

/// What releasing `released` of a hold does to `wallet` (as read; the release's write is
/// conditioned on it being so): `Some` when it takes `available` back above zero, by the same
/// rule as a credit ([`crossed`]). Only `held` moves, so a release can only recover.
pub fn release_recovery(wallet: &Wallet, released: Money) -> Option<ReleaseRecovery> {
    assert!(!released.is_negative(), "a release gives back, never takes");
    let before = wallet.available();
    let after = before.checked_add(released).ok()?;
    let kinds = crossed(before, after, wallet.low_balance_threshold);
    debug_assert!(kinds.iter().all(|kind| *kind == CrossingKind::Recovered));
    kinds
        .contains(&CrossingKind::Recovered)
        .then_some(ReleaseRecovery {
            balance: wallet.balance,
            available: after,
        })
}

/// The crossings `entries` made on `wallet` (its settings and `held` as they are now), judged on
/// what is available (`balance − held`), like [`Wallet::can_send`]. A charge sent under a hold's
/// tag is skipped: its estimate left `available` when the hold was placed (which judged the
/// crossing then), so settling it moves `balance` and `held` together. Known approximation: a
/// posting that also settles holds judges its other entries against `held` after the posting.
pub fn crossings(
    wallet: &Wallet,
    entries: &[LedgerEntry],
) -> (Vec<Notice>, Option<RechargeRequest>) {
    let mut notices = Vec::new();
    let mut recharge = None;
    let zero = Money::zero(wallet.currency);
    let below = |amount: Money, line: Money| amount.amount() < line.amount();
    let mut ordered: Vec<&LedgerEntry> = entries.iter().collect();
    ordered.sort_by_key(|entry| entry.seq);
    for entry in ordered {
        if entry.metadata.get(crate::holds::META_HOLD).is_some() {
            continue;
        }
        let Ok(after) = entry.balance_after.checked_sub(wallet.held) else {
            continue;
        };
        let Ok(before) = after.checked_sub(entry.amount) else {
            continue;
        };
        let mut notice = |kind: CrossingKind, threshold: Money| {
            notices.push(Notice {
                id: format!("{}:{kind:?}:{}", wallet.account_id, entry.seq).to_lowercase(),
                kind,
                account_id: wallet.account_id.clone(),
                balance: entry.balance_after,
                available: after,
                threshold,
                seq: entry.seq,
                at: entry.posted_at,
            });
        };
        let threshold = wallet.low_balance_threshold;
        for kind in crossed(before, after, threshold) {
            let line = if kind == CrossingKind::LowBalance {
                threshold
            } else {
                zero
            };
            notice(kind, line);
        }
        let minimum = wallet.auto_recharge.minimum_balance;
        if wallet.auto_recharge.enabled && !below(before, minimum) && below(after, minimum) {
            recharge = Some(RechargeRequest {
                id: format!("{}:recharge:{}", wallet.account_id, entry.seq),
                account_id: wallet.account_id.clone(),
                balance: after,
                minimum_balance: minimum,
                seq: entry.seq,
                at: entry.posted_at,
            });
        }
    }
    (notices, recharge)
}
