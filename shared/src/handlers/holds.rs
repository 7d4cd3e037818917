//! Holds in the event handlers: a failed status sent under a hold (billing), and the scheduled
//! sweep that releases expired holds (the auto-recharge function's schedule, the runner's tick).

use tracing::{info, warn};

use crate::holds::{FailedSend, HoldStatus, parse_tag};
use crate::meta::{MessageStatus, StatusEvent};
use crate::notices::delivery::event_message;
use crate::ports::holds::{HoldReleased, HoldStore, SWEEP_HOLDS_MAX};
use crate::ports::queue::QueueSend;
use crate::ports::store::StoreError;
use crate::pricing::{Category, market_of};

/// The release a `failed` status asks for, when the message was sent under a hold's tag.
pub fn failed_send(event: &StatusEvent) -> Option<FailedSend> {
    if event.status != MessageStatus::Failed {
        return None;
    }
    let tag = event.biz_opaque_callback_data.as_ref()?;
    let hold = parse_tag(tag.reveal()).hold?;
    let market = event
        .billed_recipient()
        .and_then(|recipient| market_of(recipient.reveal()).market());
    let category = event
        .pricing
        .as_ref()
        .and_then(|pricing| pricing.category.as_deref())
        .map(Category::from_meta);
    Some(FailedSend {
        hold,
        wamid: event.wamid.as_str().to_owned(),
        market,
        category,
    })
}

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct HoldSweep {
    /// Holds the expiry index listed as due.
    pub due: usize,
    /// Released by this sweep (a hold another sweep or its sender closed first is not counted).
    pub expired: usize,
}

/// Releases the open holds whose expiry has passed, found through the sparse expiry index (never
/// a scan), at most [`SWEEP_HOLDS_MAX`] a run, and publishes the `balance.recovered` of a release
/// that took `available` back above zero. Safe to run concurrently and repeatedly: each release is
/// conditional on the hold still being open.
pub async fn sweep_expired_holds<S, N>(
    store: &S,
    notifications: &N,
    now: time::OffsetDateTime,
) -> Result<HoldSweep, StoreError>
where
    S: HoldStore + Sync,
    N: QueueSend + Sync,
{
    let found = store.expired_holds(now, SWEEP_HOLDS_MAX).await?;
    let mut sweep = HoldSweep {
        due: found.holds.len(),
        expired: 0,
    };
    for (account, hold) in &found.holds {
        match store
            .release_hold(account, hold, HoldStatus::Expired, now)
            .await
        {
            Ok(Some(HoldReleased::Released(released))) => {
                sweep.expired += 1;
                publish_recovery(notifications, &released).await?;
            }
            Ok(_) => {}
            // One wallet's trouble does not stop the others; the next run finds it again.
            Err(error) if error.is_retryable() => {
                warn!(%account, %hold, %error, "hold expiry deferred");
            }
            Err(error) => return Err(error),
        }
    }
    info!(due = sweep.due, expired = sweep.expired, "hold sweep done");
    Ok(sweep)
}

/// The release's `balance.recovered`, if it made one. The hold has left the expiry index, so a
/// queue that refuses it fails the sweep loudly (the scheduled run's error and alarm) rather than
/// dropping it quietly; a `DELETE` of the hold publishes the same id again.
async fn publish_recovery<N: QueueSend + Sync>(
    notifications: &N,
    hold: &crate::holds::Hold,
) -> Result<(), StoreError> {
    let event = match crate::notices::holds::release_event(hold) {
        Ok(Some(event)) => event,
        Ok(None) => return Ok(()),
        Err(error) => {
            warn!(%error, "a hold's event id is not valid; not published");
            return Ok(());
        }
    };
    notifications
        .send_all(&[event_message(&event)])
        .await
        .map_err(|error| StoreError::Unavailable(format!("notifications: {error}")))
}
