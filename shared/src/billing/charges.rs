//! From a status Meta reported to the ledger entry that charges it: the price from the rate card
//! in force at the event's time, for the recipient's market and the message's category.

use crate::ledger::{EntryKind, LedgerError, Metadata, NewEntry};
use crate::meta::{PricingModel, StatusEvent, Usage};
use crate::money::{Currency, Money};
use crate::pricing::{Category, PricingError, RateBook, RecipientMarket, market_of};

use super::usage::{META_CATEGORY, META_FLAG, META_MARKET, META_TAG, TAG_LEN_MAX, UNKNOWN_MARKET};

#[derive(Debug, thiserror::Error)]
pub enum ChargeError {
    /// No price can be found (no card in force yet, or none for this case): retry after an
    /// operator uploads one; the event waits in the queue, and then in its dead-letter queue.
    #[error(transparent)]
    Pricing(#[from] PricingError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// The entry for one charged (`free == false`) or free usage of `event`.
pub fn charge_entry(
    event: &StatusEvent,
    usage: &Usage,
    free: bool,
    book: &RateBook,
    currency: Currency,
) -> Result<NewEntry, ChargeError> {
    let market = event
        .billed_recipient()
        .map_or(RecipientMarket::Unknown, |recipient| {
            market_of(recipient.reveal())
        });
    let category = Category::from_meta(usage.category_raw.as_deref().unwrap_or(""));
    let (amount, rate_basis) = if free {
        (Money::zero(currency), "free")
    } else {
        let priced = book.price(event.timestamp, currency, market, &category)?;
        (priced.amount.negated(), priced.basis.as_str())
    };
    let market_code = market
        .market()
        .map_or(UNKNOWN_MARKET.to_owned(), |m| m.as_str().to_owned());
    let mut flags = Vec::new();
    if category.is_unknown() {
        flags.push("unknown_category");
    }
    if market.market().is_none() {
        flags.push("unknown_market");
    }
    let model = match &usage.model {
        PricingModel::Pmp => "pmp",
        PricingModel::Cbp => "cbp",
        PricingModel::Unknown(_) => "unknown",
    };
    let mut metadata = Metadata::new();
    metadata.insert(META_CATEGORY, category.as_str())?;
    metadata.insert(META_MARKET, &market_code)?;
    metadata.insert("model", model)?;
    metadata.insert("rate_basis", rate_basis)?;
    if let Some(pricing_type) = &usage.pricing_type {
        metadata.insert(
            "pricing_type",
            &pricing_type.chars().take(32).collect::<String>(),
        )?;
    }
    if let Some(tag) = &event.biz_opaque_callback_data {
        // The tag names the template that sent the message; charges per template add up by it.
        // A hold's tag (`<hold id>:<template>`) names the hold too, which the charge settles.
        let tag = crate::holds::parse_tag(tag.reveal());
        if let Some(template) = tag.template {
            metadata.insert(
                META_TAG,
                &template.chars().take(TAG_LEN_MAX).collect::<String>(),
            )?;
        }
        if let Some(hold) = &tag.hold {
            metadata.insert(crate::holds::META_HOLD, hold.as_str())?;
        }
    }
    if !flags.is_empty() {
        metadata.insert(META_FLAG, &flags.join(","))?;
    }
    let what = if model == "cbp" {
        "conversation"
    } else {
        "message"
    };
    let free_word = if free { "free " } else { "" };
    let description = format!("{free_word}{} {what} ({market_code})", category.as_str());
    Ok(NewEntry::new(
        usage.entry_id.clone(),
        EntryKind::Charge,
        amount,
        &description,
        metadata,
        event.timestamp,
    )?)
}
