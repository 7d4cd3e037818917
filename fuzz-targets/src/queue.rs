//! The billing queue's message: whatever sits on the queue (a redrive, a hand-edited message, an
//! older writer) parses or is refused with a `MessageError`, and a message that parses is written
//! back to JSON that parses to the same message.

use imcredits::billing::message::BillingMessage;
use imcredits::meta::decide_charge;

pub fn billing_message(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(message) = BillingMessage::parse(text) else {
        return;
    };
    for status in &message.statuses {
        let _ = decide_charge(status);
    }
    let written = serde_json::to_string(&message).expect("a parsed message serializes");
    let again = BillingMessage::parse(&written)
        .unwrap_or_else(|error| panic!("a written message must parse back: {error}: {written}"));
    assert_eq!(again, message, "a message survives a write and a read");
}
