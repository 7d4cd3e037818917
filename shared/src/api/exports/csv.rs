//! CSV exports, streamed: a header row, then one chunk per ledger or purchase page as it is read.
//! Newest first, like the lists they export. Bounded by a range (at most [`EXPORT_DAYS_MAX`] days)
//! and by [`EXPORT_ROWS_MAX`] rows; an export that reaches the row bound ends with a `#` line
//! saying so (narrow the range to get the rest).
//!
//! Cells are RFC 4180 quoted when they hold a comma, a quote or a line break; text cells that a
//! spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR first) are prefixed with `'`.

use std::collections::HashMap;

use axum::body::{Body, Bytes};
use axum::response::Response;
use futures_util::stream;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::super::error::ApiError;
use super::super::wallet::load_wallet;
use super::super::{ApiStore, AppState};
use super::{bytes, charge_labels, csv_response, export_range, rfc3339};
use crate::ids::AccountId;
use crate::ledger::{EntryId, LedgerEntry, StatementCursor};
use crate::payments::purchase::{Purchase, PurchaseCursor};
use crate::ports::store::{PostedRange, PurchaseListRequest, StatementRequest};

/// Longest export range, in days.
pub const EXPORT_DAYS_MAX: i64 = 400;
/// The range when `from` is not given: 31 days before `to`.
pub const EXPORT_DAYS_DEFAULT: i64 = 31;
/// Most rows one export holds (about 3 MB: under the 6 MB a Lambda answer may carry).
pub const EXPORT_ROWS_MAX: usize = 20_000;
/// Ledger pages read past the range's newest end before giving up (entries newer than `to`).
const PAGES_MAX: usize = EXPORT_ROWS_MAX / 100 + 200;
/// Posting times are nearly in sequence order; the walk stops this far below `from`.
const ORDER_SLACK: time::Duration = time::Duration::minutes(1);
/// Purchases per history page: two entry ids each fit one `BatchGetItem` of 100.
const PURCHASE_PAGE: u32 = 50;

/// One CSV cell.
pub fn cell(text: &str) -> String {
    let guarded = match text.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => format!("'{text}"),
        _ => text.to_owned(),
    };
    if guarded.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

/// `from` and `to` (RFC 3339); nothing else but `format`, which the router took out.
pub fn range_params(query: Option<&str>, now: OffsetDateTime) -> Result<PostedRange, ApiError> {
    let (mut from, mut to) = (None, None);
    for (name, value) in super::super::query::pairs(query)? {
        let time = |field: &str| {
            OffsetDateTime::parse(&value, &Rfc3339)
                .map_err(|_| ApiError::invalid_field(field, "expected an RFC 3339 time"))
        };
        match name.as_str() {
            "from" => from = Some(time("from")?),
            "to" => to = Some(time("to")?),
            other => return Err(super::super::query::unknown(other, "from, to, format")),
        }
    }
    export_range(from, to, now)
}

/// Where an item of a page (newest first) stands against the export's range.
enum Place {
    /// Older than the range: this and everything after it is out; the export ends.
    Older,
    /// Newer than the range (or, for ledger entries, just out of order): skipped.
    Outside,
    Inside,
}

/// Appends the rows of `items` that lie in the range to `chunk`, counting them in `rows`; whether
/// the export ended (an item older than the range, or [`EXPORT_ROWS_MAX`] rows, said in a `#`
/// line).
fn push_rows<T>(
    chunk: &mut String,
    rows: &mut usize,
    items: &[T],
    place: impl Fn(&T) -> Place,
    row: impl Fn(&T) -> String,
) -> bool {
    for item in items {
        match place(item) {
            Place::Older => return true,
            Place::Outside => continue,
            Place::Inside => {}
        }
        if *rows == EXPORT_ROWS_MAX {
            chunk.push_str(&format!(
                "# more than {EXPORT_ROWS_MAX} rows: narrow the range (from, to) for the rest\n"
            ));
            return true;
        }
        chunk.push_str(&row(item));
        *rows += 1;
    }
    false
}

/// A CSV answer: `header`, then the chunks of `rows` as they come.
fn streamed(
    filename: &str,
    header: &'static str,
    rows: impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
) -> Response {
    let header = stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(
        header.as_bytes(),
    ))]);
    csv_response(
        filename,
        Body::from_stream(futures_util::StreamExt::chain(header, rows)),
    )
}

const STATEMENT_HEADER: &str = "seq,entry_id,kind,posted_at,occurred_at,description,category,\
                                market,amount,balance_after,currency\n";

fn statement_row(entry: &LedgerEntry) -> String {
    let (category, market) = charge_labels(entry);
    format!(
        "{},{},{},{},{},{},{},{},{},{},{}\n",
        entry.seq,
        cell(entry.id.as_str()),
        entry.kind.as_str(),
        rfc3339(entry.posted_at),
        rfc3339(entry.occurred_at),
        cell(&entry.description),
        cell(category),
        cell(market),
        entry.amount.amount(),
        entry.balance_after.amount(),
        entry.amount.currency().code(),
    )
}

/// Where an export stands: the page cursor (of type `C`), rows and pages so far.
struct Walk<S, C> {
    app: AppState<S>,
    account: AccountId,
    range: PostedRange,
    cursor: Option<C>,
    rows: usize,
    pages: usize,
    done: bool,
}

impl<S: ApiStore, C> Walk<S, C> {
    /// The start of an export of `account` over the query's range (the wallet must exist), and
    /// the file name `<name>-<account>.csv`.
    async fn start(
        app: AppState<S>,
        account: AccountId,
        query: Option<&str>,
        name: &str,
    ) -> Result<(Self, String), ApiError> {
        let range = range_params(query, app.clock.now())?;
        load_wallet(&app, &account).await?;
        let filename = format!("{name}-{account}.csv");
        let walk = Walk {
            app,
            account,
            range,
            cursor: None,
            rows: 0,
            pages: 0,
            done: false,
        };
        Ok((walk, filename))
    }
}

/// The next chunk of a statement export; `None` once it ended.
async fn next_statement_chunk<S: ApiStore>(
    mut walk: Walk<S, StatementCursor>,
) -> Option<(Result<Bytes, std::io::Error>, Walk<S, StatementCursor>)> {
    if walk.done {
        return None;
    }
    walk.pages += 1;
    let request = StatementRequest::new(100, walk.cursor);
    let page = match walk.app.store.statement_page(&walk.account, &request).await {
        Ok(page) => page,
        Err(error) => {
            tracing::warn!(%error, account = %walk.account, "statement export stopped");
            walk.done = true;
            return Some((Err(std::io::Error::other(error.to_string())), walk));
        }
    };
    let range = walk.range;
    let mut chunk = String::new();
    let place = |entry: &LedgerEntry| {
        if entry.posted_at < range.from - ORDER_SLACK {
            Place::Older
        } else if entry.posted_at < range.from || entry.posted_at > range.to {
            Place::Outside
        } else {
            Place::Inside
        }
    };
    walk.done = push_rows(
        &mut chunk,
        &mut walk.rows,
        &page.entries,
        place,
        statement_row,
    );
    walk.cursor = page.next_cursor;
    if walk.cursor.is_none() || walk.pages == PAGES_MAX {
        walk.done = true;
    }
    Some((Ok(bytes(chunk)), walk))
}

/// `GET /v1/wallet/statement` as CSV.
pub async fn statement_csv<S: ApiStore>(
    app: AppState<S>,
    account: AccountId,
    query: Option<&str>,
) -> Result<Response, ApiError> {
    let (walk, filename) = Walk::start(app, account, query, "statement").await?;
    let rows = stream::unfold(walk, next_statement_chunk);
    Ok(streamed(&filename, STATEMENT_HEADER, rows))
}

const PAYMENTS_HEADER: &str = "purchase_id,created_at,status,credits,unit_price,subtotal,fee,\
                               total,currency,paid_at,entry_id,balance_after\n";

fn payment_row(purchase: &Purchase, credited: Option<&LedgerEntry>) -> String {
    let quote = &purchase.quote;
    format!(
        "{},{},{},{},{},{},{},{},{},{},{},{}\n",
        cell(purchase.id.as_str()),
        rfc3339(purchase.created_at),
        purchase.status,
        quote.credits,
        quote.unit_price.amount(),
        quote.subtotal.amount(),
        quote.fee.amount(),
        quote.total.amount(),
        quote.total.currency().code(),
        purchase.paid_at.map(rfc3339).unwrap_or_default(),
        credited
            .map(|entry| cell(entry.id.as_str()))
            .unwrap_or_default(),
        credited
            .map(|entry| entry.balance_after.amount().to_string())
            .unwrap_or_default(),
    )
}

/// The entries that credited these purchases (a purchase's, or an auto-recharge's).
async fn credits_of<S: ApiStore>(
    app: &AppState<S>,
    account: &AccountId,
    purchases: &[Purchase],
) -> Result<HashMap<EntryId, LedgerEntry>, crate::ports::store::StoreError> {
    let ids: Vec<EntryId> = purchases
        .iter()
        .filter(|purchase| purchase.paid_at.is_some())
        .flat_map(|purchase| {
            [
                EntryId::purchase(purchase.id.as_str()).ok(),
                EntryId::auto_recharge(purchase.id.as_str()).ok(),
            ]
        })
        .flatten()
        .collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    app.store.entries_by_id(account, &ids).await
}

async fn next_payments_chunk<S: ApiStore>(
    mut walk: Walk<S, PurchaseCursor>,
) -> Option<(Result<Bytes, std::io::Error>, Walk<S, PurchaseCursor>)> {
    if walk.done {
        return None;
    }
    let request = PurchaseListRequest::new(PURCHASE_PAGE, walk.cursor.take());
    let page = walk.app.store.purchase_page(&walk.account, &request).await;
    let page = match page {
        Ok(page) => page,
        Err(error) => {
            walk.done = true;
            return Some((Err(std::io::Error::other(error.to_string())), walk));
        }
    };
    let credits = match credits_of(&walk.app, &walk.account, &page.purchases).await {
        Ok(credits) => credits,
        Err(error) => {
            walk.done = true;
            return Some((Err(std::io::Error::other(error.to_string())), walk));
        }
    };
    let range = walk.range;
    let mut chunk = String::new();
    let place = |purchase: &Purchase| {
        if purchase.created_at < range.from {
            Place::Older
        } else if purchase.created_at > range.to {
            Place::Outside
        } else {
            Place::Inside
        }
    };
    let row = |purchase: &Purchase| {
        let credited = [
            EntryId::purchase(purchase.id.as_str()).ok(),
            EntryId::auto_recharge(purchase.id.as_str()).ok(),
        ]
        .into_iter()
        .flatten()
        .find_map(|id| credits.get(&id));
        payment_row(purchase, credited)
    };
    walk.done = push_rows(&mut chunk, &mut walk.rows, &page.purchases, place, row);
    walk.cursor = page.next_cursor;
    if walk.cursor.is_none() {
        walk.done = true;
    }
    Some((Ok(bytes(chunk)), walk))
}

/// `GET /v1/wallet/purchases` as CSV: the payment history, with the balance each credit left.
pub async fn payments_csv<S: ApiStore>(
    app: AppState<S>,
    account: AccountId,
    query: Option<&str>,
) -> Result<Response, ApiError> {
    let (walk, filename) = Walk::start(app, account, query, "payments").await?;
    let rows = stream::unfold(walk, next_payments_chunk);
    Ok(streamed(&filename, PAYMENTS_HEADER, rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_quoted_and_formulas_defused() {
        assert_eq!(cell("plain"), "plain");
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(cell("-1+2,3"), "\"'-1+2,3\"");
        assert_eq!(cell("line\nbreak"), "\"line\nbreak\"");
    }
}
