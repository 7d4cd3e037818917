//! What starts the auto-recharge function ([`RechargeTrigger`]): a batch of billing's requests
//! from the recharge queue (answered with partial batch failures), or the EventBridge schedule
//! (the backstop sweep of wallets below their minimum, of expired holds, and of closed months).

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use serde::{Deserialize, Serialize};

use super::auto_recharge::{AutoRecharger, RechargeError};
use crate::handlers::batch::{batch_response, records_from_sqs};
use crate::ports::payments::OffSessionCharge;
use crate::ports::queue::QueueSend;
use crate::ports::recharge::RechargeStore;
use crate::ports::store::{PaymentMethodGet, WalletGet};

/// What starts the auto-recharge function: a batch of billing's requests from the recharge queue,
/// or the EventBridge schedule (the backstop sweep).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RechargeTrigger {
    Requests(SqsEvent),
    Schedule(EventBridgeEvent),
}

/// The function's answer: the records to retry, or what the sweep did.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum TriggerAnswer {
    Requests(SqsBatchResponse),
    Sweep {
        due: usize,
        credited: usize,
        failed: usize,
        deferred: usize,
        /// Expired holds the same schedule found, and released.
        holds_due: usize,
        holds_expired: usize,
        /// Closed months the same schedule announced (`statement.monthly_ready`).
        statements_ready: usize,
    },
}

/// The `detail-type` of EventBridge's scheduled events.
const SCHEDULED_EVENT: &str = "Scheduled Event";

impl<S, P, N> AutoRecharger<S, P, N>
where
    S: RechargeStore
        + WalletGet
        + PaymentMethodGet
        + crate::ports::holds::HoldStore
        + crate::ports::statements::StatementSchedule
        + Send
        + Sync,
    P: OffSessionCharge + Send + Sync,
    N: QueueSend + Send + Sync,
{
    /// One invocation: requests get partial batch failures, the schedule a sweep (of wallets
    /// below their minimum, and of expired holds).
    pub async fn handle_trigger(
        &self,
        trigger: RechargeTrigger,
    ) -> Result<TriggerAnswer, RechargeError> {
        match trigger {
            RechargeTrigger::Requests(event) => {
                let outcome = self.handle_requests(&records_from_sqs(event)).await;
                Ok(TriggerAnswer::Requests(batch_response(&outcome.failed)))
            }
            RechargeTrigger::Schedule(event) if event.detail_type == SCHEDULED_EVENT => {
                let outcome = self.sweep().await?;
                let holds = super::holds::sweep_expired_holds(
                    &self.store,
                    &self.notifications,
                    self.clock.now(),
                )
                .await?;
                let statements = super::statements::sweep_closed_months(
                    &self.store,
                    &self.notifications,
                    self.clock.now(),
                )
                .await?;
                Ok(TriggerAnswer::Sweep {
                    due: outcome.due,
                    credited: outcome.credited,
                    failed: outcome.failed,
                    deferred: outcome.deferred,
                    holds_due: holds.due,
                    holds_expired: holds.expired,
                    statements_ready: statements.announced,
                })
            }
            RechargeTrigger::Schedule(event) => Err(RechargeError::Request(format!(
                "unknown event: neither an SQS batch nor the schedule ({})",
                event.detail_type
            ))),
        }
    }
}
