//! Auto-recharge's rules, as pure functions of the lock item and the time: may a wallet be
//! charged now, and what the lock item becomes when a charge is taken, succeeds, is declined or is
//! refused. The handler ([`crate::handlers::auto_recharge`]) only reads, asks these, and writes.
//!
//! The lock item keeps its times as epoch milliseconds and its month as `"YYYY-MM"`, as the table
//! stores them; every rule here takes and compares [`OffsetDateTime`] and [`Duration`].

mod state;

use std::time::Duration;

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::ids::AccountId;
use crate::payments::RechargeAttemptId;
use crate::wallet::Wallet;

pub use state::{InFlight, RechargeState, SUCCESSES_KEPT_MAX};

/// Declines (or `requires_action`) in a row after which auto-recharge turns itself off.
pub const DECLINES_MAX: u32 = 3;
/// How long to wait after the 1st, 2nd and 3rd decline in a row.
pub const DECLINE_BACKOFF: [Duration; DECLINES_MAX as usize] = [
    Duration::from_secs(3_600),
    Duration::from_secs(6 * 3_600),
    Duration::from_secs(24 * 3_600),
];
/// The window of the daily cap: successes count for this long.
pub const DAY: Duration = Duration::from_secs(24 * 3_600);
/// An attempt in flight is resumed only this long after it was made: Stripe keeps an idempotency
/// key at least 24 hours, and past that a resumed request could become a second payment.
pub const RESUME_WINDOW: Duration = Duration::from_secs(23 * 3_600);
/// Recharges per day allowed by default.
pub const PER_DAY_MAX_DEFAULT: u32 = 3;

const _: () = assert!(
    RESUME_WINDOW.as_secs() < DAY.as_secs(),
    "inside Stripe's key window"
);
const _: () = assert!(DECLINES_MAX >= 1);
const _: () = assert!(PER_DAY_MAX_DEFAULT as usize <= SUCCESSES_KEPT_MAX);
const _: () = assert!(
    DECLINE_BACKOFF[0].as_secs() <= DECLINE_BACKOFF[DECLINES_MAX as usize - 1].as_secs(),
    "backoff grows"
);

/// Limits of auto-recharge, from configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RechargeLimits {
    /// Successful recharges per wallet in any rolling 24 hours (1..=[`SUCCESSES_KEPT_MAX`]).
    pub per_day_max: u32,
    /// Credits auto-recharge may buy per wallet per calendar month (UTC); `None`: no cap.
    pub monthly_credits_max: Option<u64>,
    /// How long the lock is held: longer than the worst case of one provider call.
    pub lease: Duration,
    /// Wallets one sweep handles at most.
    pub sweep_wallets_max: usize,
    /// A sweep starts no new wallet after this long (the rest wait for the next sweep), so it
    /// ends within the function's timeout even when the provider is slow.
    pub sweep_budget: Duration,
}

impl Default for RechargeLimits {
    fn default() -> Self {
        Self {
            per_day_max: PER_DAY_MAX_DEFAULT,
            monthly_credits_max: None,
            lease: Duration::from_secs(120),
            sweep_wallets_max: 200,
            sweep_budget: Duration::from_secs(240),
        }
    }
}

/// Why nothing was charged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Skip {
    NoWallet,
    Disabled,
    NotDue,
    /// Another trigger holds the lock.
    Busy,
    BackingOff,
    DailyCap,
    MonthlyCap,
    NoCard,
    NotSold,
    /// An attempt whose answer was lost is older than the provider's idempotency window: neither
    /// resumed nor replaced until an operator has looked the payment up (logged at error).
    Stuck,
}

/// A recharge attempt's id: derived from the account and the attempt's number, so it is the same
/// whoever makes it and never repeats for a wallet.
pub fn attempt_id(account: &AccountId, seq: u64) -> RechargeAttemptId {
    let mut hasher = Sha256::new();
    hasher.update(account.as_str().as_bytes());
    hasher.update([0]);
    hasher.update(seq.to_be_bytes());
    let digest = hasher.finalize();
    RechargeAttemptId::parse(&format!("ra_{}", hex::encode(&digest[..16])))
        .expect("ra_ and hex digits are a valid attempt id")
}

/// Epoch milliseconds, as the lock item stores times.
pub fn epoch_ms(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// The calendar month (UTC) of `at`, as the lock item names it: `2026-11`.
pub fn month_of(at: OffsetDateTime) -> String {
    format!("{:04}-{:02}", at.year(), u8::from(at.month()))
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// `at + duration` in epoch milliseconds, saturating.
fn ms_after(at: OffsetDateTime, duration: Duration) -> i64 {
    epoch_ms(at).saturating_add(millis(duration))
}

impl InFlight {
    /// Whether this attempt may still be resumed at `now` (the provider still knows its key).
    pub fn may_resume(&self, now: OffsetDateTime) -> bool {
        epoch_ms(now).saturating_sub(self.started_ms) <= millis(RESUME_WINDOW)
    }
}

impl RechargeState {
    /// Whether another trigger holds the lock at `now`.
    pub fn is_held(&self, now: OffsetDateTime) -> bool {
        self.lease_until_ms > epoch_ms(now)
    }

    /// Credits bought in `now`'s month so far.
    fn credits_this_month(&self, now: OffsetDateTime) -> u64 {
        if self.month == month_of(now) {
            self.month_credits
        } else {
            0
        }
    }

    /// May a new attempt of `credits` start at `now` for `wallet`? The bounds that need no card
    /// and no price: enabled, below the minimum, not backing off, under the daily and monthly caps.
    pub fn may_charge(
        &self,
        wallet: &Wallet,
        limits: &RechargeLimits,
        now: OffsetDateTime,
    ) -> Result<(), Skip> {
        let settings = &wallet.auto_recharge;
        if !settings.enabled {
            return Err(Skip::Disabled);
        }
        // Judged on what is available: money held for a send in progress is about to be spent.
        if wallet.available().amount() >= settings.minimum_balance.amount() {
            return Err(Skip::NotDue);
        }
        let now_ms = epoch_ms(now);
        if self.backoff_until_ms > now_ms {
            return Err(Skip::BackingOff);
        }
        let per_day_max = limits.per_day_max.min(SUCCESSES_KEPT_MAX as u32);
        let recent = self
            .successes_ms
            .iter()
            .filter(|at| now_ms.saturating_sub(**at) < millis(DAY))
            .count();
        if recent >= per_day_max as usize {
            return Err(Skip::DailyCap);
        }
        if let Some(cap) = limits.monthly_credits_max
            && self
                .credits_this_month(now)
                .saturating_add(u64::from(settings.credits))
                > cap
        {
            return Err(Skip::MonthlyCap);
        }
        Ok(())
    }

    /// The lock taken for `attempt` (number `attempt_seq` made so far) until `now + lease`.
    pub fn held(
        &self,
        attempt: InFlight,
        attempt_seq: u64,
        now: OffsetDateTime,
        lease: Duration,
    ) -> Self {
        Self {
            rev: self.rev + 1,
            lease_until_ms: ms_after(now, lease),
            in_flight: Some(attempt),
            attempt_seq,
            ..self.clone()
        }
    }

    /// Released after the charge of `credits` succeeded at `now`: counted in the daily and
    /// monthly caps, declines forgotten.
    pub fn after_success(&self, credits: u32, now: OffsetDateTime) -> Self {
        let now_ms = epoch_ms(now);
        let mut successes_ms = self.successes_ms.clone();
        successes_ms.retain(|at| now_ms.saturating_sub(*at) < millis(DAY));
        successes_ms.push(now_ms);
        if successes_ms.len() > SUCCESSES_KEPT_MAX {
            successes_ms.remove(0);
        }
        Self {
            rev: self.rev + 1,
            lease_until_ms: 0,
            in_flight: None,
            successes_ms,
            month: month_of(now),
            month_credits: self
                .credits_this_month(now)
                .saturating_add(u64::from(credits)),
            declines: 0,
            backoff_until_ms: 0,
            ..self.clone()
        }
    }

    /// Released after a decline at `now`: backed off by the decline's step; `true` when this was
    /// the [`DECLINES_MAX`]th in a row and auto-recharge must be turned off.
    pub fn after_decline(&self, now: OffsetDateTime) -> (Self, bool) {
        let declines = self.declines.saturating_add(1);
        let step = usize::try_from(declines - 1)
            .unwrap_or(usize::MAX)
            .min(DECLINE_BACKOFF.len() - 1);
        let released = Self {
            rev: self.rev + 1,
            lease_until_ms: 0,
            in_flight: None,
            declines,
            backoff_until_ms: ms_after(now, DECLINE_BACKOFF[step]),
            ..self.clone()
        };
        (released, declines >= DECLINES_MAX)
    }

    /// Released after the provider refused the request itself (not the card): no money moved, so
    /// backed off by the first step without counting a decline.
    pub fn after_refusal(&self, now: OffsetDateTime) -> Self {
        Self {
            rev: self.rev + 1,
            lease_until_ms: 0,
            in_flight: None,
            backoff_until_ms: ms_after(now, DECLINE_BACKOFF[0]),
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests;
