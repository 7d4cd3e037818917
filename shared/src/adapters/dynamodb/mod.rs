//! The store on DynamoDB: one table, every balance change one conditional transaction.
//!
//! The same adapter serves AWS, DynamoDB Local in tests and the embedded engine of the local
//! runner; only the endpoint differs.

pub mod codec;
pub mod keys;
pub mod notices;
pub mod purchases;
pub mod rate_cards;
pub mod recharge;
pub mod table;
pub mod usage;
pub mod webhooks;

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, KeysAndAttributes, Put, TransactWriteItem, Update,
};
use time::OffsetDateTime;

use crate::ids::{AccountId, PhoneNumberId};
use crate::ledger::{
    ENTRIES_PER_POST_MAX, EntryId, LedgerEntry, NewEntry, StatementCursor,
    outcomes_in_request_order, plan_posting, unique_entries,
};
use crate::money::Money;
use crate::ports::store::{
    EntriesPost, PostReceipt, RouteGet, RouteSet, StatementPage, StatementRead, StatementRequest,
    StoreError, WalletCreate, WalletGet, WalletSettingsSet,
};
use crate::wallet::{AutoRecharge, NewWallet, Wallet};
use codec::{Item, decimal_to_n, n, s, timestamp};

/// Attempts at a posting whose wallet keeps changing under it before giving up (the caller, or
/// the queue, retries later). With the backoff below, at most about six seconds of waiting.
pub const POST_ATTEMPTS_MAX: u32 = 48;
const BACKOFF_BASE: Duration = Duration::from_millis(4);
const BACKOFF_CAP: Duration = Duration::from_millis(160);
/// Rounds of `BatchGetItem` for keys DynamoDB left unprocessed (it does under throttling).
const BATCH_GET_ROUNDS_MAX: u32 = 8;
/// Query pages read for one statement page; each returns up to 1 MB, so this is never reached by
/// a well-formed table (journals are a few KB) and only bounds the loop.
const STATEMENT_QUERY_PAGES_MAX: u32 = 8;

/// The DynamoDB store. Cheap to clone: the client is shared.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

pub(crate) fn unavailable<E, R>(error: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    StoreError::Unavailable(DisplayErrorContext(error).to_string())
}

pub(crate) fn built<T>(result: Result<T, aws_sdk_dynamodb::error::BuildError>) -> T {
    // Builders fail only when a required field is missing, which is a bug in this module.
    result.expect("every required field of a DynamoDB request is set")
}

/// Full-jitter exponential backoff: spreads concurrent posters to one wallet apart.
async fn backoff(attempt: u32) {
    tokio::time::sleep(crate::backoff::full_jitter(
        attempt,
        BACKOFF_BASE,
        BACKOFF_CAP,
    ))
    .await;
}

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
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    fn key(pk: String, sk: &str) -> Item {
        HashMap::from([(keys::PK.to_owned(), s(pk)), (keys::SK.to_owned(), s(sk))])
    }

    /// Strongly consistent reads of `keys` (any number: sent 100 at a time, keys DynamoDB leaves
    /// unprocessed retried with backoff for a bounded number of rounds). Missing items are absent.
    pub(crate) async fn batch_get(&self, keys: Vec<Item>) -> Result<Vec<Item>, StoreError> {
        const KEYS_PER_BATCH_GET_MAX: usize = 100;
        let mut found = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(KEYS_PER_BATCH_GET_MAX) {
            let mut pending: Vec<Item> = chunk.to_vec();
            for round in 0..BATCH_GET_ROUNDS_MAX {
                if pending.is_empty() {
                    break;
                }
                if round > 0 {
                    backoff(round).await;
                }
                let request = built(
                    KeysAndAttributes::builder()
                        .set_keys(Some(std::mem::take(&mut pending)))
                        .consistent_read(true)
                        .build(),
                );
                let output = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(unavailable)?;
                if let Some(items) = output
                    .responses()
                    .and_then(|tables| tables.get(&self.table))
                {
                    found.extend(items.iter().cloned());
                }
                if let Some(unprocessed) = output
                    .unprocessed_keys()
                    .and_then(|tables| tables.get(&self.table))
                {
                    pending = unprocessed.keys().to_vec();
                }
            }
            if !pending.is_empty() {
                return Err(StoreError::Unavailable(format!(
                    "{} reads still unprocessed after {BATCH_GET_ROUNDS_MAX} rounds",
                    pending.len()
                )));
            }
        }
        Ok(found)
    }

    /// Strongly consistent reads of entries by id; ids with no entry are absent from the answer.
    async fn get_entries(
        &self,
        account: &AccountId,
        ids: &[&EntryId],
    ) -> Result<HashMap<EntryId, LedgerEntry>, StoreError> {
        let keys = ids
            .iter()
            .map(|id| Self::key(keys::account_pk(account), &keys::entry_sk(id)))
            .collect();
        self.batch_get(keys)
            .await?
            .iter()
            .map(|item| codec::entry_from_item(item).map(|entry| (entry.id.clone(), entry)))
            .collect()
    }

    /// Updates settings attributes of an existing wallet of `currency`, answering the wallet after.
    async fn update_wallet_settings(
        &self,
        account: &AccountId,
        currency: crate::money::Currency,
        update_expression: &str,
        mut values: HashMap<String, AttributeValue>,
    ) -> Result<Wallet, StoreError> {
        values.insert(":currency".to_owned(), s(currency.code()));
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(keys::account_pk(account), keys::WALLET_SK)))
            .update_expression(update_expression)
            // Settings are in the wallet's currency, which never changes; a failed condition
            // therefore means there is no such wallet (any more).
            .condition_expression("attribute_exists(pk) AND currency = :currency")
            .set_expression_attribute_values(Some(values))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(output) => output
                .attributes()
                .map(codec::wallet_from_item)
                .transpose()?
                .ok_or_else(|| {
                    StoreError::Corrupt(format!("update of {account} returned nothing"))
                }),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Err(StoreError::WalletNotFound(account.clone()))
            }
            Err(error) => Err(unavailable(error)),
        }
    }

    fn posting_transaction(
        &self,
        wallet: &Wallet,
        entries: &[LedgerEntry],
        balance_after: Money,
        entry_count_after: u64,
        posted_at: OffsetDateTime,
    ) -> Vec<TransactWriteItem> {
        let account = &wallet.account_id;
        // Item 0: the wallet, only if it is still the version that was read. The same update puts
        // the wallet in or out of the sparse index of wallets due a recharge, from the settings
        // as read: the version condition makes that race-free.
        let due = recharge::due_attributes(wallet, balance_after);
        let wallet_update = built(
            Update::builder()
                .table_name(&self.table)
                .set_key(Some(Self::key(keys::account_pk(account), keys::WALLET_SK)))
                .update_expression(format!(
                    "SET balance = :balance, entry_count = :entry_count, version = :next_version, \
                     can_send = :can_send, updated_at = :now{}",
                    due.expression
                ))
                .set_expression_attribute_values(Some(due.values))
                .condition_expression("version = :version")
                .expression_attribute_values(":balance", decimal_to_n(balance_after.amount()))
                .expression_attribute_values(":entry_count", n(entry_count_after))
                .expression_attribute_values(":next_version", n(wallet.version + 1))
                .expression_attribute_values(":version", n(wallet.version))
                .expression_attribute_values(
                    ":can_send",
                    AttributeValue::Bool(balance_after.is_positive()),
                )
                .expression_attribute_values(":now", timestamp(posted_at))
                .build(),
        );
        let put_new = |item: Item| {
            TransactWriteItem::builder()
                .put(built(
                    Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(item))
                        .condition_expression("attribute_not_exists(pk)")
                        .build(),
                ))
                .build()
        };
        let mut items = Vec::with_capacity(entries.len() + 2);
        items.push(TransactWriteItem::builder().update(wallet_update).build());
        // Item 1: the journal, so the statement can list entries in order.
        items.push(put_new(codec::journal_item(account, entries)));
        // Items 2..: the entries, each only if its id was never posted.
        items.extend(
            entries
                .iter()
                .map(|entry| put_new(codec::entry_item(account, entry))),
        );
        items
    }
}

const FIRST_ENTRY_INDEX: usize = 2;
/// Items a posting may add to its transaction: DynamoDB commits at most 100, of which the wallet,
/// the journal and up to [`ENTRIES_PER_POST_MAX`] entries take the rest.
pub const EXTRA_ITEMS_MAX: usize = 100 - FIRST_ENTRY_INDEX - ENTRIES_PER_POST_MAX;

impl WalletCreate for DynamoStore {
    async fn create_wallet(
        &self,
        wallet: &NewWallet,
        now: OffsetDateTime,
    ) -> Result<Wallet, StoreError> {
        let item = codec::new_wallet_item(wallet, now);
        let created = codec::wallet_from_item(&item)?;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(created),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Err(StoreError::WalletExists(wallet.account_id.clone()))
            }
            Err(error) => Err(unavailable(error)),
        }
    }
}

impl WalletGet for DynamoStore {
    async fn get_wallet(&self, account: &AccountId) -> Result<Option<Wallet>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(keys::account_pk(account), keys::WALLET_SK)))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        output.item().map(codec::wallet_from_item).transpose()
    }
}

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
            let plan = plan_posting(&wallet, &pending, posted_at)?;
            let mut items = self.posting_transaction(
                &wallet,
                &plan.entries,
                plan.balance_after,
                plan.entry_count_after,
                posted_at,
            );
            let extra_items = extras(&wallet, &plan.entries);
            assert!(
                extra_items.len() <= EXTRA_ITEMS_MAX,
                "posting extras are bounded by the transaction's item limit"
            );
            items.extend(extra_items);
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
                    // Some ids were posted before. Which ones is read back (consistently) rather
                    // than trusted from the reasons alone, and the rest go again at once.
                    debug_assert!(
                        indexes
                            .iter()
                            .all(|i| *i - FIRST_ENTRY_INDEX < pending.len())
                    );
                    let ids: Vec<&EntryId> = pending.iter().map(|entry| entry.id()).collect();
                    let existing = self.get_entries(account, &ids).await?;
                    if existing.is_empty() {
                        // The condition failed for an entry that is not there: it was never an
                        // entry of this account's, so the key space is being misused.
                        return Err(StoreError::Corrupt(format!(
                            "posting to {account} cancelled for entries that do not exist"
                        )));
                    }
                    pending.retain(|entry| !existing.contains_key(entry.id()));
                    already_posted.extend(existing.into_values());
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
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND sk BETWEEN :low AND :high")
                .expression_attribute_values(":pk", s(keys::account_pk(account)))
                .expression_attribute_values(":low", s(keys::journal_sk(0)))
                .expression_attribute_values(":high", s(keys::journal_sk(seq_max)))
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
            let last_first_seq = codec::Reader(last)
                .str(keys::SK)?
                .strip_prefix(keys::JOURNAL_SK_PREFIX)
                .and_then(|digits| digits.parse::<u64>().ok())
                .ok_or_else(|| StoreError::Corrupt(format!("journal key of {account}")))?;
            examined_down_to = Some(last_first_seq);
        }
        let ids: Vec<&EntryId> = wanted.iter().map(|(_, id)| id).collect();
        let mut found = self.get_entries(account, &ids).await?;
        let mut entries = Vec::with_capacity(wanted.len());
        for (seq, id) in &wanted {
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

impl WalletSettingsSet for DynamoStore {
    async fn set_auto_recharge(
        &self,
        account: &AccountId,
        settings: &AutoRecharge,
        now: OffsetDateTime,
    ) -> Result<Wallet, StoreError> {
        // Version-conditional, so the sparse index of due wallets follows the new settings and
        // the balance they were compared with.
        let settings = settings.clone();
        crate::ports::recharge::RechargeStore::update_auto_recharge(
            self,
            account,
            &move |_| settings.clone(),
            now,
        )
        .await
    }

    async fn set_low_balance_threshold(
        &self,
        account: &AccountId,
        threshold: Money,
        now: OffsetDateTime,
    ) -> Result<Wallet, StoreError> {
        self.update_wallet_settings(
            account,
            threshold.currency(),
            "SET low_balance_threshold = :threshold, updated_at = :now",
            HashMap::from([
                (":threshold".to_owned(), decimal_to_n(threshold.amount())),
                (":now".to_owned(), timestamp(now)),
            ]),
        )
        .await
    }
}

impl RouteGet for DynamoStore {
    async fn get_route(&self, phone: &PhoneNumberId) -> Result<Option<AccountId>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(keys::phone_pk(phone), keys::ROUTE_SK)))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        let Some(item) = output.item() else {
            return Ok(None);
        };
        let account = codec::Reader(item).str("account_id")?;
        AccountId::parse(account)
            .map(Some)
            .map_err(|error| StoreError::Corrupt(format!("route {phone}: {error}")))
    }
}

impl RouteSet for DynamoStore {
    async fn attach_route(
        &self,
        phone: &PhoneNumberId,
        account: &AccountId,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let wallet_exists = built(
            ConditionCheck::builder()
                .table_name(&self.table)
                .set_key(Some(Self::key(keys::account_pk(account), keys::WALLET_SK)))
                .condition_expression("attribute_exists(pk)")
                .build(),
        );
        let route = built(
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(HashMap::from([
                    (keys::PK.to_owned(), s(keys::phone_pk(phone))),
                    (keys::SK.to_owned(), s(keys::ROUTE_SK)),
                    ("type".to_owned(), s("route")),
                    ("account_id".to_owned(), s(account.as_str())),
                    ("attached_at".to_owned(), timestamp(now)),
                ])))
                .condition_expression("attribute_not_exists(pk) OR account_id = :account")
                .expression_attribute_values(":account", s(account.as_str()))
                .build(),
        );
        let result = self
            .client
            .transact_write_items()
            .transact_items(
                TransactWriteItem::builder()
                    .condition_check(wallet_exists)
                    .build(),
            )
            .transact_items(TransactWriteItem::builder().put(route).build())
            .send()
            .await;
        let Err(error) = result else {
            return Ok(());
        };
        let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
            error.as_service_error()
        else {
            return Err(unavailable(error));
        };
        let failed = |index: usize| {
            cancelled
                .cancellation_reasons()
                .get(index)
                .and_then(|reason| reason.code())
                == Some("ConditionalCheckFailed")
        };
        if failed(0) {
            Err(StoreError::WalletNotFound(account.clone()))
        } else if failed(1) {
            Err(StoreError::RouteTaken(phone.clone()))
        } else {
            Err(unavailable(error))
        }
    }

    async fn detach_route(
        &self,
        phone: &PhoneNumberId,
        account: &AccountId,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(keys::phone_pk(phone), keys::ROUTE_SK)))
            .condition_expression("account_id = :account")
            .expression_attribute_values(":account", s(account.as_str()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(error) => Err(unavailable(error)),
        }
    }
}
