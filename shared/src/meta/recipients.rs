//! Who a status is about, for the price and for the charge key.
//!
//! # The participant's charge key (group messages)
//! Meta charges each delivery of a group message to a participant once. A participant may appear
//! in statuses by phone number (`recipient_participant_id`), by BSUID
//! (`recipient_participant_user_id`), or by both. The charge key is **the BSUID when the status
//! carries one, else the phone number**: a user always has a BSUID, while the phone number is left
//! out for users known by username, so the BSUID is the one that every status about a user can
//! carry. Hence two statuses of one participant give the same key when both carry the BSUID
//! (whatever else they carry), or both carry only the phone number. The one case no status allows
//! to join is one status with only the phone number and another with only the BSUID: nothing in
//! either links the two, and no mapping is guessed.

use super::events::{RecipientType, StatusEvent};
use super::ids::PersonalId;

impl StatusEvent {
    /// The person the message reached, as (phone number, BSUID): the participant's for a group
    /// message, the recipient's otherwise.
    pub fn billed_phone_and_bsuid(&self) -> (Option<&PersonalId>, Option<&PersonalId>) {
        if self.recipient_type == RecipientType::Group {
            (
                self.recipient_participant_id.as_ref(),
                self.recipient_participant_user_id.as_ref(),
            )
        } else {
            (self.recipient_id.as_ref(), self.recipient_user_id.as_ref())
        }
    }

    /// A group participant's charge key (see the module documentation): BSUID first.
    pub fn participant_charge_key(&self) -> Option<&PersonalId> {
        if self.recipient_type != RecipientType::Group {
            return None;
        }
        self.recipient_participant_user_id
            .as_ref()
            .or(self.recipient_participant_id.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::meta::{ChargeDecision, ReviewReason, decide_charge, parse_webhook};

    fn decide(who: &[(&str, &str)], state: &str, wamid: &str) -> ChargeDecision {
        let mut status = json!({"id": wamid, "status": state, "timestamp": "1793613600",
            "pricing": {"billable": true, "pricing_model": "PMP", "type": "regular",
                        "category": "group_marketing"}});
        for (field, value) in who {
            status[*field] = Value::from(*value);
        }
        let body = json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [
            {"field": "messages", "value": {"metadata": {"phone_number_id": "106540352242922"},
             "statuses": [status]}}]}]});
        let batch = parse_webhook(&serde_json::to_vec(&body).unwrap()).unwrap();
        decide_charge(&batch.statuses[0])
    }

    fn key(decision: ChargeDecision) -> String {
        match decision {
            ChargeDecision::Charge(usage) => usage.entry_id.as_str().to_owned(),
            other => panic!("expected a charge, got {other:?}"),
        }
    }

    const GROUP: [(&str, &str); 2] = [
        ("recipient_id", "120363040000000000"),
        ("recipient_type", "group"),
    ];

    fn participant(
        phone: Option<&'static str>,
        bsuid: Option<&'static str>,
    ) -> Vec<(&'static str, &'static str)> {
        let mut who = GROUP.to_vec();
        who.extend(phone.map(|phone| ("recipient_participant_id", phone)));
        who.extend(bsuid.map(|bsuid| ("recipient_participant_user_id", bsuid)));
        who
    }

    #[test]
    fn a_participant_has_one_charge_key_whichever_ids_a_status_carries() {
        let both = key(decide(
            &participant(Some("16505551234"), Some("US.123456")),
            "delivered",
            "wamid.G",
        ));
        let bsuid_only = key(decide(
            &participant(None, Some("US.123456")),
            "read",
            "wamid.G",
        ));
        assert_eq!(
            both, bsuid_only,
            "one status with both ids, one with the BSUID only"
        );
        let phone_only = key(decide(
            &participant(Some("16505551234"), None),
            "read",
            "wamid.G",
        ));
        let phone_again = key(decide(
            &participant(Some("16505551234"), None),
            "delivered",
            "wamid.G",
        ));
        assert_eq!(phone_only, phone_again);
        // The one case no status links: phone only against BSUID only (documented above).
        assert_ne!(phone_only, bsuid_only);
        let other = key(decide(
            &participant(Some("16505551234"), Some("US.999")),
            "read",
            "wamid.G",
        ));
        assert_ne!(other, both, "another BSUID is another participant");
        assert!(!both.contains("123456") && !phone_only.contains("5551234"));
    }

    #[test]
    fn a_billable_status_naming_nobody_is_held_for_review() {
        let mut status = decide(&[], "delivered", "wamid.N");
        assert_eq!(
            status,
            ChargeDecision::NeedsReview(ReviewReason::NoRecipient)
        );
        status = decide(
            &[("recipient_user_id", "US.13491208655302741918")],
            "delivered",
            "wamid.B",
        );
        assert!(matches!(status, ChargeDecision::Charge(_)));
    }
}
