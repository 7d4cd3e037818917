//! The operator's one-off job that gives wallets stored before the monthly statement schedule
//! their schedule ([`crate::ports::statement_backfill`]): bounded (pages of at most
//! [`BACKFILL_PAGE_ITEMS_MAX`] items, at most `pages_max` a run), resumable (a run that stops
//! early answers where to go on) and idempotent (a wallet with a schedule is never touched).

use tracing::info;

use crate::ports::statement_backfill::{
    BACKFILL_PAGE_ITEMS_MAX, BACKFILL_PAGES_MAX, BackfillCursor, StatementBackfill,
};
use crate::ports::store::StoreError;

/// What one run did, and where the next run resumes (`None`: the whole table is done).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackfillRun {
    pub pages: u32,
    pub items_examined: u64,
    pub wallets_unscheduled: u64,
    pub scheduled: u64,
    pub resume: Option<BackfillCursor>,
}

/// Reads at most `pages_max` pages of `items_max` items from `resume` (or the start), giving every
/// wallet without a schedule the one of the month `now` is in.
pub async fn backfill_statement_schedule<S: StatementBackfill + Sync>(
    store: &S,
    resume: Option<BackfillCursor>,
    items_max: u32,
    pages_max: u32,
    now: time::OffsetDateTime,
) -> Result<BackfillRun, StoreError> {
    assert!((1..=BACKFILL_PAGE_ITEMS_MAX).contains(&items_max));
    assert!((1..=BACKFILL_PAGES_MAX).contains(&pages_max));
    let mut run = BackfillRun {
        resume,
        ..BackfillRun::default()
    };
    while run.pages < pages_max {
        let page = store
            .backfill_schedule_page(run.resume.as_ref(), items_max, now)
            .await?;
        run.pages += 1;
        run.items_examined += page.items_examined;
        run.wallets_unscheduled += page.wallets_unscheduled;
        run.scheduled += page.scheduled;
        run.resume = page.next;
        if run.resume.is_none() {
            break;
        }
    }
    info!(
        pages = run.pages,
        scheduled = run.scheduled,
        done = run.resume.is_none(),
        "statement schedule backfill"
    );
    Ok(run)
}
