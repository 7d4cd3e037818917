//! What the webhook puts on the billing queue: a webhook body's events, grouped by the business
//! phone number they belong to (so billing finds one wallet per message) and packed into bodies
//! under SQS's size limit.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::ids::PhoneNumberId;
use crate::meta::{InboundMessage, StatusEvent, WebhookBatch};

/// SQS takes at most 256 KiB in a message, and in a whole `SendMessageBatch`; every queue here
/// holds to it ([`crate::ports::queue`]).
pub const MESSAGE_BODY_LEN_MAX: usize = 256 * 1024;
pub const MESSAGE_VERSION: u8 = 1;
/// Events in one queue message: bounds the work one SQS record stands for.
pub const EVENTS_PER_MESSAGE_MAX: usize = 500;
/// Room left under SQS's limit for the message's own fields.
const BODY_BYTES_BUDGET: usize = MESSAGE_BODY_LEN_MAX - 1024;

/// The billing queue's message, the one definition of its wire format: the typed form billing
/// reads (the default parameters), and the packed form the webhook writes, whose events are JSON
/// already serialized ([`RawValue`]) so that packing measures exactly the bytes it sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BillingMessage<S = StatusEvent, I = InboundMessage> {
    pub v: u8,
    pub phone_number_id: PhoneNumberId,
    #[serde(default = "Vec::new")]
    pub statuses: Vec<S>,
    #[serde(default = "Vec::new")]
    pub inbound: Vec<I>,
}

#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    #[error("not a billing message: {0}")]
    Malformed(String),
    #[error("billing message version {0} is not one this code reads")]
    Version(u8),
    #[error("billing message holds {0} events, over {EVENTS_PER_MESSAGE_MAX}")]
    TooManyEvents(usize),
}

impl BillingMessage {
    pub fn parse(body: &str) -> Result<Self, MessageError> {
        let message: BillingMessage = serde_json::from_str(body)
            .map_err(|error| MessageError::Malformed(error.to_string()))?;
        if message.v != MESSAGE_VERSION {
            return Err(MessageError::Version(message.v));
        }
        let events = message.statuses.len() + message.inbound.len();
        if events > EVENTS_PER_MESSAGE_MAX {
            return Err(MessageError::TooManyEvents(events));
        }
        Ok(message)
    }
}

/// One event's JSON, kept as text so packing measures exactly what it sends.
enum Packed {
    Status(Box<RawValue>),
    Inbound(Box<RawValue>),
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
        push(&status.phone_number_id, Packed::Status(raw(status)));
    }
    for message in &batch.messages {
        push(&message.phone_number_id, Packed::Inbound(raw(message)));
    }
    let mut bodies = Vec::new();
    for (phone, items) in &by_phone {
        let mut chunk = BillingMessage::<&RawValue, &RawValue>::empty(phone.clone());
        let mut bytes = 0;
        for item in items {
            let len = match item {
                Packed::Status(json) | Packed::Inbound(json) => json.get().len() + 1,
            };
            // One event is far below the limit (its fields are bounded by the parser).
            debug_assert!(len < BODY_BYTES_BUDGET);
            if chunk.statuses.len() + chunk.inbound.len() == EVENTS_PER_MESSAGE_MAX
                || bytes + len > BODY_BYTES_BUDGET
            {
                bodies.push(chunk.to_body());
                chunk = BillingMessage::empty(phone.clone());
                bytes = 0;
            }
            bytes += len;
            match item {
                Packed::Status(json) => chunk.statuses.push(json),
                Packed::Inbound(json) => chunk.inbound.push(json),
            }
        }
        if !chunk.statuses.is_empty() || !chunk.inbound.is_empty() {
            bodies.push(chunk.to_body());
        }
    }
    debug_assert!(bodies.iter().all(|body| body.len() <= MESSAGE_BODY_LEN_MAX));
    bodies
}

fn raw(event: &impl Serialize) -> Box<RawValue> {
    serde_json::value::to_raw_value(event).expect("events always serialize")
}

impl<'a> BillingMessage<&'a RawValue, &'a RawValue> {
    fn empty(phone_number_id: PhoneNumberId) -> Self {
        Self {
            v: MESSAGE_VERSION,
            phone_number_id,
            statuses: Vec::new(),
            inbound: Vec::new(),
        }
    }

    fn to_body(&self) -> String {
        serde_json::to_string(self).expect("a packed message serializes")
    }
}
