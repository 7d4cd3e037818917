//! Pricing: what one charged WhatsApp message or conversation costs.
//!
//! Meta's webhooks carry no price, only a category and the recipient. The price comes from a rate
//! card by three things:
//! - the recipient's **market** ([`market_of`]): the region of their number, with the +1 area codes
//!   of Caribbean and Pacific markets kept apart from North America;
//! - the **category** ([`Category`]), including both spellings of authentication-international and
//!   categories Meta has not announced yet ([`Category::is_unknown`]);
//! - the **time** of the event: a [`RateBook`] holds the versions of one currency's card and
//!   answers which one is in force.
//!
//! A [`RateCard`] is either a table (market × category, a rest-of-world fallback per category, a
//! default for unknown categories) or a flat rate for everything. Cards arrive and are stored as
//! JSON ([`json`] describes the format); sample cards live in `shared/rate-cards/`.
//!
//! Prices are exact [`Money`](crate::money::Money) in the card's currency, never rounded here.
//! Everything is bounded: [`MARKETS_PER_CARD_MAX`], [`CATEGORIES_PER_MARKET_MAX`],
//! [`VERSIONS_PER_BOOK_MAX`], [`RATE_UNITS_MAX`], [`CATEGORY_NAME_LEN_MAX`],
//! [`RATE_CARD_JSON_BYTES_MAX`], [`SOURCE_NOTE_CHARS_MAX`].

mod base_category;
mod book;
mod card;
mod category;
pub mod csv;
pub mod json;
mod market;
pub mod market_list;
mod phone_table;
#[cfg(test)]
mod phone_table_tests;
mod placement;
pub mod tier_book;
pub mod tiers;

pub use book::{BookError, RateBook, VERSIONS_PER_BOOK_MAX};
pub use card::{
    CATEGORIES_PER_MARKET_MAX, CardError, CardProblem, FALLBACK_CATEGORIES_REQUIRED,
    MARKETS_PER_CARD_MAX, Priced, PricingError, RATE_CARD_JSON_BYTES_MAX, RATE_UNITS_MAX,
    RateBasis, RateCard, SOURCE_NOTE_CHARS_MAX,
};
pub use category::{CATEGORY_NAME_LEN_MAX, Category, CategoryError, UnknownCategory};
pub use json::RateCardJson;
pub use market::{
    Market, MarketError, RECIPIENT_DIGITS_MAX, RECIPIENT_DIGITS_MIN, RecipientMarket,
    RecipientNumber, RecipientNumberError, market_of, warm_up,
};

pub use market_list::{MarketList, MarketListError, MarketLists, MarketName};
pub use placement::{bsuid_country, built_in_market_lists};

#[cfg(test)]
mod tests;
