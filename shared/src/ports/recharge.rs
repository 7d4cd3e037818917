//! Auto-recharge's state per wallet, as a port: the lock with its lease, the attempt in flight and
//! the counters that bound how much auto-recharge may spend.
//!
//! The state is one item per wallet, written only with a condition on the revision that was read
//! (`rev`), so every decision taken from a read (take the lock, count a decline, release) is
//! race-free: two deciders that read the same revision cannot both write.

use std::future::Future;

use time::OffsetDateTime;

use crate::ids::AccountId;
use crate::ledger::NewEntry;
use crate::ports::store::{PostReceipt, StoreError};
use crate::recharge::RechargeState;
use crate::wallet::{AutoRecharge, Wallet};

/// Wallets the sweep found due, and how many index items the store returned to find them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DueWallets {
    pub accounts: Vec<AccountId>,
    pub items_read: u64,
}

pub trait RechargeStore {
    /// The lock item as stored (consistent read); `None` if the wallet never had one.
    fn recharge_state(
        &self,
        account: &AccountId,
    ) -> impl Future<Output = Result<Option<RechargeState>, StoreError>> + Send;

    /// Writes `next` if the stored revision is still `next.rev - 1` (absent for 0); `false` if it
    /// changed (someone else decided first) and nothing was written.
    fn put_recharge_state(
        &self,
        account: &AccountId,
        next: &RechargeState,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Posts the recharge's entry and, in the same transaction, writes `next` (conditional as in
    /// [`RechargeStore::put_recharge_state`]) and records `paid` in the purchase history. If the
    /// entry was posted before, nothing is written.
    fn post_recharge(
        &self,
        account: &AccountId,
        entry: &NewEntry,
        next: &RechargeState,
        paid: &crate::payments::purchase::Purchase,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<PostReceipt, StoreError>> + Send;

    /// Changes the auto-recharge settings from what they are (version-conditional, retried on a
    /// concurrent change), keeping the sparse index in step.
    fn update_auto_recharge(
        &self,
        account: &AccountId,
        change: &(dyn Fn(&AutoRecharge) -> AutoRecharge + Sync),
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Wallet, StoreError>> + Send;

    /// Wallets in the sparse index of wallets below their minimum or with an attempt in flight
    /// (whatever their balance: its answer was lost and only a trigger resumes it), each once, at
    /// most `limit`, reading the
    /// index shards in order from `first_shard` (wrapping), so that a run cut short by `limit`
    /// does not always favour the same shards.
    fn due_wallets(
        &self,
        limit: usize,
        first_shard: u8,
    ) -> impl Future<Output = Result<DueWallets, StoreError>> + Send;
}
