//! What the webhook puts on the billing queue: a webhook body's events, grouped by the business
//! phone number they belong to (so billing finds one wallet per message) and packed into bodies
//! under SQS's size limit.

use serde::{Deserialize, Serialize};

use crate::ids::PhoneNumberId;
use crate::meta::{InboundMessage, StatusEvent, WebhookBatch};
use crate::ports::queue::MESSAGE_BODY_LEN_MAX;

pub const ENVELOPE_VERSION: u8 = 1;
/// Events in one queue message: bounds the work one SQS record stands for.
pub const EVENTS_PER_MESSAGE_MAX: usize = 500;
/// Room left under SQS's limit for the envelope's own fields.
const BODY_BYTES_BUDGET: usize = MESSAGE_BODY_LEN_MAX - 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BillingMessage {
    pub v: u8,
    pub phone_number_id: PhoneNumberId,
    #[serde(default)]
    pub statuses: Vec<StatusEvent>,
    #[serde(default)]
    pub inbound: Vec<InboundMessage>,
}

#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    #[error("not a billing message: {0}")]
    Malformed(String),
    #[error("billing message version {0} is not one this code reads")]
    Version(u8),
    #[error("billing message holds {0} events, over {EVENTS_PER_MESSAGE_MAX}")]
    TooManyEvents(usize),
}

impl BillingMessage {
    pub fn parse(body: &str) -> Result<Self, EnvelopeError> {
        let message: BillingMessage = serde_json::from_str(body)
            .map_err(|error| EnvelopeError::Malformed(error.to_string()))?;
        if message.v != ENVELOPE_VERSION {
            return Err(EnvelopeError::Version(message.v));
        }
        let events = message.statuses.len() + message.inbound.len();
        if events > EVENTS_PER_MESSAGE_MAX {
            return Err(EnvelopeError::TooManyEvents(events));
        }
        Ok(message)
    }
}

/// One event's JSON, kept as text so packing measures exactly what it sends.
enum Packed {
    Status(String),
    Inbound(String),
}

/// Packs a verified webhook body into queue message bodies: one phone number per message, at most
/// [`EVENTS_PER_MESSAGE_MAX`] events and [`MESSAGE_BODY_LEN_MAX`] bytes each, order kept.
pub fn pack(batch: &WebhookBatch) -> Vec<String> {
    // A body names few phone numbers (one per business number of the WABA): a list is enough.
    let mut by_phone: Vec<(PhoneNumberId, Vec<Packed>)> = Vec::new();
    let mut push =
        |phone: &PhoneNumberId, item: Packed| match by_phone.iter_mut().find(|(p, _)| p == phone) {
            Some((_, items)) => items.push(item),
            None => by_phone.push((phone.clone(), vec![item])),
        };
    for status in &batch.statuses {
        let json = serde_json::to_string(status).expect("events always serialize");
        push(&status.phone_number_id, Packed::Status(json));
    }
    for message in &batch.messages {
        let json = serde_json::to_string(message).expect("events always serialize");
        push(&message.phone_number_id, Packed::Inbound(json));
    }
    let mut bodies = Vec::new();
    for (phone, items) in by_phone {
        let mut statuses: Vec<String> = Vec::new();
        let mut inbound: Vec<String> = Vec::new();
        let mut bytes = 0;
        for item in items {
            let len = match &item {
                Packed::Status(json) | Packed::Inbound(json) => json.len() + 1,
            };
            // One event is far below the limit (its fields are bounded by the parser).
            debug_assert!(len < BODY_BYTES_BUDGET);
            if statuses.len() + inbound.len() == EVENTS_PER_MESSAGE_MAX
                || bytes + len > BODY_BYTES_BUDGET
            {
                bodies.push(body(&phone, &statuses, &inbound));
                statuses.clear();
                inbound.clear();
                bytes = 0;
            }
            bytes += len;
            match item {
                Packed::Status(json) => statuses.push(json),
                Packed::Inbound(json) => inbound.push(json),
            }
        }
        if !statuses.is_empty() || !inbound.is_empty() {
            bodies.push(body(&phone, &statuses, &inbound));
        }
    }
    debug_assert!(bodies.iter().all(|body| body.len() <= MESSAGE_BODY_LEN_MAX));
    bodies
}

fn body(phone: &PhoneNumberId, statuses: &[String], inbound: &[String]) -> String {
    let phone = serde_json::to_string(phone).expect("an id serializes");
    format!(
        "{{\"v\":{ENVELOPE_VERSION},\"phone_number_id\":{phone},\"statuses\":[{}],\"inbound\":[{}]}}",
        statuses.join(","),
        inbound.join(",")
    )
}
