//! A dead letter for every skipped item that may have been a charge: why it was skipped, where it
//! was in the body, and the item as Meta sent it, so an operator can see what was not billed.

use serde::Serialize;
use serde_json::Value;

use super::normalise::{ItemKind, ParseReport, Skipped};

/// Names where these dead letters come from, beside the queues' own.
pub const SOURCE: &str = "meta_webhook";

#[derive(Serialize)]
struct SkippedLetter<'a> {
    source: &'static str,
    /// The skip reason in words, e.g. `status.timestamp is not valid`.
    reason: String,
    skipped: &'a Skipped,
    /// The item as sent (it may carry personal data: dead letters stay in the operator's store).
    item: Option<&'a Value>,
}

/// One JSON dead letter per item of `report.possibly_billable`, read from `body` (the bytes the
/// report was made from). Empty, and `body` not read again, when nothing billable was skipped.
pub fn skipped_dead_letters(body: &[u8], report: &ParseReport) -> Vec<String> {
    if report.possibly_billable.is_empty() {
        return Vec::new();
    }
    // The body was parsed once already (it is valid JSON, within the size limit).
    let root: Option<Value> = serde_json::from_slice(body).ok();
    report
        .possibly_billable
        .iter()
        .map(|skipped| {
            let letter = SkippedLetter {
                source: SOURCE,
                reason: skipped.reason.to_string(),
                skipped,
                item: root.as_ref().and_then(|root| locate(root, skipped)),
            };
            serde_json::to_string(&letter).expect("a dead letter serializes")
        })
        .collect()
}

/// The skipped item in the body: the entry, the change, or the status/message within it.
fn locate<'a>(root: &'a Value, skipped: &Skipped) -> Option<&'a Value> {
    let entry = root
        .get("entry")?
        .get(usize::try_from(skipped.entry_index).ok()?)?;
    let Some(change_index) = skipped.change_index else {
        return Some(entry);
    };
    let change = entry
        .get("changes")?
        .get(usize::try_from(change_index).ok()?)?;
    let Some(item_index) = skipped.item_index else {
        return Some(change);
    };
    let list = match skipped.kind {
        ItemKind::Message => "messages",
        ItemKind::Status | ItemKind::Entry | ItemKind::Change => "statuses",
    };
    change
        .get("value")?
        .get(list)?
        .get(usize::try_from(item_index).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::parse_webhook;

    #[test]
    fn every_possibly_billable_skipped_status_is_a_letter_with_its_reason_and_item() {
        let body = serde_json::json!({
            "object": "whatsapp_business_account",
            "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
                "metadata": {"phone_number_id": "106540352242922"},
                "statuses": [
                    {"id": "wamid.ok", "status": "delivered", "timestamp": "1700000000",
                     "recipient_id": "15550001111",
                     "pricing": {"billable": true, "pricing_model": "PMP", "category": "marketing", "type": "regular"}},
                    {"id": "wamid.bad", "status": "delivered", "timestamp": "-100",
                     "recipient_id": "15550001111",
                     "pricing": {"billable": true, "pricing_model": "PMP", "category": "marketing", "type": "regular"}},
                    {"id": "wamid.free", "status": "sent", "timestamp": "1e20", "recipient_id": "15550001111"}
                ]
            }}]}]
        })
        .to_string();
        let batch = parse_webhook(body.as_bytes()).unwrap();
        assert_eq!(batch.statuses.len(), 1);
        let letters = skipped_dead_letters(body.as_bytes(), &batch.report);
        assert_eq!(
            letters.len(),
            1,
            "only the priced one may have been a charge"
        );
        let letter: Value = serde_json::from_str(&letters[0]).unwrap();
        assert_eq!(letter["source"], "meta_webhook");
        assert_eq!(letter["reason"], "status.timestamp has the wrong JSON type");
        assert_eq!(letter["item"]["id"], "wamid.bad");
        assert_eq!(letter["skipped"]["item_index"], 1);
    }

    #[test]
    fn priced_statuses_under_another_field_are_letters_too() {
        let body = serde_json::json!({
            "object": "whatsapp_business_account",
            "entry": [{"id": "1", "changes": [{"field": "message_echoes", "value": {
                "statuses": [{"id": "wamid.x", "pricing": {"billable": true}}]
            }}]}]
        })
        .to_string();
        let batch = parse_webhook(body.as_bytes()).unwrap();
        let letters = skipped_dead_letters(body.as_bytes(), &batch.report);
        assert_eq!(
            letters.len() as u32,
            batch.report.counts.possibly_billable_skipped
        );
        assert!(letters[0].contains("wamid.x"));
        assert!(skipped_dead_letters(b"{}", &ParseReport::default()).is_empty());
    }
}
