//! One version of a price list, and how it prices a message.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::category::{Category, CategoryError};
use super::market::{Market, MarketError, RecipientMarket};
use crate::money::{AMOUNT_SCALE_MAX, Currency, Money};

/// Largest rate card JSON accepted. A card at every limit (300 markets × 16 categories) is about
/// 200 KiB.
pub const RATE_CARD_JSON_BYTES_MAX: usize = 512 * 1024;
/// Longest `source` note, in characters.
pub const SOURCE_NOTE_CHARS_MAX: usize = 2_000;
/// Most markets one card may list. Meta's cards price about 250 regions, most of them through
/// regional rows; a card listing each of them individually still fits.
pub const MARKETS_PER_CARD_MAX: usize = 300;
/// Most categories one market (or the fallback) may list: Meta has seven today.
pub const CATEGORIES_PER_MARKET_MAX: usize = 16;
/// Largest rate, in whole currency units. Far above any per-message price in any supported currency
/// (Meta's IDR rates are in the hundreds), low enough to catch a slipped decimal point.
pub const RATE_UNITS_MAX: i64 = 100_000;

/// What a card must price everywhere: the template categories any market can be sent. A table
/// card's fallback must hold a rate for each, so that no such message meets a missing rate.
pub const FALLBACK_CATEGORIES_REQUIRED: [Category; 3] = [
    Category::Marketing,
    Category::Utility,
    Category::Authentication,
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardError {
    #[error("rate card JSON is larger than {RATE_CARD_JSON_BYTES_MAX} bytes")]
    TooLarge,
    /// Not JSON, a missing or unknown field, or a value of the wrong JSON type (serde's message).
    #[error("rate card JSON does not fit the format: {0}")]
    Json(String),
    /// A value that has the right JSON type but breaks a rule; `field` is its path.
    #[error("{field}: {problem}")]
    Invalid { field: String, problem: CardProblem },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardProblem {
    #[error("{0:?} is not a supported currency")]
    UnsupportedCurrency(String),
    #[error(
        "must be a UTC date such as 2025-07-01 or an RFC 3339 timestamp such as 2025-07-01T00:00:00Z"
    )]
    BadTimestamp,
    #[error("must be a decimal string such as \"0.025\", not a JSON {0}")]
    NotAString(&'static str),
    #[error("is not a plain decimal number")]
    NotADecimal,
    #[error("more than {AMOUNT_SCALE_MAX} decimal places")]
    TooPrecise,
    #[error("must not be negative")]
    Negative,
    #[error("is above {RATE_UNITS_MAX}")]
    TooLarge,
    #[error("is in {found}, the card is in {expected}")]
    WrongCurrency { expected: Currency, found: Currency },
    #[error(transparent)]
    Market(MarketError),
    #[error(transparent)]
    Category(CategoryError),
    #[error("is listed twice")]
    DuplicateMarket,
    #[error("is listed twice ('-' and '_' spell the same category)")]
    DuplicateCategory,
    #[error("lists more than {max} entries")]
    TooMany { max: usize },
    #[error("lists no rates")]
    Empty,
    #[error("is required")]
    Missing,
    #[error("is required unless the card is flat (flat_rate)")]
    MissingUnlessFlat,
    #[error("is not allowed on a flat card (currency, effective_from, source and flat_rate only)")]
    NotOnFlatCard,
    #[error("is longer than {SOURCE_NOTE_CHARS_MAX} characters")]
    TooLong,
    #[error("holds a control character other than a line break")]
    ControlCharacter,
    #[error("must be a market list version: 1-40 letters, digits, '-', '_' or '.'")]
    NotAVersion,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    #[error("no rate card in force at {}{}", Timestamp(*at), first_card(*first_effective_from))]
    NoCardInForce {
        at: OffsetDateTime,
        /// When the book's first card takes effect; `None` for an empty book.
        first_effective_from: Option<OffsetDateTime>,
    },
    #[error("the rates are in {card} but the caller bills in {expected}")]
    CurrencyMismatch { expected: Currency, card: Currency },
    #[error(
        "the rate card effective {} has no {category} rate for {market} and no fallback for it",
        Timestamp(*card_effective_from)
    )]
    NoRate {
        market: RecipientMarket,
        category: Category,
        card_effective_from: OffsetDateTime,
    },
    #[error(
        "the rate card effective {} was mapped with market list {card_list}, but {} is in force \
         at {}: load Meta's rates for that list",
        Timestamp(*card_effective_from), in_force.as_deref().unwrap_or("no list"), Timestamp(*at)
    )]
    MarketListChanged {
        card_effective_from: OffsetDateTime,
        card_list: String,
        in_force: Option<String>,
        at: OffsetDateTime,
    },
}

fn first_card(first_effective_from: Option<OffsetDateTime>) -> String {
    match first_effective_from {
        Some(first) => format!(" (the first card takes effect {})", Timestamp(first)),
        None => " (the rate book is empty)".to_owned(),
    }
}

/// An instant in RFC 3339 (`2025-07-01T00:00:00Z`), the form people and the JSON format read.
pub(crate) struct Timestamp(pub(crate) OffsetDateTime);

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.format(&Rfc3339) {
            Ok(text) => f.write_str(&text),
            // Only years outside 0..=9999 fail; show something rather than nothing.
            Err(_) => write!(f, "{:?}", self.0),
        }
    }
}

/// Where a price came from, for the ledger and for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RateBasis {
    /// The card lists this category for the recipient's market.
    MarketRate,
    /// The card's rest-of-world rate for the category (unlisted or unknown market).
    Fallback,
    /// The card's default for a category it has no rate for and imcredits does not know.
    UnknownCategoryDefault,
    /// A flat card: the same price for every billable message or conversation.
    Flat,
}

impl RateBasis {
    pub fn as_str(&self) -> &'static str {
        match self {
            RateBasis::MarketRate => "market_rate",
            RateBasis::Fallback => "fallback",
            RateBasis::UnknownCategoryDefault => "unknown_category_default",
            RateBasis::Flat => "flat",
        }
    }
}

/// A price, exact and unrounded (rates carry up to six decimal places; rounding happens at the
/// edges, see [`crate::money`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Priced {
    pub amount: Money,
    pub basis: RateBasis,
    /// Which version of the price list priced it.
    pub card_effective_from: OffsetDateTime,
}

/// Rates by category, each in the card's currency, non-negative, at most [`RATE_UNITS_MAX`].
pub(crate) type CategoryRates = BTreeMap<Category, Money>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Rates {
    Flat(Money),
    Table(RateTable),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RateTable {
    pub(crate) by_market: BTreeMap<Market, CategoryRates>,
    pub(crate) fallback: CategoryRates,
    pub(crate) unknown_category: Money,
}

/// One version of a price list in one currency, in force from `effective_from` until a later
/// version takes over (see [`super::RateBook`]).
///
/// Either a **flat** card (one rate for every billable message or conversation, like Zoho's
/// 0.0125 USD) or a **table**: rates by market × category, a fallback row for markets the card
/// does not list, and a default for categories imcredits does not know. Built from its JSON form
/// ([`RateCard::from_json`], `serde`), which validates everything; all amounts are in the card's
/// currency by construction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateCard {
    pub(crate) currency: Currency,
    pub(crate) effective_from: OffsetDateTime,
    pub(crate) source: Option<String>,
    pub(crate) rates: Rates,
    /// The market list version a card imported from Meta's rates file was mapped with (see
    /// [`super::market_list`]); it prices only while that list is in force.
    pub(crate) market_list: Option<String>,
}

impl RateCard {
    /// A flat card. `effective_from` is taken as an instant and kept in UTC.
    pub fn flat(
        currency: Currency,
        effective_from: OffsetDateTime,
        rate: Money,
    ) -> Result<RateCard, CardError> {
        check_rate("flat_rate", rate, currency)?;
        Ok(RateCard {
            currency,
            effective_from: effective_from.to_offset(time::UtcOffset::UTC),
            source: None,
            rates: Rates::Flat(rate),
            market_list: None,
        })
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// Always in UTC.
    pub fn effective_from(&self) -> OffsetDateTime {
        self.effective_from
    }

    /// The market list version the card was mapped with, if it came from Meta's rates file.
    pub fn market_list(&self) -> Option<&str> {
        self.market_list.as_deref()
    }

    /// Free text naming where the rates come from.
    pub fn source(&self) -> Option<&str> {
        self.source.as_deref()
    }

    pub fn flat_rate(&self) -> Option<Money> {
        match &self.rates {
            Rates::Flat(rate) => Some(*rate),
            Rates::Table(_) => None,
        }
    }

    /// The markets a table card lists (none for a flat card).
    pub fn markets(&self) -> impl Iterator<Item = Market> + '_ {
        let table = match &self.rates {
            Rates::Table(table) => Some(table),
            Rates::Flat(_) => None,
        };
        table
            .into_iter()
            .flat_map(|table| table.by_market.keys().copied())
    }

    /// The price of one billable message or conversation to `market` in `category`.
    ///
    /// A flat card gives its rate. A table card looks, in order, for the market's rate for the
    /// category, the fallback's rate for it, and, for a category imcredits does not know, the
    /// default; a known category with neither a market nor a fallback rate is
    /// [`PricingError::NoRate`].
    pub fn price(
        &self,
        market: RecipientMarket,
        category: &Category,
    ) -> Result<Priced, PricingError> {
        let (amount, basis) = match &self.rates {
            Rates::Flat(rate) => (*rate, RateBasis::Flat),
            Rates::Table(table) => {
                table
                    .lookup(market, category)
                    .ok_or_else(|| PricingError::NoRate {
                        market,
                        category: category.clone(),
                        card_effective_from: self.effective_from,
                    })?
            }
        };
        Ok(Priced {
            amount,
            basis,
            card_effective_from: self.effective_from,
        })
    }
}

impl RateTable {
    fn lookup(&self, market: RecipientMarket, category: &Category) -> Option<(Money, RateBasis)> {
        let market_rate = market
            .market()
            .and_then(|market| self.by_market.get(&market))
            .and_then(|rates| rates.get(category));
        if let Some(rate) = market_rate {
            return Some((*rate, RateBasis::MarketRate));
        }
        // A group or Lite category the card does not price itself: the base category's rate.
        let base = category.base();
        let market_base = market
            .market()
            .and_then(|market| self.by_market.get(&market))
            .zip(base.as_ref())
            .and_then(|(rates, base)| rates.get(base));
        if let Some(rate) = market_base {
            return Some((*rate, RateBasis::MarketRate));
        }
        if let Some(rate) = self.fallback.get(category) {
            return Some((*rate, RateBasis::Fallback));
        }
        if let Some(rate) = base.as_ref().and_then(|base| self.fallback.get(base)) {
            return Some((*rate, RateBasis::Fallback));
        }
        category
            .is_unknown()
            .then_some((self.unknown_category, RateBasis::UnknownCategoryDefault))
    }
}

/// The rules every rate obeys, whichever way it arrives.
pub(crate) fn check_rate(field: &str, rate: Money, currency: Currency) -> Result<(), CardError> {
    let invalid = |problem| CardError::Invalid {
        field: field.to_owned(),
        problem,
    };
    if rate.currency() != currency {
        return Err(invalid(CardProblem::WrongCurrency {
            expected: currency,
            found: rate.currency(),
        }));
    }
    if rate.is_negative() {
        return Err(invalid(CardProblem::Negative));
    }
    if rate.amount() > rust_decimal::Decimal::from(RATE_UNITS_MAX) {
        return Err(invalid(CardProblem::TooLarge));
    }
    Ok(())
}
