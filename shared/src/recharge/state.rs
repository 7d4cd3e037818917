//! The lock item of one wallet: the lease, the attempt in flight and the counters that bound how
//! much auto-recharge may spend. Written only with a condition on the revision that was read.

use crate::money::CreditQuote;
use crate::payments::{ProviderCustomerId, ProviderPaymentMethodId, RechargeAttemptId};

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
