//! A statement page: newest first, from the journal items, bounded in pages read.

use super::*;

/// Query pages read for one statement page; each returns up to 1 MB, so this is never reached by
/// a well-formed table (journals are a few KB) and only bounds the loop.
const STATEMENT_QUERY_PAGES_MAX: u32 = 8;

impl StatementRead for DynamoStore {
    async fn statement_page(
        &self,
        account: &AccountId,
        request: &StatementRequest,
    ) -> Result<StatementPage, StoreError> {
        let limit = request.limit() as usize;
        let seq_max = request.cursor.map_or(u64::MAX, |cursor| cursor.seq_max());
        // Journals hold one or more entries each, so `limit` journals always cover a page.
        let mut wanted: Vec<(u64, EntryId)> = Vec::with_capacity(limit);
        let mut start_key: Option<Item> = None;
        // The lowest journal the query has looked at, matched or filtered out: where to go on from.
        let mut examined_down_to: Option<u64> = None;
        'pages: for _ in 0..STATEMENT_QUERY_PAGES_MAX {
            let mut query = self
                .account_range(account, keys::journal_sk(0), keys::journal_sk(seq_max))
                .scan_index_forward(false)
                .consistent_read(true)
                .limit(i32::try_from(limit).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start_key.take());
            if let Some(range) = request.posted {
                // Applied after `Limit`, so a filtered page may come back short: bounded by
                // STATEMENT_QUERY_PAGES_MAX, and the cursor says where to continue.
                query = query
                    .filter_expression("posted_at_ms BETWEEN :from AND :to")
                    .expression_attribute_values(":from", codec::epoch_ms(range.from))
                    .expression_attribute_values(":to", codec::epoch_ms(range.to));
            }
            let output = query.send().await.map_err(unavailable)?;
            for journal in output.items() {
                let lines = codec::journal_from_item(journal)?;
                examined_down_to = lines.first().map(|(seq, _)| *seq);
                wanted.extend(
                    lines
                        .into_iter()
                        .rev()
                        .filter(|(seq, _)| *seq <= seq_max)
                        .take(limit - wanted.len()),
                );
                if wanted.len() == limit {
                    break 'pages;
                }
            }
            start_key = output.last_evaluated_key().cloned();
            let Some(last) = &start_key else {
                break;
            };
            examined_down_to = Some(journal_first_seq(account, last)?);
        }
        let entries = self.journal_entries(account, &wanted).await?;
        // Newest first and gap-free within a page (a time filter drops whole postings only).
        debug_assert!(entries.windows(2).all(|pair| pair[0].seq > pair[1].seq));
        let next_seq_max = if entries.len() == limit {
            entries.last().map(|oldest| oldest.seq - 1)
        } else if start_key.is_some() {
            // Stopped by the page bound before the ledger ended.
            examined_down_to.map(|first_seq| first_seq - 1)
        } else {
            None
        };
        Ok(StatementPage {
            entries,
            next_cursor: next_seq_max
                .filter(|seq| *seq >= 1)
                .map(StatementCursor::starting_at),
        })
    }
}

/// The first sequence number of the journal whose key is `key`.
fn journal_first_seq(account: &AccountId, key: &Item) -> Result<u64, StoreError> {
    codec::Reader(key)
        .str(keys::SK)?
        .strip_prefix(keys::JOURNAL_SK_PREFIX)
        .and_then(|digits| digits.parse::<u64>().ok())
        .ok_or_else(|| StoreError::Corrupt(format!("journal key of {account}")))
}

impl DynamoStore {
    /// The entries a journal names, in its order; each must exist with the sequence it names.
    async fn journal_entries(
        &self,
        account: &AccountId,
        wanted: &[(u64, EntryId)],
    ) -> Result<Vec<LedgerEntry>, StoreError> {
        let ids: Vec<&EntryId> = wanted.iter().map(|(_, id)| id).collect();
        let mut found = self.get_entries(account, &ids).await?;
        let mut entries = Vec::with_capacity(wanted.len());
        for (seq, id) in wanted {
            let entry = found
                .remove(id)
                .filter(|entry| entry.seq == *seq)
                .ok_or_else(|| {
                    StoreError::Corrupt(format!(
                        "journal of {account} names entry {seq} ({id}), which is missing"
                    ))
                })?;
            entries.push(entry);
        }
        Ok(entries)
    }
}
