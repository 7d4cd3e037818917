//! Identifiers and texts of Meta's webhook, parsed once (parse, don't validate).

use std::fmt;

use hmac::{KeyInit, Mac};
use serde::{Deserialize, Deserializer, Serialize};

use crate::ids::{IdError, check_token};
use crate::ledger::EntryId;

fn ascii_graphic(byte: u8) -> bool {
    byte.is_ascii_graphic()
}

use crate::ids::string_id;

string_id!(
    /// A WhatsApp message id (`wamid.…`), the key of a per-message charge.
    ///
    /// At most 128 printable ASCII bytes (real ones are about 60). The bound leaves room under
    /// [`EntryId::REFERENCE_LEN_MAX`] for the group-participant suffix of a group charge, so every
    /// `Wamid` makes a valid entry id (tested below).
    ///
    /// Note: a wamid is base64 that embeds the recipient's phone number; it is an id, not a secret,
    /// but it is not anonymous either.
    Wamid,
    "wamid",
    128,
    ascii_graphic
);

string_id!(
    /// A legacy (CBP) conversation id, the key of a per-conversation charge.
    ConversationId,
    "conversation id",
    EntryId::REFERENCE_LEN_MAX,
    ascii_graphic
);

string_id!(
    /// A WhatsApp Business Account id (`entry[].id`): digits only.
    WabaId,
    "WABA id",
    32,
    |byte: u8| byte.is_ascii_digit()
);

/// Personal data that identifies a WhatsApp user: a phone number, a group id or a business-scoped
/// user id (BSUID).
///
/// Billing needs the clear value (the recipient's calling code picks the rate), so it is serialised
/// in clear onto the queue; but `Debug` never prints it, and there is no `Display`, so it cannot end
/// up in a log line by accident. [`PersonalId::hashed`] gives a keyed, log-safe fingerprint.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct PersonalId(String);

impl PersonalId {
    /// A phone number has at most 15 digits; a BSUID is a country code, a dot and up to 128
    /// characters (a parent BSUID adds `ENT.`); group ids are shorter.
    pub const LEN_MAX: usize = 160;

    pub fn parse(text: &str) -> Result<Self, IdError> {
        check_token(text, Self::LEN_MAX, "personal id", ascii_graphic)?;
        Ok(Self(text.to_owned()))
    }

    /// The clear value, for the few places that need it (rate lookup). Never log it.
    pub fn reveal(&self) -> &str {
        &self.0
    }

    /// A log-safe fingerprint: the first 16 hex digits of HMAC-SHA256(`key`, id). Keyed because the
    /// space of phone numbers is small enough to reverse a plain hash by brute force; the same key
    /// gives the same fingerprint, so log lines about one user can still be correlated.
    pub fn hashed(&self, key: &[u8]) -> String {
        let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(self.0.as_bytes());
        let digest = mac.finalize().into_bytes();
        hex::encode(&digest[..8])
    }
}

impl fmt::Debug for PersonalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PersonalId(<redacted>)")
    }
}

impl<'de> Deserialize<'de> for PersonalId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// `biz_opaque_callback_data`: what the business attached to the message when sending it. It may
/// hold anything the business chose (customer references included), so `Debug` shows its length only.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct OpaqueData(String);

impl OpaqueData {
    /// Meta's own limit on the value at send time.
    pub const LEN_MAX: usize = 512;

    pub fn parse(text: &str) -> Option<Self> {
        (text.chars().count() <= Self::LEN_MAX).then(|| Self(text.to_owned()))
    }

    pub fn reveal(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for OpaqueData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OpaqueData(<{} bytes>)", self.0.len())
    }
}

impl<'de> Deserialize<'de> for OpaqueData {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse(&text).ok_or_else(|| serde::de::Error::custom("opaque data is too long"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_take_their_alphabet_and_length_only() {
        assert!(
            Wamid::parse("wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA=").is_ok()
        );
        for bad in ["", "wamid with space", "wamid.é", &"w".repeat(129)] {
            assert!(Wamid::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(WabaId::parse("102290129340398").is_ok());
        assert!(WabaId::parse("<WHATSAPP_BUSINESS_ACCOUNT_ID>").is_err());
        assert!(ConversationId::parse(&"c".repeat(EntryId::REFERENCE_LEN_MAX)).is_ok());
        assert!(ConversationId::parse(&"c".repeat(EntryId::REFERENCE_LEN_MAX + 1)).is_err());
        assert!(serde_json::from_str::<Wamid>(r#""a b""#).is_err());
    }

    #[test]
    fn every_wamid_and_conversation_id_makes_an_entry_id() {
        let longest = "w".repeat(Wamid::LEN_MAX);
        assert!(EntryId::message_charge(&longest).is_ok());
        let longest = "c".repeat(ConversationId::LEN_MAX);
        assert!(EntryId::conversation_charge(&longest).is_ok());
    }

    #[test]
    fn personal_ids_never_show_in_debug() {
        let phone = PersonalId::parse("16505551234").unwrap();
        let shown = format!("{phone:?} {:?}", Some(&phone));
        assert!(!shown.contains("16505551234"), "{shown}");
        assert!(!shown.contains("5551234"), "{shown}");
        assert_eq!(serde_json::to_string(&phone).unwrap(), r#""16505551234""#);
        let fingerprint = phone.hashed(b"log key");
        assert_eq!(fingerprint.len(), 16);
        assert_eq!(fingerprint, phone.hashed(b"log key"));
        assert_ne!(fingerprint, phone.hashed(b"other key"));
        let opaque = OpaqueData::parse("customer 42").unwrap();
        assert_eq!(format!("{opaque:?}"), "OpaqueData(<11 bytes>)");
        assert!(OpaqueData::parse(&"x".repeat(513)).is_none());
    }
}
