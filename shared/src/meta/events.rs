//! The normalised events: what the webhook function puts on the billing queue, and what billing
//! reads back. Serialised as JSON; fields that are absent are left out to keep queue messages small.
//! Deserialising re-checks every id, so billing never trusts a malformed queue message either.
//!
//! Personal data (`recipient_*`, `from*`) is held as [`PersonalId`], whose `Debug` is redacted: the
//! derived `Debug` of these events is safe to log.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;

use super::ids::{ConversationId, OpaqueData, PersonalId, WabaId, Wamid};
use crate::ids::PhoneNumberId;

/// Longest short code-like text kept (a status, a pricing type or category, a message type).
pub const CODE_LEN_MAX: usize = 64;

/// Parses a short code-like text: 1..=[`CODE_LEN_MAX`] printable ASCII bytes.
pub(crate) fn code_text(text: &str) -> Option<&str> {
    let ok = !text.is_empty()
        && text.len() <= CODE_LEN_MAX
        && text.bytes().all(|byte| byte.is_ascii_graphic());
    ok.then_some(text)
}

/// Generates a string enum with known values and an `Unknown(String)` for the rest: Meta adds values
/// without notice, and an unknown one must be kept and reported, not fail the item.
macro_rules! open_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
            /// A value this code does not know (at most [`CODE_LEN_MAX`] printable ASCII bytes).
            Unknown(String),
        }

        impl $name {
            /// `None` if `text` is not code-like at all (empty, too long, not printable ASCII).
            pub fn parse(text: &str) -> Option<Self> {
                Some(match code_text(text)? {
                    $($text => $name::$variant,)+
                    other => $name::Unknown(other.to_owned()),
                })
            }

            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)+
                    $name::Unknown(text) => text,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                $name::parse(&text).ok_or_else(|| {
                    serde::de::Error::custom(concat!("not a code-like ", stringify!($name)))
                })
            }
        }
    };
}

open_enum!(
    /// `statuses[].status`.
    MessageStatus {
        Sent = "sent",
        Delivered = "delivered",
        Read = "read",
        Failed = "failed",
        /// A voice message was played for the first time.
        Played = "played",
        /// On-premises API only, kept for completeness.
        Deleted = "deleted",
    }
);

open_enum!(
    /// `pricing.pricing_model`.
    PricingModel {
        /// Per-message pricing (from July 2025).
        Pmp = "PMP",
        /// Legacy conversation-based pricing.
        Cbp = "CBP",
    }
);

open_enum!(
    /// `statuses[].recipient_type` (absent means an individual).
    RecipientType {
        Individual = "individual",
        Group = "group",
    }
);

/// `statuses[].pricing`, as Meta sent it. Categories stay raw strings: the pricing module parses
/// them (and accepts spellings and categories that did not exist when this was written).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pricing {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billable: Option<bool>,
    /// `None` if Meta left the model out (then no charge rule applies: see `charge_rules`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pricing_model: Option<PricingModel>,
    /// `regular`, `free_customer_service`, `free_entry_point`, ...
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
}

/// `statuses[].conversation`: per-conversation (CBP) ids, and free entry point windows under PMP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversation {
    pub id: ConversationId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_type: Option<String>,
    #[serde(
        default,
        with = "time::serde::timestamp::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub expiration_timestamp: Option<OffsetDateTime>,
}

/// One item of `statuses[].errors` (or of `value.errors`). Texts are cut to a bounded length: they
/// are for people reading logs and the dashboard, never for decisions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusError {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
}

/// One status update of a message the business sent: the event billing charges from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusEvent {
    pub wamid: Wamid,
    pub status: MessageStatus,
    /// When Meta saw the status change (the webhook's own `timestamp`, unix seconds on the wire).
    #[serde(with = "time::serde::timestamp")]
    pub timestamp: OffsetDateTime,
    /// The business number the message was sent from: how billing finds the account.
    pub phone_number_id: PhoneNumberId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_phone_number: Option<String>,
    /// `entry[].id`; `None` if Meta sent something that is not a WABA id (billing does not need it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waba_id: Option<WabaId>,
    /// The user's phone number, or the group id for a group message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_id: Option<PersonalId>,
    /// The user's business-scoped user id (BSUID), sent alongside or instead of the phone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_user_id: Option<PersonalId>,
    pub recipient_type: RecipientType,
    /// For a group message: the participant this status is about (their phone number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_participant_id: Option<PersonalId>,
    /// For a group message: the participant's BSUID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_participant_user_id: Option<PersonalId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pricing: Option<Pricing>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<Conversation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub biz_opaque_callback_data: Option<OpaqueData>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<StatusError>,
}

impl StatusEvent {
    /// The person the message reached, for the rate lookup (their calling code): the participant
    /// for a group message, the recipient otherwise. Phone numbers first, BSUIDs as a fallback.
    pub fn billed_recipient(&self) -> Option<&PersonalId> {
        if self.recipient_type == RecipientType::Group {
            self.recipient_participant_id
                .as_ref()
                .or(self.recipient_participant_user_id.as_ref())
        } else {
            self.recipient_id
                .as_ref()
                .or(self.recipient_user_id.as_ref())
        }
    }
}

/// A message a WhatsApp user sent to the business. Not charged, but it opens (or refreshes) the
/// customer service window, and one that came from a click-to-WhatsApp ad opens a free entry point
/// window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundMessage {
    pub id: Wamid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<PersonalId>,
    /// The sender's BSUID, sent alongside or instead of the phone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_user_id: Option<PersonalId>,
    #[serde(with = "time::serde::timestamp")]
    pub timestamp: OffsetDateTime,
    /// `text`, `image`, `interactive`, ... (raw, code-like).
    #[serde(rename = "type")]
    pub type_: String,
    /// The message carries a `referral` from an ad (`source_type: ad`, or a `ctwa_clid`).
    pub from_ad_referral: bool,
    pub phone_number_id: PhoneNumberId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waba_id: Option<WabaId>,
}

/// An error Meta reports about the business number rather than one message (`value.errors`), e.g. a
/// rate limit. Not billing data; returned so the webhook function can log it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValueError {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number_id: Option<PhoneNumberId>,
    pub error: StatusError,
}
