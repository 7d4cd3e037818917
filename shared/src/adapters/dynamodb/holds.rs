//! Holds on DynamoDB. Every change to a hold commits with the wallet's `held` (and `available`)
//! in one transaction, and bumps the wallet's `version`, so `held` is the sum of the open holds'
//! `remaining` at every commit and a posting that read a hold is refused if it changed since.
//!
//! - **Placing** is one transaction (`hold_place`): the wallet's `held`/`available`, `can_send` and
//!   due-index keys on the *condition* that `available` covers it (the refusal is the condition,
//!   never a read), the hold `Put` if absent (the `Idempotency-Key`'s hold id) and its log item.
//! - **Settling** rides in the posting transaction ([`DynamoStore::post_entries_with`]): one
//!   `Update` per hold the new charges name.
//! - **Releasing** (delete, expiry, failed messages) is a version-conditional transaction of the
//!   wallet and the hold (and, for failures, one marker per wamid, `attribute_not_exists`).

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{TransactWriteItem, Update};
use time::OffsetDateTime;

use super::codec::{self, Item, Reader, decimal_to_n, n, timestamp};
use super::hold_items::*;
use super::pages::IndexSweep;
use super::recharge::DUE_SHARDS;
use super::{DynamoStore, built, conditional, keys, unavailable};
use crate::holds::{FailedSend, Hold, HoldChange, HoldId, HoldStatus, hold_ids_of};
use crate::ids::AccountId;
use crate::ledger::NewEntry;
use crate::money::Money;
use crate::ports::holds::{
    ExpiredHolds, HoldListRequest, HoldPage, HoldPlaced, HoldReleased, HoldStore,
};
use crate::ports::store::StoreError;
use crate::wallet::Wallet;

/// Failed messages released per transaction: each takes a marker and may name its own hold, and
/// the wallet takes one more item of DynamoDB's 100.
pub(super) const FAILED_PER_TRANSACTION_MAX: usize = 49;

/// The wallet's `held` after `changes` (each taking off what it releases or settles).
pub fn held_after(wallet: &Wallet, changes: &[HoldChange]) -> Money {
    let held = changes.iter().fold(wallet.held, |held, change| {
        held.checked_sub(change.taken)
            .expect("holds are in the wallet's currency")
    });
    assert!(
        !held.is_negative(),
        "held is the sum of open holds' remaining, which are never negative"
    );
    held
}

/// The reason codes of a cancelled transaction, one per item ("None" for an item that passed).
pub(super) fn reason_codes(error: &TransactWriteItemsError) -> Option<Vec<String>> {
    let TransactWriteItemsError::TransactionCanceledException(cancelled) = error else {
        return None;
    };
    Some(
        cancelled
            .cancellation_reasons()
            .iter()
            .map(|reason| reason.code().unwrap_or("None").to_owned())
            .collect(),
    )
}

pub(super) fn refused_or_conflict(code: &str) -> bool {
    code == "ConditionalCheckFailed" || code == "TransactionConflict"
}

impl DynamoStore {
    /// Open or closed, the holds that the entries of a posting name (none: no read).
    pub(crate) async fn holds_named(
        &self,
        account: &AccountId,
        entries: &[&NewEntry],
    ) -> Result<Vec<Hold>, StoreError> {
        self.holds_by_id(account, &hold_ids_of(entries)).await
    }

    pub(super) async fn holds_by_id(
        &self,
        account: &AccountId,
        ids: &[HoldId],
    ) -> Result<Vec<Hold>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys = ids
            .iter()
            .map(|id| Self::key(keys::account_pk(account), &hold_sk(id)))
            .collect();
        self.batch_get(keys)
            .await?
            .iter()
            .map(hold_from_item)
            .collect()
    }

    /// The `Update`s of the holds a posting (or a release of failures) changes.
    pub(crate) fn hold_settle_items(
        &self,
        account: &AccountId,
        changes: &[HoldChange],
        now: OffsetDateTime,
    ) -> Vec<TransactWriteItem> {
        changes
            .iter()
            .map(|change| {
                let update = Update::builder()
                    .table_name(self.table())
                    .set_key(Some(Self::key(
                        keys::account_pk(account),
                        &hold_sk(&change.id),
                    )))
                    .update_expression(
                        "SET remaining = :remaining, updated_at = :now \
                         ADD settled_count :settled_count, failed_count :failed_count, \
                         settled_amount :settled, failed_amount :failed",
                    )
                    .condition_expression("attribute_exists(pk)")
                    .expression_attribute_values(
                        ":remaining",
                        decimal_to_n(change.remaining_after.amount()),
                    )
                    .expression_attribute_values(":now", timestamp(now))
                    .expression_attribute_values(":settled_count", n(change.settled_messages))
                    .expression_attribute_values(":failed_count", n(change.failed_messages))
                    .expression_attribute_values(":settled", decimal_to_n(change.settled.amount()))
                    .expression_attribute_values(
                        ":failed",
                        decimal_to_n(
                            change
                                .taken
                                .checked_sub(change.settled)
                                .expect("one currency")
                                .amount(),
                        ),
                    );
                TransactWriteItem::builder()
                    .update(built(update.build()))
                    .build()
            })
            .collect()
    }

    /// A wallet stored before holds existed has no `held`/`available`: give it both (nothing
    /// held), only if no posting has done so meanwhile. Answers the wallet's item as read.
    pub(super) async fn wallet_item_for_holds(
        &self,
        account: &AccountId,
    ) -> Result<Option<Item>, StoreError> {
        let output = self
            .client()
            .get_item()
            .table_name(self.table())
            .set_key(Some(Self::key(keys::account_pk(account), keys::WALLET_SK)))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        let Some(item) = output.item().cloned() else {
            return Ok(None);
        };
        if item.contains_key("available") {
            return Ok(Some(item));
        }
        let wallet = codec::wallet_from_item(&item)?;
        let result = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(Self::key(keys::account_pk(account), keys::WALLET_SK)))
            .update_expression("SET held = :zero, available = :balance")
            .condition_expression("version = :version AND attribute_not_exists(available)")
            .expression_attribute_values(
                ":zero",
                decimal_to_n(Money::zero(wallet.currency).amount()),
            )
            .expression_attribute_values(":balance", decimal_to_n(wallet.balance.amount()))
            .expression_attribute_values(":version", n(wallet.version))
            .send()
            .await;
        // Refused or not, the item as read: refused, the wallet changed meanwhile (the caller reads
        // it again).
        conditional(result)?;
        Ok(Some(item))
    }
}

impl HoldStore for DynamoStore {
    async fn place_hold(&self, hold: &Hold, now: OffsetDateTime) -> Result<HoldPlaced, StoreError> {
        self.place_hold_now(hold, now).await
    }

    async fn get_hold(
        &self,
        account: &AccountId,
        hold: &HoldId,
    ) -> Result<Option<Hold>, StoreError> {
        let output = self
            .client()
            .get_item()
            .table_name(self.table())
            .set_key(Some(Self::key(keys::account_pk(account), &hold_sk(hold))))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        output.item().map(hold_from_item).transpose()
    }

    async fn hold_page(
        &self,
        account: &AccountId,
        request: &HoldListRequest,
    ) -> Result<HoldPage, StoreError> {
        let limit = request.limit() as usize;
        let cursor_sk = request
            .before
            .as_ref()
            .map(|(created_ms, id)| hold_log_sk(*created_ms, id));
        let (logged, more) = self
            .log_page(account, HOLD_LOG_SK_PREFIX, cursor_sk, limit, |sk, _| {
                sk.strip_prefix(HOLD_LOG_SK_PREFIX)
                    .and_then(|rest| rest.split_once('#'))
                    .and_then(|(ms, id)| Some((ms.parse::<u64>().ok()?, HoldId::parse_strict(id)?)))
                    .ok_or_else(|| StoreError::Corrupt(format!("hold log key {sk}")))
            })
            .await?;
        let ids: Vec<HoldId> = logged.iter().map(|(_, id)| id.clone()).collect();
        let mut found: HashMap<HoldId, Hold> = self
            .holds_by_id(account, &ids)
            .await?
            .into_iter()
            .map(|hold| (hold.id.clone(), hold))
            .collect();
        let mut holds = Vec::with_capacity(ids.len());
        for id in &ids {
            let hold = found
                .remove(id)
                .ok_or_else(|| StoreError::Corrupt(format!("hold {id} logged but missing")))?;
            if request.status.is_none_or(|status| status == hold.status) {
                holds.push(hold);
            }
        }
        Ok(HoldPage {
            holds,
            next: if more { logged.last().cloned() } else { None },
        })
    }

    async fn release_hold(
        &self,
        account: &AccountId,
        hold: &HoldId,
        status: HoldStatus,
        now: OffsetDateTime,
    ) -> Result<Option<HoldReleased>, StoreError> {
        self.release_hold_now(account, hold, status, now).await
    }

    async fn release_failed(
        &self,
        account: &AccountId,
        failed: &[FailedSend],
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        self.release_failed_now(account, failed, now).await
    }

    async fn expired_holds(
        &self,
        now: OffsetDateTime,
        limit: usize,
    ) -> Result<ExpiredHolds, StoreError> {
        let sweep = IndexSweep {
            index: HOLD_EXPIRY_INDEX,
            pk_attribute: HX_PK,
            sk_below: Some((HX_SK, expiry_sk_upper(now))),
        };
        let mut holds = Vec::new();
        let partitions = (0..DUE_SHARDS).map(expiry_pk).collect();
        let items_read = self
            .sweep_index(&sweep, partitions, limit, |item| {
                holds.push(hold_from_keys(item)?);
                Ok(true)
            })
            .await?;
        Ok(ExpiredHolds { holds, items_read })
    }
}

/// The account and hold an index entry names (the index projects keys only).
fn hold_from_keys(item: &Item) -> Result<(AccountId, HoldId), StoreError> {
    let read = Reader(item);
    let corrupt = || StoreError::Corrupt("hold expiry index entry".into());
    let account = read
        .str(keys::PK)?
        .strip_prefix("ACCOUNT#")
        .and_then(|account| AccountId::parse(account).ok())
        .ok_or_else(corrupt)?;
    let hold = read
        .str(keys::SK)?
        .strip_prefix(HOLD_SK_PREFIX)
        .and_then(HoldId::parse_strict)
        .ok_or_else(corrupt)?;
    Ok((account, hold))
}
