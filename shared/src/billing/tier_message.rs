//! The billing queue's second message: Meta's volume tier updates (`account_update`,
//! `VOLUME_BASED_PRICING_TIER_UPDATE`), which the webhook reads from a verified body and billing
//! records and trues up. One definition of the wire format, like [`super::message`]; the field
//! `tier_updates` (and the absence of `phone_number_id`) tells it apart from a status message.

use serde::{Deserialize, Serialize};
use time::{Month, OffsetDateTime};

use super::message::MESSAGE_VERSION;
use crate::meta::account_update::{TIER_UPDATES_PER_BODY_MAX, TierUpdate};
use crate::meta::ids::WabaId;
use crate::pricing::MarketName;
use crate::pricing::tiers::TierBand;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    waba_id: String,
    market: String,
    /// `utility` or `authentication`.
    category: String,
    /// `2026-11`.
    month: String,
    /// `25000001:50000000`.
    tier: String,
    /// Unix seconds.
    updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TierUpdateMessage {
    v: u8,
    tier_updates: Vec<Wire>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TierMessageError {
    #[error("tier update message version {0} is not one this code reads")]
    Version(u8),
    #[error("tier update message holds {0} updates, over {TIER_UPDATES_PER_BODY_MAX}")]
    TooMany(usize),
    #[error("tier update {0} of the message is malformed")]
    Malformed(usize),
}

fn wire(update: &TierUpdate) -> Wire {
    Wire {
        waba_id: update.waba_id.as_str().to_owned(),
        market: update.market.as_str().to_owned(),
        category: update.category.as_str().to_owned(),
        month: format!("{:04}-{:02}", update.year, u8::from(update.month)),
        tier: update.tier.to_string(),
        updated_at: update.updated_at.unix_timestamp(),
    }
}

fn from_wire(wire: &Wire) -> Option<TierUpdate> {
    let category = crate::pricing::tiers::tier_category(&wire.category)?;
    let (year, month) = wire.month.split_once('-')?;
    Some(TierUpdate {
        waba_id: WabaId::parse(&wire.waba_id).ok()?,
        market: MarketName::parse(&wire.market)?,
        category,
        year: year.parse().ok().filter(|y| (2000..=9999).contains(y))?,
        month: Month::try_from(month.parse::<u8>().ok()?).ok()?,
        tier: TierBand::parse(&wire.tier)?,
        updated_at: OffsetDateTime::from_unix_timestamp(wire.updated_at).ok()?,
    })
}

/// The queue body for `updates` (one body: a webhook body yields at most
/// [`TIER_UPDATES_PER_BODY_MAX`], a few hundred bytes each, far under SQS's 256 KiB).
pub fn pack_tier_updates(updates: &[TierUpdate]) -> Option<String> {
    if updates.is_empty() {
        return None;
    }
    assert!(updates.len() <= TIER_UPDATES_PER_BODY_MAX);
    let message = TierUpdateMessage {
        v: MESSAGE_VERSION,
        tier_updates: updates.iter().map(wire).collect(),
    };
    let body = serde_json::to_string(&message).expect("a tier message serializes");
    debug_assert!(body.len() < super::message::MESSAGE_BODY_LEN_MAX);
    Some(body)
}

/// `None` when `body` is not a tier update message (then it is a status message); otherwise its
/// updates, or why they cannot be read.
pub fn parse_tier_updates(body: &str) -> Option<Result<Vec<TierUpdate>, TierMessageError>> {
    let message: TierUpdateMessage = serde_json::from_str(body).ok()?;
    if message.v != MESSAGE_VERSION {
        return Some(Err(TierMessageError::Version(message.v)));
    }
    if message.tier_updates.len() > TIER_UPDATES_PER_BODY_MAX {
        return Some(Err(TierMessageError::TooMany(message.tier_updates.len())));
    }
    Some(
        message
            .tier_updates
            .iter()
            .enumerate()
            .map(|(index, wire)| from_wire(wire).ok_or(TierMessageError::Malformed(index)))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::account_update::tier_updates;

    #[test]
    fn tier_updates_cross_the_queue_unchanged_and_apart_from_statuses() {
        let body = r#"{"object":"whatsapp_business_account","entry":[{"id":"216141188246170",
            "changes":[{"field":"account_update","value":{"event":"VOLUME_BASED_PRICING_TIER_UPDATE",
            "volume_tier_info":{"tier_update_time":1743451903,"pricing_category":"UTILITY",
            "tier":"25000001:50000000","effective_month":"2025-11","region":"INDIA"}}}]}]}"#;
        let (updates, malformed) = tier_updates(body.as_bytes());
        assert_eq!((updates.len(), malformed), (1, 0));
        let packed = pack_tier_updates(&updates).unwrap();
        assert_eq!(parse_tier_updates(&packed), Some(Ok(updates)));
        assert_eq!(pack_tier_updates(&[]), None);
        let status = r#"{"v":1,"phone_number_id":"5550001","statuses":[]}"#;
        assert_eq!(parse_tier_updates(status), None);
        let bad = packed.replace("25000001:50000000", "50:1");
        assert_eq!(
            parse_tier_updates(&bad),
            Some(Err(TierMessageError::Malformed(0)))
        );
    }
}
