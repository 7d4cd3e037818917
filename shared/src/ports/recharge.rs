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
use crate::money::CreditQuote;
use crate::payments::{ProviderCustomerId, ProviderPaymentMethodId, RechargeAttemptId};
use crate::ports::store::{PostReceipt, StoreError};
use crate::wallet::{AutoRecharge, Wallet};

/// Successes remembered for the rolling daily cap; the cap itself is at most this.
pub const SUCCESSES_KEPT_MAX: usize = 24;

/// One off-session charge: made (and stored) before the provider is called, so a retry after a
/// lost answer sends exactly the same request under the same idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InFlight {
    pub attempt_id: RechargeAttemptId,
    /// What is bought: `subtotal` (credits × unit price) is credited on success, `total` (fee
    /// included) is charged to the card.
    pub quote: CreditQuote,
    pub customer: ProviderCustomerId,
    pub payment_method: ProviderPaymentMethodId,
    /// When the attempt was made (epoch ms): it is resumed only while the provider still knows
    /// its idempotency key (Stripe keeps keys at least 24 hours).
    pub started_ms: i64,
}

/// The lock item of one wallet. A missing item reads as [`RechargeState::default`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RechargeState {
    /// Bumped by every write; 0 when the item does not exist yet.
    pub rev: u64,
    /// The lock is held until then (epoch ms); a holder that died lets it lapse.
    pub lease_until_ms: i64,
    /// The charge whose outcome is not known yet: the next holder resumes it, never a new one.
    pub in_flight: Option<InFlight>,
    /// How many attempt ids were made: the next one's number.
    pub attempt_seq: u64,
    /// When recent recharges succeeded (epoch ms), newest last, at most [`SUCCESSES_KEPT_MAX`].
    pub successes_ms: Vec<i64>,
    /// The calendar month (`2026-11`, UTC) `month_credits` counts, and the credits bought in it.
    pub month: String,
    pub month_credits: u64,
    /// Declines (or `requires_action`) in a row since the last success.
    pub declines: u32,
    /// No new attempt before then (epoch ms).
    pub backoff_until_ms: i64,
}

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

    /// Wallets in the sparse index of wallets below their minimum, at most `limit`, reading the
    /// index shards in order from `first_shard` (wrapping), so that a run cut short by `limit`
    /// does not always favour the same shards.
    fn due_wallets(
        &self,
        limit: usize,
        first_shard: u8,
    ) -> impl Future<Output = Result<DueWallets, StoreError>> + Send;
}
