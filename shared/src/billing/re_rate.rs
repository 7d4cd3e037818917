//! Re-rating: an operator published a corrected card for a past period, and a wallet's charges of
//! that period are priced again with the rate book as it stands; each difference is posted as an
//! adjustment (positive: money back), never by editing the charge.
//!
//! The adjustment of a charge is `adjust:rerate.<reference>~<hash of the charge id>` (the shape of
//! [`super::true_up::adjustment_id`]), so a re-rate is idempotent by its reference: run again, it
//! proposes the same ids and the ledger posts none twice. What a charge costs now is its amount
//! less every earlier adjustment of it by another reference, so a second correction adjusts from
//! the first, not from the original charge. Charges a volume tier trued up, charges priced at a
//! tier, and free usage are left alone: the card does not price them.

use time::OffsetDateTime;

use super::tier_pricing::TIER_BASIS_PREFIX;
use super::true_up::adjustment_id;
use super::usage::{LabelError, META_RATE_BASIS, UsageLabels, market_code};
use crate::ledger::{EntryKind, LedgerEntry, Metadata, NewEntry};
use crate::money::{Currency, Money};
use crate::pricing::{Category, MarketLists, PricingError, RateBook, RecipientMarket};

/// `reason` of a re-rate adjustment.
pub const REASON_RE_RATE: &str = "re_rate";

#[derive(Debug, thiserror::Error)]
pub enum ReRateError {
    /// A charge the corrected book cannot price: nothing is proposed (an operator must load the
    /// card that prices it first).
    #[error("charge {charge} cannot be priced again: {error}")]
    Pricing { charge: String, error: PricingError },
    #[error("the reference makes no valid entry id: {0}")]
    Reference(String),
    /// A charge whose usage labels do not read back: stored data is corrupt.
    #[error("charge {charge}: {error}")]
    Labels { charge: String, error: LabelError },
}

/// The adjustments re-rating `entries` (a wallet's entries: its charges of the period and any
/// adjustments posted since) calls for: one per charge that occurred in `from..to` and costs other
/// than the book now says.
pub fn re_rate(
    entries: &[LedgerEntry],
    book: &RateBook,
    lists: &MarketLists,
    currency: Currency,
    (from, to): (OffsetDateTime, OffsetDateTime),
    reference: &str,
) -> Result<Vec<NewEntry>, ReRateError> {
    let cause = format!("rerate.{reference}");
    let mut out = Vec::new();
    for charge in entries {
        let in_range = (from..to).contains(&charge.occurred_at);
        let basis = charge.metadata.get(META_RATE_BASIS).unwrap_or("");
        if charge.kind != EntryKind::Charge
            || !charge.amount.is_negative()
            || !in_range
            || basis.starts_with(TIER_BASIS_PREFIX)
        {
            continue;
        }
        let id = adjustment_id(&cause, &charge.id)
            .map_err(|error| ReRateError::Reference(error.to_string()))?;
        // Earlier adjustments of this charge share the id's tail (`~<hash>`).
        let tail = &id.as_str()[id.as_str().rfind('~').unwrap_or(0)..];
        let earlier: Vec<&LedgerEntry> = entries
            .iter()
            .filter(|e| e.kind == EntryKind::Adjustment && e.id.as_str().ends_with(tail))
            .filter(|e| e.id != id)
            .collect();
        if earlier
            .iter()
            .any(|e| e.id.as_str().starts_with("adjust:tier."))
        {
            continue;
        }
        let mut cost = charge.amount.negated();
        for adjustment in &earlier {
            cost = cost.checked_sub(adjustment.amount).unwrap_or(cost);
        }
        let labels = UsageLabels::read(&charge.metadata)
            .map_err(|error| ReRateError::Labels {
                charge: charge.id.to_string(),
                error,
            })?
            .map(|labels| UsageLabels {
                tag: None,
                ..labels
            });
        // A charge without labels (none is made so) is priced as one of an unknown market.
        let (market, category) = labels.as_ref().map_or_else(
            || (RecipientMarket::Unknown, Category::from_meta("")),
            |labels| (labels.market, labels.category.clone()),
        );
        let priced = book
            .price_under_lists(lists, charge.occurred_at, currency, market, &category)
            .map_err(|error| ReRateError::Pricing {
                charge: charge.id.to_string(),
                error,
            })?;
        let Ok(difference) = cost.checked_sub(priced.amount) else {
            continue;
        };
        if difference.is_zero() {
            continue;
        }
        let amounts = (difference, cost, priced.amount);
        out.push(adjustment(id, charge, labels.as_ref(), amounts, reference)?);
    }
    Ok(out)
}

/// The adjustment of `charge`, carrying its category and market (`labels`, without the tag).
fn adjustment(
    id: crate::ledger::EntryId,
    charge: &LedgerEntry,
    labels: Option<&UsageLabels>,
    (difference, cost, now): (Money, Money, Money),
    reference: &str,
) -> Result<NewEntry, ReRateError> {
    let invalid = |error: crate::ledger::LedgerError| ReRateError::Reference(error.to_string());
    let mut metadata = Metadata::new();
    metadata.insert("reason", REASON_RE_RATE).map_err(invalid)?;
    metadata.insert("reference", reference).map_err(invalid)?;
    if let Some(labels) = labels {
        labels.write(&mut metadata).map_err(invalid)?;
    }
    let (category, market) = labels.map_or(("", ""), |labels| {
        (labels.category.as_str(), market_code(&labels.market))
    });
    let description: String = format!(
        "re-rate {reference}: {category} ({market}) cost {}, corrected card {}",
        cost.amount(),
        now.amount()
    );
    NewEntry::adjustment(id, difference, &description, metadata, charge.occurred_at)
        .map_err(invalid)
}
