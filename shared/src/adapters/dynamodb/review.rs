//! Purchases held for review on DynamoDB: the `held_*` attributes of the purchase record
//! (`ACCOUNT#<account>` / `PURCHASE#<id>`), written by the conditional update that sets
//! `status = held`, and read back when an operator settles it. Leaving `held` is conditional on
//! still being `held`, so a credit and a rejection can never both happen.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use time::OffsetDateTime;

use super::codec::{Item, Reader, decimal_to_n, s, timestamp};
use super::purchase_items::{key, purchase_from_item};
use super::purchases::fulfilment;
use super::{DynamoStore, keys};
use crate::ids::{AccountId, IdError};
use crate::ledger::NewEntry;
use crate::money::Money;
use crate::payments::purchase::{PaidCheckout, Purchase, PurchaseStatus};
use crate::payments::review::HeldPayment;
use crate::payments::{
    CheckoutSessionId, ProviderCustomerId, ProviderPaymentId, ProviderPaymentMethodId, PurchaseId,
};
use crate::ports::review::PurchaseReview;
use crate::ports::store::{Closed, Fulfilment, StoreError};

fn text(item: &Item, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

fn optional_id<T>(
    item: &Item,
    name: &str,
    parse: impl Fn(&str) -> Result<T, IdError>,
) -> Result<Option<T>, StoreError> {
    text(item, name)
        .map(|value| parse(&value).map_err(|e| StoreError::Corrupt(format!("{name}: {e}"))))
        .transpose()
}

fn held_from_item(item: &Item) -> Result<Option<HeldPayment>, StoreError> {
    if !item.contains_key("held_at") {
        return Ok(None);
    }
    let read = Reader(item);
    let paid_total = match text(item, "held_paid_currency") {
        Some(code) => {
            let currency = code
                .parse()
                .map_err(|_| StoreError::Corrupt("held_paid_currency".into()))?;
            Some(
                Money::new(read.decimal("held_paid_total")?, currency)
                    .map_err(|e| StoreError::Corrupt(format!("held_paid_total: {e}")))?,
            )
        }
        None => None,
    };
    Ok(Some(HeldPayment {
        paid_total,
        paid: PaidCheckout {
            session_id: CheckoutSessionId::parse(read.str("held_session_id")?)
                .map_err(|e| StoreError::Corrupt(format!("held_session_id: {e}")))?,
            customer: optional_id(item, "held_customer_id", ProviderCustomerId::parse)?,
            payment_intent: optional_id(item, "held_payment_intent_id", ProviderPaymentId::parse)?,
            payment_method: optional_id(
                item,
                "held_payment_method_id",
                ProviderPaymentMethodId::parse,
            )?,
        },
        event_created: read.timestamp("held_event_created")?,
    }))
}

/// The `SET` clauses and values that record a held payment.
fn held_values(
    held: &HeldPayment,
    now: OffsetDateTime,
) -> (String, HashMap<String, AttributeValue>) {
    let mut expression = "SET #status = :held, updated_at = :now, held_at = :now, \
                          held_session_id = :session, held_event_created = :created"
        .to_owned();
    let mut values = HashMap::from([
        (":held".to_owned(), s(PurchaseStatus::Held.as_str())),
        (":now".to_owned(), timestamp(now)),
        (":session".to_owned(), s(held.paid.session_id.as_str())),
        (":created".to_owned(), timestamp(held.event_created)),
    ]);
    let optional = [
        (
            "held_customer_id",
            held.paid.customer.as_ref().map(|c| s(c.as_str())),
        ),
        (
            "held_payment_intent_id",
            held.paid.payment_intent.as_ref().map(|p| s(p.as_str())),
        ),
        (
            "held_payment_method_id",
            held.paid.payment_method.as_ref().map(|p| s(p.as_str())),
        ),
        (
            "held_paid_total",
            held.paid_total.map(|paid| decimal_to_n(paid.amount())),
        ),
        (
            "held_paid_currency",
            held.paid_total.map(|paid| s(paid.currency().code())),
        ),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            expression.push_str(&format!(", {name} = :{name}"));
            values.insert(format!(":{name}"), value);
        }
    }
    (expression, values)
}

impl PurchaseReview for DynamoStore {
    async fn hold_purchase(
        &self,
        purchase: &Purchase,
        held: &HeldPayment,
        now: OffsetDateTime,
    ) -> Result<Closed, StoreError> {
        let (expression, values) = held_values(held, now);
        let lower: Vec<PurchaseStatus> = PurchaseStatus::Held.replaces().collect();
        self.move_purchase(
            &purchase.account_id,
            &purchase.id,
            PurchaseStatus::Held,
            &lower,
            expression,
            values,
        )
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("purchase {} vanished", purchase.id)))
    }

    async fn held_purchase(
        &self,
        account: &AccountId,
        purchase: &PurchaseId,
    ) -> Result<Option<(Purchase, Option<HeldPayment>)>, StoreError> {
        self.get_item(key(account, keys::purchase_sk(purchase)))
            .await?
            .map(|item| Ok((purchase_from_item(&item)?, held_from_item(&item)?)))
            .transpose()
    }

    async fn credit_held(
        &self,
        purchase: &Purchase,
        entry: &NewEntry,
        held: &HeldPayment,
        now: OffsetDateTime,
    ) -> Result<Fulfilment, StoreError> {
        let mut expression = "SET #status = :paid, paid_at = :now, updated_at = :now, \
                              session_id = if_not_exists(session_id, :session)"
            .to_owned();
        let mut values = HashMap::from([
            (":paid".to_owned(), s(PurchaseStatus::Paid.as_str())),
            (":held".to_owned(), s(PurchaseStatus::Held.as_str())),
            (":now".to_owned(), timestamp(now)),
            (":session".to_owned(), s(held.paid.session_id.as_str())),
        ]);
        if let Some(intent) = &held.paid.payment_intent {
            expression.push_str(", payment_intent_id = :intent");
            values.insert(":intent".to_owned(), s(intent.as_str()));
        }
        // Only a purchase still held is credited here: never a rejected one.
        let condition = "attribute_exists(pk) AND #status = :held";
        let item = self.purchase_update(purchase, expression, values, condition);
        let extras =
            |_: &crate::wallet::Wallet, _: &[crate::ledger::LedgerEntry]| vec![item.clone()];
        let receipt = self
            .post_entries_with(
                &purchase.account_id,
                std::slice::from_ref(entry),
                now,
                &extras,
            )
            .await?;
        fulfilment(receipt)
    }

    async fn reject_held(
        &self,
        account: &AccountId,
        purchase: &PurchaseId,
        now: OffsetDateTime,
    ) -> Result<Option<Closed>, StoreError> {
        let values = HashMap::from([
            (":rejected".to_owned(), s(PurchaseStatus::Rejected.as_str())),
            (":now".to_owned(), timestamp(now)),
        ]);
        self.move_purchase(
            account,
            purchase,
            PurchaseStatus::Rejected,
            &[PurchaseStatus::Held],
            "SET #status = :rejected, updated_at = :now, closed_at = :now".to_owned(),
            values,
        )
        .await
    }
}
