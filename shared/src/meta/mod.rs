//! Meta's WhatsApp webhook: pure code, no AWS, no HTTP framework.
//!
//! The webhook function [`answer_handshake`]s GET calls, and for POST calls runs
//! [`verify_and_parse`] (signature over the raw bytes, then tolerant parsing and normalisation)
//! and enqueues the [`StatusEvent`]s; billing reads them back and applies [`decide_charge`].
//!
//! - [`signature`]: `X-Hub-Signature-256`, HMAC-SHA256 of the raw body, constant-time;
//! - [`handshake`]: the `hub.challenge` GET verification;
//! - [`normalise`]: the body into events, with limits and a report of everything skipped
//!   (the raw serde shape is in `raw`, its tolerant building blocks in `loose`);
//! - [`events`]: the normalised events, serialisable for the queue, personal data redacted in `Debug`;
//! - [`charge_rules`]: charge / free usage / no charge / needs review, with the entry id.

pub mod account_update;
pub mod charge_rules;
pub mod events;
pub mod handshake;
pub mod ids;
mod items;
mod loose;
pub mod normalise;
mod raw;
mod recipients;
mod report;
pub mod signature;
pub mod skipped;

#[cfg(test)]
mod tests;

pub use charge_rules::{
    ChargeBasis, ChargeDecision, NoChargeReason, ReviewReason, Usage, decide_charge,
};
pub use events::{
    Conversation, InboundMessage, MessageStatus, Pricing, PricingModel, RecipientType, StatusError,
    StatusEvent, ValueError,
};
pub use handshake::{HandshakeQuery, HandshakeRefusal, VerifyToken, answer_handshake};
pub use ids::{ConversationId, OpaqueData, PersonalId, WabaId, Wamid};
pub use normalise::{
    BODY_LEN_MAX, BodyCounts, EVENTS_PER_BODY_MAX, EnvelopeError, ITEMS_PER_BODY_MAX, ParseReport,
    WebhookBatch, parse_webhook,
};
pub use signature::{AppSecret, SIGNATURE_HEADER, SignatureError, verify_signature};
pub use skipped::skipped_dead_letters;

/// Why a webhook POST is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookRejection {
    /// Not from Meta (or altered on the way): answer 401/403 and read nothing.
    #[error(transparent)]
    Signature(#[from] SignatureError),
    /// From Meta, but not a body this code can read as a whole.
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
}

/// Checks the signature over the exact bytes received, then parses and normalises them. The size
/// limit is checked first, so an oversized body is not even hashed.
pub fn verify_and_parse(
    secret: &AppSecret,
    signature_header: Option<&[u8]>,
    body: &[u8],
) -> Result<WebhookBatch, WebhookRejection> {
    if body.len() > BODY_LEN_MAX {
        return Err(EnvelopeError::TooLarge {
            body_len: body.len(),
        }
        .into());
    }
    verify_signature(secret, signature_header, body)?;
    Ok(parse_webhook(body)?)
}
