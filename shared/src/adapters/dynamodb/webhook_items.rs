//! The items of webhook endpoints and deliveries (keys in [`super::webhooks`]): their keys, and
//! each item to and from its attributes.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use time::OffsetDateTime;

use super::codec::{Item, Reader, s, timestamp};
use super::keys;
use super::notices::i64_of;
use super::webhooks::{DELIVERY_SK_PREFIX, ENDPOINT_SK_PREFIX};
use crate::notices::delivery::{AttemptRecord, Delivery, DeliveryStatus};
use crate::notices::endpoint::{Endpoint, EndpointId, Owner, PreviousSecret};
use crate::notices::event::{EventId, EventType};
use crate::notices::signing::SigningSecret;
use crate::ports::store::StoreError;

pub(super) fn owner_pk(owner: &Owner) -> String {
    match owner {
        Owner::Account(account) => keys::account_pk(account),
        Owner::Platform => "PLATFORM".to_owned(),
    }
}

pub(super) fn item_key(pk: String, sk: String) -> Item {
    HashMap::from([(keys::PK.to_owned(), s(pk)), (keys::SK.to_owned(), s(sk))])
}

pub(super) fn endpoint_key(owner: &Owner, id: &EndpointId) -> Item {
    item_key(owner_pk(owner), format!("{ENDPOINT_SK_PREFIX}{id}"))
}

pub(super) fn delivery_item_key(endpoint: &EndpointId, key: &str) -> Item {
    item_key(
        format!("WEBHOOK#{endpoint}"),
        format!("{DELIVERY_SK_PREFIX}{key}"),
    )
}

pub(super) fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("webhook item: {what}"))
}

pub(super) fn endpoint_item(endpoint: &Endpoint) -> Item {
    let mut item = endpoint_key(&endpoint.owner, &endpoint.id);
    let types: Vec<&str> = endpoint.event_types.iter().map(|t| t.as_str()).collect();
    item.extend([
        ("type".to_owned(), s("webhook_endpoint")),
        ("endpoint_id".to_owned(), s(endpoint.id.as_str())),
        ("owner".to_owned(), s(endpoint.owner.to_string())),
        ("url".to_owned(), s(endpoint.url.clone())),
        ("event_types".to_owned(), s(types.join(","))),
        ("secret".to_owned(), s(endpoint.secret.expose())),
        ("enabled".to_owned(), AttributeValue::Bool(endpoint.enabled)),
        ("created_at".to_owned(), timestamp(endpoint.created_at)),
    ]);
    item
}

pub(super) fn endpoint_from_item(item: &Item) -> Result<Endpoint, StoreError> {
    let read = Reader(item);
    let owner = Owner::parse(read.str("owner")?).ok_or_else(|| corrupt("owner"))?;
    let event_types = read
        .str("event_types")?
        .split(',')
        .filter(|name| !name.is_empty())
        .map(|name| EventType::parse(name).ok_or_else(|| corrupt("event type")))
        .collect::<Result<Vec<_>, _>>()?;
    let secret = |name: &str| SigningSecret::parse(read.str(name)?).map_err(corrupt);
    let previous = match item.get("previous_secret") {
        Some(_) => Some(PreviousSecret {
            secret: secret("previous_secret")?,
            until: read.timestamp("previous_until")?,
        }),
        None => None,
    };
    let failing_since = match item.get("failing_since_ms") {
        Some(_) => Some(
            OffsetDateTime::from_unix_timestamp_nanos(
                i128::from(i64_of(item, "failing_since_ms")?) * 1_000_000,
            )
            .map_err(corrupt)?,
        ),
        None => None,
    };
    Ok(Endpoint {
        id: EndpointId::parse(read.str("endpoint_id")?).map_err(corrupt)?,
        owner,
        url: read.str("url")?.to_owned(),
        event_types,
        secret: secret("secret")?,
        previous,
        enabled: read.bool("enabled")?,
        disabled_reason: item
            .get("disabled_reason")
            .and_then(|value| value.as_s().ok())
            .cloned(),
        failing_since,
        created_at: read.timestamp("created_at")?,
    })
}

pub(super) fn status_name(status: DeliveryStatus) -> &'static str {
    match status {
        DeliveryStatus::Pending => "pending",
        DeliveryStatus::Delivered => "delivered",
        DeliveryStatus::Failed => "failed",
        DeliveryStatus::Skipped => "skipped",
    }
}

pub(super) fn delivery_from_item(item: &Item) -> Result<Delivery, StoreError> {
    let read = Reader(item);
    let status = match read.str("status")? {
        "pending" => DeliveryStatus::Pending,
        "delivered" => DeliveryStatus::Delivered,
        "failed" => DeliveryStatus::Failed,
        "skipped" => DeliveryStatus::Skipped,
        other => return Err(corrupt(format!("status {other}"))),
    };
    let log = match item.get("log").and_then(|value| value.as_l().ok()) {
        Some(list) => list
            .iter()
            .map(|value| {
                let text = value.as_s().map_err(|_| corrupt("log entry"))?;
                serde_json::from_str::<AttemptRecord>(text).map_err(corrupt)
            })
            .collect::<Result<Vec<_>, _>>()?,
        None => Vec::new(),
    };
    let sk = read.str(keys::SK)?;
    Ok(Delivery {
        endpoint_id: EndpointId::parse(read.str("endpoint_id")?).map_err(corrupt)?,
        event_id: EventId::parse(read.str("event_id")?).map_err(corrupt)?,
        key: sk.strip_prefix(DELIVERY_SK_PREFIX).unwrap_or(sk).to_owned(),
        body: read.str("body")?.to_owned(),
        status,
        attempts_made: u32::try_from(read.u64("attempts_made")?).map_err(corrupt)?,
        first_attempt_ms: item
            .get("first_attempt_ms")
            .map(|_| i64_of(item, "first_attempt_ms"))
            .transpose()?,
        lease_until_ms: i64_of(item, "lease_until_ms")?,
        log,
        created_ms: i64_of(item, "created_ms")?,
    })
}
