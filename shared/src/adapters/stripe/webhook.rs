//! Stripe webhook signatures.
//!
//! Stripe sends `Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...][,v0=<hex>]`. Each `v1`
//! is the hex HMAC-SHA256 of `"{t}.{raw body}"` keyed with the endpoint's signing secret; while a
//! secret is being rolled Stripe signs with the old and the new one, hence several `v1`. `v0` is a
//! test-mode scheme and is ignored. A delivery is accepted when any `v1` matches any configured
//! secret (compared in constant time) and `t` is within the tolerance of now, which bounds how long
//! a captured delivery can be replayed.
//!
//! The body must be the raw bytes as received: never parsed and re-serialised before this check.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

/// The largest webhook body imcredits accepts. Stripe's events are a few KiB (the object plus
/// `previous_attributes`); the HTTP layer must refuse larger bodies before reading them, and
/// [`WebhookVerifier::verify`] refuses them again.
pub const WEBHOOK_BODY_LEN_MAX: usize = 256 * 1024;
/// Stripe's own libraries default to five minutes.
pub const TOLERANCE_S_DEFAULT: u64 = 300;
/// A header longer than this is not Stripe's (a timestamp and a few 64-hex signatures).
const HEADER_LEN_MAX: usize = 4_096;
/// Secrets configured at once: the current one and those being rolled.
const SECRETS_MAX: usize = 4;
/// Length of a hex HMAC-SHA256.
const SIGNATURE_HEX_LEN: usize = 64;

/// An endpoint's signing secret (`whsec_…`). Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(Vec<u8>);

impl WebhookSecret {
    pub fn parse(text: &str) -> Result<Self, WebhookSetupError> {
        if text.is_empty() || text.len() > 255 || !text.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(WebhookSetupError::Secret);
        }
        // Stripe keys the HMAC with the whole secret string, `whsec_` prefix included.
        Ok(Self(text.as_bytes().to_vec()))
    }
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookSetupError {
    #[error("a webhook signing secret must be 1-255 visible ASCII characters")]
    Secret,
    #[error("between 1 and {SECRETS_MAX} webhook signing secrets must be configured")]
    SecretCount,
}

/// Why a delivery was refused. Every case is answered 400 without acting on the body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no Stripe-Signature header")]
    Missing,
    #[error("malformed Stripe-Signature header: {0}")]
    Malformed(&'static str),
    #[error("the Stripe-Signature header has no v1 signature")]
    NoV1,
    #[error("signed {skew_s} s away from now, beyond the {tolerance_s} s tolerance")]
    OutsideTolerance { skew_s: i64, tolerance_s: u64 },
    #[error("no v1 signature matches the body with a configured secret")]
    Mismatch,
    #[error("the body is larger than {WEBHOOK_BODY_LEN_MAX} bytes")]
    BodyTooLarge,
}

/// Checks `Stripe-Signature` headers against the configured secrets.
#[derive(Debug, Clone)]
pub struct WebhookVerifier {
    secrets: Vec<WebhookSecret>,
    tolerance_s: u64,
}

impl WebhookVerifier {
    /// `secrets`: the current secret, plus the previous ones while a roll is in progress.
    pub fn new(secrets: Vec<WebhookSecret>, tolerance_s: u64) -> Result<Self, WebhookSetupError> {
        if secrets.is_empty() || secrets.len() > SECRETS_MAX {
            return Err(WebhookSetupError::SecretCount);
        }
        Ok(Self {
            secrets,
            tolerance_s,
        })
    }

    /// Verifies one delivery. `header` is the `Stripe-Signature` value if present, `body` the raw
    /// request body, `now` the current time (a parameter so tests decide it). Returns the signed
    /// timestamp.
    pub fn verify(
        &self,
        header: Option<&str>,
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<OffsetDateTime, SignatureError> {
        let header = header.ok_or(SignatureError::Missing)?;
        if body.len() > WEBHOOK_BODY_LEN_MAX {
            return Err(SignatureError::BodyTooLarge);
        }
        let parsed = parse_header(header)?;
        // Authenticity first, then freshness: a genuine but old delivery is a replay, worth telling
        // apart from a forgery in the logs.
        let matched = self.secrets.iter().any(|secret| {
            let expected = sign(secret, parsed.timestamp_text, body);
            parsed
                .signatures
                .iter()
                .flatten()
                .any(|candidate| bool::from(candidate.ct_eq(&expected)))
        });
        if !matched {
            return Err(SignatureError::Mismatch);
        }
        let skew_s = now.unix_timestamp().saturating_sub(parsed.timestamp);
        if skew_s.unsigned_abs() > self.tolerance_s {
            return Err(SignatureError::OutsideTolerance {
                skew_s,
                tolerance_s: self.tolerance_s,
            });
        }
        OffsetDateTime::from_unix_timestamp(parsed.timestamp)
            .map_err(|_| SignatureError::Malformed("timestamp out of range"))
    }
}

/// The HMAC-SHA256 Stripe computes for a delivery.
fn sign(secret: &WebhookSecret, timestamp_text: &str, body: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&secret.0)
        .expect("HMAC takes keys of any length");
    mac.update(timestamp_text.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().into()
}

/// The `Stripe-Signature` value for `body` signed at `timestamp` (what Stripe would send): for
/// tests here and in the handlers, and for the local runner's fake provider.
pub fn signature_header(secret: &WebhookSecret, timestamp: OffsetDateTime, body: &[u8]) -> String {
    let timestamp = timestamp.unix_timestamp().to_string();
    let signature = hex::encode(sign(secret, &timestamp, body));
    format!("t={timestamp},v1={signature}")
}

struct ParsedHeader<'a> {
    /// `t` exactly as sent: it is what was signed.
    timestamp_text: &'a str,
    timestamp: i64,
    /// Each `v1`, decoded; `None` for one that is not 64 hex digits (it cannot match anything,
    /// but a newer format should not make the whole header unreadable).
    signatures: Vec<Option<[u8; 32]>>,
}

fn parse_header(header: &str) -> Result<ParsedHeader<'_>, SignatureError> {
    if header.len() > HEADER_LEN_MAX {
        return Err(SignatureError::Malformed("too long"));
    }
    let mut timestamp_text = None;
    let mut signatures = Vec::new();
    for element in header.split(',') {
        let (key, value) = element
            .trim()
            .split_once('=')
            .ok_or(SignatureError::Malformed("an element is not key=value"))?;
        match key {
            "t" if timestamp_text.is_some() => {
                return Err(SignatureError::Malformed("more than one timestamp"));
            }
            "t" => timestamp_text = Some(value),
            "v1" => signatures.push(decode_signature(value)),
            // v0 (test mode) and any future scheme: not ours to check.
            _ => {}
        }
    }
    let timestamp_text = timestamp_text.ok_or(SignatureError::Malformed("no timestamp"))?;
    let plain_digits = !timestamp_text.is_empty()
        && timestamp_text.len() <= 12
        && timestamp_text.bytes().all(|b| b.is_ascii_digit());
    if !plain_digits {
        return Err(SignatureError::Malformed("timestamp is not unix seconds"));
    }
    let timestamp = timestamp_text
        .parse::<i64>()
        .map_err(|_| SignatureError::Malformed("timestamp is not unix seconds"))?;
    if signatures.is_empty() {
        return Err(SignatureError::NoV1);
    }
    Ok(ParsedHeader {
        timestamp_text,
        timestamp,
        signatures,
    })
}

fn decode_signature(value: &str) -> Option<[u8; 32]> {
    if value.len() != SIGNATURE_HEX_LEN {
        return None;
    }
    let mut decoded = [0u8; 32];
    hex::decode_to_slice(value, &mut decoded).ok()?;
    Some(decoded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;
    use time::macros::datetime;

    const BODY: &[u8] = br#"{"id":"evt_1","type":"checkout.session.completed"}"#;
    const NOW: OffsetDateTime = datetime!(2026-11-21 12:00:00 UTC);

    fn secret(text: &str) -> WebhookSecret {
        WebhookSecret::parse(text).unwrap()
    }

    fn verifier(secrets: &[&str]) -> WebhookVerifier {
        WebhookVerifier::new(
            secrets.iter().map(|text| secret(text)).collect(),
            TOLERANCE_S_DEFAULT,
        )
        .unwrap()
    }

    /// A vector computed outside this code (Python's `hmac`), so a change in what is signed (the
    /// `"{t}." + body` concatenation, the key bytes) is caught, not just self-consistency.
    #[test]
    fn signature_matches_an_independently_computed_vector() {
        let signed_at = datetime!(2025-11-21 12:00:00 UTC);
        assert_eq!(signed_at.unix_timestamp(), 1_763_726_400);
        assert_eq!(
            signature_header(&secret("whsec_test_secret"), signed_at, BODY),
            "t=1763726400,v1=94916ab394f6cf4b1564ef8f6d2efb59ee13e98b6c37fdbda1e6594f5b81e9f3"
        );
    }

    #[test]
    fn a_valid_signature_is_accepted_and_returns_the_signed_time() {
        let header = signature_header(&secret("whsec_a"), NOW - Duration::seconds(10), BODY);
        let signed_at = verifier(&["whsec_a"])
            .verify(Some(&header), BODY, NOW)
            .unwrap();
        assert_eq!(signed_at, NOW - Duration::seconds(10));
    }

    #[test]
    fn a_tampered_body_is_refused() {
        let header = signature_header(&secret("whsec_a"), NOW, BODY);
        let tampered = br#"{"id":"evt_1","type":"checkout.session.completed "}"#;
        assert_eq!(
            verifier(&["whsec_a"]).verify(Some(&header), tampered, NOW),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn a_wrong_secret_is_refused() {
        let header = signature_header(&secret("whsec_other"), NOW, BODY);
        assert_eq!(
            verifier(&["whsec_a"]).verify(Some(&header), BODY, NOW),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn stale_and_future_timestamps_are_refused_beyond_the_tolerance() {
        let verifier = verifier(&["whsec_a"]);
        for (offset_s, accepted) in [(-301, false), (-300, true), (300, true), (301, false)] {
            let header =
                signature_header(&secret("whsec_a"), NOW + Duration::seconds(offset_s), BODY);
            let result = verifier.verify(Some(&header), BODY, NOW);
            if accepted {
                assert!(result.is_ok(), "offset {offset_s}: {result:?}");
            } else {
                assert_eq!(
                    result,
                    Err(SignatureError::OutsideTolerance {
                        skew_s: -offset_s,
                        tolerance_s: 300
                    }),
                    "offset {offset_s}"
                );
            }
        }
        // The tolerance is configurable.
        let strict = WebhookVerifier::new(vec![secret("whsec_a")], 5).unwrap();
        let header = signature_header(&secret("whsec_a"), NOW - Duration::seconds(6), BODY);
        assert!(matches!(
            strict.verify(Some(&header), BODY, NOW),
            Err(SignatureError::OutsideTolerance { skew_s: 6, .. })
        ));
    }

    #[test]
    fn any_matching_v1_is_enough_and_v0_is_ignored() {
        let good = signature_header(&secret("whsec_a"), NOW, BODY);
        let good_v1 = good.split_once(",v1=").unwrap().1;
        let wrong_v1 = "0".repeat(64);
        let t = NOW.unix_timestamp();
        // Only the second v1 matches, as while Stripe signs with an old and a new secret.
        let header = format!("t={t},v1={wrong_v1},v1={good_v1},v0={wrong_v1}");
        assert!(
            verifier(&["whsec_a"])
                .verify(Some(&header), BODY, NOW)
                .is_ok()
        );
        // Without the matching one the same header is refused.
        let header = format!("t={t},v1={wrong_v1},v0={good_v1}");
        assert_eq!(
            verifier(&["whsec_a"]).verify(Some(&header), BODY, NOW),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn any_configured_secret_is_enough_during_a_roll() {
        let header = signature_header(&secret("whsec_new"), NOW, BODY);
        assert!(
            verifier(&["whsec_old", "whsec_new"])
                .verify(Some(&header), BODY, NOW)
                .is_ok()
        );
        assert_eq!(
            verifier(&["whsec_old"]).verify(Some(&header), BODY, NOW),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            WebhookVerifier::new(vec![], 300).unwrap_err(),
            WebhookSetupError::SecretCount
        );
    }

    #[test]
    fn a_missing_header_is_refused() {
        assert_eq!(
            verifier(&["whsec_a"]).verify(None, BODY, NOW),
            Err(SignatureError::Missing)
        );
    }

    #[test]
    fn malformed_headers_are_refused() {
        let verifier = verifier(&["whsec_a"]);
        let v1 = "a".repeat(64);
        let t = NOW.unix_timestamp();
        let cases = [
            (
                String::new(),
                SignatureError::Malformed("an element is not key=value"),
            ),
            (
                "garbage".to_owned(),
                SignatureError::Malformed("an element is not key=value"),
            ),
            (
                format!("v1={v1}"),
                SignatureError::Malformed("no timestamp"),
            ),
            (
                format!("t=abc,v1={v1}"),
                SignatureError::Malformed("timestamp is not unix seconds"),
            ),
            (
                format!("t=-5,v1={v1}"),
                SignatureError::Malformed("timestamp is not unix seconds"),
            ),
            (
                format!("t={t},t={t},v1={v1}"),
                SignatureError::Malformed("more than one timestamp"),
            ),
            (format!("t={t}"), SignatureError::NoV1),
            (format!("t={t},v0={v1}"), SignatureError::NoV1),
            (
                format!("t={t},v1={}", "a".repeat(5_000)),
                SignatureError::Malformed("too long"),
            ),
        ];
        for (header, expected) in cases {
            assert_eq!(
                verifier.verify(Some(&header), BODY, NOW),
                Err(expected),
                "{header:?}"
            );
        }
        // A v1 that is not 64 hex digits cannot match, without making the header unreadable.
        let header = format!("t={t},v1=zz");
        assert_eq!(
            verifier.verify(Some(&header), BODY, NOW),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn oversized_bodies_are_refused() {
        let body = vec![b' '; WEBHOOK_BODY_LEN_MAX + 1];
        let header = signature_header(&secret("whsec_a"), NOW, &body);
        assert_eq!(
            verifier(&["whsec_a"]).verify(Some(&header), &body, NOW),
            Err(SignatureError::BodyTooLarge)
        );
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let verifier = verifier(&["whsec_topsecret"]);
        assert!(!format!("{verifier:?}").contains("topsecret"));
    }
}
