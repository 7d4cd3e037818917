//! Identifiers that arrive from outside, parsed once at the edge (parse, don't validate).

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what}: {reason}")]
pub struct IdError {
    pub what: &'static str,
    pub reason: &'static str,
}

/// Checks a token that ends up inside a storage key: 1..=`len_max` bytes of `allowed` characters.
pub(crate) fn check_token(
    text: &str,
    len_max: usize,
    what: &'static str,
    allowed: fn(u8) -> bool,
) -> Result<(), IdError> {
    if text.is_empty() {
        return Err(IdError {
            what,
            reason: "empty",
        });
    }
    if text.len() > len_max {
        return Err(IdError {
            what,
            reason: "too long",
        });
    }
    if !text.bytes().all(allowed) {
        return Err(IdError {
            what,
            reason: "contains a character that is not allowed",
        });
    }
    Ok(())
}

/// A validated string id: `parse` checks length and alphabet once, and the type carries the proof.
/// Used for every id that arrives from outside (accounts, phone numbers, Meta's and Stripe's ids).
macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $what:literal, $len_max:expr, $allowed:expr) => {
        $crate::ids::string_id!($(#[$doc])* $name, $what, $len_max, $allowed, |_: &str| Ok(()));
    };
    ($(#[$doc:meta])* $name:ident, $what:literal, $len_max:expr, $allowed:expr, $shape:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, ::serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub const LEN_MAX: usize = $len_max;

            pub fn parse(text: &str) -> Result<Self, $crate::ids::IdError> {
                $crate::ids::check_token(text, Self::LEN_MAX, $what, $allowed)?;
                let shape: fn(&str) -> Result<(), $crate::ids::IdError> = $shape;
                shape(text)?;
                Ok(Self(text.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <::std::borrow::Cow<'de, str> as ::serde::Deserialize>::deserialize(deserializer)?;
                Self::parse(&text).map_err(::serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use string_id;

/// An account id begins and ends with a letter or a digit, so it is never a path segment that
/// means something else (`.`, `..`, `...`, a hidden `.name`, a trailing dot some systems drop).
fn account_shape(text: &str) -> Result<(), IdError> {
    let edges = [text.as_bytes().first(), text.as_bytes().last()];
    if edges
        .into_iter()
        .all(|byte| byte.is_some_and(u8::is_ascii_alphanumeric))
    {
        Ok(())
    } else {
        Err(IdError {
            what: "account id",
            reason: "must begin and end with a letter or a digit",
        })
    }
}

string_id!(
    /// The business that owns a wallet: 1 to 64 ASCII letters, digits, `.`, `_` and `-`, beginning
    /// and ending with a letter or a digit (so `.`, `..` and `...` are not ids). Safe as a URL
    /// path segment and inside a storage key without escaping.
    AccountId,
    "account id",
    64,
    |byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-'),
    account_shape
);

string_id!(
    /// Meta's `phone_number_id`: the business phone number a message was sent from (digits only).
    PhoneNumberId,
    "phone number id",
    32,
    |byte| byte.is_ascii_digit()
);

const INVALID_CURSOR: IdError = IdError {
    what: "cursor",
    reason: "not a cursor this API issued",
};

/// The one cursor codec of every paged list: `prefix` (which names the list and the cursor's
/// version) and `body`, base64url without padding. Opaque to callers, and names no account.
pub fn encode_cursor(prefix: &str, body: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{prefix}{body}"))
}

/// The body of a cursor [`encode_cursor`] made with `prefix`, if `text` is one of at most
/// `len_max` characters.
pub fn decode_cursor(text: &str, prefix: &str, len_max: usize) -> Result<String, IdError> {
    use base64::Engine;
    if text.is_empty() || text.len() > len_max {
        return Err(INVALID_CURSOR);
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| INVALID_CURSOR)?;
    let decoded = String::from_utf8(bytes).map_err(|_| INVALID_CURSOR)?;
    decoded
        .strip_prefix(prefix)
        .map(str::to_owned)
        .ok_or(INVALID_CURSOR)
}

/// The cursor error, for a body that decodes but does not parse.
pub fn invalid_cursor() -> IdError {
    INVALID_CURSOR
}

/// The one request fingerprint: 16 bytes of SHA-256 over the request's JSON, in hex. Stored with
/// what a request made, so that a replay under the same key is told apart from a different
/// request reusing it.
pub fn fingerprint(request: &impl serde::Serialize) -> String {
    use sha2::{Digest, Sha256};
    let canonical = serde_json::to_vec(request).expect("a request always serializes");
    hex::encode(&Sha256::digest(&canonical)[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_accept_their_alphabet_and_nothing_else() {
        assert!(AccountId::parse("acme-co.eu_1").is_ok());
        assert!(AccountId::parse("a").is_ok());
        assert!(AccountId::parse("a..b").is_ok());
        for bad in [
            "",
            "acme#1",
            "acme co",
            "ácme",
            &"a".repeat(65),
            ".",
            "..",
            "...",
            ".acme",
            "acme.",
            "-acme",
            "acme_",
            "a/b",
            "a%2Fb",
        ] {
            assert!(AccountId::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(PhoneNumberId::parse("106540352242922").is_ok());
        assert!(PhoneNumberId::parse("+1555").is_err());
        assert!(serde_json::from_str::<AccountId>(r#""a#b""#).is_err());
    }
}
