//! Volume tiers: utility and authentication rates by monthly message count, per Meta market.
//!
//! Meta announces a WABA's tier for a market × category × month with an `account_update` webhook
//! (`VOLUME_BASED_PRICING_TIER_UPDATE`, `volume_tier_info.tier` such as `25000001:50000000`);
//! messages after the update's instant are priced at the tier's rate. This module holds the tier
//! table and the update; `ledger::adjustments` turns a late update into true-up entries.
//!
//! # The tiers file
//! Meta's volume-tier file could not be read here, so its exact layout is **assumed**: the rates
//! file's preamble, then one row per market × category × band, the band written as the webhook
//! writes a tier (`lo:hi`, an open top as `lo:`):
//!
//! ```text
//! Cost per message in USD
//! Market,Currency,Category,Tier,Rate
//! India,USD,Utility,25000001:50000000,0.0012
//! ```

use std::collections::BTreeMap;

use super::category::Category;
use super::csv::{CsvError, Record, records};
use super::market_list::MarketName;
use crate::money::{Currency, Money, parse_exact_decimal};

/// Largest tiers file accepted.
pub const TIERS_CSV_BYTES_MAX: usize = 256 * 1024;
/// Most bands per market × category.
pub const BANDS_PER_MARKET_MAX: usize = 16;

/// Whether Meta prices the category by volume tiers: utility and authentication only.
pub fn has_tiers(category: &Category) -> bool {
    matches!(category, Category::Utility | Category::Authentication)
}

/// A category with volume tiers by name, in any case (Meta's webhook writes `UTILITY`, its files
/// `Utility`); `None` for any other category or name.
pub fn tier_category(name: &str) -> Option<Category> {
    Category::parse(&name.to_ascii_lowercase())
        .ok()
        .filter(has_tiers)
}

/// A band of monthly message counts, as Meta writes a tier: `25000001:50000000`, or `lo:` for no
/// upper bound. Kept as Meta's text too, since the webhook names a tier by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TierBand {
    pub from: u64,
    pub to: Option<u64>,
}

impl TierBand {
    pub fn parse(text: &str) -> Option<TierBand> {
        let (from, to) = text.trim().split_once(':')?;
        let number = |text: &str| -> Option<u64> {
            (!text.is_empty() && text.len() <= 12 && text.bytes().all(|b| b.is_ascii_digit()))
                .then(|| text.parse().ok())
                .flatten()
        };
        let from = number(from)?;
        let to = if to.is_empty() {
            None
        } else {
            Some(number(to)?)
        };
        if to.is_some_and(|to| to < from) {
            return None;
        }
        Some(TierBand { from, to })
    }
}

impl std::fmt::Display for TierBand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.to {
            Some(to) => write!(f, "{}:{to}", self.from),
            None => write!(f, "{}:", self.from),
        }
    }
}

/// The tier rates of one currency: market × category → band → rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeTiers {
    pub currency: Currency,
    rates: BTreeMap<(MarketName, Category), BTreeMap<TierBand, Money>>,
    /// The line each market first appears on, for errors found after parsing.
    lines: BTreeMap<MarketName, usize>,
}

fn at(line: usize, problem: impl Into<String>) -> CsvError {
    CsvError {
        line,
        problem: problem.into(),
    }
}

/// The currency the preamble (`Cost per message in USD`) names.
fn preamble_currency(preamble: &Record) -> Result<Currency, CsvError> {
    let first = preamble.cells.first().map(|c| c.trim()).unwrap_or("");
    first
        .rsplit(' ')
        .next()
        .filter(|_| {
            first
                .to_ascii_lowercase()
                .starts_with("cost per message in ")
        })
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| {
            at(
                preamble.line,
                "the first line must be `Cost per message in USD`",
            )
        })
}

/// One row: its market, category, tier and rate, each checked.
fn tier_row(
    record: &Record,
    currency: Currency,
) -> Result<(MarketName, Category, TierBand, Money), CsvError> {
    let line = record.line;
    let cell = |index: usize| record.cells.get(index).map(|c| c.trim()).unwrap_or("");
    if record.cells.len() != 5 {
        return Err(at(line, "the row does not have the header's five columns"));
    }
    let market = MarketName::parse(cell(0))
        .ok_or_else(|| at(line, format!("{:?} is not a market name", cell(0))))?;
    if cell(1) != currency.code() {
        return Err(at(
            line,
            format!(
                "currency {:?} disagrees with the file's {currency}",
                cell(1)
            ),
        ));
    }
    let Some(category) = tier_category(cell(2)) else {
        let other = cell(2).to_ascii_lowercase();
        return Err(at(
            line,
            format!("{other:?}: tiers are for utility and authentication"),
        ));
    };
    let band = TierBand::parse(cell(3)).ok_or_else(|| {
        at(
            line,
            format!("{:?} is not a tier such as 0:25000000", cell(3)),
        )
    })?;
    let rate = parse_exact_decimal(cell(4))
        .ok()
        .and_then(|amount| Money::new(amount, currency).ok())
        .filter(|rate| !rate.is_negative())
        .ok_or_else(|| at(line, format!("{:?} is not a rate", cell(4))))?;
    Ok((market, category, band, rate))
}

impl VolumeTiers {
    /// Parses a tiers file (layout in the module documentation); every error names its line.
    pub fn parse(text: &str) -> Result<VolumeTiers, CsvError> {
        let mut records = records(text, TIERS_CSV_BYTES_MAX)?.into_iter();
        let preamble = records.next().ok_or_else(|| at(0, "the file is empty"))?;
        let currency = preamble_currency(&preamble)?;
        let header = records
            .next()
            .ok_or_else(|| at(0, "the header is missing"))?;
        let names: Vec<String> = header
            .cells
            .iter()
            .map(|cell| cell.trim().to_ascii_lowercase())
            .collect();
        if names != ["market", "currency", "category", "tier", "rate"] {
            return Err(at(
                header.line,
                "the header must be Market,Currency,Category,Tier,Rate",
            ));
        }
        let mut rates: BTreeMap<(MarketName, Category), BTreeMap<TierBand, Money>> =
            BTreeMap::new();
        let mut lines = BTreeMap::new();
        for record in records {
            let line = record.line;
            let (market, category, band, rate) = tier_row(&record, currency)?;
            lines.entry(market.clone()).or_insert(line);
            let bands = rates.entry((market, category)).or_default();
            if bands.len() == BANDS_PER_MARKET_MAX {
                return Err(at(line, "too many tiers for one market and category"));
            }
            if bands.insert(band, rate).is_some() {
                return Err(at(line, format!("tier {band} is listed twice")));
            }
        }
        if rates.is_empty() {
            return Err(at(header.line, "no rows follow the header"));
        }
        Ok(VolumeTiers {
            currency,
            rates,
            lines,
        })
    }

    /// Every market × category the file lists.
    pub fn keys(&self) -> impl Iterator<Item = &(MarketName, Category)> {
        self.rates.keys()
    }

    /// The line of the file where `market` first appears.
    pub fn line_of(&self, market: &MarketName) -> Option<usize> {
        self.lines.get(market).copied()
    }

    /// How many bands the file lists, over all markets and categories.
    pub fn band_count(&self) -> usize {
        self.rates.values().map(BTreeMap::len).sum()
    }

    /// The rate of `band` for `market` × `category`, if the file lists it.
    pub fn rate(&self, market: &MarketName, category: &Category, band: TierBand) -> Option<Money> {
        self.rates
            .get(&(market.clone(), category.clone()))
            .and_then(|bands| bands.get(&band))
            .copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "Cost per message in USD\nMarket,Currency,Category,Tier,Rate\n\
        India,USD,Utility,0:25000000,0.0014\n\
        India,USD,Utility,25000001:50000000,0.0012\n\
        India,USD,Utility,50000001:,0.0010\n\
        India,USD,Authentication,0:25000000,0.0014\n";

    #[test]
    fn tiers_parse_by_market_category_and_band() {
        let tiers = VolumeTiers::parse(FILE).unwrap();
        let india = MarketName::parse("India").unwrap();
        let band = TierBand::parse("25000001:50000000").unwrap();
        assert_eq!(
            tiers.rate(&india, &Category::Utility, band),
            Some(Money::parse("0.0012", Currency::Usd).unwrap())
        );
        let open = TierBand::parse("50000001:").unwrap();
        assert_eq!(open.to_string(), "50000001:");
        assert!(tiers.rate(&india, &Category::Utility, open).is_some());
        assert_eq!(tiers.rate(&india, &Category::Marketing, band), None);
        for bad in ["", "1", "a:b", "5:1", ":5", "1:2:3"] {
            assert_eq!(TierBand::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn tier_file_errors_name_the_line() {
        let table = [
            (FILE.replace("0.0012", "0,0012"), 4),
            (
                FILE.replace("India,USD,Authentication", "India,USD,Marketing"),
                6,
            ),
            (FILE.replace("50000001:,", "50000001:x,"), 5),
            (format!("{FILE}India,USD,Utility,0:25000000,0.0015\n"), 7),
            (
                FILE.replace("India,USD,Utility,0:", "India,BRL,Utility,0:"),
                3,
            ),
        ];
        for (text, line) in table {
            let error = VolumeTiers::parse(&text).unwrap_err();
            assert_eq!(error.line, line, "{error}");
        }
    }
}
