//! The JSON form of a rate card, for the operator API (upload) and for storage.
//!
//! ```json
//! {
//!   "currency": "USD",
//!   "effective_from": "2025-07-01T00:00:00Z",
//!   "source": "where the figures come from",
//!   "rates": {
//!     "IN": { "marketing": "0.0107", "authentication-international": "0.028" },
//!     "BS": { "marketing": "0.074", "utility": "0.0113", "authentication": "0.0113" }
//!   },
//!   "fallback": { "marketing": "0.0604", "utility": "0.0077", "authentication": "0.0077" },
//!   "unknown_category_rate": "0.0604"
//! }
//! ```
//! or, flat: `{"currency": "USD", "effective_from": "2025-01-01", "flat_rate": "0.0125"}`.
//!
//! - `effective_from`: a date (`2025-07-01`, midnight UTC) or an RFC 3339 timestamp (any offset,
//!   kept in UTC); written back as `2025-07-01T00:00:00Z`.
//! - Rates are decimal **strings** with at most six decimal places, `0` to [`RATE_UNITS_MAX`](super::RATE_UNITS_MAX); a
//!   JSON number is refused so that no reader on the way turns a price into a float.
//! - `rates` maps markets (ISO 3166 alpha-2, see [`Market`]) to categories (see [`Category`]; `-`
//!   and `_` spell the same name, written back with `_`) to rates. `fallback` prices markets the
//!   card does not list (Meta's "Other" row) and must price [`FALLBACK_CATEGORIES_REQUIRED`];
//!   `unknown_category_rate` prices categories imcredits does not know. A flat card has
//!   `flat_rate` and none of those three.
//! - Unknown fields, duplicate keys and over-long lists are refused; errors name the field, e.g.
//!   `rates.IN.marketing: more than 6 decimal places`.
//!
//! Writing a card gives the canonical form (markets and categories sorted, canonical names), which
//! reads back to the same card.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, UtcOffset};

use super::card::{
    CATEGORIES_PER_MARKET_MAX, CardError, CardProblem, CategoryRates, FALLBACK_CATEGORIES_REQUIRED,
    MARKETS_PER_CARD_MAX, RATE_CARD_JSON_BYTES_MAX, RateCard, RateTable, Rates,
    SOURCE_NOTE_CHARS_MAX, Timestamp, check_rate,
};
use super::category::Category;
use super::market::Market;
use crate::money::{Currency, Money, MoneyError, parse_exact_decimal};

/// Longest `effective_from` text: an RFC 3339 timestamp with nanoseconds and an offset is 35.
const EFFECTIVE_FROM_LEN_MAX: usize = 40;
/// How much of an offending key an error repeats.
const KEY_IN_PATH_CHARS_MAX: usize = 40;

/// The JSON form of a rate card, as uploaded and as stored (see the module documentation). Turn it
/// into a [`RateCard`] with `RateCard::try_from`, which validates everything; or use
/// [`RateCard::from_json`], or `serde` on `RateCard` directly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateCardJson {
    currency: String,
    effective_from: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    flat_rate: Option<RateText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rates: Option<Entries<Entries<RateText>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fallback: Option<Entries<RateText>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    unknown_category_rate: Option<RateText>,
    /// Set on cards imported from Meta's rates file: the market list they were mapped with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    market_list: Option<String>,
}

/// A rate as it stands in the JSON: a string, or something else kept only so that the error can
/// name the field.
#[derive(Debug, Clone, PartialEq)]
enum RateText {
    Text(String),
    NotText(&'static str),
}

/// A JSON object's entries in order, duplicates kept, so that validation can refuse duplicates by
/// name (a map would keep the last one silently).
#[derive(Debug, Clone, PartialEq)]
struct Entries<V>(Vec<(String, V)>);

impl RateCard {
    /// Parses and validates a card's JSON (see the module documentation for the format).
    pub fn from_json(text: &str) -> Result<RateCard, CardError> {
        if text.len() > RATE_CARD_JSON_BYTES_MAX {
            return Err(CardError::TooLarge);
        }
        let json: RateCardJson =
            serde_json::from_str(text).map_err(|error| CardError::Json(error.to_string()))?;
        RateCard::try_from(json)
    }
}

impl TryFrom<RateCardJson> for RateCard {
    type Error = CardError;

    fn try_from(json: RateCardJson) -> Result<Self, Self::Error> {
        let currency = json.currency.parse::<Currency>().map_err(|_| {
            invalid(
                "currency",
                CardProblem::UnsupportedCurrency(json.currency.chars().take(8).collect()),
            )
        })?;
        let effective_from = parse_effective_from(&json.effective_from)
            .ok_or_else(|| invalid("effective_from", CardProblem::BadTimestamp))?;
        if let Some(source) = &json.source {
            check_source(source)?;
        }
        let rates = match json.flat_rate {
            Some(flat_rate) => {
                let extra = [
                    ("rates", json.rates.is_some()),
                    ("fallback", json.fallback.is_some()),
                    (
                        "unknown_category_rate",
                        json.unknown_category_rate.is_some(),
                    ),
                ];
                if let Some((field, _)) = extra.into_iter().find(|(_, present)| *present) {
                    return Err(invalid(field, CardProblem::NotOnFlatCard));
                }
                Rates::Flat(parse_rate("flat_rate", &flat_rate, currency)?)
            }
            None => Rates::Table(table_from_json(
                currency,
                json.rates,
                json.fallback,
                json.unknown_category_rate,
            )?),
        };
        if let Some(version) = &json.market_list {
            let ok = !version.is_empty()
                && version.len() <= super::market_list::MARKET_LIST_VERSION_LEN_MAX
                && version
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
            if !ok {
                return Err(invalid("market_list", CardProblem::NotAVersion));
            }
        }
        Ok(RateCard {
            currency,
            effective_from,
            source: json.source,
            rates,
            market_list: json.market_list,
        })
    }
}

impl From<&RateCard> for RateCardJson {
    fn from(card: &RateCard) -> Self {
        let rate_text = |rate: &Money| RateText::Text(rate.amount().to_string());
        let category_entries = |rates: &CategoryRates| {
            Entries(
                rates
                    .iter()
                    .map(|(category, rate)| (category.as_str().to_owned(), rate_text(rate)))
                    .collect(),
            )
        };
        let mut json = RateCardJson {
            currency: card.currency.code().to_owned(),
            effective_from: Timestamp(card.effective_from).to_string(),
            source: card.source.clone(),
            flat_rate: None,
            rates: None,
            fallback: None,
            unknown_category_rate: None,
            market_list: card.market_list.clone(),
        };
        match &card.rates {
            Rates::Flat(rate) => json.flat_rate = Some(rate_text(rate)),
            Rates::Table(table) => {
                json.rates = Some(Entries(
                    table
                        .by_market
                        .iter()
                        .map(|(market, rates)| {
                            (market.as_str().to_owned(), category_entries(rates))
                        })
                        .collect(),
                ));
                json.fallback = Some(category_entries(&table.fallback));
                json.unknown_category_rate = Some(rate_text(&table.unknown_category));
            }
        }
        json
    }
}

impl Serialize for RateCard {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        RateCardJson::from(self).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for RateCard {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let json = RateCardJson::deserialize(deserializer)?;
        RateCard::try_from(json).map_err(de::Error::custom)
    }
}

fn invalid(field: &str, problem: CardProblem) -> CardError {
    CardError::Invalid {
        field: field.to_owned(),
        problem,
    }
}

/// A key as it appears in an error's path: as written when it is a plain token, quoted and cut
/// short otherwise (it came from outside).
fn path_key(key: &str) -> String {
    let plain = !key.is_empty()
        && key.len() <= KEY_IN_PATH_CHARS_MAX
        && key
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-');
    if plain {
        key.to_owned()
    } else {
        let cut: String = key.chars().take(KEY_IN_PATH_CHARS_MAX).collect();
        format!("{cut:?}")
    }
}

/// A date (midnight UTC) or an RFC 3339 instant, as `effective_from` is written.
pub fn parse_effective_from(text: &str) -> Option<OffsetDateTime> {
    if text.len() > EFFECTIVE_FROM_LEN_MAX {
        return None;
    }
    if let Ok(date) = Date::parse(text, format_description!("[year]-[month]-[day]")) {
        return Some(date.midnight().assume_utc());
    }
    OffsetDateTime::parse(text, &Rfc3339)
        .ok()
        .map(|instant| instant.to_offset(UtcOffset::UTC))
}

fn check_source(source: &str) -> Result<(), CardError> {
    if source.chars().count() > SOURCE_NOTE_CHARS_MAX {
        return Err(invalid("source", CardProblem::TooLong));
    }
    if source.chars().any(|c| c.is_control() && c != '\n') {
        return Err(invalid("source", CardProblem::ControlCharacter));
    }
    Ok(())
}

fn parse_rate(field: &str, text: &RateText, currency: Currency) -> Result<Money, CardError> {
    let text = match text {
        RateText::Text(text) => text,
        RateText::NotText(kind) => return Err(invalid(field, CardProblem::NotAString(kind))),
    };
    let amount = parse_exact_decimal(text).map_err(|_| invalid(field, CardProblem::NotADecimal))?;
    let rate = Money::new(amount, currency).map_err(|error| {
        invalid(
            field,
            match error {
                MoneyError::TooPrecise(_) => CardProblem::TooPrecise,
                MoneyError::Overflow => CardProblem::TooLarge,
                _ => CardProblem::NotADecimal,
            },
        )
    })?;
    check_rate(field, rate, currency)?;
    Ok(rate)
}

fn table_from_json(
    currency: Currency,
    rates: Option<Entries<Entries<RateText>>>,
    fallback: Option<Entries<RateText>>,
    unknown_category_rate: Option<RateText>,
) -> Result<RateTable, CardError> {
    let rates = rates.unwrap_or(Entries(Vec::new()));
    if rates.0.len() > MARKETS_PER_CARD_MAX {
        return Err(invalid(
            "rates",
            CardProblem::TooMany {
                max: MARKETS_PER_CARD_MAX,
            },
        ));
    }
    let mut by_market = std::collections::BTreeMap::new();
    for (key, entries) in &rates.0 {
        let field = format!("rates.{}", path_key(key));
        let market =
            Market::parse(key).map_err(|error| invalid(&field, CardProblem::Market(error)))?;
        if entries.0.is_empty() {
            return Err(invalid(&field, CardProblem::Empty));
        }
        let market_rates = category_rates(&field, entries, currency)?;
        if by_market.insert(market, market_rates).is_some() {
            return Err(invalid(&field, CardProblem::DuplicateMarket));
        }
    }
    let fallback = fallback.ok_or_else(|| invalid("fallback", CardProblem::MissingUnlessFlat))?;
    let fallback = category_rates("fallback", &fallback, currency)?;
    if let Some(missing) = FALLBACK_CATEGORIES_REQUIRED
        .iter()
        .find(|category| !fallback.contains_key(*category))
    {
        return Err(invalid(
            &format!("fallback.{missing}"),
            CardProblem::Missing,
        ));
    }
    let unknown_category = unknown_category_rate
        .ok_or_else(|| invalid("unknown_category_rate", CardProblem::MissingUnlessFlat))?;
    let unknown_category = parse_rate("unknown_category_rate", &unknown_category, currency)?;
    Ok(RateTable {
        by_market,
        fallback,
        unknown_category,
    })
}

fn category_rates(
    field: &str,
    entries: &Entries<RateText>,
    currency: Currency,
) -> Result<CategoryRates, CardError> {
    if entries.0.len() > CATEGORIES_PER_MARKET_MAX {
        return Err(invalid(
            field,
            CardProblem::TooMany {
                max: CATEGORIES_PER_MARKET_MAX,
            },
        ));
    }
    let mut rates = CategoryRates::new();
    for (key, text) in &entries.0 {
        let field = format!("{field}.{}", path_key(key));
        let category =
            Category::parse(key).map_err(|error| invalid(&field, CardProblem::Category(error)))?;
        let rate = parse_rate(&field, text, currency)?;
        if rates.insert(category, rate).is_some() {
            return Err(invalid(&field, CardProblem::DuplicateCategory));
        }
    }
    Ok(rates)
}

impl Serialize for RateText {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            RateText::Text(text) => serializer.serialize_str(text),
            // Only ever read, never built by this code: write what was read.
            RateText::NotText(_) => serializer.serialize_unit(),
        }
    }
}

impl<'de> Deserialize<'de> for RateText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RateTextVisitor;

        impl<'de> Visitor<'de> for RateTextVisitor {
            type Value = RateText;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a decimal string such as \"0.025\"")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<RateText, E> {
                Ok(RateText::Text(text.to_owned()))
            }

            fn visit_string<E: de::Error>(self, text: String) -> Result<RateText, E> {
                Ok(RateText::Text(text))
            }

            fn visit_i64<E: de::Error>(self, _: i64) -> Result<RateText, E> {
                Ok(RateText::NotText("number"))
            }

            fn visit_u64<E: de::Error>(self, _: u64) -> Result<RateText, E> {
                Ok(RateText::NotText("number"))
            }

            fn visit_f64<E: de::Error>(self, _: f64) -> Result<RateText, E> {
                Ok(RateText::NotText("number"))
            }

            fn visit_bool<E: de::Error>(self, _: bool) -> Result<RateText, E> {
                Ok(RateText::NotText("boolean"))
            }

            fn visit_unit<E: de::Error>(self) -> Result<RateText, E> {
                Ok(RateText::NotText("null"))
            }
        }

        deserializer.deserialize_any(RateTextVisitor)
    }
}

impl<V: Serialize> Serialize for Entries<V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in &self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Entries<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor<V>(PhantomData<V>);

        impl<'de, V: Deserialize<'de>> Visitor<'de> for EntriesVisitor<V> {
            type Value = Entries<V>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries<V>, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, V>()? {
                    entries.push(entry);
                }
                Ok(Entries(entries))
            }
        }

        deserializer.deserialize_map(EntriesVisitor(PhantomData))
    }
}
