//! Meta's rates CSV, as Meta publishes it per currency (an operator downloads it; there is no API):
//!
//! ```text
//! Cost per message in BRL
//! Market,Currency,Marketing,Utility,Authentication,"Authentication-
//! International",Service
//! North America,BRL,0.1250,0.0200,0.0200,n/a,0.0300
//! Rest of Latin America,BRL,0.3700,0.0560,0.0560,0.4000,0.0400
//! Other,BRL,0.3000,0.0400,0.0400,n/a,0.0300
//! ```
//!
//! A preamble line naming the currency, a header whose `Authentication-International` cell holds a
//! line break inside its quotes, then one row per Meta market (a country such as `India`, or a
//! region such as `North America`, `Rest of Africa`, `Other`), `n/a` where Meta has no rate.
//!
//! [`MetaRates::parse`] reads the file; [`MetaRates::to_card`] maps every row to the countries it
//! covers through a [`MarketList`] and builds a [`RateCard`]. Every problem is a [`CsvError`] that
//! names the line (of the file, counting from 1, where the record starts), and nothing is built.
//! A row may also name one country by its ISO code (`FR`); a country that two rows claim (a
//! region's row and its own) is an error naming the second.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use super::card::{
    CategoryRates, FALLBACK_CATEGORIES_REQUIRED, RATE_UNITS_MAX, RateCard, RateTable, Rates,
};
use super::category::Category;
use super::market::Market;
use super::market_list::{MarketList, MarketName};
use crate::money::{AMOUNT_SCALE_MAX, Currency, Money, parse_exact_decimal};

/// Largest rates file accepted (Meta's are a few KiB).
pub const RATES_CSV_BYTES_MAX: usize = 256 * 1024;
/// Most records (lines) in one file.
pub const RATES_CSV_RECORDS_MAX: usize = 1_000;
/// Most cells in one record.
const CELLS_PER_RECORD_MAX: usize = 32;
/// Longest cell, in bytes.
const CELL_BYTES_MAX: usize = 256;
const NO_RATE: &str = "n/a";
const PREAMBLE_PREFIX: &str = "cost per message in ";

/// What is wrong with a rates file, and on which line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {problem}")]
pub struct CsvError {
    /// The file's line where the offending record starts, from 1 (0: the file as a whole).
    pub line: usize,
    pub problem: String,
}

fn at(line: usize, problem: impl Into<String>) -> CsvError {
    CsvError {
        line,
        problem: problem.into(),
    }
}

/// One record of the file and the line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    pub(crate) line: usize,
    pub(crate) cells: Vec<String>,
}

/// Splits CSV text into records (RFC 4180: quoted cells may hold commas, `""` and line breaks),
/// bounded in records, cells and cell length. Blank lines are dropped.
pub(crate) fn records(text: &str, bytes_max: usize) -> Result<Vec<Record>, CsvError> {
    if text.len() > bytes_max {
        return Err(at(0, format!("the file is larger than {bytes_max} bytes")));
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    while chars.peek().is_some() {
        let start = line;
        let mut cells = Vec::new();
        let mut cell = String::new();
        let mut quoted = false;
        loop {
            let Some(c) = chars.next() else {
                if quoted {
                    return Err(at(start, "a quoted cell is not closed"));
                }
                break;
            };
            match (quoted, c) {
                (true, '"') if chars.peek() == Some(&'"') => {
                    chars.next();
                    cell.push('"');
                }
                (true, '"') => quoted = false,
                (false, '"') if cell.trim().is_empty() => {
                    cell.clear();
                    quoted = true;
                }
                (false, ',') => cells.push(std::mem::take(&mut cell)),
                (false, '\r') => {}
                (false, '\n') => {
                    line += 1;
                    break;
                }
                (_, c) => {
                    if c == '\n' {
                        line += 1;
                    }
                    cell.push(c);
                }
            }
            if cell.len() > CELL_BYTES_MAX || cells.len() > CELLS_PER_RECORD_MAX {
                return Err(at(start, "a cell or the record is too long"));
            }
        }
        cells.push(cell);
        if cells.iter().all(|cell| cell.trim().is_empty()) {
            continue;
        }
        if out.len() == RATES_CSV_RECORDS_MAX {
            return Err(at(
                start,
                format!("more than {RATES_CSV_RECORDS_MAX} records"),
            ));
        }
        out.push(Record { line: start, cells });
    }
    Ok(out)
}

/// A header cell with its line breaks and spaces folded, lower case: `"Authentication-\n
/// International"` is `authentication-international`.
fn header_name(cell: &str) -> String {
    cell.split_whitespace()
        .collect::<String>()
        .to_ascii_lowercase()
}

/// The columns of a rates file, as Meta names them, with the category each prices.
const RATE_COLUMNS: [(&str, Category); 5] = [
    ("marketing", Category::Marketing),
    ("utility", Category::Utility),
    ("authentication", Category::Authentication),
    (
        "authentication-international",
        Category::AuthenticationInternational,
    ),
    ("service", Category::Service),
];

/// One row of the file: a Meta market (or one country) and its rates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RatesRow {
    pub line: usize,
    pub market: MarketName,
    pub rates: CategoryRates,
}

/// A rates file, read but not yet mapped to countries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaRates {
    pub currency: Currency,
    pub rows: Vec<RatesRow>,
}

impl MetaRates {
    pub fn parse(text: &str) -> Result<MetaRates, CsvError> {
        let records = records(text, RATES_CSV_BYTES_MAX)?;
        let mut records = records.into_iter();
        let preamble = records.next().ok_or_else(|| at(0, "the file is empty"))?;
        let currency = preamble_currency(&preamble)?;
        let header = records
            .next()
            .ok_or_else(|| at(preamble.line + 1, "the header is missing"))?;
        let columns = header_columns(&header)?;
        let mut rows = Vec::new();
        let mut seen = BTreeMap::new();
        for record in records {
            let row = parse_row(&record, &columns, currency)?;
            if let Some(first) = seen.insert(row.market.clone(), record.line) {
                return Err(at(
                    record.line,
                    format!(
                        "market {} is listed twice (first on line {first})",
                        row.market
                    ),
                ));
            }
            rows.push(row);
        }
        if rows.is_empty() {
            return Err(at(header.line, "no rows follow the header"));
        }
        Ok(MetaRates { currency, rows })
    }

    /// The card these rates make under `list`: each row's rates for every country of its market,
    /// the `other` market's row as the fallback. `source` says where the file came from.
    pub fn to_card(
        &self,
        list: &MarketList,
        effective_from: OffsetDateTime,
        source: &str,
    ) -> Result<RateCard, CsvError> {
        let mut by_country: BTreeMap<Market, (usize, CategoryRates)> = BTreeMap::new();
        let mut fallback = None;
        let mut covered: BTreeMap<&MarketName, usize> = BTreeMap::new();
        for row in &self.rows {
            if row.market == *list.other() {
                fallback = Some(row);
                continue;
            }
            let single;
            let countries = match list.countries(&row.market) {
                Some(countries) => {
                    covered.insert(&row.market, row.line);
                    countries
                }
                None => {
                    single = [single_country(row, list)?];
                    &single[..]
                }
            };
            for country in countries {
                claim(&mut by_country, *country, row)?;
            }
        }
        if let Some(missing) = list.markets().find(|name| !covered.contains_key(name)) {
            return Err(at(
                0,
                format!("market {missing} of list {} has no row", list.version()),
            ));
        }
        let fallback = checked_fallback(fallback, list)?;
        // Categories imcredits does not know are priced at the fallback's highest rate: an
        // imcredits choice (Meta's file has no such column), never below any known price.
        let unknown_category = fallback
            .rates
            .values()
            .copied()
            .max_by(|a, b| a.amount().cmp(&b.amount()))
            .expect("the fallback holds the required rates");
        let by_market = by_country
            .into_iter()
            .map(|(country, (_, rates))| (country, rates))
            .collect();
        let source = format!(
            "{source} (Meta rates CSV in {}, market list {})",
            self.currency,
            list.version()
        );
        Ok(RateCard {
            currency: self.currency,
            effective_from: effective_from.to_offset(time::UtcOffset::UTC),
            source: Some(source.chars().take(super::SOURCE_NOTE_CHARS_MAX).collect()),
            rates: Rates::Table(RateTable {
                by_market,
                fallback: fallback.rates.clone(),
                unknown_category,
            }),
            market_list: Some(list.version().to_owned()),
        })
    }
}

/// A row of one country (its market is no region of `list`).
fn single_country(row: &RatesRow, list: &MarketList) -> Result<Market, CsvError> {
    Market::parse(row.market.as_str()).map_err(|_| {
        at(
            row.line,
            format!(
                "market {} is not in market list {}",
                row.market,
                list.version()
            ),
        )
    })
}

/// The `other` market's row, which must be there with every required category.
fn checked_fallback<'a>(
    fallback: Option<&'a RatesRow>,
    list: &MarketList,
) -> Result<&'a RatesRow, CsvError> {
    let fallback = fallback.ok_or_else(|| {
        at(
            0,
            format!("the file has no {} row (the fallback)", list.other()),
        )
    })?;
    for required in FALLBACK_CATEGORIES_REQUIRED {
        if !fallback.rates.contains_key(&required) {
            return Err(at(
                fallback.line,
                format!("the fallback row has no {required} rate"),
            ));
        }
    }
    Ok(fallback)
}

/// A country priced by one row only: a region row and a row of one of its countries both
/// claiming it is an error naming the second.
fn claim(
    by_country: &mut BTreeMap<Market, (usize, CategoryRates)>,
    country: Market,
    row: &RatesRow,
) -> Result<(), CsvError> {
    if let Some((first, _)) = by_country.get(&country) {
        return Err(at(
            row.line,
            format!("country {country} is already priced by line {first}"),
        ));
    }
    by_country.insert(country, (row.line, row.rates.clone()));
    Ok(())
}

fn preamble_currency(preamble: &Record) -> Result<Currency, CsvError> {
    let text = preamble.cells.first().map(|cell| cell.trim()).unwrap_or("");
    let extra = preamble
        .cells
        .iter()
        .skip(1)
        .any(|cell| !cell.trim().is_empty());
    let lower = text.to_ascii_lowercase();
    let code = lower
        .strip_prefix(PREAMBLE_PREFIX)
        .filter(|_| !extra)
        .map(|_| text[PREAMBLE_PREFIX.len()..].trim())
        .ok_or_else(|| {
            at(
                preamble.line,
                "the first line must be Meta's preamble, such as `Cost per message in BRL`",
            )
        })?;
    code.parse().map_err(|_| {
        at(
            preamble.line,
            format!("{code:?} is not a supported currency"),
        )
    })
}

/// Where each column is: market, currency, and the rate columns present.
struct Columns {
    market: usize,
    currency: usize,
    rates: Vec<(usize, Category)>,
}

fn header_columns(header: &Record) -> Result<Columns, CsvError> {
    let names: Vec<String> = header.cells.iter().map(|cell| header_name(cell)).collect();
    let find = |wanted: &str| names.iter().position(|name| name == wanted);
    let market =
        find("market").ok_or_else(|| at(header.line, "the header has no Market column"))?;
    let currency =
        find("currency").ok_or_else(|| at(header.line, "the header has no Currency column"))?;
    let mut rates = Vec::new();
    for (index, name) in names.iter().enumerate() {
        if index == market || index == currency || name.is_empty() {
            continue;
        }
        let category = RATE_COLUMNS
            .iter()
            .find(|(column, _)| column == name)
            .map(|(_, category)| category.clone())
            .ok_or_else(|| at(header.line, format!("unknown column {name:?}")))?;
        if rates.iter().any(|(_, seen)| *seen == category) {
            return Err(at(header.line, format!("column {name:?} appears twice")));
        }
        rates.push((index, category));
    }
    if rates.is_empty() {
        return Err(at(header.line, "the header names no rate columns"));
    }
    Ok(Columns {
        market,
        currency,
        rates,
    })
}

fn parse_row(record: &Record, columns: &Columns, currency: Currency) -> Result<RatesRow, CsvError> {
    let line = record.line;
    let cell = |index: usize| {
        record
            .cells
            .get(index)
            .map(|cell| cell.trim())
            .unwrap_or("")
    };
    let width = columns
        .rates
        .iter()
        .map(|(index, _)| *index)
        .max()
        .unwrap_or(0);
    let extra = record
        .cells
        .iter()
        .skip(width + 1)
        .any(|c| !c.trim().is_empty());
    if record.cells.len() <= width.max(columns.market).max(columns.currency) || extra {
        return Err(at(line, "the row does not have the header's columns"));
    }
    let market = MarketName::parse(cell(columns.market)).ok_or_else(|| {
        at(
            line,
            format!("{:?} is not a market name", cell(columns.market)),
        )
    })?;
    let row_currency = cell(columns.currency);
    if row_currency != currency.code() {
        return Err(at(
            line,
            format!("currency {row_currency:?} disagrees with the file's {currency}"),
        ));
    }
    let mut rates = CategoryRates::new();
    for (index, category) in &columns.rates {
        let text = cell(*index);
        if text.eq_ignore_ascii_case(NO_RATE) || text.is_empty() {
            continue;
        }
        let rate = parse_exact_decimal(text)
            .ok()
            .and_then(|amount| Money::new(amount, currency).ok())
            .filter(|rate| {
                !rate.is_negative()
                    && rate.amount() <= rust_decimal::Decimal::from(RATE_UNITS_MAX)
                    && rate.amount().scale() <= AMOUNT_SCALE_MAX
            })
            .ok_or_else(|| {
                at(
                    line,
                    format!(
                        "{category}: {text:?} is not a rate (a decimal such as 0.0250, or n/a)"
                    ),
                )
            })?;
        rates.insert(category.clone(), rate);
    }
    if rates.is_empty() {
        return Err(at(line, format!("market {market} has no rate at all")));
    }
    Ok(RatesRow {
        line,
        market,
        rates,
    })
}

#[cfg(test)]
#[path = "csv_tests.rs"]
mod tests;
