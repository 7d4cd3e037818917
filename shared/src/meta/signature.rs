//! `X-Hub-Signature-256`: Meta signs every webhook POST with HMAC-SHA256 of the **raw body bytes**,
//! keyed with the app secret, sent as `sha256=<64 hex digits>`.
//!
//! The body is checked exactly as received: never parsed, re-serialised or re-encoded first (JSON
//! has many spellings of the same document, and Meta escapes non-ASCII characters its own way).
//! The comparison is constant-time (`Mac::verify_slice`).
//!
//! Hex digits are accepted in either case: Meta sends lowercase, and an uppercase spelling encodes
//! the same MAC, so refusing it would add no security. The `sha256=` prefix must be exactly that.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The header's name, lowercase as HTTP/2 and API Gateway deliver it.
pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";

const SIGNATURE_PREFIX: &[u8] = b"sha256=";
const MAC_LEN: usize = 32;

type HmacSha256 = Hmac<Sha256>;

/// The Meta app secret, keyed into HMAC once (at cold start): each check clones the keyed state
/// instead of hashing the key again. `Debug` never prints it.
#[derive(Clone)]
pub struct AppSecret {
    keyed: HmacSha256,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AppSecretError {
    #[error("the app secret is empty")]
    Empty,
}

impl AppSecret {
    pub fn new(secret: &[u8]) -> Result<Self, AppSecretError> {
        if secret.is_empty() {
            return Err(AppSecretError::Empty);
        }
        let keyed = <HmacSha256 as KeyInit>::new_from_slice(secret)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        Ok(Self { keyed })
    }

    fn mac_of(&self, body: &[u8]) -> HmacSha256 {
        let mut mac = self.keyed.clone();
        mac.update(body);
        mac
    }
}

impl fmt::Debug for AppSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AppSecret(<redacted>)")
    }
}

/// Why a header value is not a signature at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MalformedSignature {
    #[error("it does not start with `sha256=`")]
    NoSha256Prefix,
    #[error("it has {hex_len} hex digits instead of 64")]
    WrongLength { hex_len: usize },
    #[error("it has a character that is not a hex digit")]
    NotHex,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the X-Hub-Signature-256 header is missing")]
    Missing,
    #[error("the X-Hub-Signature-256 header is malformed: {0}")]
    Malformed(#[from] MalformedSignature),
    #[error("the X-Hub-Signature-256 signature does not match the body")]
    Mismatch,
}

/// Checks `header` (the raw value of `X-Hub-Signature-256`, if the request had one) against `body`.
pub fn verify_signature(
    secret: &AppSecret,
    header: Option<&[u8]>,
    body: &[u8],
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let hex_digits = header
        .strip_prefix(SIGNATURE_PREFIX)
        .ok_or(MalformedSignature::NoSha256Prefix)?;
    if hex_digits.len() != 2 * MAC_LEN {
        return Err(MalformedSignature::WrongLength {
            hex_len: hex_digits.len(),
        }
        .into());
    }
    let mut expected = [0u8; MAC_LEN];
    hex::decode_to_slice(hex_digits, &mut expected).map_err(|_| MalformedSignature::NotHex)?;
    secret
        .mac_of(body)
        .verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)
}

/// The header value Meta would send for `body`: for tests and the local runner's stand-in for Meta.
pub fn signature_header_value(secret: &AppSecret, body: &[u8]) -> String {
    let mac = secret.mac_of(body).finalize().into_bytes();
    format!("sha256={}", hex::encode(mac))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> AppSecret {
        AppSecret::new(b"test app secret").unwrap()
    }

    fn check(header: &str, body: &[u8]) -> Result<(), SignatureError> {
        verify_signature(&secret(), Some(header.as_bytes()), body)
    }

    #[test]
    fn matches_an_independent_hmac_sha256() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let jefe = AppSecret::new(b"Jefe").unwrap();
        let header = signature_header_value(&jefe, b"what do ya want for nothing?");
        assert_eq!(
            header,
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            verify_signature(
                &jefe,
                Some(header.as_bytes()),
                b"what do ya want for nothing?"
            ),
            Ok(())
        );
    }

    #[test]
    fn a_valid_signature_passes_and_any_change_fails() {
        let body = br#"{"object":"whatsapp_business_account","entry":[]}"#;
        let header = signature_header_value(&secret(), body);
        assert_eq!(check(&header, body), Ok(()));

        let tampered = br#"{"object":"whatsapp_business_account","entry":[ ]}"#;
        assert_eq!(check(&header, tampered), Err(SignatureError::Mismatch));
        assert_eq!(check(&header, b""), Err(SignatureError::Mismatch));

        let other = AppSecret::new(b"another secret").unwrap();
        assert_eq!(
            verify_signature(&other, Some(header.as_bytes()), body),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn missing_and_malformed_headers_are_told_apart() {
        let body = b"{}";
        let digits = &signature_header_value(&secret(), body)["sha256=".len()..];
        assert_eq!(
            verify_signature(&secret(), None, body),
            Err(SignatureError::Missing)
        );
        for wrong_prefix in [
            digits.to_owned(),
            format!("sha1={digits}"),
            format!("SHA256={digits}"),
            format!(" sha256={digits}"),
            String::new(),
        ] {
            assert_eq!(
                check(&wrong_prefix, body),
                Err(MalformedSignature::NoSha256Prefix.into()),
                "{wrong_prefix:?}"
            );
        }
        assert_eq!(
            check(&format!("sha256={}", &digits[..63]), body),
            Err(MalformedSignature::WrongLength { hex_len: 63 }.into())
        );
        assert_eq!(
            check(&format!("sha256={digits}00"), body),
            Err(MalformedSignature::WrongLength { hex_len: 66 }.into())
        );
        let not_hex = format!("sha256={}zz", &digits[..62]);
        assert_eq!(
            check(&not_hex, body),
            Err(MalformedSignature::NotHex.into())
        );
        // Non-UTF-8 header bytes are malformed, not a panic.
        let mut raw = b"sha256=".to_vec();
        raw.extend([0xff; 64]);
        assert_eq!(
            verify_signature(&secret(), Some(&raw), body),
            Err(MalformedSignature::NotHex.into())
        );
    }

    #[test]
    fn uppercase_hex_encodes_the_same_mac_and_is_accepted() {
        let body = b"{\"a\":1}";
        let header = signature_header_value(&secret(), body);
        let upper = format!("sha256={}", header["sha256=".len()..].to_uppercase());
        assert_ne!(upper, header);
        assert_eq!(check(&upper, body), Ok(()));
    }

    #[test]
    fn non_ascii_bodies_are_signed_over_their_exact_bytes() {
        // The same name, once as raw UTF-8 and once as JSON \u escapes: equal as JSON, different
        // as bytes, so each signature fits its own spelling only.
        let raw = r#"{"name":"José Müller 😀"}"#.as_bytes();
        let escaped = br#"{"name":"Jos\u00e9 M\u00fcller \ud83d\ude00"}"#;
        let as_json = |bytes: &[u8]| serde_json::from_slice::<serde_json::Value>(bytes).unwrap();
        assert_eq!(as_json(raw), as_json(escaped));

        let raw_header = signature_header_value(&secret(), raw);
        let escaped_header = signature_header_value(&secret(), escaped);
        assert_eq!(check(&raw_header, raw), Ok(()));
        assert_eq!(check(&escaped_header, escaped), Ok(()));
        assert_eq!(check(&raw_header, escaped), Err(SignatureError::Mismatch));
        assert_eq!(check(&escaped_header, raw), Err(SignatureError::Mismatch));
    }

    #[test]
    fn the_secret_never_shows_and_cannot_be_empty() {
        let secret = AppSecret::new(b"hunter2-app-secret").unwrap();
        assert_eq!(format!("{secret:?}"), "AppSecret(<redacted>)");
        assert_eq!(AppSecret::new(b"").unwrap_err(), AppSecretError::Empty);
    }
}
