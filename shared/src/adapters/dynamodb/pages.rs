//! The two newest-first page readers the lists share: one for log items keyed
//! `<prefix><created ms>#<id>` (purchases, holds) with a cursor that is the last key shown, and one
//! for items under a sort-key prefix paged by DynamoDB's own `LastEvaluatedKey` (notices,
//! webhook deliveries); the one bounded sweep of a sharded sparse index (expired holds, closed
//! statement months, wallets due a recharge); and the one consistent read of a single item.

use super::codec::s;
use super::codec::{Item, Reader};
use super::{DynamoStore, keys, unavailable};
use crate::ids::AccountId;
use crate::ports::store::StoreError;

/// Items one query page of an index sweep returns at most.
const SWEEP_PAGE_ITEMS_MAX: usize = 100;

/// A sweep of a sharded sparse index: which index, its partition key attribute and, when the
/// sweep wants a key range, the sort key attribute and the bound its keys are below.
pub(super) struct IndexSweep<'a> {
    pub index: &'a str,
    pub pk_attribute: &'a str,
    pub sk_below: Option<(&'a str, String)>,
}

impl DynamoStore {
    /// One item by its key, read consistently.
    pub(super) async fn get_item(&self, key: Item) -> Result<Option<Item>, StoreError> {
        let output = self
            .client()
            .get_item()
            .table_name(self.table())
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(output.item().cloned())
    }

    /// Up to `limit` of one account's log items under `prefix`, newest first, older than
    /// `cursor_sk` (the last key of the page before) when given, each read by `parse` from its
    /// sort key and item; and whether there are more.
    pub(super) async fn log_page<T>(
        &self,
        account: &AccountId,
        prefix: &str,
        cursor_sk: Option<String>,
        limit: usize,
        parse: impl Fn(&str, &Item) -> Result<T, StoreError>,
    ) -> Result<(Vec<T>, bool), StoreError> {
        // BETWEEN is inclusive: the cursor's own log item may come back first and is skipped, and
        // one more beyond the page tells whether there is a next one. '$' follows '#': every log
        // key sorts below it.
        let high = cursor_sk
            .clone()
            .unwrap_or_else(|| format!("{}$", prefix.trim_end_matches('#')));
        let output = self
            .account_range(account, prefix.to_owned(), high)
            .scan_index_forward(false)
            .consistent_read(true)
            .limit(i32::try_from(limit + 2).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(unavailable)?;
        let mut logged = Vec::with_capacity(limit + 1);
        for item in output.items() {
            let sk = Reader(item).str(keys::SK)?;
            if Some(sk) == cursor_sk.as_deref() {
                continue;
            }
            logged.push(parse(sk, item)?);
        }
        let more = logged.len() > limit;
        logged.truncate(limit);
        Ok((logged, more))
    }

    /// Up to `limit` items of partition `pk` whose sort keys begin with `prefix`, newest first,
    /// after `start` (a key) when given, each read by `parse`; and the next page's cursor: the
    /// last key DynamoDB evaluated, without the prefix.
    pub(super) async fn prefix_page<T>(
        &self,
        pk: String,
        prefix: &str,
        limit: u32,
        start: Option<Item>,
        parse: impl Fn(&Item) -> Result<T, StoreError>,
    ) -> Result<(Vec<T>, Option<String>), StoreError> {
        let output = self
            .client()
            .query()
            .table_name(self.table())
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", super::codec::s(pk))
            .expression_attribute_values(":prefix", super::codec::s(prefix))
            .scan_index_forward(false)
            .limit(i32::try_from(limit).expect("bounded above"))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(unavailable)?;
        let items = output
            .items()
            .iter()
            .map(parse)
            .collect::<Result<Vec<_>, _>>()?;
        let next_cursor = output.last_evaluated_key().and_then(|last| {
            let sk = last.get(keys::SK)?.as_s().ok()?;
            sk.strip_prefix(prefix).map(str::to_owned)
        });
        Ok((items, next_cursor))
    }

    /// Reads the `partitions` of `sweep.index` in order, in pages of at most
    /// [`SWEEP_PAGE_ITEMS_MAX`] items, handing each to `take` (which answers whether it kept it),
    /// until `limit` are kept or every partition has ended; answers the items read. Bounded:
    /// every page but a partition's last returns items, and `take` keeps at least one of any two
    /// in a row (the due index lists a wallet at most twice, side by side), so at most
    /// `partitions + 2 * limit` pages are read.
    pub(super) async fn sweep_index(
        &self,
        sweep: &IndexSweep<'_>,
        partitions: Vec<String>,
        limit: usize,
        mut take: impl FnMut(&Item) -> Result<bool, StoreError>,
    ) -> Result<usize, StoreError> {
        let pages_max = partitions.len() + 2 * limit;
        let (mut kept, mut items_read, mut pages) = (0, 0, 0);
        let condition = match sweep.sk_below {
            Some(_) => "#pk = :pk AND #sk < :upper",
            None => "#pk = :pk",
        };
        for partition in partitions {
            let mut start_key: Option<Item> = None;
            loop {
                if kept >= limit || pages >= pages_max {
                    return Ok(items_read);
                }
                pages += 1;
                let page_items = (limit - kept).min(SWEEP_PAGE_ITEMS_MAX);
                let mut query = self
                    .client()
                    .query()
                    .table_name(self.table())
                    .index_name(sweep.index)
                    .key_condition_expression(condition)
                    .expression_attribute_names("#pk", sweep.pk_attribute)
                    .expression_attribute_values(":pk", s(partition.as_str()))
                    .limit(i32::try_from(page_items).expect("at most a page"))
                    .set_exclusive_start_key(start_key.take());
                if let Some((sk_attribute, upper)) = &sweep.sk_below {
                    query = query
                        .expression_attribute_names("#sk", *sk_attribute)
                        .expression_attribute_values(":upper", s(upper.as_str()));
                }
                let output = query.send().await.map_err(unavailable)?;
                for item in output.items() {
                    items_read += 1;
                    if take(item)? {
                        kept += 1;
                    }
                }
                start_key = output.last_evaluated_key().cloned();
                if start_key.is_none() {
                    break;
                }
            }
        }
        Ok(items_read)
    }
}
