//! Meta's market list: which countries form which **Meta market** (a country priced alone, such as
//! `India`, or a region such as `North America` or `Rest of Latin America`), by date.
//!
//! Meta prices by market, and the list changes (on 2026-10-01 nine markets left their regions for
//! standalone rates), so the list is data with versions, not code: `shared/market-lists/*.json`,
//! one file per version, each with its source and the instant it takes effect. The phone metadata
//! places a number in a country ([`super::market_of`]); the list places the country in a Meta
//! market. A country the list does not name belongs to its `other` market (Meta's `Other` row).
//!
//! ```json
//! {
//!   "version": "2026-10-01",
//!   "effective_from": "2026-10-01",
//!   "source": "where the list comes from",
//!   "markets": { "North America": ["US", "CA"], "India": ["IN"] },
//!   "other": "Other"
//! }
//! ```
//!
//! A country claimed by two markets, a market named twice, an unknown country code, a list without
//! markets and every over-long text are refused, naming the field.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::market::{Market, MarketError};

/// Most markets one list names (Meta's has a few dozen rows).
pub const MARKETS_PER_LIST_MAX: usize = 300;
/// Most countries one market may hold (the whole world is about 250).
pub const COUNTRIES_PER_MARKET_MAX: usize = 260;
/// Longest market name, in bytes (Meta's longest are about 35).
pub const MARKET_NAME_LEN_MAX: usize = 64;
/// Longest version label, in bytes.
pub const MARKET_LIST_VERSION_LEN_MAX: usize = 40;
/// Longest market list JSON accepted.
pub const MARKET_LIST_JSON_BYTES_MAX: usize = 64 * 1024;
/// Most versions kept in one [`MarketLists`].
pub const MARKET_LIST_VERSIONS_MAX: usize = 64;
/// Longest source note, in characters.
const SOURCE_CHARS_MAX: usize = 4_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MarketListError {
    #[error("market list JSON is larger than {MARKET_LIST_JSON_BYTES_MAX} bytes")]
    TooLarge,
    #[error("market list JSON does not fit the format: {0}")]
    Json(String),
    #[error("{field}: {problem}")]
    Invalid { field: String, problem: String },
    #[error("two market lists take effect at the same instant ({0} and {1})")]
    SameEffectiveFrom(String, String),
    #[error("two market lists share the version {0}")]
    SameVersion(String),
    #[error("more than {MARKET_LIST_VERSIONS_MAX} market list versions")]
    TooManyVersions,
}

fn invalid(field: impl Into<String>, problem: impl fmt::Display) -> MarketListError {
    MarketListError::Invalid {
        field: field.into(),
        problem: problem.to_string(),
    }
}

/// A Meta market's name as Meta's files write it (`North America`, `Rest of Latin America`): 1 to
/// [`MARKET_NAME_LEN_MAX`] bytes of letters, digits, spaces and `&'.,()-/`, no outer spaces.
/// Compared exactly (Meta's spelling is the key between its rates file and its list).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct MarketName(String);

impl MarketName {
    pub fn parse(text: &str) -> Option<MarketName> {
        let ok = !text.is_empty()
            && text.len() <= MARKET_NAME_LEN_MAX
            && text.trim() == text
            && text
                .chars()
                .all(|c| c.is_alphanumeric() || " &'.,()-/".contains(c));
        ok.then(|| MarketName(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MarketName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MarketListJson {
    version: String,
    effective_from: String,
    source: String,
    markets: BTreeMap<String, Vec<String>>,
    other: String,
}

/// One version of Meta's market list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketList {
    version: String,
    effective_from: OffsetDateTime,
    source: String,
    markets: BTreeMap<MarketName, Vec<Market>>,
    by_country: BTreeMap<Market, MarketName>,
    other: MarketName,
}

impl MarketList {
    /// Parses and checks a list's JSON (see the module documentation).
    pub fn from_json(text: &str) -> Result<MarketList, MarketListError> {
        if text.len() > MARKET_LIST_JSON_BYTES_MAX {
            return Err(MarketListError::TooLarge);
        }
        let json: MarketListJson =
            serde_json::from_str(text).map_err(|error| MarketListError::Json(error.to_string()))?;
        let version_ok = !json.version.is_empty()
            && json.version.len() <= MARKET_LIST_VERSION_LEN_MAX
            && json
                .version
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if !version_ok {
            return Err(invalid("version", "1-40 letters, digits, '-', '_' or '.'"));
        }
        let effective_from = super::json::parse_effective_from(&json.effective_from)
            .ok_or_else(|| invalid("effective_from", "a date such as 2026-10-01"))?;
        if json.source.trim().is_empty() || json.source.chars().count() > SOURCE_CHARS_MAX {
            return Err(invalid("source", "required, at most 4,000 characters"));
        }
        let other =
            MarketName::parse(&json.other).ok_or_else(|| invalid("other", "not a market name"))?;
        if json.markets.is_empty() || json.markets.len() > MARKETS_PER_LIST_MAX {
            return Err(invalid("markets", "1 to 300 markets"));
        }
        let mut markets = BTreeMap::new();
        let mut by_country = BTreeMap::new();
        for (name, countries) in &json.markets {
            let field = format!("markets.{name:?}");
            let market = MarketName::parse(name).ok_or_else(|| invalid(&field, "not a name"))?;
            if market == other {
                return Err(invalid(
                    &field,
                    "is the `other` market, which names no countries",
                ));
            }
            if countries.is_empty() || countries.len() > COUNTRIES_PER_MARKET_MAX {
                return Err(invalid(&field, "1 to 260 countries"));
            }
            let mut parsed = Vec::with_capacity(countries.len());
            for code in countries {
                let country = Market::parse(code)
                    .map_err(|error: MarketError| invalid(format!("{field}.{code}"), error))?;
                if let Some(first) = by_country.insert(country, market.clone()) {
                    return Err(invalid(
                        format!("{field}.{code}"),
                        format!("is already in {first}"),
                    ));
                }
                parsed.push(country);
            }
            markets.insert(market, parsed);
        }
        Ok(MarketList {
            version: json.version,
            effective_from,
            source: json.source,
            markets,
            by_country,
            other,
        })
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    /// Always UTC.
    pub fn effective_from(&self) -> OffsetDateTime {
        self.effective_from
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// The market a country belongs to under this list (its `other` market if none names it).
    pub fn market_of(&self, country: Market) -> &MarketName {
        self.by_country.get(&country).unwrap_or(&self.other)
    }

    /// The countries a named market covers; `None` for a name the list does not know. The `other`
    /// market answers an empty list: it is whatever no other market claims.
    pub fn countries(&self, market: &MarketName) -> Option<&[Market]> {
        if *market == self.other {
            return Some(&[]);
        }
        self.markets.get(market).map(Vec::as_slice)
    }

    pub fn other(&self) -> &MarketName {
        &self.other
    }

    /// Every market the list names, `other` excluded.
    pub fn markets(&self) -> impl Iterator<Item = &MarketName> {
        self.markets.keys()
    }
}

/// The versions of Meta's market list, and which one is in force when.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MarketLists {
    /// Strictly increasing `effective_from`.
    lists: Vec<MarketList>,
}

/// The seed fixture (`shared/market-lists/`): format examples that the local runner and the tests
/// load into a store empty of lists ([`crate::ports::market_lists::seed_market_lists`]). Nothing
/// prices with it directly: billing and the import routes read the lists an operator loaded.
pub const SEED_FIXTURE: [&str; 2] = [
    include_str!("../../market-lists/example-2026-04-01.json"),
    include_str!("../../market-lists/example-2026-10-01.json"),
];

impl MarketLists {
    pub fn new(lists: impl IntoIterator<Item = MarketList>) -> Result<Self, MarketListError> {
        let mut all: Vec<MarketList> = lists.into_iter().collect();
        if all.len() > MARKET_LIST_VERSIONS_MAX {
            return Err(MarketListError::TooManyVersions);
        }
        all.sort_by_key(MarketList::effective_from);
        for pair in all.windows(2) {
            if pair[0].effective_from == pair[1].effective_from {
                return Err(MarketListError::SameEffectiveFrom(
                    pair[0].version.clone(),
                    pair[1].version.clone(),
                ));
            }
        }
        let mut versions: Vec<&str> = all.iter().map(MarketList::version).collect();
        versions.sort_unstable();
        if let Some(pair) = versions.windows(2).find(|pair| pair[0] == pair[1]) {
            return Err(MarketListError::SameVersion(pair[0].to_owned()));
        }
        Ok(Self { lists: all })
    }

    /// The seed fixture's lists (for tests and fuzzing). They are checked by a test, so this
    /// cannot fail.
    pub fn built_in() -> Self {
        let lists = SEED_FIXTURE
            .iter()
            .map(|text| MarketList::from_json(text).expect("a shipped market list is valid"));
        Self::new(lists).expect("the shipped market lists are consistent")
    }

    /// The list in force at `at`: the latest with `effective_from` ≤ `at`.
    pub fn in_force_at(&self, at: OffsetDateTime) -> Option<&MarketList> {
        let later = self.lists.partition_point(|list| list.effective_from <= at);
        later.checked_sub(1).map(|index| &self.lists[index])
    }

    pub fn by_version(&self, version: &str) -> Option<&MarketList> {
        self.lists.iter().find(|list| list.version == version)
    }

    /// Oldest first.
    pub fn lists(&self) -> &[MarketList] {
        &self.lists
    }
}
