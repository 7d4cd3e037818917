//! The store on DynamoDB: one table, every balance change one conditional transaction.
//!
//! The same adapter serves AWS, DynamoDB Local in tests and the embedded engine of the local
//! runner; only the endpoint differs.

pub mod codec;
pub mod hold_items;
mod hold_place;
mod hold_release;
pub mod holds;
pub mod keys;
pub mod notices;
mod pages;
mod payment_method;
mod posting;
mod purchase_items;
mod put_once;
pub use posting::EXTRA_ITEMS_MAX;
pub mod market_lists;
pub mod purchases;
pub mod rate_cards;
pub mod recharge;
pub mod reporting;
pub mod review;
mod statement;
mod statement_backfill;
pub mod statements;
pub mod table;
pub mod tiers;
pub mod usage;
pub mod webhook_items;
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
    ENTRIES_PER_POST_MAX, EntryId, LedgerEntry, NewEntry, PostingPlan, StatementCursor,
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

/// The one reading of a conditional write: `Some(output)` written, `None` its condition failed
/// (someone else decided first), anything else [`unavailable`].
pub(crate) fn conditional<T, E, R>(
    result: Result<T, SdkError<E, R>>,
) -> Result<Option<T>, StoreError>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match result {
        Ok(output) => Ok(Some(output)),
        Err(error)
            if error
                .as_service_error()
                .and_then(|e| e.code())
                .is_some_and(|code| code == "ConditionalCheckFailedException") =>
        {
            Ok(None)
        }
        Err(error) => Err(unavailable(error)),
    }
}

pub(crate) fn built<T>(result: Result<T, aws_sdk_dynamodb::error::BuildError>) -> T {
    // Builders fail only when a required field is missing, which is a bug in this module.
    result.expect("every required field of a DynamoDB request is set")
}

/// Spreads concurrent posters to one wallet apart.
async fn backoff(attempt: u32) {
    tokio::time::sleep(super::backoff::backoff(attempt, BACKOFF_BASE, BACKOFF_CAP)).await;
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

    /// The one query shape of every list: one account's items whose sort keys lie between `low`
    /// and `high` (inclusive).
    pub(crate) fn account_range(
        &self,
        account: &AccountId,
        low: String,
        high: String,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk BETWEEN :low AND :high")
            .expression_attribute_values(":pk", s(keys::account_pk(account)))
            .expression_attribute_values(":low", s(low))
            .expression_attribute_values(":high", s(high))
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
        conditional(result)?
            .ok_or_else(|| StoreError::WalletNotFound(account.clone()))?
            .attributes()
            .map(codec::wallet_from_item)
            .transpose()?
            .ok_or_else(|| StoreError::Corrupt(format!("update of {account} returned nothing")))
    }
}
impl WalletCreate for DynamoStore {
    async fn create_wallet(
        &self,
        wallet: &NewWallet,
        now: OffsetDateTime,
    ) -> Result<Wallet, StoreError> {
        let item = codec::new_wallet_item(wallet, now);
        let created = codec::wallet_from_item(&item)?;
        if self.put_if_absent(item).await? {
            Ok(created)
        } else {
            Err(StoreError::WalletExists(wallet.account_id.clone()))
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
        self.route_of(Self::key(keys::phone_pk(phone), keys::ROUTE_SK), || {
            format!("route {phone}")
        })
        .await
    }
}

impl DynamoStore {
    /// The account a route item (`key`: a phone number's or a WABA's) names, if it is stored;
    /// `route` names it in the error of a stored account id that does not parse.
    pub(super) async fn route_of(
        &self,
        key: Item,
        route: impl FnOnce() -> String,
    ) -> Result<Option<AccountId>, StoreError> {
        let Some(item) = self.get_item(key).await? else {
            return Ok(None);
        };
        AccountId::parse(codec::Reader(&item).str("account_id")?)
            .map(Some)
            .map_err(|error| StoreError::Corrupt(format!("{}: {error}", route())))
    }

    /// Puts a route item (`item`: its key and type; a phone number or a WABA → `account`) only
    /// if the account's wallet exists and the key is free or already the account's: one
    /// transaction, so no route ever points at a missing wallet. `taken` is the refusal when
    /// another account holds the key.
    pub(super) async fn put_route(
        &self,
        account: &AccountId,
        mut item: HashMap<String, AttributeValue>,
        now: OffsetDateTime,
        taken: impl FnOnce() -> StoreError,
    ) -> Result<(), StoreError> {
        let wallet_exists = built(
            ConditionCheck::builder()
                .table_name(&self.table)
                .set_key(Some(Self::key(keys::account_pk(account), keys::WALLET_SK)))
                .condition_expression("attribute_exists(pk)")
                .build(),
        );
        item.insert("account_id".to_owned(), s(account.as_str()));
        item.insert("attached_at".to_owned(), timestamp(now));
        let route = built(
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
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
            Err(taken())
        } else {
            Err(unavailable(error))
        }
    }
}

impl RouteSet for DynamoStore {
    async fn attach_route(
        &self,
        phone: &PhoneNumberId,
        account: &AccountId,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let item = HashMap::from([
            (keys::PK.to_owned(), s(keys::phone_pk(phone))),
            (keys::SK.to_owned(), s(keys::ROUTE_SK)),
            ("type".to_owned(), s("route")),
        ]);
        self.put_route(account, item, now, || StoreError::RouteTaken(phone.clone()))
            .await
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
        Ok(conditional(result)?.is_some())
    }
}
