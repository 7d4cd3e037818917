//! The schedule of monthly statements, as a port: which accounts' months have closed (found
//! through an index, never a scan) and moving an account on to its next month once announced.

use std::future::Future;

use time::OffsetDateTime;

use super::store::StoreError;
use crate::ids::AccountId;
use crate::reporting::closing::StatementMonth;

/// Closed months one sweep announces at most; the next run takes the rest.
pub const STATEMENT_SWEEP_MAX: usize = 500;

/// An account whose `month` closed (in its reporting time zone) and is not yet announced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosedMonth {
    pub account: AccountId,
    pub month: StatementMonth,
    pub closed_at: OffsetDateTime,
}

pub trait StatementSchedule {
    /// Accounts whose scheduled month closed at or before `now`, at most `limit`.
    fn closed_months(
        &self,
        now: OffsetDateTime,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<ClosedMonth>, StoreError>> + Send;

    /// Schedules the month after `closed.month` (closing in the wallet's zone), only if the
    /// schedule still names `closed.month`; `false` when another sweep moved it first.
    fn advance_statement(
        &self,
        closed: &ClosedMonth,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}
