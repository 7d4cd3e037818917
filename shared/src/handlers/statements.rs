//! `statement.monthly_ready`, once per account and month: the scheduled sweep (the auto-recharge
//! function's schedule, the runner's tick) finds the accounts whose month has closed in their
//! reporting time zone, publishes the event and schedules the next month.
//!
//! The event is published *before* the schedule moves, and its id is `statement.monthly_ready:
//! <account>:<YYYY-MM>`: a crash in between, or two sweeps at once, publish the same id again,
//! which the feed stores once and the notifications consumer delivers once.

use tracing::{info, warn};

use crate::notices::delivery::event_message;
use crate::notices::event::{Event, EventData};
use crate::ports::queue::QueueSend;
use crate::ports::statements::{STATEMENT_SWEEP_MAX, StatementSchedule};
use crate::ports::store::StoreError;

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StatementSweep {
    /// Months the schedule listed as closed.
    pub due: usize,
    /// Published and moved on by this sweep.
    pub announced: usize,
}

/// The event of a closed month (its time: when the month closed).
pub fn monthly_ready(closed: &crate::ports::statements::ClosedMonth) -> Option<Event> {
    let month = closed.month.label();
    let data = EventData::StatementMonthlyReady {
        month: month.clone(),
    };
    Event::new(&closed.account, &month, closed.closed_at, data)
        .inspect_err(|error| warn!(%error, "a statement's event id is not valid"))
        .ok()
}

/// Announces at most [`STATEMENT_SWEEP_MAX`] closed months. Safe to run concurrently and again.
pub async fn sweep_closed_months<S, N>(
    store: &S,
    notifications: &N,
    now: time::OffsetDateTime,
) -> Result<StatementSweep, StoreError>
where
    S: StatementSchedule + Sync,
    N: QueueSend + Sync,
{
    let closed = store.closed_months(now, STATEMENT_SWEEP_MAX).await?;
    let mut sweep = StatementSweep {
        due: closed.len(),
        announced: 0,
    };
    for month in &closed {
        if let Some(event) = monthly_ready(month) {
            notifications
                .send_all(&[event_message(&event)])
                .await
                .map_err(|error| StoreError::Unavailable(format!("notifications: {error}")))?;
        }
        match store.advance_statement(month).await {
            Ok(true) => sweep.announced += 1,
            Ok(false) => {}
            Err(error) if error.is_retryable() => {
                warn!(account = %month.account, %error, "statement schedule deferred");
            }
            Err(error) => return Err(error),
        }
    }
    if sweep.due > 0 {
        info!(
            due = sweep.due,
            announced = sweep.announced,
            "statement sweep done"
        );
    }
    Ok(sweep)
}
