//! Meta's webhook: the signature over the raw bytes, the tolerant parse, normalisation, the
//! charge decision and its price, and packing into billing queue messages (which must parse back).

use std::sync::OnceLock;

use imcredits::billing::charges::charge_entry;
use imcredits::billing::message::{BillingMessage, pack};
use imcredits::meta::signature::signature_header_value;
use imcredits::meta::{
    AppSecret, ChargeDecision, WebhookRejection, decide_charge, verify_and_parse,
};
use imcredits::money::Currency;
use imcredits::pricing::{RateBook, RateCard};

const APP_SECRET: &[u8] = b"fuzz-app-secret";
/// A flat card, so that every placed recipient has a price.
const FLAT_CARD: &str = include_str!("../../shared/rate-cards/zoho-flat-usd.json");

fn secret() -> &'static AppSecret {
    static SECRET: OnceLock<AppSecret> = OnceLock::new();
    SECRET.get_or_init(|| AppSecret::new(APP_SECRET).expect("a non-empty secret"))
}

fn book() -> &'static RateBook {
    static BOOK: OnceLock<RateBook> = OnceLock::new();
    BOOK.get_or_init(|| {
        let card = RateCard::from_json(FLAT_CARD).expect("the committed flat card is valid");
        RateBook::from_cards(Currency::Usd, [card]).expect("one USD card makes a book")
    })
}

/// Selector even: the rest is a body, signed as Meta would sign it, so the parser sees it.
/// Selector odd: the rest is `header \n body`, checked as received (almost always refused).
pub fn meta_webhook(data: &[u8]) {
    let Some((selector, rest)) = crate::split_selector(data) else {
        return;
    };
    let result = if selector % 2 == 0 {
        let header = signature_header_value(secret(), rest);
        let result = verify_and_parse(secret(), Some(header.as_bytes()), rest);
        assert!(
            !matches!(result, Err(WebhookRejection::Signature(_))),
            "a body signed with the secret must pass the signature check: {result:?}"
        );
        result
    } else {
        let (header, body) = match rest.iter().position(|byte| *byte == b'\n') {
            Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
            None => (None, rest),
        };
        verify_and_parse(secret(), header, body)
    };
    let Ok(batch) = result else {
        return;
    };
    for status in &batch.statuses {
        let (usage, free) = match decide_charge(status) {
            ChargeDecision::Charge(usage) => (usage, false),
            ChargeDecision::FreeUsage(usage) => (usage, true),
            ChargeDecision::NoCharge { .. } | ChargeDecision::NeedsReview(_) => continue,
        };
        // Refusals (no market, no price) are the billing handler's to report; a panic is a bug.
        let _ = charge_entry(
            imcredits::pricing::built_in_market_lists(),
            status,
            &usage,
            free,
            book(),
            Currency::Usd,
        );
    }
    let (mut statuses, mut inbound) = (0, 0);
    for body in pack(&batch) {
        let message = BillingMessage::parse(&body)
            .unwrap_or_else(|error| panic!("a packed message must parse back: {error}: {body}"));
        statuses += message.statuses.len();
        inbound += message.inbound.len();
    }
    assert_eq!(
        statuses,
        batch.statuses.len(),
        "every status is packed once"
    );
    assert_eq!(
        inbound,
        batch.messages.len(),
        "every inbound message is packed once"
    );
}
