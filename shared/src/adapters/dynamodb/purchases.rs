//! Purchases on DynamoDB (keys and reasons in `docs/table-design.md`):
//!
//! - the record, `ACCOUNT#<account>` / `PURCHASE#<id>`: status, quote, checkout page, payment;
//!   found by id (the webhook knows the account and the purchase id from Stripe's metadata);
//! - a log item, `ACCOUNT#<account>` / `PURCHASE_LOG#<created ms>#<id>`, written once with the
//!   record in one transaction and never changed: payment history lists these newest first and
//!   reads the records they name (the same pattern as the ledger's journal; no index);
//! - the card auto-recharge charges, `ACCOUNT#<account>` / `PAYMENT_METHOD`, a separate item from
//!   the wallet because a transaction may not touch one item twice, and the wallet is already in
//!   the fulfilment transaction.
//!
//! Every status change is a condition (see [`crate::payments::purchase`] for the order), and a
//! paid purchase is credited by the same transaction that marks it paid
//! ([`DynamoStore::post_entries_with`]), so a crash can leave neither half alone.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, ReturnValue, TransactWriteItem, Update};
use time::OffsetDateTime;

use super::codec::{Item, Reader, s, timestamp};
use super::payment_method::payment_method_update;
use super::purchase_items::*;
use super::{DynamoStore, built, conditional, keys, unavailable};
use crate::ids::AccountId;
use crate::ledger::{EntryOutcome, NewEntry};
use crate::payments::PurchaseId;
use crate::payments::purchase::{
    PaidCheckout, Purchase, PurchaseCursor, PurchaseStatus, SavedPaymentMethod, StoredCheckout,
};
use crate::ports::store::{
    Closed, Fulfilment, PostReceipt, PurchaseListRequest, PurchasePage, PurchaseRead,
    PurchaseRecord, PurchaseRecorded, PurchaseSettle, StoreError,
};

/// Attempts at recording a purchase while a concurrent request with the same key holds its items.
const RECORD_ATTEMPTS_MAX: u32 = 5;
/// The waits between them: as long on average as the writer they wait for takes.
const RECORD_BACKOFF_BASE: Duration = Duration::from_millis(40);
const RECORD_BACKOFF_CAP: Duration = Duration::from_millis(640);

impl DynamoStore {
    async fn purchases_by_id(
        &self,
        account: &AccountId,
        ids: &[PurchaseId],
    ) -> Result<HashMap<PurchaseId, Purchase>, StoreError> {
        let keys = ids
            .iter()
            .map(|id| key(account, keys::purchase_sk(id)))
            .collect();
        self.batch_get(keys)
            .await?
            .iter()
            .map(|item| purchase_from_item(item).map(|purchase| (purchase.id.clone(), purchase)))
            .collect()
    }

    fn paid_update(
        &self,
        purchase: &Purchase,
        paid: &PaidCheckout,
        now: OffsetDateTime,
    ) -> TransactWriteItem {
        let mut expression = "SET #status = :paid, paid_at = :now, updated_at = :now, \
                              session_id = if_not_exists(session_id, :session)"
            .to_owned();
        let mut values = HashMap::from([
            (":paid".to_owned(), s(PurchaseStatus::Paid.as_str())),
            (":now".to_owned(), timestamp(now)),
            (":session".to_owned(), s(paid.session_id.as_str())),
        ]);
        if let Some(intent) = &paid.payment_intent {
            expression.push_str(", payment_intent_id = :intent");
            values.insert(":intent".to_owned(), s(intent.as_str()));
        }
        if let Some(customer) = &paid.customer {
            expression.push_str(", paid_customer_id = :customer");
            values.insert(":customer".to_owned(), s(customer.as_str()));
        }
        // The record exists (it was read to build the entry); the entry's own condition is what
        // makes this happen once.
        self.purchase_update(purchase, expression, values, "attribute_exists(pk)")
    }

    /// An update of `purchase`'s record in a posting transaction, under `condition`.
    pub(super) fn purchase_update(
        &self,
        purchase: &Purchase,
        expression: String,
        values: HashMap<String, AttributeValue>,
        condition: &str,
    ) -> TransactWriteItem {
        let update = built(
            Update::builder()
                .table_name(self.table())
                .set_key(Some(key(
                    &purchase.account_id,
                    keys::purchase_sk(&purchase.id),
                )))
                .update_expression(expression)
                .condition_expression(condition)
                .expression_attribute_names("#status", "status")
                .set_expression_attribute_values(Some(values))
                .build(),
        );
        TransactWriteItem::builder().update(update).build()
    }
}

impl DynamoStore {
    /// A paid auto-recharge in the payment history: its record and log item, put in the
    /// transaction that credits it (so only with a new entry; their ids are the attempt's).
    pub(crate) fn recharge_purchase_puts(&self, paid: &Purchase) -> (Put, Put) {
        let mut record = purchase_item(paid);
        if let Some(intent) = &paid.payment_intent {
            record.insert("payment_intent_id".to_owned(), s(intent.as_str()));
        }
        if let Some(paid_at) = paid.paid_at {
            record.insert("paid_at".to_owned(), timestamp(paid_at));
        }
        record.insert("origin".to_owned(), s("auto_recharge"));
        let put = |item: Item| {
            built(
                Put::builder()
                    .table_name(self.table())
                    .set_item(Some(item))
                    .build(),
            )
        };
        (put(record), put(log_item(paid)))
    }
}

impl PurchaseRecord for DynamoStore {
    async fn record_purchase(&self, purchase: &Purchase) -> Result<PurchaseRecorded, StoreError> {
        let record = self.put_new(purchase_item(purchase));
        let log = self.put_new(log_item(purchase));
        for attempt in 0..RECORD_ATTEMPTS_MAX {
            let result = self
                .client()
                .transact_write_items()
                .transact_items(record.clone())
                .transact_items(log.clone())
                .send()
                .await;
            let Err(error) = result else {
                return Ok(PurchaseRecorded::Created(purchase.clone()));
            };
            let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
                error.as_service_error()
            else {
                return Err(unavailable(error));
            };
            let codes: Vec<&str> = cancelled
                .cancellation_reasons()
                .iter()
                .map(|reason| reason.code().unwrap_or("None"))
                .collect();
            match codes.first().copied() {
                Some("ConditionalCheckFailed") => {
                    return self
                        .get_purchase(&purchase.account_id, &purchase.id)
                        .await?
                        .map(PurchaseRecorded::Existing)
                        .ok_or_else(|| {
                            corrupt("refused as existing, yet absent", purchase.id.as_str())
                        });
                }
                _ if codes.contains(&"TransactionConflict") => {
                    // A concurrent request with the same key is writing it: look again shortly.
                    tokio::time::sleep(crate::adapters::backoff::backoff(
                        attempt,
                        RECORD_BACKOFF_BASE,
                        RECORD_BACKOFF_CAP,
                    ))
                    .await;
                }
                _ => {
                    return Err(StoreError::Unavailable(format!(
                        "recording a purchase was cancelled: {codes:?}"
                    )));
                }
            }
        }
        Err(StoreError::Contended {
            account: purchase.account_id.clone(),
            attempts: RECORD_ATTEMPTS_MAX,
        })
    }

    async fn set_purchase_checkout(
        &self,
        account: &AccountId,
        purchase: &PurchaseId,
        checkout: &StoredCheckout,
        now: OffsetDateTime,
    ) -> Result<Purchase, StoreError> {
        let result = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key(account, keys::purchase_sk(purchase))))
            .update_expression("SET session_id = :session, checkout_url = :url, updated_at = :now")
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(session_id) OR session_id = :session)",
            )
            .expression_attribute_values(":session", s(checkout.session_id.as_str()))
            .expression_attribute_values(":url", s(&checkout.url))
            .expression_attribute_values(":now", timestamp(now))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match conditional(result)? {
            Some(output) => output
                .attributes()
                .ok_or_else(|| corrupt("no attributes after update", purchase.as_str()))
                .and_then(purchase_from_item),
            None => self.get_purchase(account, purchase).await?.ok_or_else(|| {
                corrupt("vanished before its checkout was stored", purchase.as_str())
            }),
        }
    }
}

impl PurchaseRead for DynamoStore {
    async fn get_purchase(
        &self,
        account: &AccountId,
        purchase: &PurchaseId,
    ) -> Result<Option<Purchase>, StoreError> {
        self.get_item(key(account, keys::purchase_sk(purchase)))
            .await?
            .as_ref()
            .map(purchase_from_item)
            .transpose()
    }

    async fn purchase_page(
        &self,
        account: &AccountId,
        request: &PurchaseListRequest,
    ) -> Result<PurchasePage, StoreError> {
        let limit = request.limit() as usize;
        let cursor_sk = request
            .cursor
            .as_ref()
            .map(|cursor| keys::purchase_log_sk(cursor.created_ms, &cursor.purchase));
        let prefix = keys::PURCHASE_LOG_SK_PREFIX;
        let (logged, more) = self
            .log_page(account, prefix, cursor_sk, limit, |sk, item| {
                let millis = sk
                    .strip_prefix(prefix)
                    .and_then(|rest| rest.split_once('#'))
                    .and_then(|(millis, _)| millis.parse::<u64>().ok())
                    .ok_or_else(|| StoreError::Corrupt(format!("purchase log key {sk}")))?;
                let id = PurchaseId::parse(Reader(item).str("purchase_id")?)
                    .map_err(|e| StoreError::Corrupt(format!("purchase log {sk}: {e}")))?;
                Ok((millis, id))
            })
            .await?;
        let ids: Vec<PurchaseId> = logged.iter().map(|(_, id)| id.clone()).collect();
        let mut found = self.purchases_by_id(account, &ids).await?;
        let purchases = ids
            .iter()
            .map(|id| {
                found
                    .remove(id)
                    .ok_or_else(|| corrupt("logged but missing", id.as_str()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let next_cursor = if more {
            logged.last().map(|(created_ms, purchase)| PurchaseCursor {
                created_ms: *created_ms,
                purchase: purchase.clone(),
            })
        } else {
            None
        };
        Ok(PurchasePage {
            purchases,
            next_cursor,
        })
    }
}

impl PurchaseSettle for DynamoStore {
    async fn fulfil_purchase(
        &self,
        purchase: &Purchase,
        entry: &NewEntry,
        paid: &PaidCheckout,
        now: OffsetDateTime,
    ) -> Result<Fulfilment, StoreError> {
        let account = &purchase.account_id;
        let paid_update = self.paid_update(purchase, paid, now);
        let card = paid.customer.as_ref().map(|customer| {
            let saved = SavedPaymentMethod {
                customer: customer.clone(),
                payment_method: paid.payment_method.clone(),
                source_purchase: purchase.id.clone(),
                source_created_at: purchase.created_at,
            };
            TransactWriteItem::builder()
                .update(payment_method_update(self, account, &saved, now))
                .build()
        });
        let mut with_card = card.is_some();
        let receipt = loop {
            let extras = |_: &crate::wallet::Wallet, _: &[crate::ledger::LedgerEntry]| {
                let mut items = vec![paid_update.clone()];
                if with_card {
                    items.extend(card.clone());
                }
                items
            };
            match self
                .post_entries_with(account, std::slice::from_ref(entry), now, &extras)
                .await
            {
                Ok(receipt) => break receipt,
                // A newer purchase saved its card already: keep it, credit this one anyway.
                Err(StoreError::ExtraRefused(1)) if with_card => with_card = false,
                Err(StoreError::ExtraRefused(_)) => {
                    return Err(corrupt(
                        "its record is missing at fulfilment",
                        purchase.id.as_str(),
                    ));
                }
                Err(error) => return Err(error),
            }
        };
        fulfilment(receipt)
    }

    async fn close_purchase(
        &self,
        account: &AccountId,
        purchase: &PurchaseId,
        status: PurchaseStatus,
        now: OffsetDateTime,
    ) -> Result<Option<Closed>, StoreError> {
        let lower: Vec<PurchaseStatus> = status.replaces().collect();
        if lower.is_empty() || status == PurchaseStatus::Paid {
            // Paid is reached only by fulfilment, with its entry; pending is where purchases start.
            return Err(StoreError::Corrupt(format!(
                "a purchase cannot be closed as {status}"
            )));
        }
        let values = HashMap::from([
            (":status".to_owned(), s(status.as_str())),
            (":now".to_owned(), timestamp(now)),
        ]);
        let expression = "SET #status = :status, updated_at = :now, closed_at = :now";
        self.move_purchase(
            account,
            purchase,
            status,
            &lower,
            expression.to_owned(),
            values,
        )
        .await
    }
}

impl DynamoStore {
    /// An update of a purchase record to `target`, conditional on its status being one of `from`.
    pub(super) async fn move_purchase(
        &self,
        account: &AccountId,
        purchase: &PurchaseId,
        target: PurchaseStatus,
        from: &[PurchaseStatus],
        expression: String,
        mut values: HashMap<String, AttributeValue>,
    ) -> Result<Option<Closed>, StoreError> {
        let placeholders: Vec<String> = (0..from.len()).map(|i| format!(":from{i}")).collect();
        for (status, name) in from.iter().zip(&placeholders) {
            values.insert(name.clone(), s(status.as_str()));
        }
        let result = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key(account, keys::purchase_sk(purchase))))
            .update_expression(expression)
            .condition_expression(format!(
                "attribute_exists(pk) AND #status IN ({})",
                placeholders.join(", ")
            ))
            .expression_attribute_names("#status", "status")
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        match conditional(result)? {
            Some(_) => Ok(Some(Closed::Changed(target))),
            None => Ok(self
                .get_purchase(account, purchase)
                .await?
                .map(|current| Closed::Unchanged(current.status))),
        }
    }
}

/// What posting a purchase's one entry did.
pub(super) fn fulfilment(receipt: PostReceipt) -> Result<Fulfilment, StoreError> {
    match receipt.outcomes.into_iter().next() {
        Some(EntryOutcome::Posted(entry)) => Ok(Fulfilment::Credited {
            entry,
            wallet: receipt.wallet,
        }),
        Some(EntryOutcome::AlreadyPosted(entry)) => Ok(Fulfilment::AlreadyCredited(entry)),
        None => Err(StoreError::Unavailable(
            "a posting of one entry answered no outcome".into(),
        )),
    }
}
