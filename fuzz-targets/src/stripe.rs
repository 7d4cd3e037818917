//! Stripe's webhook: the `Stripe-Signature` header and the HMAC over the raw body, then the event
//! parse and every accessor the purchase and recharge handlers read.

use std::sync::OnceLock;

use imcredits::adapters::stripe::events::{EventKind, parse_event};
use imcredits::adapters::stripe::webhook::{
    SignatureError, WebhookSecret, WebhookVerifier, signature_header,
};
use time::OffsetDateTime;

const SECRET: &str = "whsec_fuzz";
const TOLERANCE_S: u64 = 300;

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("a valid timestamp")
}

fn verifier() -> &'static WebhookVerifier {
    static VERIFIER: OnceLock<WebhookVerifier> = OnceLock::new();
    VERIFIER.get_or_init(|| {
        let secret = WebhookSecret::parse(SECRET).expect("a valid secret");
        WebhookVerifier::new(vec![secret], TOLERANCE_S).expect("one secret")
    })
}

/// Selector even: the rest is a body signed now with the secret. Selector odd: the rest is
/// `header \n body`, checked as received.
pub fn stripe_webhook(data: &[u8]) {
    let Some((selector, rest)) = crate::split_selector(data) else {
        return;
    };
    let body = if selector % 2 == 0 {
        let secret = WebhookSecret::parse(SECRET).expect("a valid secret");
        let header = signature_header(&secret, now(), rest);
        let verified = verifier().verify(Some(&header), rest, now());
        assert!(
            matches!(verified, Ok(_) | Err(SignatureError::BodyTooLarge)),
            "a body signed now with the secret must verify: {verified:?}"
        );
        rest
    } else {
        let (header, body) = match rest.iter().position(|byte| *byte == b'\n') {
            Some(at) => (std::str::from_utf8(&rest[..at]).ok(), &rest[at + 1..]),
            None => (None, rest),
        };
        if verifier().verify(header, body, now()).is_err() {
            return;
        }
        body
    };
    let Ok(event) = parse_event(body) else {
        return;
    };
    let _ = event.paid_checkout();
    match &event.kind {
        EventKind::CheckoutSessionCompleted(session)
        | EventKind::CheckoutSessionAsyncPaymentSucceeded(session)
        | EventKind::CheckoutSessionAsyncPaymentFailed(session)
        | EventKind::CheckoutSessionExpired(session) => {
            let _ = session.purchase_id();
            let _ = session.account_id();
            let _ = session.amount_total();
            let _ = session.payment_intent_id();
            let _ = session.payment_method();
        }
        EventKind::PaymentIntentSucceeded(intent)
        | EventKind::PaymentIntentPaymentFailed(intent) => {
            let _ = intent.attempt_id();
            let _ = intent.purchase_id();
            let _ = intent.account_id();
            let _ = intent.amount();
        }
        EventKind::Other { .. } => {}
    }
}
