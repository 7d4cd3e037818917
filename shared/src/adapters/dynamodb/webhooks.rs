//! Webhook endpoints and their deliveries on DynamoDB (keys and reasons in `docs/table-design.md`):
//!
//! - `ACCOUNT#<account>` (or `PLATFORM`) / `WEBHOOK_ENDPOINT#<id>`: an endpoint, its secrets and
//!   its health; `.../WEBHOOK_ENDPOINTS`: how many the owner has, so a registration past the
//!   limit is refused by a condition in the same transaction, not by a count read first;
//! - `WEBHOOK#<endpoint id>` / `DELIVERY#<stored ms:020>#<event id>`: one delivery chain, its
//!   attempt counter and lease (a claim is a condition on them), and its log of attempts.

use aws_sdk_dynamodb::types::{AttributeValue, Delete, ReturnValue, TransactWriteItem, Update};
use time::OffsetDateTime;

use super::codec::{s, timestamp};
use super::notices::n_i64;
use super::webhook_items::*;
use super::{DynamoStore, built, conditional, unavailable};
use crate::notices::delivery::{AttemptRecord, Delivery, DeliveryStatus};
use crate::notices::endpoint::{
    ENDPOINTS_PER_OWNER_MAX, Endpoint, EndpointId, Owner, PreviousSecret,
};
use crate::notices::retry::ATTEMPTS_MAX;
use crate::notices::signing::SigningSecret;
use crate::ports::notices::{
    DELIVERIES_PAGE_LIMIT_MAX, DeliveriesPage, DeliveryStore, EndpointStore,
};
use crate::ports::store::StoreError;

pub const ENDPOINT_SK_PREFIX: &str = "WEBHOOK_ENDPOINT#";
pub const ENDPOINT_COUNT_SK: &str = "WEBHOOK_ENDPOINTS";
pub const DELIVERY_SK_PREFIX: &str = "DELIVERY#";
/// Resends one delivery may take (each adds one attempt to its bounded log).
pub const RESENDS_MAX: u32 = 10;

impl DynamoStore {
    /// An update on an existing endpoint answering its new state; `None` when there is none.
    async fn update_endpoint(
        &self,
        owner: &Owner,
        id: &EndpointId,
        expression: &str,
        values: Vec<(&str, AttributeValue)>,
        condition: &str,
    ) -> Result<Option<Endpoint>, StoreError> {
        let mut update = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(endpoint_key(owner, id)))
            .update_expression(expression)
            .condition_expression(condition)
            .return_values(ReturnValue::AllNew);
        for (name, value) in values {
            update = update.expression_attribute_values(name, value);
        }
        match conditional(update.send().await)? {
            Some(output) => output.attributes().map(endpoint_from_item).transpose(),
            None => Ok(None),
        }
    }
}

impl EndpointStore for DynamoStore {
    async fn create_endpoint(&self, endpoint: &Endpoint) -> Result<(), StoreError> {
        let count = Update::builder()
            .table_name(self.table())
            .set_key(Some(item_key(
                owner_pk(&endpoint.owner),
                ENDPOINT_COUNT_SK.into(),
            )))
            .update_expression("SET endpoints = if_not_exists(endpoints, :zero) + :one")
            .condition_expression("attribute_not_exists(endpoints) OR endpoints < :max")
            .expression_attribute_values(":zero", n_i64(0))
            .expression_attribute_values(":one", n_i64(1))
            .expression_attribute_values(":max", n_i64(i64::from(ENDPOINTS_PER_OWNER_MAX)));
        let result = self
            .client()
            .transact_write_items()
            .transact_items(self.put_new(endpoint_item(endpoint)))
            .transact_items(
                TransactWriteItem::builder()
                    .update(built(count.build()))
                    .build(),
            )
            .send()
            .await;
        let Err(error) = result else { return Ok(()) };
        let codes: Vec<Option<String>> = error
            .as_service_error()
            .and_then(|e| match e {
                aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c) => Some(c),
                _ => None,
            })
            .map(|cancelled| {
                cancelled
                    .cancellation_reasons()
                    .iter()
                    .map(|reason| reason.code().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        match codes
            .iter()
            .position(|code| code.as_deref() == Some("ConditionalCheckFailed"))
        {
            // 0: the URL is registered already; 1: the owner has the most endpoints allowed.
            Some(index) => Err(StoreError::ExtraRefused(index)),
            None => Err(unavailable(error)),
        }
    }

    async fn list_endpoints(&self, owner: &Owner) -> Result<Vec<Endpoint>, StoreError> {
        let output = self
            .client()
            .query()
            .table_name(self.table())
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(owner_pk(owner)))
            .expression_attribute_values(":prefix", s(ENDPOINT_SK_PREFIX))
            .consistent_read(true)
            .limit(i32::try_from(ENDPOINTS_PER_OWNER_MAX).expect("small"))
            .send()
            .await
            .map_err(unavailable)?;
        output.items().iter().map(endpoint_from_item).collect()
    }

    async fn get_endpoint(
        &self,
        owner: &Owner,
        id: &EndpointId,
    ) -> Result<Option<Endpoint>, StoreError> {
        self.get_item(endpoint_key(owner, id))
            .await?
            .map(|item| endpoint_from_item(&item))
            .transpose()
    }

    async fn delete_endpoint(&self, owner: &Owner, id: &EndpointId) -> Result<bool, StoreError> {
        let delete = Delete::builder()
            .table_name(self.table())
            .set_key(Some(endpoint_key(owner, id)))
            .condition_expression("attribute_exists(pk)");
        let count = Update::builder()
            .table_name(self.table())
            .set_key(Some(item_key(owner_pk(owner), ENDPOINT_COUNT_SK.into())))
            .update_expression("SET endpoints = endpoints - :one")
            .condition_expression("endpoints > :zero")
            .expression_attribute_values(":zero", n_i64(0))
            .expression_attribute_values(":one", n_i64(1));
        let result = self
            .client()
            .transact_write_items()
            .transact_items(
                TransactWriteItem::builder()
                    .delete(built(delete.build()))
                    .build(),
            )
            .transact_items(
                TransactWriteItem::builder()
                    .update(built(count.build()))
                    .build(),
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(error) => match self.get_endpoint(owner, id).await? {
                None => Ok(false),
                Some(_) => Err(unavailable(error)),
            },
        }
    }

    async fn rotate_secret(
        &self,
        owner: &Owner,
        id: &EndpointId,
        secret: &SigningSecret,
        previous: &PreviousSecret,
    ) -> Result<Option<Endpoint>, StoreError> {
        self.update_endpoint(
            owner,
            id,
            "SET secret = :new, previous_secret = :old, previous_until = :until",
            vec![
                (":new", s(secret.expose())),
                (":old", s(previous.secret.expose())),
                (":until", timestamp(previous.until)),
            ],
            "attribute_exists(pk)",
        )
        .await
    }

    async fn endpoint_failed(
        &self,
        owner: &Owner,
        id: &EndpointId,
        now: OffsetDateTime,
    ) -> Result<Option<OffsetDateTime>, StoreError> {
        let updated = self
            .update_endpoint(
                owner,
                id,
                "SET failing_since_ms = if_not_exists(failing_since_ms, :now)",
                vec![(":now", n_i64(super::notices::epoch_ms(now)))],
                "attribute_exists(pk)",
            )
            .await?;
        Ok(updated.and_then(|endpoint| endpoint.failing_since))
    }

    async fn endpoint_succeeded(&self, owner: &Owner, id: &EndpointId) -> Result<(), StoreError> {
        self.update_endpoint(
            owner,
            id,
            "REMOVE failing_since_ms",
            vec![],
            "attribute_exists(failing_since_ms)",
        )
        .await?;
        Ok(())
    }

    async fn disable_endpoint(
        &self,
        owner: &Owner,
        id: &EndpointId,
        reason: &str,
    ) -> Result<bool, StoreError> {
        Ok(self
            .update_endpoint(
                owner,
                id,
                "SET enabled = :off, disabled_reason = :reason",
                vec![
                    (":off", AttributeValue::Bool(false)),
                    (":on", AttributeValue::Bool(true)),
                    (":reason", s(reason)),
                ],
                "enabled = :on",
            )
            .await?
            .is_some())
    }
}

impl DeliveryStore for DynamoStore {
    async fn open_delivery(&self, delivery: &Delivery) -> Result<(Delivery, bool), StoreError> {
        let mut item = delivery_item_key(&delivery.endpoint_id, &delivery.key);
        item.extend([
            ("type".to_owned(), s("webhook_delivery")),
            ("endpoint_id".to_owned(), s(delivery.endpoint_id.as_str())),
            ("event_id".to_owned(), s(delivery.event_id.as_str())),
            ("body".to_owned(), s(delivery.body.clone())),
            ("status".to_owned(), s(status_name(delivery.status))),
            (
                "attempts_made".to_owned(),
                n_i64(i64::from(delivery.attempts_made)),
            ),
            ("attempts_done".to_owned(), n_i64(0)),
            ("lease_until_ms".to_owned(), n_i64(0)),
            ("created_ms".to_owned(), n_i64(delivery.created_ms)),
        ]);
        if self.put_if_absent(item).await? {
            return Ok((delivery.clone(), true));
        }
        let stored = self
            .get_delivery(&delivery.endpoint_id, &delivery.key)
            .await?
            .ok_or_else(|| StoreError::Unavailable("a delivery vanished".into()))?;
        Ok((stored, false))
    }

    async fn claim_attempt(
        &self,
        endpoint: &EndpointId,
        key: &str,
        attempt: u32,
        now_ms: i64,
        lease_until_ms: i64,
    ) -> Result<Option<Delivery>, StoreError> {
        assert!(attempt >= 1);
        let result = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(delivery_item_key(endpoint, key)))
            .update_expression(
                "SET attempts_made = :n, lease_until_ms = :lease, \
                 first_attempt_ms = if_not_exists(first_attempt_ms, :now)",
            )
            .condition_expression(
                "#status = :pending AND (attempts_made = :prev OR (attempts_made = :n \
                 AND attempts_done < :n AND lease_until_ms < :now))",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":pending", s("pending"))
            .expression_attribute_values(":n", n_i64(i64::from(attempt)))
            .expression_attribute_values(":prev", n_i64(i64::from(attempt - 1)))
            .expression_attribute_values(":now", n_i64(now_ms))
            .expression_attribute_values(":lease", n_i64(lease_until_ms))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match conditional(result)? {
            Some(output) => output.attributes().map(delivery_from_item).transpose(),
            None => Ok(None),
        }
    }

    async fn record_attempt(
        &self,
        endpoint: &EndpointId,
        key: &str,
        record: &AttemptRecord,
        status: DeliveryStatus,
    ) -> Result<(), StoreError> {
        let entry = serde_json::to_string(record).expect("attempt records serialize");
        let append = "#log = list_append(if_not_exists(#log, :empty), :entry), attempts_done = :n";
        // The status and lease are this attempt's to set only while no later attempt was claimed
        // (a retry may already run, when its wait was short); otherwise only the log grows.
        for (expression, condition) in [
            (
                format!("SET {append}, #status = :status, lease_until_ms = :zero"),
                "attempts_made = :n",
            ),
            (format!("SET {append}"), "attribute_exists(pk)"),
        ] {
            let mut update = self
                .client()
                .update_item()
                .table_name(self.table())
                .set_key(Some(delivery_item_key(endpoint, key)))
                .update_expression(expression.as_str())
                .condition_expression(condition)
                .expression_attribute_names("#log", "log")
                .expression_attribute_values(":empty", AttributeValue::L(vec![]))
                .expression_attribute_values(":entry", AttributeValue::L(vec![s(entry.clone())]))
                .expression_attribute_values(":n", n_i64(i64::from(record.attempt)));
            if condition.starts_with("attempts_made") {
                update = update
                    .expression_attribute_names("#status", "status")
                    .expression_attribute_values(":status", s(status_name(status)))
                    .expression_attribute_values(":zero", n_i64(0));
            }
            if conditional(update.send().await)?.is_some() {
                return Ok(());
            }
        }
        Err(StoreError::Unavailable(format!("delivery {key} vanished")))
    }

    async fn reopen_delivery(
        &self,
        endpoint: &EndpointId,
        key: &str,
    ) -> Result<Option<u32>, StoreError> {
        let result = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(delivery_item_key(endpoint, key)))
            .update_expression("SET #status = :pending REMOVE first_attempt_ms")
            .condition_expression(
                "attribute_exists(pk) AND #status <> :pending AND attempts_made < :max",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":pending", s("pending"))
            .expression_attribute_values(":max", n_i64(i64::from(ATTEMPTS_MAX + RESENDS_MAX)))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match conditional(result)? {
            Some(output) => Ok(output
                .attributes()
                .map(delivery_from_item)
                .transpose()?
                .map(|delivery| delivery.attempts_made + 1)),
            None => Ok(None),
        }
    }

    async fn get_delivery(
        &self,
        endpoint: &EndpointId,
        key: &str,
    ) -> Result<Option<Delivery>, StoreError> {
        self.get_item(delivery_item_key(endpoint, key))
            .await?
            .map(|item| delivery_from_item(&item))
            .transpose()
    }

    async fn deliveries_page(
        &self,
        endpoint: &EndpointId,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<DeliveriesPage, StoreError> {
        assert!((1..=DELIVERIES_PAGE_LIMIT_MAX).contains(&limit));
        let (deliveries, next_cursor) = self
            .prefix_page(
                format!("WEBHOOK#{endpoint}"),
                DELIVERY_SK_PREFIX,
                limit,
                cursor.map(|key| delivery_item_key(endpoint, key)),
                delivery_from_item,
            )
            .await?;
        Ok(DeliveriesPage {
            deliveries,
            next_cursor,
        })
    }
}
