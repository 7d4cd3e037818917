//! The one-off backfill of the monthly statement schedule, as a port: wallets stored before the
//! schedule existed carry none, so the sweep never announces their months. An operator's
//! maintenance job (never a request path) finds them a bounded page at a time, resumable from the
//! cursor each page answers, and gives each the schedule a new wallet gets; running it again finds
//! nothing to do.

use std::future::Future;

use time::OffsetDateTime;

use super::store::StoreError;

/// Items one page evaluates at most (DynamoDB's `Limit` on a `Scan`, before its filter).
pub const BACKFILL_PAGE_ITEMS_MAX: u32 = 1_000;
/// Pages one run reads at most; the run answers where to resume.
pub const BACKFILL_PAGES_MAX: u32 = 10_000;

/// What one page did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackfillPage {
    /// Items the page evaluated (of any kind).
    pub items_examined: u64,
    /// Wallets the page found without a schedule.
    pub wallets_unscheduled: u64,
    /// Of those, given their schedule now (the rest gained one concurrently: a zone change).
    pub scheduled: u64,
    /// Where the next page starts (printed for the operator to resume with); `None` when the
    /// table is done.
    pub next: Option<BackfillCursor>,
}

/// Where a backfill resumes: the key of the last item a page evaluated, written as a JSON array
/// `["<pk>","<sk>"]` so an operator can copy it from one run's output to the next's `--resume`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackfillCursor {
    pub pk: String,
    pub sk: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a backfill cursor is the JSON array [\"<pk>\",\"<sk>\"] a run printed")]
pub struct BadBackfillCursor;

impl std::fmt::Display for BackfillCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = serde_json::to_string(&[&self.pk, &self.sk]).map_err(|_| std::fmt::Error)?;
        f.write_str(&text)
    }
}

impl std::str::FromStr for BackfillCursor {
    type Err = BadBackfillCursor;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let [pk, sk]: [String; 2] = serde_json::from_str(text).map_err(|_| BadBackfillCursor)?;
        if pk.is_empty() || sk.is_empty() {
            return Err(BadBackfillCursor);
        }
        Ok(Self { pk, sk })
    }
}

pub trait StatementBackfill {
    /// One page after `resume` (a `next` this answered before; `None`: from the start), of at
    /// most `items_max` items: every wallet without a schedule gets the one of the month `now`
    /// is in (in its reporting time zone), by a write conditioned on it still having none.
    fn backfill_schedule_page(
        &self,
        resume: Option<&BackfillCursor>,
        items_max: u32,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<BackfillPage, StoreError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_as_printed_and_nothing_else_reads() {
        let cursor = BackfillCursor {
            pk: "ACCOUNT#acme".into(),
            sk: "ENTRY#\"quoted\"".into(),
        };
        assert_eq!(cursor.to_string().parse(), Ok(cursor));
        for bad in [
            "",
            "[]",
            "[\"a\"]",
            "[\"a\",\"\"]",
            "{\"pk\":\"a\"}",
            "[\"a\",\"b\",\"c\"]",
        ] {
            assert_eq!(
                bad.parse::<BackfillCursor>(),
                Err(BadBackfillCursor),
                "{bad}"
            );
        }
    }
}
