//! Where a recipient is, for the price: a phone number placed by the phone metadata, or a
//! business-scoped user id (BSUID, `CC.xxxx`) placed by its country prefix; and the card and
//! market list in force at the event's time.
//!
//! A price is the card in force at the event's time × the market of the recipient's country under
//! the market list in force then. A card imported from Meta's rates file was mapped to countries
//! with one market list version; while another list is in force it does not price
//! ([`PricingError::MarketListChanged`]): Meta publishes new rates with a new list, and a price
//! from the old mapping would be a guess. Cards written by hand (JSON, by country) carry no list
//! and price whatever list is in force.

use std::sync::LazyLock;

use time::OffsetDateTime;

use super::book::RateBook;
use super::card::{Priced, PricingError};
use super::category::Category;
use super::market::{Market, RecipientMarket};
use super::market_list::MarketLists;
use crate::money::Currency;

/// The country of a BSUID (`US.13491208655302741918`): its prefix before the first `.`, when that
/// is an ISO 3166 code phone numbers belong to. `None` otherwise (never a guess).
pub fn bsuid_country(bsuid: &str) -> Option<Market> {
    let (prefix, rest) = bsuid.split_once('.')?;
    if rest.is_empty() {
        return None;
    }
    Market::parse(prefix).ok()
}

/// The seed fixture's market lists (`shared/market-lists/`), parsed once: for tests, fuzzing and
/// the runner's import command's default; what prices is the lists an operator loaded.
pub fn built_in_market_lists() -> &'static MarketLists {
    static LISTS: LazyLock<MarketLists> = LazyLock::new(MarketLists::built_in);
    &LISTS
}

impl RateBook {
    /// Prices an event like [`RateBook::price`], and refuses a card mapped with a market list
    /// other than the one in force at `at` (see the module documentation).
    pub fn price_under_lists(
        &self,
        lists: &MarketLists,
        at: OffsetDateTime,
        currency: Currency,
        market: RecipientMarket,
        category: &Category,
    ) -> Result<Priced, PricingError> {
        if currency != self.currency() {
            return Err(PricingError::CurrencyMismatch {
                expected: currency,
                card: self.currency(),
            });
        }
        let card = self.in_force_at(at)?;
        if let Some(card_list) = card.market_list() {
            let in_force = lists.in_force_at(at).map(|list| list.version());
            if in_force != Some(card_list) {
                return Err(PricingError::MarketListChanged {
                    card_effective_from: card.effective_from(),
                    card_list: card_list.to_owned(),
                    in_force: in_force.map(str::to_owned),
                    at,
                });
            }
        }
        card.price(market, category)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bsuid_is_placed_by_its_country_prefix_only() {
        let us = Market::parse("US").unwrap();
        assert_eq!(bsuid_country("US.13491208655302741918"), Some(us));
        assert_eq!(bsuid_country("US.123456"), Some(us));
        assert_eq!(
            bsuid_country("IN.ENT.99"),
            Some(Market::parse("IN").unwrap())
        );
        // Meta's own documentation example has no country; nothing is guessed.
        for unplaced in [
            "user.9373795779eb",
            "us.123",
            "USA.1",
            "ZZ.1",
            "US.",
            "US",
            "",
        ] {
            assert_eq!(bsuid_country(unplaced), None, "{unplaced:?}");
        }
    }

    #[test]
    fn the_shipped_market_lists_load() {
        let lists = built_in_market_lists();
        assert!(lists.lists().len() >= 2);
        let at = time::macros::datetime!(2026-10-15 0:00 UTC);
        let list = lists.in_force_at(at).unwrap();
        assert_eq!(list.version(), "example-2026-10-01");
        let dominican = Market::parse("DO").unwrap();
        assert_eq!(list.market_of(dominican).as_str(), "Rest of Latin America");
        assert_eq!(
            list.market_of(Market::parse("US").unwrap()).as_str(),
            "North America"
        );
        assert!(
            lists
                .in_force_at(time::macros::datetime!(2026-03-31 23:59 UTC))
                .is_none()
        );
    }

    #[test]
    fn an_imported_card_prices_only_under_the_list_it_was_mapped_with() {
        use crate::pricing::csv::MetaRates;
        use crate::pricing::{Category, MarketList};
        let list = |version: &str, from: &str| {
            MarketList::from_json(&format!(
                r#"{{"version": "{version}", "effective_from": "{from}", "source": "test",
                    "markets": {{"North America": ["US", "CA"]}}, "other": "Other"}}"#
            ))
            .unwrap()
        };
        let lists = MarketLists::new([list("a", "2026-04-01"), list("b", "2026-10-01")]).unwrap();
        let rates = MetaRates::parse(
            "Cost per message in USD\nMarket,Currency,Marketing,Utility,Authentication\n\
             North America,USD,0.0112,0.0021,0.0021\nOther,USD,0.0912,0.0070,0.0070\n",
        )
        .unwrap();
        let card = rates
            .to_card(
                lists.by_version("a").unwrap(),
                time::macros::datetime!(2026-04-01 0:00 UTC),
                "test",
            )
            .unwrap();
        let book = RateBook::from_cards(Currency::Usd, [card]).unwrap();
        let us = RecipientMarket::Known(Market::parse("US").unwrap());
        let price =
            |at| book.price_under_lists(&lists, at, Currency::Usd, us, &Category::Marketing);
        let under_a = price(time::macros::datetime!(2026-09-30 12:00 UTC)).unwrap();
        assert_eq!(under_a.amount.amount().to_string(), "0.0112");
        // List b took effect and no card was loaded for it: refused, not guessed.
        assert!(matches!(
            price(time::macros::datetime!(2026-10-01 0:00 UTC)),
            Err(PricingError::MarketListChanged { .. })
        ));
    }
}
