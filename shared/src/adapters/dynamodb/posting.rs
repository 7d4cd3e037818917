//! Posting entries: one conditional transaction per chunk, retried on contention, duplicates
//! recognised by their ids.

use super::*;

/// How a cancelled transaction failed, read from its cancellation reasons (one per item, in order).
enum Cancelled {
    /// These item indexes failed their `attribute_not_exists` condition: already written.
    Duplicates(Vec<usize>),
    /// The wallet changed since it was read, or another transaction held an item: try again.
    Contention,
    /// The condition of this extra item (counted from the first extra) failed.
    ExtraRefused(usize),
    Other(String),
}

fn classify_cancellation(
    error: &TransactWriteItemsError,
    first_entry_index: usize,
    entry_count: usize,
) -> Cancelled {
    let TransactWriteItemsError::TransactionCanceledException(cancelled) = error else {
        return Cancelled::Other(error.to_string());
    };
    let reasons = cancelled.cancellation_reasons();
    let code = |index: usize| {
        reasons
            .get(index)
            .and_then(|reason| reason.code())
            .unwrap_or("None")
    };
    let entries = first_entry_index..first_entry_index + entry_count;
    let duplicates: Vec<usize> = entries
        .clone()
        .filter(|index| code(*index) == "ConditionalCheckFailed")
        .collect();
    if !duplicates.is_empty() {
        return Cancelled::Duplicates(duplicates);
    }
    if let Some(index) =
        (entries.end..reasons.len()).find(|index| code(*index) == "ConditionalCheckFailed")
    {
        return Cancelled::ExtraRefused(index - entries.end);
    }
    let contended = reasons.iter().enumerate().any(|(index, reason)| {
        matches!(
            (index, reason.code()),
            (_, Some("TransactionConflict")) | (0, Some("ConditionalCheckFailed"))
        )
    });
    if contended {
        Cancelled::Contention
    } else {
        let codes: Vec<&str> = (0..reasons.len()).map(code).collect();
        Cancelled::Other(format!("transaction cancelled: {codes:?}"))
    }
}

impl DynamoStore {
    /// The wallet's update in a transaction, only if it is still the version that was read:
    /// balance, `held` and `available = balance − held` together. The same update puts the wallet
    /// in or out of the sparse index of wallets due a recharge, from the settings as read and the
    /// available amount after: the version condition makes that race-free.
    pub(super) fn wallet_update(
        &self,
        wallet: &Wallet,
        balance_after: Money,
        held_after: Money,
        entry_count_after: u64,
        now: OffsetDateTime,
    ) -> Update {
        let available_after = balance_after
            .checked_sub(held_after)
            .expect("held is in the wallet's currency");
        let due = recharge::due_attributes(wallet, available_after);
        built(
            Update::builder()
                .table_name(&self.table)
                .set_key(Some(Self::key(
                    keys::account_pk(&wallet.account_id),
                    keys::WALLET_SK,
                )))
                .update_expression(format!(
                    "SET balance = :balance, held = :held, available = :available, \
                     entry_count = :entry_count, version = :next_version, \
                     can_send = :can_send, updated_at = :now{}",
                    due.expression
                ))
                .set_expression_attribute_values(Some(due.values))
                .condition_expression("version = :version")
                .expression_attribute_values(":balance", decimal_to_n(balance_after.amount()))
                .expression_attribute_values(":held", decimal_to_n(held_after.amount()))
                .expression_attribute_values(":available", decimal_to_n(available_after.amount()))
                .expression_attribute_values(":entry_count", n(entry_count_after))
                .expression_attribute_values(":next_version", n(wallet.version + 1))
                .expression_attribute_values(":version", n(wallet.version))
                .expression_attribute_values(
                    ":can_send",
                    AttributeValue::Bool(available_after.is_positive()),
                )
                .expression_attribute_values(":now", timestamp(now))
                .build(),
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn posting_transaction(
        &self,
        wallet: &Wallet,
        entries: &[LedgerEntry],
        balance_after: Money,
        held_after: Money,
        entry_count_after: u64,
        posted_at: OffsetDateTime,
    ) -> Vec<TransactWriteItem> {
        let account = &wallet.account_id;
        // Item 0: the wallet, only if it is still the version that was read.
        let wallet_update = self.wallet_update(
            wallet,
            balance_after,
            held_after,
            entry_count_after,
            posted_at,
        );
        let mut items = Vec::with_capacity(entries.len() + 2);
        items.push(TransactWriteItem::builder().update(wallet_update).build());
        // Item 1: the journal, so the statement can list entries in order.
        items.push(self.put_new(codec::journal_item(account, entries)));
        // Items 2..: the entries, each only if its id was never posted.
        items.extend(
            entries
                .iter()
                .map(|entry| self.put_new(codec::entry_item(account, entry))),
        );
        items
    }
}

const FIRST_ENTRY_INDEX: usize = 2;
/// Items a posting may add to its transaction: DynamoDB commits at most 100, of which the wallet,
/// the journal and up to [`ENTRIES_PER_POST_MAX`] entries take the rest.
pub const EXTRA_ITEMS_MAX: usize = 100 - FIRST_ENTRY_INDEX - ENTRIES_PER_POST_MAX;

impl DynamoStore {
    /// Posts `batch` like [`EntriesPost::post_entries`], and commits in the same transaction the
    /// items `extras` makes from the wallet as read and the entries actually being posted (never
    /// the replays). If every entry turns out to be a replay, nothing is written, extras included:
    /// what they record happened with the original posting. At most [`EXTRA_ITEMS_MAX`] items.
    pub async fn post_entries_with(
        &self,
        account: &AccountId,
        batch: &[NewEntry],
        posted_at: OffsetDateTime,
        extras: &(dyn Fn(&Wallet, &[LedgerEntry]) -> Vec<TransactWriteItem> + Sync),
    ) -> Result<PostReceipt, StoreError> {
        let mut pending = unique_entries(batch)?;
        let mut already_posted: Vec<LedgerEntry> = Vec::new();
        for attempt in 0..POST_ATTEMPTS_MAX {
            let wallet = self
                .get_wallet(account)
                .await?
                .ok_or_else(|| StoreError::WalletNotFound(account.clone()))?;
            if pending.is_empty() {
                let outcomes = outcomes_in_request_order(batch, Vec::new(), already_posted);
                return Ok(PostReceipt { outcomes, wallet });
            }
            let (plan, items, held_after) = self
                .posting_attempt(account, &wallet, &pending, posted_at, extras)
                .await?;
            let error = match self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await
            {
                Ok(_) => {
                    let wallet = Wallet {
                        balance: plan.balance_after,
                        held: held_after,
                        entry_count: plan.entry_count_after,
                        version: wallet.version + 1,
                        updated_at: posted_at,
                        ..wallet
                    };
                    let outcomes = outcomes_in_request_order(batch, plan.entries, already_posted);
                    return Ok(PostReceipt { outcomes, wallet });
                }
                Err(error) => error,
            };
            let Some(service_error) = error.as_service_error() else {
                return Err(unavailable(error));
            };
            match classify_cancellation(service_error, FIRST_ENTRY_INDEX, plan.entries.len()) {
                Cancelled::Duplicates(indexes) => {
                    debug_assert!(
                        indexes
                            .iter()
                            .all(|i| *i - FIRST_ENTRY_INDEX < pending.len())
                    );
                    self.drop_replays(account, &mut pending, &mut already_posted)
                        .await?;
                }
                Cancelled::Contention => backoff(attempt).await,
                Cancelled::ExtraRefused(index) => {
                    return Err(StoreError::ExtraRefused(index));
                }
                Cancelled::Other(reason) => return Err(StoreError::Unavailable(reason)),
            }
        }
        Err(StoreError::Contended {
            account: account.clone(),
            attempts: POST_ATTEMPTS_MAX,
        })
    }

    /// One attempt's transaction: the wallet, journal and entries of the plan for `pending`, the
    /// `extras`, and the updates of the holds its charges settle; with the plan and the wallet's
    /// `held` after it.
    async fn posting_attempt(
        &self,
        account: &AccountId,
        wallet: &Wallet,
        pending: &[&NewEntry],
        posted_at: OffsetDateTime,
        extras: &(dyn Fn(&Wallet, &[LedgerEntry]) -> Vec<TransactWriteItem> + Sync),
    ) -> Result<(PostingPlan, Vec<TransactWriteItem>, Money), StoreError> {
        // Holds the charges settle, read after the wallet: every change to a hold also moves
        // the wallet's version, so the version condition covers what was read here too.
        let holds = self.holds_named(account, pending).await?;
        let plan = plan_posting(wallet, pending, posted_at)?;
        let settling = crate::holds::settle_charges(&holds, &plan.entries);
        let held_after = holds::held_after(wallet, &settling);
        let mut items = self.posting_transaction(
            wallet,
            &plan.entries,
            plan.balance_after,
            held_after,
            plan.entry_count_after,
            posted_at,
        );
        let extra_items = extras(wallet, &plan.entries);
        assert!(
            extra_items.len() <= EXTRA_ITEMS_MAX,
            "posting extras are bounded by the transaction's item limit"
        );
        items.extend(extra_items);
        items.extend(self.hold_settle_items(account, &settling, posted_at));
        assert!(
            items.len() <= 100,
            "a transaction commits at most 100 items (billing's chunks count holds)"
        );
        Ok((plan, items, held_after))
    }

    /// Some ids were posted before. Which ones is read back (consistently) rather than trusted
    /// from the reasons alone; they move from `pending` to `already_posted`, and the rest go again
    /// at once.
    async fn drop_replays(
        &self,
        account: &AccountId,
        pending: &mut Vec<&NewEntry>,
        already_posted: &mut Vec<LedgerEntry>,
    ) -> Result<(), StoreError> {
        let ids: Vec<&EntryId> = pending.iter().map(|entry| entry.id()).collect();
        let existing = self.get_entries(account, &ids).await?;
        if existing.is_empty() {
            // The condition failed for an entry that is not there: it was never an entry of
            // this account's, so the key space is being misused.
            return Err(StoreError::Corrupt(format!(
                "posting to {account} cancelled for entries that do not exist"
            )));
        }
        pending.retain(|entry| !existing.contains_key(entry.id()));
        already_posted.extend(existing.into_values());
        Ok(())
    }
}

impl EntriesPost for DynamoStore {
    async fn post_entries(
        &self,
        account: &AccountId,
        batch: &[NewEntry],
        posted_at: OffsetDateTime,
    ) -> Result<PostReceipt, StoreError> {
        self.post_entries_with(account, batch, posted_at, &|_, _| Vec::new())
            .await
    }
}
