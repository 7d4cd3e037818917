//! The auto-recharge handler: a recharge request (from billing) or the scheduled sweep leads to at
//! most one off-session charge per wallet at a time, exactly once, within bounds.
//!
//! For one wallet ([`AutoRecharger::recharge`]):
//! 1. read the wallet (its settings now, not when the request was queued) and the lock item;
//! 2. if an attempt is in flight (its answer was lost), resume it: the same attempt id, amount and
//!    idempotency key, so the provider charges at most once; otherwise check the bounds (enabled,
//!    below the minimum, not backing off, under the daily and monthly caps, a card saved) and make
//!    a new attempt id;
//! 3. take the lock: write the attempt and a lease, conditional on the lock's revision as read;
//!    whoever loses that race does nothing;
//! 4. charge; succeeded: post `recharge:<attempt>` for credits × unit price and release the lock in
//!    the same transaction; declined or `requires_action`: back off 1 h, 6 h, 24 h, and after
//!    [`DECLINES_MAX`] in a row turn auto-recharge off; no answer: keep the attempt, let the
//!    lease lapse, and the next trigger resumes it.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tracing::{info, warn};

use crate::adapters::dynamodb::recharge::attempt_id;
use crate::api::CreditPricing;
use crate::handlers::billing::{BatchOutcome, Record};
use crate::ids::AccountId;
use crate::ledger::{EntryId, EntryKind, Metadata, NewEntry};
use crate::money::Money;
use crate::ports::clock::Clock;
use crate::ports::payments::{ChargeOutcome, OffSessionCharge, OffSessionChargeRequest};
use crate::ports::queue::QueueSend;
use crate::ports::recharge::{InFlight, RechargeState, RechargeStore, SUCCESSES_KEPT_MAX};
use crate::ports::store::{PaymentMethodGet, StoreError, WalletGet};

/// Declines (or `requires_action`) in a row after which auto-recharge turns itself off.
pub const DECLINES_MAX: u32 = 3;
/// How long to wait after the 1st, 2nd and 3rd decline in a row.
pub const DECLINE_BACKOFF: [Duration; 3] = [
    Duration::from_secs(3_600),
    Duration::from_secs(6 * 3_600),
    Duration::from_secs(24 * 3_600),
];
const DAY_MS: i64 = 24 * 3_600 * 1_000;
/// An attempt in flight is resumed only this long after it was made: Stripe keeps an idempotency
/// key at least 24 hours, and past that a resumed request could become a second payment.
const RESUME_WINDOW_MS: i64 = 23 * 3_600 * 1_000;

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
            per_day_max: 3,
            monthly_credits_max: None,
            lease: Duration::from_secs(120),
            sweep_wallets_max: 200,
            sweep_budget: Duration::from_secs(240),
        }
    }
}

/// Why nothing was charged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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

/// What one trigger did for one wallet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RechargeOutcome {
    Skipped(Skip),
    Credited {
        attempt_id: String,
        value: Money,
    },
    /// The provider had answered before and the entry was posted then: only the lock released.
    AlreadyCredited,
    Declined {
        disabled: bool,
    },
    /// Accepted but not final, or no answer: the attempt stays in flight and is resumed later.
    Pending,
    /// The provider refused the request itself (not the card): backed off, not counted.
    Failed,
}

#[derive(Debug, thiserror::Error)]
pub enum RechargeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("payment provider: {0}")]
    Payment(#[from] crate::ports::payments::PaymentError),
    #[error("notifications: {0}")]
    Queue(#[from] crate::ports::queue::QueueError),
    #[error(transparent)]
    Ledger(#[from] crate::ledger::LedgerError),
    #[error("recharge request: {0}")]
    Request(String),
}

/// Which recharge event to publish (as a [`crate::notices::Event`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    RechargeSucceeded,
    RechargeFailed,
    AutoRechargeDisabled,
}

/// The part of billing's `RechargeRequest` this handler reads: which wallet. The rest (balance,
/// minimum) was true when it was queued; the wallet is re-read instead.
#[derive(Debug, Deserialize)]
struct RequestBody {
    account_id: AccountId,
}

pub struct AutoRecharger<S, P, N> {
    pub store: S,
    pub payments: P,
    pub notifications: N,
    pub clock: Arc<dyn Clock>,
    pub pricing: CreditPricing,
    pub limits: RechargeLimits,
}

fn epoch_ms(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn month_of(at: OffsetDateTime) -> String {
    format!("{:04}-{:02}", at.year(), u8::from(at.month()))
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

impl<S, P, N> AutoRecharger<S, P, N>
where
    S: RechargeStore + WalletGet + PaymentMethodGet + Send + Sync,
    P: OffSessionCharge + Send + Sync,
    N: QueueSend + Send + Sync,
{
    /// Recharge requests from the queue; `failed` are the records to leave on it (retryable
    /// failures only: an unreadable request goes back too, and on to the dead-letter queue).
    pub async fn handle_requests(&self, records: &[Record]) -> BatchOutcome {
        let mut outcome = BatchOutcome::default();
        for record in records {
            let result = match serde_json::from_str::<RequestBody>(&record.body) {
                Ok(request) => self.recharge(&request.account_id).await,
                Err(error) => Err(RechargeError::Request(error.to_string())),
            };
            match result {
                Ok(done) => info!(message_id = %record.id, ?done, "recharge request handled"),
                Err(error) => {
                    warn!(message_id = %record.id, %error, "recharge request failed; retried");
                    outcome.failed.push(record.id.clone());
                }
            }
        }
        outcome
    }

    /// The scheduled backstop: every wallet the sparse index lists as due (at most
    /// `sweep_wallets_max`), one after the other. Answers the wallets handled and how many failed.
    pub async fn sweep(&self) -> Result<SweepOutcome, RechargeError> {
        let due = self
            .store
            // A different first shard each minute: wallets that stay due but capped cannot keep
            // the same shards' wallets out of every run.
            .due_wallets(
                self.limits.sweep_wallets_max,
                u8::try_from(epoch_ms(self.clock.now()) / 60_000 % 16).unwrap_or(0),
            )
            .await?;
        let mut outcome = SweepOutcome {
            due: due.accounts.len(),
            items_read: due.items_read,
            ..SweepOutcome::default()
        };
        let started = std::time::Instant::now();
        for account in &due.accounts {
            if started.elapsed() >= self.limits.sweep_budget {
                outcome.deferred += 1;
                continue;
            }
            match self.recharge(account).await {
                Ok(RechargeOutcome::Credited { .. }) => outcome.credited += 1,
                Ok(_) => {}
                Err(error) => {
                    warn!(%account, %error, "sweep: recharge failed; the next sweep retries");
                    outcome.failed += 1;
                }
            }
        }
        info!(?outcome, "recharge sweep done");
        Ok(outcome)
    }

    /// One trigger for one wallet. Safe to call any number of times, concurrently.
    pub async fn recharge(&self, account: &AccountId) -> Result<RechargeOutcome, RechargeError> {
        let now = self.clock.now();
        let now_ms = epoch_ms(now);
        // The lock first, then the wallet: a success credits the wallet and releases the lock in
        // one transaction, so a wallet read after a released lock already shows that credit, and a
        // lock read before the release makes our own write fail on its revision.
        let state = self
            .store
            .recharge_state(account)
            .await?
            .unwrap_or_default();
        let Some(wallet) = self.store.get_wallet(account).await? else {
            return Ok(RechargeOutcome::Skipped(Skip::NoWallet));
        };
        if state.lease_until_ms > now_ms {
            return Ok(RechargeOutcome::Skipped(Skip::Busy));
        }
        let (attempt, attempt_seq) = match &state.in_flight {
            // A lost answer: the same charge again, whatever the settings say now, because the
            // first call may have taken the money; the idempotency key keeps it one payment.
            Some(attempt) if now_ms.saturating_sub(attempt.started_ms) > RESUME_WINDOW_MS => {
                tracing::error!(
                    %account,
                    attempt_id = %attempt.attempt_id,
                    "recharge attempt held past the idempotency window: look the payment up \
                     at the provider, then credit or clear it"
                );
                return Ok(RechargeOutcome::Skipped(Skip::Stuck));
            }
            Some(attempt) => (attempt.clone(), state.attempt_seq),
            None => match self.new_attempt(&wallet, &state, now, now_ms).await? {
                Ok(attempt) => (attempt, state.attempt_seq + 1),
                Err(skip) => return Ok(RechargeOutcome::Skipped(skip)),
            },
        };
        let held = RechargeState {
            rev: state.rev + 1,
            lease_until_ms: now_ms.saturating_add(millis(self.limits.lease)),
            in_flight: Some(attempt.clone()),
            attempt_seq,
            ..state.clone()
        };
        if !self.store.put_recharge_state(account, &held).await? {
            return Ok(RechargeOutcome::Skipped(Skip::Busy));
        }
        let request = OffSessionChargeRequest {
            idempotency_key: crate::payments::IdempotencyKey::recharge(&attempt.attempt_id),
            attempt_id: attempt.attempt_id.clone(),
            account_id: account.clone(),
            amount: crate::payments::ChargeAmount::new(attempt.quote.total)
                .map_err(|error| RechargeError::Request(error.to_string()))?,
            credits: attempt.quote.credits,
            customer: attempt.customer.clone(),
            payment_method: attempt.payment_method.clone(),
        };
        let answer = self.payments.charge_off_session(&request).await;
        match answer {
            Ok(ChargeOutcome::Succeeded { payment_id }) => {
                self.credit(account, &attempt, payment_id, held, now).await
            }
            Ok(ChargeOutcome::Processing { .. }) => Ok(RechargeOutcome::Pending),
            Ok(ChargeOutcome::RequiresAction { .. }) => {
                self.declined(account, &attempt, held, now, "requires_action".into())
                    .await
            }
            Ok(ChargeOutcome::Declined {
                code, decline_code, ..
            }) => {
                let reason = match decline_code {
                    Some(decline) => format!("{code}: {decline}"),
                    None => code,
                };
                self.declined(account, &attempt, held, now, reason).await
            }
            Err(error) if error.is_retryable() => {
                // The lease lapses and the next trigger resumes the same attempt.
                warn!(%account, attempt_id = %attempt.attempt_id, %error, "no answer from the provider");
                Err(error.into())
            }
            Err(error) => {
                // Refused as sent or misconfigured: no money moved. Back off without counting it
                // against the card.
                let released = RechargeState {
                    rev: held.rev + 1,
                    lease_until_ms: 0,
                    in_flight: None,
                    backoff_until_ms: now_ms.saturating_add(millis(DECLINE_BACKOFF[0])),
                    ..held
                };
                // Notices go out before the lock is released: if sending fails, the attempt is
                // still held and its retry sends them again (same ids, for consumers to drop).
                self.notify(
                    NoticeKind::RechargeFailed,
                    account,
                    &attempt,
                    Some(error.to_string()),
                    now,
                )
                .await?;
                self.store.put_recharge_state(account, &released).await?;
                Ok(RechargeOutcome::Failed)
            }
        }
    }

    /// A new attempt if every bound allows one.
    async fn new_attempt(
        &self,
        wallet: &crate::wallet::Wallet,
        state: &RechargeState,
        now: OffsetDateTime,
        now_ms: i64,
    ) -> Result<Result<InFlight, Skip>, RechargeError> {
        let settings = &wallet.auto_recharge;
        if !settings.enabled {
            return Ok(Err(Skip::Disabled));
        }
        if wallet.balance.amount() >= settings.minimum_balance.amount() {
            return Ok(Err(Skip::NotDue));
        }
        if state.backoff_until_ms > now_ms {
            return Ok(Err(Skip::BackingOff));
        }
        let per_day_max = self.limits.per_day_max.min(SUCCESSES_KEPT_MAX as u32);
        let recent = state
            .successes_ms
            .iter()
            .filter(|at| now_ms.saturating_sub(**at) < DAY_MS)
            .count();
        if recent >= per_day_max as usize {
            return Ok(Err(Skip::DailyCap));
        }
        let this_month = if state.month == month_of(now) {
            state.month_credits
        } else {
            0
        };
        if let Some(cap) = self.limits.monthly_credits_max
            && this_month.saturating_add(u64::from(settings.credits)) > cap
        {
            return Ok(Err(Skip::MonthlyCap));
        }
        let Some(card) = self.store.get_payment_method(&wallet.account_id).await? else {
            return Ok(Err(Skip::NoCard));
        };
        let Some(payment_method) = card.payment_method else {
            return Ok(Err(Skip::NoCard));
        };
        let Ok(policy) = self.pricing.quote_policy(wallet.currency) else {
            return Ok(Err(Skip::NotSold));
        };
        let quote = match policy
            .credits(u64::from(settings.credits))
            .and_then(|credits| policy.quote(credits))
        {
            Ok(quote) => quote,
            Err(_) => return Ok(Err(Skip::NotSold)),
        };
        Ok(Ok(InFlight {
            attempt_id: attempt_id(&wallet.account_id, state.attempt_seq),
            quote,
            customer: card.customer,
            payment_method,
            started_ms: now_ms,
        }))
    }

    async fn credit(
        &self,
        account: &AccountId,
        attempt: &InFlight,
        payment_id: crate::payments::ProviderPaymentId,
        held: RechargeState,
        now: OffsetDateTime,
    ) -> Result<RechargeOutcome, RechargeError> {
        let now_ms = epoch_ms(now);
        let month = month_of(now);
        let month_credits = if held.month == month {
            held.month_credits
        } else {
            0
        }
        .saturating_add(u64::from(attempt.quote.credits));
        let mut successes_ms = held.successes_ms.clone();
        successes_ms.retain(|at| now_ms.saturating_sub(*at) < DAY_MS);
        successes_ms.push(now_ms);
        if successes_ms.len() > SUCCESSES_KEPT_MAX {
            successes_ms.remove(0);
        }
        let released = RechargeState {
            rev: held.rev + 1,
            lease_until_ms: 0,
            in_flight: None,
            successes_ms,
            month,
            month_credits,
            declines: 0,
            backoff_until_ms: 0,
            ..held.clone()
        };
        let mut metadata = Metadata::new();
        metadata.insert("attempt_id", attempt.attempt_id.as_str())?;
        metadata.insert("credits", &attempt.quote.credits.to_string())?;
        let entry = NewEntry::new(
            EntryId::auto_recharge(attempt.attempt_id.as_str())
                .map_err(|error| RechargeError::Request(error.to_string()))?,
            EntryKind::AutoRecharge,
            attempt.quote.subtotal,
            &format!("Auto-recharge: {} credits", attempt.quote.credits),
            metadata,
            now,
        )?;
        // In the payment history too, under the attempt's id.
        let purchase_id = crate::payments::PurchaseId::parse(attempt.attempt_id.as_str())
            .map_err(|error| RechargeError::Request(error.to_string()))?;
        let paid = crate::payments::purchase::Purchase {
            status: crate::payments::purchase::PurchaseStatus::Paid,
            payment_intent: Some(payment_id),
            paid_at: Some(now),
            ..crate::payments::purchase::Purchase::pending(
                purchase_id,
                account.clone(),
                attempt.quote.clone(),
                "auto_recharge".to_owned(),
                Some(attempt.customer.clone()),
                now,
            )
        };
        // The money is taken, so the notice is true now; sent before the credit commits so that
        // a failed send leaves the attempt held, and its retry sends it again (same id).
        self.notify(NoticeKind::RechargeSucceeded, account, attempt, None, now)
            .await?;
        let receipt = match self
            .store
            .post_recharge(account, &entry, &released, &paid, now)
            .await
        {
            Ok(receipt) => receipt,
            // The lock moved on under us (our lease lapsed and another trigger took it): that
            // trigger resumes the same attempt and credits it, under the same entry id.
            Err(StoreError::ExtraRefused(_)) => return Ok(RechargeOutcome::Pending),
            Err(error) => return Err(error.into()),
        };
        if receipt.posted_count() == 0 {
            // Credited by an earlier holder whose release did not happen: release now.
            self.store.put_recharge_state(account, &released).await?;
            return Ok(RechargeOutcome::AlreadyCredited);
        }
        Ok(RechargeOutcome::Credited {
            attempt_id: attempt.attempt_id.to_string(),
            value: attempt.quote.subtotal,
        })
    }

    async fn declined(
        &self,
        account: &AccountId,
        attempt: &InFlight,
        held: RechargeState,
        now: OffsetDateTime,
        reason: String,
    ) -> Result<RechargeOutcome, RechargeError> {
        let declines = held.declines.saturating_add(1);
        let wait = DECLINE_BACKOFF[usize::try_from(declines - 1)
            .unwrap_or(usize::MAX)
            .min(DECLINE_BACKOFF.len() - 1)];
        let released = RechargeState {
            rev: held.rev + 1,
            lease_until_ms: 0,
            in_flight: None,
            declines,
            backoff_until_ms: epoch_ms(now).saturating_add(millis(wait)),
            ..held
        };
        // Notices and the disabling happen while the attempt is still held: if any fails, the
        // retry replays the same decline (same idempotency key) and repeats them (same ids).
        self.notify(
            NoticeKind::RechargeFailed,
            account,
            attempt,
            Some(reason),
            now,
        )
        .await?;
        let disabled = declines >= DECLINES_MAX;
        if disabled {
            self.store
                .update_auto_recharge(
                    account,
                    &|settings| crate::wallet::AutoRecharge {
                        enabled: false,
                        ..settings.clone()
                    },
                    now,
                )
                .await?;
            self.notify(
                NoticeKind::AutoRechargeDisabled,
                account,
                attempt,
                Some(format!("{declines} declined payments in a row")),
                now,
            )
            .await?;
        }
        if !self.store.put_recharge_state(account, &released).await? {
            // Our lease lapsed and the lock moved on: the newer holder decides.
            return Ok(RechargeOutcome::Pending);
        }
        Ok(RechargeOutcome::Declined { disabled })
    }

    async fn notify(
        &self,
        kind: NoticeKind,
        account: &AccountId,
        attempt: &InFlight,
        reason: Option<String>,
        now: OffsetDateTime,
    ) -> Result<(), RechargeError> {
        use crate::notices::event::{Event, EventData};
        let (attempt_id, credits) = (attempt.attempt_id.to_string(), attempt.quote.credits);
        let reason = reason.unwrap_or_default();
        let data = match kind {
            NoticeKind::RechargeSucceeded => EventData::RechargeSucceeded {
                attempt_id,
                credits,
                amount: attempt.quote.total,
            },
            NoticeKind::RechargeFailed => EventData::RechargeFailed {
                attempt_id,
                credits,
                amount: attempt.quote.total,
                reason,
            },
            NoticeKind::AutoRechargeDisabled => {
                EventData::AutoRechargeDisabled { attempt_id, reason }
            }
        };
        // The id is keyed by the attempt, so a retried attempt makes the same event.
        let event = Event::new(account, attempt.attempt_id.as_str(), now, data)
            .map_err(|error| RechargeError::Request(error.to_string()))?;
        let body = crate::notices::delivery::event_message(&event);
        self.notifications.send_all(&[body]).await?;
        Ok(())
    }
}

/// What a sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepOutcome {
    /// Wallets the index listed as due.
    pub due: usize,
    /// Items the store returned for them (the sweep reads nothing else).
    pub items_read: u64,
    pub credited: usize,
    pub failed: usize,
    /// Left for the next sweep: the time budget ran out.
    pub deferred: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::billing::thresholds::RechargeRequest;
    use crate::money::Currency;

    #[test]
    fn billing_s_recharge_requests_name_the_wallet_to_re_read() {
        let usd = |text: &str| Money::parse(text, Currency::Usd).unwrap();
        let request = RechargeRequest {
            id: "acme:recharge:8".into(),
            account_id: AccountId::parse("acme").unwrap(),
            balance: usd("2"),
            minimum_balance: usd("5"),
            seq: 8,
            at: OffsetDateTime::UNIX_EPOCH,
        };
        let body = serde_json::to_string(&request).unwrap();
        let parsed: RequestBody = serde_json::from_str(&body).unwrap();
        assert_eq!(parsed.account_id.as_str(), "acme");
        assert!(serde_json::from_str::<RequestBody>(r#"{"account_id": "a b"}"#).is_err());
    }

    #[test]
    fn months_and_backoff_steps() {
        let at = time::macros::datetime!(2026-11-30 23:59 UTC);
        assert_eq!(month_of(at), "2026-11");
        assert_eq!(month_of(at + time::Duration::minutes(1)), "2026-12");
        assert_eq!(DECLINE_BACKOFF.len() as u32, DECLINES_MAX);
    }
}
