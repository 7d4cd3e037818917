//! From a status Meta reported to the ledger entry that charges it: the price from the rate card
//! in force at the event's time, for the recipient's market and the message's category.

use crate::ledger::{EntryKind, LedgerError, Metadata, NewEntry};
use crate::meta::{PricingModel, StatusEvent, Usage};
use crate::money::{Currency, Money};
use crate::pricing::{
    Category, MarketLists, PricingError, RateBook, RecipientMarket, bsuid_country, market_of,
};

use super::tier_pricing::{META_WABA, tier_eligible};
use super::usage::{
    META_FLAG, META_MODEL, META_RATE_BASIS, MODEL_CBP, UsageLabels, UsageTag, market_code,
};

#[derive(Debug, thiserror::Error)]
pub enum ChargeError {
    /// No price can be found (no card in force yet, or none for this case): retry after an
    /// operator uploads one; the event waits in the queue, and then in its dead-letter queue.
    #[error(transparent)]
    Pricing(#[from] PricingError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// Known only by a BSUID whose prefix is no country: the market cannot be found, and a price
    /// at a fallback would be a guess. The event waits for a person.
    #[error("the recipient has no phone number and a BSUID without a country prefix")]
    RecipientUnplaced,
}

/// The entry for one charged (`free == false`) or free usage of `event`, priced under Meta's
/// market `lists` as an operator loaded them.
pub fn charge_entry(
    lists: &MarketLists,
    event: &StatusEvent,
    usage: &Usage,
    free: bool,
    book: &RateBook,
    currency: Currency,
) -> Result<NewEntry, ChargeError> {
    let market = recipient_market(event).ok_or(ChargeError::RecipientUnplaced)?;
    let category = Category::from_meta(usage.category_raw.as_deref().unwrap_or(""));
    let (amount, rate_basis) = if free {
        (Money::zero(currency), "free")
    } else {
        let priced = book.price_under_lists(lists, event.timestamp, currency, market, &category)?;
        (priced.amount.negated(), priced.basis.as_str())
    };
    let flags = flags(&category, market.market().is_none());
    let model = match &usage.model {
        PricingModel::Pmp => "pmp",
        PricingModel::Cbp => MODEL_CBP,
        PricingModel::Unknown(_) => "unknown",
    };
    let (labels, hold) = labels_of(event, category, market);
    let mut metadata = Metadata::new();
    labels.write(&mut metadata)?;
    metadata.insert(META_MODEL, model)?;
    metadata.insert(META_RATE_BASIS, rate_basis)?;
    // The WABA whose volume tier may price the charge (`tier_pricing`), only where tiers apply.
    if let (false, Some(waba)) = (free || !tier_eligible(&labels.category), &event.waba_id) {
        metadata.insert(META_WABA, waba.as_str())?;
    }
    if let Some(pricing_type) = &usage.pricing_type {
        metadata.insert(
            "pricing_type",
            &pricing_type.chars().take(32).collect::<String>(),
        )?;
    }
    if let Some(hold) = hold {
        metadata.insert(crate::holds::META_HOLD, hold.as_str())?;
    }
    if !flags.is_empty() {
        metadata.insert(META_FLAG, &flags.join(","))?;
    }
    let what = if model == MODEL_CBP {
        "conversation"
    } else {
        "message"
    };
    let free_word = if free { "free " } else { "" };
    let description = format!(
        "{free_word}{} {what} ({})",
        labels.category.as_str(),
        market_code(&labels.market)
    );
    Ok(NewEntry::new(
        usage.entry_id.clone(),
        EntryKind::Charge,
        amount,
        &description,
        metadata,
        event.timestamp,
    )?)
}

/// What a charge is flagged for: a category or a market it could not know.
fn flags(category: &Category, market_unknown: bool) -> Vec<&'static str> {
    let mut flags = Vec::new();
    if category.is_unknown() && !category.is_group() {
        flags.push("unknown_category");
    }
    if market_unknown {
        flags.push("unknown_market");
    }
    flags
}

/// The usage labels of a charge of `event`, and the hold its tag names. The tag names the
/// template that sent the message, and charges per template add up by it; a hold's tag
/// (`<hold id>:<template>`) names the hold too, which the charge settles.
fn labels_of(
    event: &StatusEvent,
    category: Category,
    market: RecipientMarket,
) -> (UsageLabels, Option<crate::holds::HoldId>) {
    let tag = event
        .biz_opaque_callback_data
        .as_ref()
        .map(|data| crate::holds::parse_tag(data.reveal()));
    let template = tag
        .as_ref()
        .and_then(|tag| tag.template)
        .map(UsageTag::truncated);
    let labels = UsageLabels {
        category,
        market,
        tag: template,
    };
    (labels, tag.and_then(|tag| tag.hold))
}

/// The recipient's market: the phone number placed by its calling code; when there is none, or
/// it cannot be placed, the BSUID's country prefix; a phone number that cannot be placed and no
/// placeable BSUID is [`RecipientMarket::Unknown`] (fallback, flagged), as before BSUIDs. `None`
/// when there is only a BSUID and it has no country: never guessed.
fn recipient_market(event: &StatusEvent) -> Option<RecipientMarket> {
    let (phone, bsuid) = event.billed_phone_and_bsuid();
    let by_phone = phone.map(|phone| market_of(phone.reveal()));
    let by_bsuid = bsuid.and_then(|bsuid| bsuid_country(bsuid.reveal()));
    match (by_phone, by_bsuid) {
        (Some(RecipientMarket::Known(market)), _) => Some(RecipientMarket::Known(market)),
        (_, Some(country)) => Some(RecipientMarket::Known(country)),
        (Some(RecipientMarket::Unknown), None) => Some(RecipientMarket::Unknown),
        (None, None) => None,
    }
}
