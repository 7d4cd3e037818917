//! Two loops over the ledger's ports that more than one use case runs (an operator's re-rate, a
//! volume tier's true-up): posting any number of entries as postings the ledger accepts, and
//! reading what was posted within a range, bounded in pages. Written once, so their bounds live
//! in one place.

use time::OffsetDateTime;

use super::store::{
    EntriesPost, PostedRange, STATEMENT_PAGE_LIMIT_MAX, StatementRead, StatementRequest, StoreError,
};
use crate::ids::AccountId;
use crate::ledger::{ENTRIES_PER_POST_MAX, LedgerEntry, NewEntry};

/// Posts `entries` in postings of at most [`ENTRIES_PER_POST_MAX`], all at `posted_at`. Each
/// posting is atomic and entry ids are deterministic, so a retry after a failed one posts only
/// what is missing. Answers how many entries this call newly posted.
pub async fn post_in_chunks<S: EntriesPost + Sync>(
    store: &S,
    account: &AccountId,
    entries: &[NewEntry],
    posted_at: OffsetDateTime,
) -> Result<usize, StoreError> {
    let mut posted = 0;
    for chunk in entries.chunks(ENTRIES_PER_POST_MAX) {
        let receipt = store.post_entries(account, chunk, posted_at).await?;
        posted += receipt.posted_count();
    }
    Ok(posted)
}

/// The account's entries posted within `range`, newest first, read in at most `pages_max`
/// statement pages of [`STATEMENT_PAGE_LIMIT_MAX`] entries. `None` when more were posted than
/// those pages hold: the caller says what the bound means for its request.
pub async fn posted_within<S: StatementRead + Sync>(
    store: &S,
    account: &AccountId,
    range: PostedRange,
    pages_max: usize,
) -> Result<Option<Vec<LedgerEntry>>, StoreError> {
    let mut entries = Vec::new();
    let mut cursor = None;
    for _ in 0..pages_max {
        let request = StatementRequest::new(STATEMENT_PAGE_LIMIT_MAX, cursor).posted_within(range);
        let page = store.statement_page(account, &request).await?;
        entries.extend(page.entries);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(Some(entries)),
        }
    }
    Ok(None)
}
