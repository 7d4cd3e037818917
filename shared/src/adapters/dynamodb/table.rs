//! The table's definition, for the local runner and the tests. In AWS the SAM template
//! (`infra/template.yaml`) creates the same table; keep the two in step.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, CreateGlobalSecondaryIndexAction, GlobalSecondaryIndex,
    GlobalSecondaryIndexUpdate, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType,
};

use super::keys;
use super::recharge::{DUE_INDEX, DUE_PK, DUE_SK};
use crate::ports::store::StoreError;

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

/// The sparse index of wallets due a recharge: keys only (the sweep needs the account, and reads
/// the wallet itself consistently before acting).
fn due_index_keys() -> (Vec<KeySchemaElement>, Projection) {
    (
        vec![key(DUE_PK, KeyType::Hash), key(DUE_SK, KeyType::Range)],
        Projection::builder()
            .projection_type(ProjectionType::KeysOnly)
            .build(),
    )
}

fn unavailable<E: std::error::Error + 'static, R: std::fmt::Debug>(
    error: aws_sdk_dynamodb::error::SdkError<E, R>,
) -> StoreError {
    StoreError::Unavailable(DisplayErrorContext(error).to_string())
}

/// Creates the table if it does not exist yet; an existing table made before the due index gets
/// the index added (anything else about an existing table is left as it is).
pub async fn ensure_table(client: &Client, table: &str) -> Result<(), StoreError> {
    let (schema, projection) = due_index_keys();
    let result = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute(keys::PK))
        .attribute_definitions(attribute(keys::SK))
        .attribute_definitions(attribute(DUE_PK))
        .attribute_definitions(attribute(DUE_SK))
        .key_schema(key(keys::PK, KeyType::Hash))
        .key_schema(key(keys::SK, KeyType::Range))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(DUE_INDEX)
                .set_key_schema(Some(schema.clone()))
                .projection(projection.clone())
                .build()
                .expect("name, keys and projection are set"),
        )
        .send()
        .await;
    match result {
        Ok(_) => Ok(()),
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception()) =>
        {
            add_due_index_if_missing(client, table, schema, projection).await
        }
        Err(error) => Err(unavailable(error)),
    }
}

async fn add_due_index_if_missing(
    client: &Client,
    table: &str,
    schema: Vec<KeySchemaElement>,
    projection: Projection,
) -> Result<(), StoreError> {
    let described = client
        .describe_table()
        .table_name(table)
        .send()
        .await
        .map_err(unavailable)?;
    let has_index = described
        .table()
        .map(|table| table.global_secondary_indexes())
        .unwrap_or_default()
        .iter()
        .any(|index| index.index_name() == Some(DUE_INDEX));
    if has_index {
        return Ok(());
    }
    let create = CreateGlobalSecondaryIndexAction::builder()
        .index_name(DUE_INDEX)
        .set_key_schema(Some(schema))
        .projection(projection)
        .build()
        .expect("name, keys and projection are set");
    let result = client
        .update_table()
        .table_name(table)
        .attribute_definitions(attribute(DUE_PK))
        .attribute_definitions(attribute(DUE_SK))
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
