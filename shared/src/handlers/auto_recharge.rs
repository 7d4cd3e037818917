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
//!    [`DECLINES_MAX`](crate::recharge::DECLINES_MAX) in a row turn auto-recharge off; no answer: keep the attempt, let the
//!    lease lapse, and the next trigger resumes it (the sweep lists a wallet with an attempt in
//!    flight whatever its balance).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tracing::{info, warn};

pub use super::recharge_trigger::{RechargeTrigger, TriggerAnswer};
use crate::handlers::batch::{Failures, Record, each_message};
use crate::ids::AccountId;
use crate::ledger::{EntryId, EntryKind, Metadata, NewEntry};
use crate::money::{CreditPricing, Money};
use crate::ports::clock::Clock;
use crate::ports::metrics::{self, Metric};
use crate::ports::payments::{ChargeOutcome, OffSessionCharge, OffSessionChargeRequest};
use crate::ports::queue::QueueSend;
use crate::ports::recharge::RechargeStore;
use crate::ports::store::{PaymentMethodGet, StoreError, WalletGet};
use crate::recharge::{InFlight, RechargeLimits, RechargeState, Skip, attempt_id, epoch_ms};

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

impl<S, P, N> AutoRecharger<S, P, N>
where
    S: RechargeStore + WalletGet + PaymentMethodGet + Send + Sync,
    P: OffSessionCharge + Send + Sync,
    N: QueueSend + Send + Sync,
{
    /// Recharge requests from the queue; `failed` are the records to leave on it (retryable
    /// failures only: an unreadable request goes back too, and on to the dead-letter queue).
    pub async fn handle_requests(&self, records: &[Record]) -> Failures {
        each_message(records, |request: RequestBody| async move {
            self.recharge(&request.account_id).await
        })
        .await
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
        if state.is_held(now) {
            return Ok(RechargeOutcome::Skipped(Skip::Busy));
        }
        let (attempt, attempt_seq) = match &state.in_flight {
            // A lost answer: the same charge again, whatever the settings say now, because the
            // first call may have taken the money; the idempotency key keeps it one payment.
            Some(attempt) if !attempt.may_resume(now) => {
                tracing::error!(
                    %account,
                    attempt_id = %attempt.attempt_id,
                    "recharge attempt held past the idempotency window: look the payment up \
                     at the provider, then credit or clear it"
                );
                metrics::count(Metric::RechargeStuck, 1);
                return Ok(RechargeOutcome::Skipped(Skip::Stuck));
            }
            Some(attempt) => (attempt.clone(), state.attempt_seq),
            None => match self.new_attempt(&wallet, &state, now).await? {
                Ok(attempt) => (attempt, state.attempt_seq + 1),
                Err(skip) => return Ok(RechargeOutcome::Skipped(skip)),
            },
        };
        let held = state.held(attempt.clone(), attempt_seq, now, self.limits.lease);
        if !self.store.put_recharge_state(account, &held).await? {
            return Ok(RechargeOutcome::Skipped(Skip::Busy));
        }
        let request = OffSessionChargeRequest::for_attempt(
            attempt.attempt_id.clone(),
            account.clone(),
            &attempt.quote,
            attempt.customer.clone(),
            attempt.payment_method.clone(),
        )
        .map_err(|error| RechargeError::Request(error.to_string()))?;
        let answer = self.payments.charge_off_session(&request).await;
        self.settle(account, &attempt, held, now, answer).await
    }

    /// What the provider's answer makes of the held attempt.
    async fn settle(
        &self,
        account: &AccountId,
        attempt: &InFlight,
        held: RechargeState,
        now: OffsetDateTime,
        answer: Result<ChargeOutcome, crate::ports::payments::PaymentError>,
    ) -> Result<RechargeOutcome, RechargeError> {
        match answer {
            Ok(ChargeOutcome::Succeeded { payment_id }) => {
                let credited = self.credit(account, attempt, payment_id, held, now).await;
                if matches!(credited, Ok(RechargeOutcome::Credited { .. })) {
                    metrics::count(Metric::Recharges, 1);
                }
                credited
            }
            Ok(ChargeOutcome::Processing { .. }) => Ok(RechargeOutcome::Pending),
            Ok(ChargeOutcome::RequiresAction { .. }) => {
                self.declined(account, attempt, held, now, "requires_action".into())
                    .await
            }
            Ok(ChargeOutcome::Declined {
                code, decline_code, ..
            }) => {
                let reason = match decline_code {
                    Some(decline) => format!("{code}: {decline}"),
                    None => code,
                };
                self.declined(account, attempt, held, now, reason).await
            }
            Err(error) if error.is_retryable() => {
                // The lease lapses and the next trigger resumes the same attempt.
                warn!(%account, attempt_id = %attempt.attempt_id, %error, "no answer from the provider");
                metrics::count(Metric::RechargeNoAnswer, 1);
                Err(error.into())
            }
            Err(error) => {
                // Refused as sent or misconfigured: no money moved. Back off without counting it
                // against the card.
                let released = held.after_refusal(now);
                // Notices go out before the lock is released: if sending fails, the attempt is
                // still held and its retry sends them again (same ids, for consumers to drop).
                self.notify(
                    NoticeKind::RechargeFailed,
                    account,
                    attempt,
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
    ) -> Result<Result<InFlight, Skip>, RechargeError> {
        if let Err(skip) = state.may_charge(wallet, &self.limits, now) {
            return Ok(Err(skip));
        }
        let settings = &wallet.auto_recharge;
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
            started_ms: epoch_ms(now),
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
        let released = held.after_success(attempt.quote.credits, now);
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
        let (released, disabled) = held.after_decline(now);
        let declines = released.declines;
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
}
