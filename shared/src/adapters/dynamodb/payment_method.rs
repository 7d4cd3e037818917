//! The card auto-recharge charges, `ACCOUNT#<account>` / `PAYMENT_METHOD`: a separate item from
//! the wallet because a transaction may not touch one item twice, and the wallet is already in the
//! fulfilment transaction ([`super::purchases`]). A card is replaced only by a newer purchase's.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::Update;
use time::OffsetDateTime;

use super::codec::{Item, Reader, n, s, timestamp};
use super::purchase_items::{epoch_ms, key, optional};
use super::{DynamoStore, built, conditional, keys};
use crate::ids::AccountId;
use crate::payments::purchase::SavedPaymentMethod;
use crate::payments::{ProviderCustomerId, ProviderPaymentMethodId, PurchaseId};
use crate::ports::store::{PaymentMethodGet, PaymentMethodSave, StoreError};

/// The update that saves a card on the `PAYMENT_METHOD` item, unless a newer purchase's is there.
pub(super) fn payment_method_update(
    store: &DynamoStore,
    account: &AccountId,
    saved: &SavedPaymentMethod,
    now: OffsetDateTime,
) -> Update {
    let mut expression = "SET #type = :type, account_id = :account, customer_id = :customer, \
                          source_purchase_id = :purchase, source_created_ms = :ms, \
                          updated_at = :now"
        .to_owned();
    let mut values = HashMap::from([
        (":type".to_owned(), s("payment_method")),
        (":account".to_owned(), s(account.as_str())),
        (":customer".to_owned(), s(saved.customer.as_str())),
        (":purchase".to_owned(), s(saved.source_purchase.as_str())),
        (":ms".to_owned(), n(epoch_ms(saved.source_created_at))),
        (":now".to_owned(), timestamp(now)),
    ]);
    if let Some(method) = &saved.payment_method {
        // The card is stored with the customer it belongs to: a later purchase made under another
        // customer (two checkouts opened before either was paid) must not pair this card with it.
        expression
            .push_str(", payment_method_id = :method, payment_method_customer_id = :customer");
        values.insert(":method".to_owned(), s(method.as_str()));
    }
    built(
        Update::builder()
            .table_name(store.table())
            .set_key(Some(key(account, keys::PAYMENT_METHOD_SK.to_owned())))
            .update_expression(expression)
            .condition_expression(
                "attribute_not_exists(pk) OR source_created_ms < :ms \
                 OR (source_created_ms = :ms AND source_purchase_id <= :purchase)",
            )
            .expression_attribute_names("#type", "type")
            .set_expression_attribute_values(Some(values))
            .build(),
    )
}

fn payment_method_from_item(item: &Item) -> Result<SavedPaymentMethod, StoreError> {
    let read = Reader(item);
    let customer = ProviderCustomerId::parse(read.str("customer_id")?)
        .map_err(|e| StoreError::Corrupt(format!("saved customer: {e}")))?;
    let method_customer = optional(
        item,
        "payment_method_customer_id",
        ProviderCustomerId::parse,
    )?;
    let payment_method = optional(item, "payment_method_id", ProviderPaymentMethodId::parse)?
        .filter(|_| method_customer.as_ref() == Some(&customer));
    let source_ms = read.u64("source_created_ms")?;
    let source_created_at =
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(source_ms) * 1_000_000)
            .map_err(|_| StoreError::Corrupt("saved card: source time out of range".into()))?;
    Ok(SavedPaymentMethod {
        customer,
        payment_method,
        source_purchase: PurchaseId::parse(read.str("source_purchase_id")?)
            .map_err(|e| StoreError::Corrupt(format!("saved card: {e}")))?,
        source_created_at,
    })
}

impl PaymentMethodGet for DynamoStore {
    async fn get_payment_method(
        &self,
        account: &AccountId,
    ) -> Result<Option<SavedPaymentMethod>, StoreError> {
        self.get_item(key(account, keys::PAYMENT_METHOD_SK.to_owned()))
            .await?
            .as_ref()
            .map(payment_method_from_item)
            .transpose()
    }
}

impl PaymentMethodSave for DynamoStore {
    async fn save_payment_method(
        &self,
        account: &AccountId,
        saved: &SavedPaymentMethod,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let update = payment_method_update(self, account, saved, now);
        let result = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(update.key().clone()))
            .update_expression(update.update_expression())
            .set_condition_expression(update.condition_expression().map(str::to_owned))
            .set_expression_attribute_names(update.expression_attribute_names().cloned())
            .set_expression_attribute_values(update.expression_attribute_values().cloned())
            .send()
            .await;
        Ok(conditional(result)?.is_some())
    }
}
