//! The table's definition, for the local runner and the tests. In AWS the SAM template
//! (`infra/template.yaml`) creates the same table; keep the two in step.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, CreateGlobalSecondaryIndexAction, GlobalSecondaryIndex,
    GlobalSecondaryIndexDescription, GlobalSecondaryIndexUpdate, IndexStatus, KeySchemaElement,
    KeyType, Projection, ProjectionType, ScalarAttributeType,
};

use super::hold_items::{HOLD_EXPIRY_INDEX, HX_PK, HX_SK};
use super::keys;
use super::recharge::{DUE_INDEX, DUE_PK, DUE_SK};
use crate::ports::store::StoreError;

/// How long `ensure_table` waits for an index it added to finish building, polled every
/// `INDEX_POLL_INTERVAL`. DynamoDB Local builds an index on a test table in well under a second; an
/// old table in AWS with many items may take longer, and a failed start is then retried by hand.
const INDEX_POLL_INTERVAL: std::time::Duration = std::time::Duration::from_millis(100);
const INDEX_POLL_ATTEMPTS_MAX: u32 = 600;
/// The whole wait, in exact `Duration` arithmetic (no float).
const INDEX_WAIT_MAX: std::time::Duration =
    INDEX_POLL_INTERVAL.saturating_mul(INDEX_POLL_ATTEMPTS_MAX);

fn attribute(name: &str) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .expect("name and type are set")
}

fn key(name: &str, key_type: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .expect("name and key type are set")
}

/// The sparse indexes, keys only (a sweep needs the keys, and reads the item itself consistently
/// before acting): wallets due a recharge, and open holds by expiry.
const INDEXES: [(&str, &str, &str); 2] = [
    (DUE_INDEX, DUE_PK, DUE_SK),
    (HOLD_EXPIRY_INDEX, HX_PK, HX_SK),
];

fn index(name: &str, pk: &str, sk: &str) -> GlobalSecondaryIndex {
    GlobalSecondaryIndex::builder()
        .index_name(name)
        .key_schema(key(pk, KeyType::Hash))
        .key_schema(key(sk, KeyType::Range))
        .projection(keys_only())
        .build()
        .expect("name, keys and projection are set")
}

fn keys_only() -> Projection {
    Projection::builder()
        .projection_type(ProjectionType::KeysOnly)
        .build()
}

fn unavailable<E: std::error::Error + 'static, R: std::fmt::Debug>(
    error: aws_sdk_dynamodb::error::SdkError<E, R>,
) -> StoreError {
    StoreError::Unavailable(DisplayErrorContext(error).to_string())
}

/// Creates the table if it does not exist yet; an existing table made before an index gets the
/// index added (anything else about an existing table is left as it is).
pub async fn ensure_table(client: &Client, table: &str) -> Result<(), StoreError> {
    let mut create = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute(keys::PK))
        .attribute_definitions(attribute(keys::SK))
        .key_schema(key(keys::PK, KeyType::Hash))
        .key_schema(key(keys::SK, KeyType::Range));
    for (name, pk, sk) in INDEXES {
        create = create
            .attribute_definitions(attribute(pk))
            .attribute_definitions(attribute(sk))
            .global_secondary_indexes(index(name, pk, sk));
    }
    match create.send().await {
        Ok(_) => Ok(()),
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception()) =>
        {
            for (name, pk, sk) in INDEXES {
                add_index_if_missing(client, table, name, pk, sk).await?;
                // DynamoDB builds one index at a time per table: the next `UpdateTable` is refused
                // with `LimitExceededException` until this one is active.
                wait_until_indexes_active(client, table).await?;
            }
            Ok(())
        }
        Err(error) => Err(unavailable(error)),
    }
}

async fn add_index_if_missing(
    client: &Client,
    table: &str,
    name: &str,
    pk: &str,
    sk: &str,
) -> Result<(), StoreError> {
    let has_index = indexes(client, table)
        .await?
        .iter()
        .any(|index| index.index_name() == Some(name));
    if has_index {
        return Ok(());
    }
    let create = CreateGlobalSecondaryIndexAction::builder()
        .index_name(name)
        .key_schema(key(pk, KeyType::Hash))
        .key_schema(key(sk, KeyType::Range))
        .projection(keys_only())
        .build()
        .expect("name, keys and projection are set");
    let result = client
        .update_table()
        .table_name(table)
        .attribute_definitions(attribute(pk))
        .attribute_definitions(attribute(sk))
        .global_secondary_index_updates(
            GlobalSecondaryIndexUpdate::builder().create(create).build(),
        )
        .send()
        .await;
    match result {
        Ok(_) => Ok(()),
        // Another process added it in the meantime.
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception()) =>
        {
            Ok(())
        }
        Err(error) => Err(unavailable(error)),
    }
}

/// The table's global secondary indexes, as described now.
async fn indexes(
    client: &Client,
    table: &str,
) -> Result<Vec<GlobalSecondaryIndexDescription>, StoreError> {
    let described = client
        .describe_table()
        .table_name(table)
        .send()
        .await
        .map_err(unavailable)?;
    Ok(described
        .table()
        .map(|table| table.global_secondary_indexes().to_vec())
        .unwrap_or_default())
}

/// Polls until no index of the table is being created or deleted (bounded).
async fn wait_until_indexes_active(client: &Client, table: &str) -> Result<(), StoreError> {
    for _ in 0..INDEX_POLL_ATTEMPTS_MAX {
        let building = indexes(client, table)
            .await?
            .iter()
            .any(|index| index.index_status() != Some(&IndexStatus::Active));
        if !building {
            return Ok(());
        }
        tokio::time::sleep(INDEX_POLL_INTERVAL).await;
    }
    Err(still_building(table, INDEX_WAIT_MAX))
}

fn still_building(table: &str, waited: std::time::Duration) -> StoreError {
    StoreError::Unavailable(format!(
        "the indexes of table {table} were still building after {} s",
        waited.as_secs()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_wait_is_stated_in_whole_seconds() {
        assert_eq!(INDEX_WAIT_MAX, std::time::Duration::from_secs(60));
        let message = still_building("t", INDEX_WAIT_MAX).to_string();
        assert!(
            message.contains("table t were still building after 60 s"),
            "{message}"
        );
    }
}
