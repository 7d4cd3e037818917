//! The versions of one currency's volume tiers (Meta's tiers CSV, [`VolumeTiers`]), by the date
//! each takes effect, like a [`super::RateBook`] for rates.
//!
//! A [`TierCard`] keeps the file as the operator uploaded it (that text is what is stored, and
//! what makes a second upload of the same file a replay), the market list it was checked against
//! and the instant it takes effect. Every market the file names must be a market of that list
//! (its `Other` included): a name the list does not know would never match a recipient.

use time::OffsetDateTime;

use super::category::Category;
use super::csv::CsvError;
use super::market_list::{MarketList, MarketLists, MarketName};
use super::tiers::{TierBand, VolumeTiers};
use crate::money::{Currency, Money};

/// Most versions one book holds (as many as a rate book).
pub const TIER_VERSIONS_MAX: usize = super::VERSIONS_PER_BOOK_MAX;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TierCardError {
    /// A parameter of the upload (`effective_from`, `market_list`) is wrong.
    #[error("{field}: {problem}")]
    Parameter {
        field: &'static str,
        problem: String,
    },
    /// The file itself, naming the line.
    #[error(transparent)]
    File(#[from] CsvError),
}

fn parameter(field: &'static str, problem: impl Into<String>) -> TierCardError {
    TierCardError::Parameter {
        field,
        problem: problem.into(),
    }
}

/// One uploaded tiers file, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierCard {
    effective_from: OffsetDateTime,
    market_list: String,
    csv: String,
    tiers: VolumeTiers,
}

impl TierCard {
    /// Reads `csv` (Meta's tiers layout, see [`super::tiers`]) effective from `effective_from`
    /// (`2026-10-01` or RFC 3339) under `market_list`, which must be the list in force then.
    pub fn import(
        lists: &MarketLists,
        csv: &str,
        effective_from: &str,
        market_list: &str,
    ) -> Result<TierCard, TierCardError> {
        let effective_from = super::json::parse_effective_from(effective_from)
            .filter(|at| *at >= time::macros::datetime!(2000-01-01 0:00 UTC))
            .ok_or_else(|| {
                parameter("effective_from", "a date in 2000 or later, e.g. 2026-10-01")
            })?;
        let list = lists
            .by_version(market_list)
            .ok_or_else(|| parameter("market_list", format!("no market list {market_list:?}")))?;
        let in_force = lists.in_force_at(effective_from).map(MarketList::version);
        if in_force != Some(list.version()) {
            return Err(parameter(
                "market_list",
                format!(
                    "{market_list} is not the list in force at effective_from ({})",
                    in_force.unwrap_or("none is")
                ),
            ));
        }
        let tiers = VolumeTiers::parse(csv)?;
        for (market, _) in tiers.keys() {
            if list.countries(market).is_none() {
                return Err(TierCardError::File(CsvError {
                    line: tiers.line_of(market).unwrap_or(0),
                    problem: format!("market {market} is not in market list {market_list}"),
                }));
            }
        }
        Ok(TierCard {
            effective_from,
            market_list: list.version().to_owned(),
            csv: csv.to_owned(),
            tiers,
        })
    }

    /// A card as stored: the file, its instant and its list, checked when it was imported (the
    /// file is parsed again; the list is not looked up, since lists may be added since).
    pub fn from_stored(
        csv: &str,
        effective_from: OffsetDateTime,
        market_list: &str,
    ) -> Result<TierCard, CsvError> {
        Ok(TierCard {
            effective_from,
            market_list: market_list.to_owned(),
            csv: csv.to_owned(),
            tiers: VolumeTiers::parse(csv)?,
        })
    }

    pub fn currency(&self) -> Currency {
        self.tiers.currency
    }

    /// Always UTC.
    pub fn effective_from(&self) -> OffsetDateTime {
        self.effective_from
    }

    pub fn market_list(&self) -> &str {
        &self.market_list
    }

    /// The file as uploaded.
    pub fn csv(&self) -> &str {
        &self.csv
    }

    pub fn tiers(&self) -> &VolumeTiers {
        &self.tiers
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TierBookError {
    #[error("the tier book is in {book}, the file is in {card}")]
    CurrencyMismatch { book: Currency, card: Currency },
    #[error("another tiers file takes effect at the same instant")]
    SameEffectiveFrom,
    #[error("the tier book already holds {TIER_VERSIONS_MAX} versions")]
    TooManyVersions,
}

/// Tier versions of one currency, ordered by `effective_from` (strictly increasing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierBook {
    currency: Currency,
    cards: Vec<TierCard>,
}

impl TierBook {
    pub fn new(currency: Currency) -> Self {
        Self {
            currency,
            cards: Vec::new(),
        }
    }

    pub fn insert(&mut self, card: TierCard) -> Result<(), TierBookError> {
        if card.currency() != self.currency {
            return Err(TierBookError::CurrencyMismatch {
                book: self.currency,
                card: card.currency(),
            });
        }
        if self.cards.len() >= TIER_VERSIONS_MAX {
            return Err(TierBookError::TooManyVersions);
        }
        let index = self
            .cards
            .partition_point(|existing| existing.effective_from < card.effective_from);
        if self
            .cards
            .get(index)
            .is_some_and(|existing| existing.effective_from == card.effective_from)
        {
            return Err(TierBookError::SameEffectiveFrom);
        }
        self.cards.insert(index, card);
        Ok(())
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// Oldest first.
    pub fn cards(&self) -> &[TierCard] {
        &self.cards
    }

    /// The version in force at `at`: the latest with `effective_from` ≤ `at`.
    pub fn in_force_at(&self, at: OffsetDateTime) -> Option<&TierCard> {
        let later = self.cards.partition_point(|card| card.effective_from <= at);
        later.checked_sub(1).map(|index| &self.cards[index])
    }

    /// The rate of `band` for `market` × `category` in the version in force at `at`.
    pub fn rate(
        &self,
        at: OffsetDateTime,
        market: &MarketName,
        category: &Category,
        band: TierBand,
    ) -> Option<Money> {
        self.in_force_at(at)?.tiers.rate(market, category, band)
    }
}

/// The market of `list` that Meta's `text` names, compared without case (the `account_update`
/// webhook writes `INDIA` where the files write `India`); the list's `Other` included.
pub fn market_named(list: &MarketList, text: &str) -> Option<MarketName> {
    let text = text.trim();
    list.markets()
        .chain(std::iter::once(list.other()))
        .find(|market| market.as_str().eq_ignore_ascii_case(text))
        .cloned()
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::pricing::built_in_market_lists;

    const FILE: &str = "Cost per message in USD\nMarket,Currency,Category,Tier,Rate\n\
        India,USD,Utility,0:25000000,0.0014\n\
        India,USD,Utility,25000001:50000000,0.0012\n";

    #[test]
    fn a_tiers_file_prices_from_its_date_under_its_list() {
        let lists = built_in_market_lists();
        let card = TierCard::import(lists, FILE, "2026-10-01", "example-2026-10-01").unwrap();
        let mut book = TierBook::new(Currency::Usd);
        book.insert(card.clone()).unwrap();
        assert_eq!(
            book.insert(card.clone()),
            Err(TierBookError::SameEffectiveFrom)
        );
        let india = MarketName::parse("India").unwrap();
        let band = TierBand::parse("25000001:50000000").unwrap();
        let rate = |at| book.rate(at, &india, &Category::Utility, band);
        assert_eq!(rate(datetime!(2026-09-30 23:59 UTC)), None);
        assert_eq!(
            rate(datetime!(2026-10-01 0:00 UTC)).map(|m| m.amount().to_string()),
            Some("0.0012".to_owned())
        );
        let list = lists.by_version("example-2026-10-01").unwrap();
        assert_eq!(market_named(list, "INDIA"), Some(india));
        assert_eq!(market_named(list, "other").unwrap().as_str(), "Other");
        assert_eq!(market_named(list, "Atlantis"), None);
    }

    #[test]
    fn a_tiers_file_is_refused_with_the_parameter_or_line_at_fault() {
        let lists = built_in_market_lists();
        let wrong_list = TierCard::import(lists, FILE, "2026-10-01", "example-2026-04-01");
        assert!(matches!(
            wrong_list,
            Err(TierCardError::Parameter {
                field: "market_list",
                ..
            })
        ));
        let bad_date = TierCard::import(lists, FILE, "1999-01-01", "example-2026-10-01");
        assert!(matches!(
            bad_date,
            Err(TierCardError::Parameter {
                field: "effective_from",
                ..
            })
        ));
        let unknown = FILE.replace("India,USD,Utility,2", "Atlantis,USD,Utility,2");
        match TierCard::import(lists, &unknown, "2026-10-01", "example-2026-10-01") {
            Err(TierCardError::File(error)) => assert_eq!(error.line, 4, "{error}"),
            other => panic!("{other:?}"),
        }
    }
}
