//! Charges at a volume tier: a utility or authentication charge of a WABA whose tier Meta
//! announced for the charge's market, category and month (from the update's instant on) is
//! priced at that tier's rate instead of the card's.
//!
//! The tier is Meta's word (`account_update`), not a count kept here: Meta counts the volume and
//! says when a tier is reached; a count of our own would disagree with Meta's whenever a status
//! is lost, late or billed to another wallet, and keeping it would cost a write in every posting.
//! A charge knows its WABA by the `waba` metadata [`super::charges::charge_entry`] writes on
//! tier-eligible charges; a charge without it (no WABA id in the webhook) keeps the card's rate.

use time::{Month, OffsetDateTime};

use crate::ledger::{EntryKind, LedgerEntry, NewEntry};
use crate::meta::account_update::TierUpdate;
use crate::meta::ids::WabaId;
use crate::pricing::tier_book::TierBook;
use crate::pricing::tiers::TierBand;
use crate::pricing::{Category, MarketLists, MarketName};

use super::usage::{META_RATE_BASIS, UsageLabels};

/// The charge's WABA (`entry[].id` of the webhook), on utility and authentication charges.
pub const META_WABA: &str = "waba";
/// `rate_basis` of a charge priced at a tier: `tier <band>`.
pub const TIER_BASIS_PREFIX: &str = "tier ";

/// Whether Meta's volume tiers apply to the category.
pub fn tier_eligible(category: &Category) -> bool {
    crate::pricing::tiers::has_tiers(category)
}

/// No tier rate for a tier Meta announced: the operator has not loaded a tiers file that lists
/// it. Priced at the card, the charge would be wrong; the status waits (queue, dead-letter).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no {category} rate for tier {tier} of {market} in the tiers file in force at {at}")]
pub struct NoTierRate {
    pub market: MarketName,
    pub category: Category,
    pub tier: TierBand,
    pub at: OffsetDateTime,
}

/// What a charge is, for its tier: WABA, Meta market, category, month.
struct TierKey {
    waba: WabaId,
    market: MarketName,
    category: Category,
    at: OffsetDateTime,
}

fn tier_key(
    kind: EntryKind,
    negative: bool,
    metadata: &crate::ledger::Metadata,
    at: OffsetDateTime,
    lists: &MarketLists,
) -> Option<TierKey> {
    if kind != EntryKind::Charge || !negative {
        return None;
    }
    // A charge without readable labels is not one a tier prices.
    let UsageLabels {
        category, market, ..
    } = UsageLabels::read(metadata).ok()??;
    if !tier_eligible(&category) {
        return None;
    }
    let waba = WabaId::parse(metadata.get(META_WABA)?).ok()?;
    let country = market.market()?;
    let market = lists.in_force_at(at)?.market_of(country).clone();
    Some(TierKey {
        waba,
        market,
        category,
        at,
    })
}

/// The WABA and month whose recorded tier updates `entry` needs, if it can be tier-priced.
pub fn tier_month(entry: &NewEntry, lists: &MarketLists) -> Option<(WabaId, i32, Month)> {
    let at = entry.occurred_at();
    let key = tier_key(
        entry.kind(),
        entry.amount().is_negative(),
        entry.metadata(),
        at,
        lists,
    )?;
    Some((key.waba, at.year(), at.month()))
}

/// The WABA and month whose recorded tier updates a posted charge needs, if it can be tier-priced.
pub fn posted_tier_month(entry: &LedgerEntry, lists: &MarketLists) -> Option<(WabaId, i32, Month)> {
    let at = entry.occurred_at;
    let key = tier_key(
        entry.kind,
        entry.amount.is_negative(),
        &entry.metadata,
        at,
        lists,
    )?;
    Some((key.waba, at.year(), at.month()))
}

/// Whether a posted charge belongs to `update`'s WABA (the true-up's filter).
pub fn charged_to_waba(entry: &LedgerEntry, waba: &WabaId) -> bool {
    entry.metadata.get(META_WABA) == Some(waba.as_str())
}

/// `entry` priced at the tier an update in `updates` gives it, or unchanged when none covers it.
pub fn price_at_tier(
    entry: NewEntry,
    updates: &[TierUpdate],
    book: Option<&TierBook>,
    lists: &MarketLists,
) -> Result<NewEntry, NoTierRate> {
    let Some(key) = tier_key(
        entry.kind(),
        entry.amount().is_negative(),
        entry.metadata(),
        entry.occurred_at(),
        lists,
    ) else {
        return Ok(entry);
    };
    let Some(update) = updates.iter().find(|update| {
        update.waba_id == key.waba
            && update.market == key.market
            && update.category == key.category
            && update.covers(key.at)
    }) else {
        return Ok(entry);
    };
    let no_rate = || NoTierRate {
        market: key.market.clone(),
        category: key.category.clone(),
        tier: update.tier,
        at: key.at,
    };
    let rate = book
        .and_then(|book| book.rate(key.at, &key.market, &key.category, update.tier))
        .filter(|rate| rate.currency() == entry.amount().currency())
        .ok_or_else(no_rate)?;
    let basis = format!("{TIER_BASIS_PREFIX}{}", update.tier);
    entry
        .with_amount(rate.negated())
        .and_then(|entry| entry.with_metadata(META_RATE_BASIS, &basis))
        .map_err(|_| no_rate())
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::ledger::{EntryId, Metadata};
    use crate::money::{Currency, Money};
    use crate::pricing::built_in_market_lists;
    use crate::pricing::tier_book::TierCard;

    fn usd(text: &str) -> Money {
        Money::parse(text, Currency::Usd).unwrap()
    }

    fn charge(category: &str, market: &str, waba: Option<&str>, at: OffsetDateTime) -> NewEntry {
        let mut metadata = Metadata::new();
        metadata.insert("category", category).unwrap();
        metadata.insert("market", market).unwrap();
        metadata.insert("rate_basis", "market").unwrap();
        if let Some(waba) = waba {
            metadata.insert(META_WABA, waba).unwrap();
        }
        // A reference of id characters only: the instant as Unix seconds.
        let seconds = at.unix_timestamp();
        let id = EntryId::message_charge(&format!("wamid.{category}{market}{seconds}")).unwrap();
        NewEntry::new(id, EntryKind::Charge, usd("-0.0014"), "", metadata, at).unwrap()
    }

    #[test]
    fn a_charge_after_the_tier_instant_is_priced_at_the_tier() {
        let lists = built_in_market_lists();
        let csv = "Cost per message in USD\nMarket,Currency,Category,Tier,Rate\n\
                   India,USD,Utility,25000001:50000000,0.0012\n";
        let mut book = TierBook::new(Currency::Usd);
        book.insert(TierCard::import(lists, csv, "2026-10-01", "example-2026-10-01").unwrap())
            .unwrap();
        let update = TierUpdate {
            waba_id: WabaId::parse("102290129340398").unwrap(),
            market: MarketName::parse("India").unwrap(),
            category: Category::Utility,
            year: 2026,
            month: Month::November,
            tier: TierBand::parse("25000001:50000000").unwrap(),
            updated_at: datetime!(2026-11-02 10:00 UTC),
        };
        let waba = Some("102290129340398");
        let after = datetime!(2026-11-02 10:00 UTC);
        let priced = price_at_tier(
            charge("utility", "IN", waba, after),
            std::slice::from_ref(&update),
            Some(&book),
            lists,
        )
        .unwrap();
        assert_eq!(priced.amount(), usd("-0.0012"));
        assert_eq!(
            priced.metadata().get("rate_basis"),
            Some("tier 25000001:50000000")
        );
        // Before the instant, another WABA, another category, another market, no WABA: unchanged.
        for unchanged in [
            charge("utility", "IN", waba, datetime!(2026-11-02 09:59 UTC)),
            charge("utility", "IN", Some("999"), after),
            charge("marketing", "IN", waba, after),
            charge("utility", "US", waba, after),
            charge("utility", "IN", None, after),
            charge("utility", "IN", waba, datetime!(2026-12-01 0:00 UTC)),
        ] {
            let again = price_at_tier(
                unchanged.clone(),
                std::slice::from_ref(&update),
                Some(&book),
                lists,
            );
            assert_eq!(again, Ok(unchanged));
        }
        // A tier no loaded file lists is refused, never guessed.
        let mut higher = update.clone();
        higher.tier = TierBand::parse("50000001:").unwrap();
        assert!(
            price_at_tier(
                charge("utility", "IN", waba, after),
                &[higher],
                Some(&book),
                lists
            )
            .is_err()
        );
        assert!(
            price_at_tier(charge("utility", "IN", waba, after), &[update], None, lists).is_err()
        );
    }
}
