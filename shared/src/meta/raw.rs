//! The raw shape of a webhook body, as Meta documents it: `object`, `entry[].id`,
//! `entry[].changes[].field` and `.value` with `metadata`, `statuses`, `messages`, `contacts` and
//! `errors`. Every field is [`Loose`] and unknown fields are ignored, so this layer only fails on
//! broken JSON; the normaliser decides what each item is worth.

use serde::Deserialize;

use super::loose::{Count, Element, Items, Loose, UnixSeconds, loose_object};

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawEnvelope {
    pub object: Loose<String>,
    pub entry: Loose<Items<RawEntry>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawEntry {
    /// The WhatsApp Business Account id.
    pub id: Loose<String>,
    pub changes: Loose<Items<RawChange>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawChange {
    pub field: Loose<String>,
    /// Parsed whatever `field` says: Meta writes `value` before `field`, so the field is not known
    /// yet when the value is read. Values of other fields carry none of the keys read here.
    pub value: Loose<RawValue>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawValue {
    pub metadata: Loose<RawMetadata>,
    pub statuses: Loose<Items<RawStatus>>,
    pub messages: Loose<Items<RawMessage>>,
    /// Names and numbers of users: counted, never kept.
    pub contacts: Loose<Count>,
    pub errors: Loose<Items<RawError>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawMetadata {
    pub phone_number_id: Loose<String>,
    pub display_phone_number: Loose<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawStatus {
    pub id: Loose<String>,
    pub status: Loose<String>,
    pub timestamp: Loose<UnixSeconds>,
    pub recipient_id: Loose<String>,
    pub recipient_user_id: Loose<String>,
    pub recipient_type: Loose<String>,
    pub recipient_participant_id: Loose<String>,
    pub recipient_participant_user_id: Loose<String>,
    pub biz_opaque_callback_data: Loose<String>,
    pub conversation: Loose<RawConversation>,
    pub pricing: Loose<RawPricing>,
    pub errors: Loose<Items<RawError>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawConversation {
    pub id: Loose<String>,
    pub expiration_timestamp: Loose<UnixSeconds>,
    pub origin: Loose<RawOrigin>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawOrigin {
    #[serde(rename = "type")]
    pub type_: Loose<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawPricing {
    pub billable: Loose<bool>,
    pub pricing_model: Loose<String>,
    #[serde(rename = "type")]
    pub type_: Loose<String>,
    pub category: Loose<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawError {
    pub code: Loose<i64>,
    pub title: Loose<String>,
    pub error_data: Loose<RawErrorData>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawErrorData {
    pub details: Loose<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawMessage {
    pub id: Loose<String>,
    pub from: Loose<String>,
    pub from_user_id: Loose<String>,
    pub timestamp: Loose<UnixSeconds>,
    #[serde(rename = "type")]
    pub type_: Loose<String>,
    pub referral: Loose<RawReferral>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawReferral {
    pub source_type: Loose<String>,
    pub ctwa_clid: Loose<String>,
}

loose_object!(
    RawEnvelope,
    RawEntry,
    RawChange,
    RawValue,
    RawMetadata,
    RawStatus,
    RawConversation,
    RawOrigin,
    RawPricing,
    RawError,
    RawErrorData,
    RawMessage,
    RawReferral,
);

impl Element for RawEntry {}
impl Element for RawChange {}
impl Element for RawError {}
impl Element for RawStatus {
    const IS_EVENT: bool = true;
}
impl Element for RawMessage {
    const IS_EVENT: bool = true;
}
