//! Auto-recharge on the laptop: the in-process recharge queue (fed by billing) and a tick standing
//! in for the EventBridge schedule, both handled by the same handler as the Lambda function.
//!
//! In fake payments mode the off-session charge is fake too: it succeeds, unless
//! `POST /local/fake-payments/decline-next` asked for the next one(s) to be declined, so the
//! backoff and the disabling after three declines can be watched locally.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use imcredits::adapters::dynamodb::DynamoStore;
use imcredits::adapters::stripe::StripeClient;
use imcredits::handlers::auto_recharge::AutoRecharger;
use imcredits::money::CreditPricing;
use imcredits::payments::ProviderPaymentId;
use imcredits::ports::clock::SystemClock;
use imcredits::ports::payments::{
    ChargeOutcome, OffSessionCharge, OffSessionChargeRequest, PaymentError,
};
use imcredits::recharge::RechargeLimits;
use serde_json::json;
use tokio::sync::watch;

use crate::pipeline::{Queues, records};

/// Declines queued up at most: enough to reach the disabling, bounded so a script cannot grow it.
const DECLINES_QUEUED_MAX: u32 = 10;

/// The fake off-session charge: succeeds unless declines are queued.
#[derive(Default)]
pub struct FakeCharges {
    declines_queued: AtomicU32,
}

impl OffSessionCharge for FakeCharges {
    async fn charge_off_session(
        &self,
        request: &OffSessionChargeRequest,
    ) -> Result<ChargeOutcome, PaymentError> {
        let token: String = request
            .attempt_id
            .as_str()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let payment_id = ProviderPaymentId::parse(&format!("pi_fake_{token}"))
            .map_err(|error| PaymentError::Misconfigured(error.to_string()))?;
        let declined = self
            .declines_queued
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |queued| {
                queued.checked_sub(1)
            })
            .is_ok();
        if declined {
            Ok(ChargeOutcome::Declined {
                code: "card_declined".into(),
                decline_code: Some("insufficient_funds".into()),
                message: "FAKE decline asked for with /local/fake-payments/decline-next".into(),
                payment_id: Some(payment_id),
            })
        } else {
            Ok(ChargeOutcome::Succeeded { payment_id })
        }
    }
}

/// The charges the runner makes: fake, or Stripe's test mode with the key from the environment.
pub enum LocalCharges {
    Fake(Arc<FakeCharges>),
    Stripe(StripeClient),
}

impl OffSessionCharge for LocalCharges {
    async fn charge_off_session(
        &self,
        request: &OffSessionChargeRequest,
    ) -> Result<ChargeOutcome, PaymentError> {
        match self {
            LocalCharges::Fake(fake) => fake.charge_off_session(request).await,
            LocalCharges::Stripe(stripe) => stripe.charge_off_session(request).await,
        }
    }
}

/// `POST /local/fake-payments/decline-next`: the next off-session charge is declined (call it
/// three times to see auto-recharge turn itself off).
pub fn fake_routes(fake: Arc<FakeCharges>) -> Router {
    Router::new()
        .route(
            "/local/fake-payments/decline-next",
            post(|State(fake): State<Arc<FakeCharges>>| async move {
                let queued = fake
                    .declines_queued
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |queued| {
                        Some((queued + 1).min(DECLINES_QUEUED_MAX))
                    })
                    .map_or(DECLINES_QUEUED_MAX, |before| {
                        (before + 1).min(DECLINES_QUEUED_MAX)
                    });
                axum::Json(json!({"declines_queued": queued}))
            }),
        )
        .with_state(fake)
}

/// Runs auto-recharge until `stop` turns true: requests as they arrive, and a sweep every `tick`.
pub async fn run_recharge(
    store: DynamoStore,
    queues: Arc<Queues>,
    charges: LocalCharges,
    tick: Duration,
    pricing: CreditPricing,
    mut stop: watch::Receiver<bool>,
) {
    let recharger = AutoRecharger {
        store,
        payments: charges,
        notifications: queues.notifications.clone(),
        clock: Arc::new(SystemClock),
        pricing,
        limits: RechargeLimits::default(),
    };
    let mut sweeps = tokio::time::interval(tick);
    sweeps.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.changed() => {}
            _ = sweeps.tick() => sweep(&recharger).await,
            _ = queues.recharges.wait(Duration::from_secs(1)) => {}
        }
        if *stop.borrow() {
            return;
        }
        handle_queued(&recharger, &queues).await;
    }
}

type LocalRecharger =
    AutoRecharger<DynamoStore, LocalCharges, imcredits::adapters::sqlite_queue::DurableQueue>;

/// The schedule's work: recharges due, and expired holds released.
async fn sweep(recharger: &LocalRecharger) {
    match recharger.sweep().await {
        Ok(outcome) if outcome.due > 0 => crate::say(&format!(
            "auto-recharge sweep: {} due, {} recharged, {} failed",
            outcome.due, outcome.credited, outcome.failed
        )),
        Ok(_) => {}
        Err(error) => crate::say(&format!("auto-recharge sweep failed: {error}")),
    }
    // The same schedule releases expired holds (the function's schedule does in AWS).
    let now = recharger.clock.now();
    let notices = &recharger.notifications;
    match imcredits::handlers::holds::sweep_expired_holds(&recharger.store, notices, now).await {
        Ok(sweep) if sweep.due > 0 => crate::say(&format!(
            "hold sweep: {} due, {} expired",
            sweep.due, sweep.expired
        )),
        Ok(_) => {}
        Err(error) => crate::say(&format!("hold sweep failed: {error}")),
    }
    // And announces the months that closed (statement.monthly_ready).
    match imcredits::handlers::statements::sweep_closed_months(&recharger.store, notices, now).await
    {
        Ok(sweep) if sweep.announced > 0 => crate::say(&format!(
            "statement sweep: {} month(s) ready",
            sweep.announced
        )),
        Ok(_) => {}
        Err(error) => crate::say(&format!("statement sweep failed: {error}")),
    }
}

/// Handles the recharge requests waiting on the queue (one receive).
async fn handle_queued(recharger: &LocalRecharger, queues: &Queues) {
    let deliveries = match queues.recharges.receive(10).await {
        Ok(deliveries) => deliveries,
        Err(failure) => {
            tracing::error!(%failure, "the recharge queue cannot be read");
            return;
        }
    };
    if deliveries.is_empty() {
        return;
    }
    let outcome = recharger.handle_requests(&records(&deliveries)).await;
    // A failed request is not redelivered here: the next tick's sweep resumes it, as the
    // schedule does in AWS.
    let receipts = deliveries.iter().map(|delivery| delivery.receipt).collect();
    if let Err(failure) = queues.recharges.delete(receipts).await {
        tracing::error!(%failure, "handled recharge requests could not be deleted");
    }
    crate::say(&format!(
        "auto-recharge: {} request(s) handled, {} to be resumed by the sweep",
        deliveries.len(),
        outcome.failed.len()
    ));
}
