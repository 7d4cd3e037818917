//! Deliveries: one chain of attempts per (endpoint, event), the same `webhook-id` on every attempt.
//! The chain is driven by messages on the notifications queue: an attempt that should be retried
//! schedules the next one as a delayed message (SQS delays at most 15 minutes, so a longer wait
//! hops: the message comes back early and is sent on with the rest of the wait). Nothing sleeps.

use serde::{Deserialize, Serialize};

use super::endpoint::{EndpointId, Owner};
use super::event::{Event, EventId};

/// Bytes of an error kept in the delivery log.
pub const ERROR_LEN_MAX: usize = 200;

/// What travels on the notifications queue: an event from a producer, or an attempt to make.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "message", rename_all = "snake_case")]
pub enum QueueMessage {
    Event(Event),
    Attempt(AttemptTask),
}

impl QueueMessage {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("queue messages always serialize")
    }
}

/// The body a producer puts on the notifications queue for `event`.
pub fn event_message(event: &Event) -> String {
    QueueMessage::Event(event.clone()).to_json()
}

/// Make attempt `attempt` of a delivery, not before `not_before_ms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptTask {
    pub owner: String,
    pub endpoint_id: EndpointId,
    pub event_id: EventId,
    /// The delivery's sort key (newest first in the endpoint's log).
    pub delivery_key: String,
    pub attempt: u32,
    pub not_before_ms: i64,
}

impl AttemptTask {
    pub fn owner(&self) -> Option<Owner> {
        Owner::parse(&self.owner)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Attempts remain (one is scheduled, or in progress).
    Pending,
    Delivered,
    /// The chain ended without a 2xx.
    Failed,
    /// Not attempted: the endpoint was disabled or deleted.
    Skipped,
}

/// One attempt, as the delivery log shows it (never the bodies).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptRecord {
    pub attempt: u32,
    pub at_ms: i64,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub latency_ms: u64,
}

impl AttemptRecord {
    pub fn new(
        attempt: u32,
        at_ms: i64,
        status_code: Option<u16>,
        error: Option<String>,
        latency_ms: u64,
    ) -> Self {
        let error = error.map(|mut text| {
            while text.len() > ERROR_LEN_MAX {
                text.pop();
            }
            text
        });
        Self {
            attempt,
            at_ms,
            status_code,
            error,
            latency_ms,
        }
    }
}

/// A delivery's state, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub endpoint_id: EndpointId,
    pub event_id: EventId,
    pub key: String,
    /// The exact bytes every attempt sends.
    pub body: String,
    pub status: DeliveryStatus,
    /// Attempts claimed so far (the last one may be in progress).
    pub attempts_made: u32,
    pub first_attempt_ms: Option<i64>,
    pub lease_until_ms: i64,
    pub log: Vec<AttemptRecord>,
    pub created_ms: i64,
}

/// The sort key of a delivery: newest first by when its notice was stored, then by event id.
pub fn delivery_key(stored_ms: i64, event_id: &EventId) -> String {
    format!("{stored_ms:020}#{event_id}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::AccountId;
    use crate::money::{Currency, Money};
    use crate::notices::event::EventData;

    #[test]
    fn events_and_tasks_round_trip_through_the_queue() {
        let account = AccountId::parse("acme").unwrap();
        let event = Event::new(
            &account,
            "12",
            time::macros::datetime!(2026-11-27 10:00 UTC),
            EventData::BalanceLow {
                balance: Money::parse("4", Currency::Usd).unwrap(),
                threshold: Money::parse("5", Currency::Usd).unwrap(),
                available: None,
            },
        )
        .unwrap();
        let body = event_message(&event);
        assert_eq!(
            serde_json::from_str::<QueueMessage>(&body).unwrap(),
            QueueMessage::Event(event.clone())
        );
        let task = QueueMessage::Attempt(AttemptTask {
            owner: "platform".into(),
            endpoint_id: EndpointId::parse("we_1").unwrap(),
            event_id: event.id.clone(),
            delivery_key: delivery_key(5, &event.id),
            attempt: 2,
            not_before_ms: 9,
        });
        assert_eq!(
            serde_json::from_str::<QueueMessage>(&task.to_json()).unwrap(),
            task
        );
        assert_eq!(
            delivery_key(5, &event.id),
            "00000000000000000005#balance.low:acme:12"
        );
    }
}
