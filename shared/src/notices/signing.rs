//! Standard Webhooks signatures (<https://www.standardwebhooks.com>): the signed content is
//! `{webhook-id}.{webhook-timestamp}.{body}`, HMAC-SHA256 with the endpoint's secret, sent as
//! `webhook-signature: v1,<base64>`. During a secret rotation both secrets sign, space-separated,
//! so a receiver holding either one accepts the message. The tests check these signatures with the
//! `standardwebhooks` package, an implementation nobody here wrote.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

pub const HEADER_ID: &str = "webhook-id";
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
pub const HEADER_SIGNATURE: &str = "webhook-signature";
/// The prefix of a signing secret, as Standard Webhooks' libraries expect it.
pub const SECRET_PREFIX: &str = "whsec_";
/// Random bytes in a new secret (the spec asks for 24 to 64).
pub const SECRET_BYTES: usize = 32;

/// An endpoint's signing secret. Its Debug never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret {
    key: Vec<u8>,
}

impl std::fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningSecret(..)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("a signing secret is whsec_ followed by base64 of 24 to 64 bytes")]
    Malformed,
    #[error("the system could not provide random bytes: {0}")]
    Random(String),
}

impl SigningSecret {
    pub fn generate() -> Result<Self, SecretError> {
        let mut key = vec![0u8; SECRET_BYTES];
        getrandom::fill(&mut key).map_err(|error| SecretError::Random(error.to_string()))?;
        Ok(Self { key })
    }

    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let encoded = text
            .strip_prefix(SECRET_PREFIX)
            .ok_or(SecretError::Malformed)?;
        let key = STANDARD
            .decode(encoded)
            .map_err(|_| SecretError::Malformed)?;
        if !(24..=64).contains(&key.len()) {
            return Err(SecretError::Malformed);
        }
        Ok(Self { key })
    }

    /// `whsec_<base64>`: shown once to whoever registers the endpoint, and stored.
    pub fn expose(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.key))
    }

    /// `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body.as_bytes());
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

/// The three headers of one attempt, signed with every secret in `secrets` (the current one, and
/// the previous one while a rotation's overlap lasts). `timestamp` is the attempt's, in seconds.
pub fn headers(
    secrets: &[&SigningSecret],
    id: &str,
    timestamp: i64,
    body: &str,
) -> Vec<(&'static str, String)> {
    assert!(!secrets.is_empty(), "a webhook is always signed");
    let signatures: Vec<String> = secrets
        .iter()
        .map(|secret| secret.sign(id, timestamp, body))
        .collect();
    vec![
        (HEADER_ID, id.to_owned()),
        (HEADER_TIMESTAMP, timestamp.to_string()),
        (HEADER_SIGNATURE, signatures.join(" ")),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_specification_s_example_signs_as_published() {
        // The example in the Standard Webhooks specification and its libraries' tests.
        let secret = SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let signature = secret.sign(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
        );
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert!(SigningSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_err());
        assert!(SigningSecret::parse("whsec_c2hvcnQ=").is_err());
        let fresh = SigningSecret::generate().unwrap();
        assert_eq!(SigningSecret::parse(&fresh.expose()).unwrap(), fresh);
        assert_eq!(format!("{fresh:?}"), "SigningSecret(..)");
    }

    #[test]
    fn a_rotation_signs_with_both_secrets() {
        let (new, old) = (
            SigningSecret::generate().unwrap(),
            SigningSecret::generate().unwrap(),
        );
        let signed = headers(&[&new, &old], "id", 5, "{}");
        let expected = format!("{} {}", new.sign("id", 5, "{}"), old.sign("id", 5, "{}"));
        assert_eq!(signed[2], (HEADER_SIGNATURE, expected));
    }
}
