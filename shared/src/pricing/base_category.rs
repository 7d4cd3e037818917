//! Categories priced at another's rate unless a card prices them itself.
//!
//! - `group_marketing`, `group_utility`, `group_service` (Groups API messages, charged per
//!   delivered participant): the base category's rate **in the participant's market**. A card may
//!   list the group category to override it.
//! - `marketing_lite` (Marketing Messages Lite API) stays its own category in the ledger and in
//!   usage, and is priced at `marketing` unless a card lists `marketing_lite`: an imcredits choice,
//!   since Meta's rates file has no column for it.

use super::category::Category;

const GROUP_PREFIX: &str = "group_";

impl Category {
    /// The category whose rate prices this one when a card has no rate for it: the base of a
    /// `group_*` category, `marketing` for `marketing_lite`; `None` for every other category.
    pub fn base(&self) -> Option<Category> {
        match self {
            Category::MarketingLite => Some(Category::Marketing),
            Category::Unknown(name) => {
                let base = Category::parse(name.as_str().strip_prefix(GROUP_PREFIX)?).ok()?;
                matches!(
                    base,
                    Category::Marketing | Category::Utility | Category::Service
                )
                .then_some(base)
            }
            _ => None,
        }
    }

    /// A `group_*` category of a known base: a category imcredits knows how to price, though it is
    /// not one of [`Category::KNOWN`].
    pub fn is_group(&self) -> bool {
        matches!(self, Category::Unknown(_)) && self.base().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_and_lite_categories_have_a_base_and_others_none() {
        let table = [
            ("group_marketing", Some(Category::Marketing), true),
            ("group_utility", Some(Category::Utility), true),
            ("group_service", Some(Category::Service), true),
            ("group-marketing", Some(Category::Marketing), true),
            ("marketing_lite", Some(Category::Marketing), false),
            ("group_authentication", None, false),
            ("group_", None, false),
            ("group_brand_new", None, false),
            ("marketing", None, false),
            ("service", None, false),
            ("brand_new", None, false),
        ];
        for (name, base, group) in table {
            let category = Category::from_meta(name);
            assert_eq!(category.base(), base, "{name}");
            assert_eq!(category.is_group(), group, "{name}");
        }
    }

    #[test]
    fn group_and_lite_categories_price_at_the_base_unless_the_card_overrides() {
        use crate::pricing::{Market, RateBasis, RateCard, RecipientMarket};
        let card = RateCard::from_json(
            r#"{"currency":"USD","effective_from":"2026-10-01",
                "rates":{"IN":{"marketing":"0.0101","group_marketing":"0.0090"},
                         "DO":{"marketing":"0.0707","service":"0.0088"}},
                "fallback":{"marketing":"0.0912","utility":"0.0070","authentication":"0.0070"},
                "unknown_category_rate":"0.0912"}"#,
        )
        .unwrap();
        let price = |country: &str, category: &str| {
            let market = RecipientMarket::Known(Market::parse(country).unwrap());
            let priced = card.price(market, &Category::from_meta(category)).unwrap();
            (priced.amount.amount().to_string(), priced.basis)
        };
        let market_rate = RateBasis::MarketRate;
        assert_eq!(
            price("DO", "group_marketing"),
            ("0.0707".to_owned(), market_rate)
        );
        assert_eq!(
            price("DO", "group_service"),
            ("0.0088".to_owned(), market_rate)
        );
        assert_eq!(
            price("IN", "group_marketing"),
            ("0.009".to_owned(), market_rate)
        );
        assert_eq!(
            price("DO", "marketing_lite"),
            ("0.0707".to_owned(), market_rate)
        );
        assert_eq!(
            price("FR", "group_utility"),
            ("0.007".to_owned(), RateBasis::Fallback)
        );
        // A truly unknown category still takes the card's default.
        assert_eq!(
            price("DO", "brand_new"),
            ("0.0912".to_owned(), RateBasis::UnknownCategoryDefault)
        );
    }
}
