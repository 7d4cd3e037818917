//! The recipient's market: the region of their phone number, as Meta prices it (by country calling
//! code, with the +1 area codes of Caribbean and Pacific markets kept apart from North America).
//!
//! # How a number is placed
//! Meta's `recipient_id` is the international number without `+`. Calling codes are prefix-free
//! (ITU E.164), so the first 1 to 3 digits that name a code in libphonenumber's metadata (the
//! `phonenumber` crate) are the code, and the rest is the national significant number:
//! - a code with one region (most of the world: +91 India, +55 Brazil) is that region, with no
//!   pattern matching at all;
//! - a code shared by several regions (+1 for 25 markets, +7, +44, +39, ...) is placed the way
//!   libphonenumber does it: a region whose leading-digit pattern starts the national number, or
//!   else whose number patterns it fits, the main region being tried first;
//! - a shared code no region claims falls back to the code's main region (+7 → RU, +44 → GB),
//!   except +1: there the area code decides between markets priced very differently, so the
//!   market is [`RecipientMarket::Unknown`] rather than a guess;
//! - non-geographic codes (+800, +882, ...), unassigned codes and anything that is not 7 to 15
//!   digits are [`RecipientMarket::Unknown`].
//!
//! The crate's own `PhoneNumber::country()` is not used: it re-parses the number and drops the
//! Italian leading zero before matching, which leaves +39 06 (Rome) numbers unplaced.
//!
//! # Cost
//! Nothing is loaded at start-up: the regions of each calling code and the patterns of shared
//! codes are static data ([`super::phone_table`], generated from the `phonenumber` crate's
//! metadata and checked against it by a test), and each pattern is compiled on first use.
//! [`warm_up`] compiles the +1 patterns at cold start (`cargo bench -p imcredits --bench
//! market_lookup` prints what it costs and what a lookup costs afterwards). Loading the crate's
//! own database instead cost 100 to 190 ms, most of billing's cold start.
//!
//! # Personal data
//! A phone number is personal data: nothing here logs one, [`RecipientNumber`]'s `Debug` hides its
//! digits and no error carries them.

use std::fmt;

use super::phone_table::{self, SharedRegion};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Fewest digits of an international number accepted: the shortest real ones (+290 Saint Helena,
/// +683 Niue) have 7.
pub const RECIPIENT_DIGITS_MIN: usize = 7;
/// Most digits of an international number (E.164).
pub const RECIPIENT_DIGITS_MAX: usize = 15;

/// libphonenumber's region id for non-geographic calling codes.
const NON_GEOGRAPHIC_REGION: &str = "001";
/// North American Numbering Plan: one calling code, many markets.
const NANP_CALLING_CODE: u16 = 1;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MarketError {
    #[error("market {0:?} is not a two-letter upper-case region code (ISO 3166 alpha-2)")]
    NotARegionCode(String),
    #[error("market {0} is not a region any phone number belongs to{hint}", hint = hint(*.0))]
    NotAPhoneRegion(Market),
}

/// The one slip worth a hint: ISO 3166 reserves UK, but the United Kingdom's code is GB.
fn hint(market: Market) -> &'static str {
    if market.as_str() == "UK" {
        " (the United Kingdom is GB)"
    } else {
        ""
    }
}

/// A market: an ISO 3166 alpha-2 region code that phone numbers belong to (`US`, `IN`, `JM`).
///
/// Parsing checks the code against the phone metadata, so a rate card cannot list a market no
/// recipient can ever be placed in (such as `UK` for `GB`). Parsing therefore loads the metadata
/// on first use.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Market([u8; 2]);

impl Market {
    pub fn parse(code: &str) -> Result<Market, MarketError> {
        let market = match code.as_bytes() {
            [first, second] if first.is_ascii_uppercase() && second.is_ascii_uppercase() => {
                Market([*first, *second])
            }
            _ => return Err(MarketError::NotARegionCode(code.chars().take(8).collect())),
        };
        if !phone_table::is_region(market.as_str()) {
            return Err(MarketError::NotAPhoneRegion(market));
        }
        Ok(market)
    }

    pub fn as_str(&self) -> &str {
        // Two ASCII upper-case letters, checked by the only constructors.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }

    /// A region id from the metadata itself, which is always two letters or `001`.
    fn from_region_id(id: &str) -> Option<Market> {
        match id.as_bytes() {
            [first, second] if first.is_ascii_uppercase() && second.is_ascii_uppercase() => {
                Some(Market([*first, *second]))
            }
            _ => None,
        }
    }
}

impl fmt::Debug for Market {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Market({})", self.as_str())
    }
}

impl fmt::Display for Market {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Market {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Market {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Market::parse(&code).map_err(serde::de::Error::custom)
    }
}

/// Where a recipient's number was placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecipientMarket {
    Known(Market),
    /// Not placeable: malformed, non-geographic, unassigned, or a +1 number outside every area code
    /// the metadata knows. Priced by a card's fallback; billing should count these.
    Unknown,
}

impl RecipientMarket {
    pub fn market(&self) -> Option<Market> {
        match self {
            RecipientMarket::Known(market) => Some(*market),
            RecipientMarket::Unknown => None,
        }
    }
}

impl From<Market> for RecipientMarket {
    fn from(market: Market) -> Self {
        RecipientMarket::Known(market)
    }
}

impl fmt::Display for RecipientMarket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecipientMarket::Known(market) => f.write_str(market.as_str()),
            RecipientMarket::Unknown => f.write_str("unknown market"),
        }
    }
}

/// Why a recipient number was refused. Carries no digits: the input is personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RecipientNumberError {
    #[error("recipient number must be {RECIPIENT_DIGITS_MIN} to {RECIPIENT_DIGITS_MAX} digits")]
    BadLength,
    #[error("recipient number must hold only digits (international form without '+')")]
    NotDigits,
    #[error("recipient number cannot start with 0 (no calling code does)")]
    LeadingZero,
}

/// A recipient's international number as Meta sends it (`recipient_id`, digits without `+`).
///
/// Personal data: `Debug` shows no digits, there is no `Display` or `Serialize`, and the digits are
/// reached only through [`RecipientNumber::expose_digits`].
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RecipientNumber(String);

impl RecipientNumber {
    pub fn parse(text: &str) -> Result<RecipientNumber, RecipientNumberError> {
        if !(RECIPIENT_DIGITS_MIN..=RECIPIENT_DIGITS_MAX).contains(&text.len()) {
            return Err(RecipientNumberError::BadLength);
        }
        if !text.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err(RecipientNumberError::NotDigits);
        }
        if text.starts_with('0') {
            return Err(RecipientNumberError::LeadingZero);
        }
        Ok(RecipientNumber(text.to_owned()))
    }

    /// The digits, for the rare caller that must store or send them. Never log them.
    pub fn expose_digits(&self) -> &str {
        &self.0
    }

    pub fn market(&self) -> RecipientMarket {
        place(&self.0)
    }
}

impl fmt::Debug for RecipientNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecipientNumber(<redacted>)")
    }
}

/// The market of Meta's `recipient_id`. Never fails: anything that cannot be placed, including
/// malformed input, is [`RecipientMarket::Unknown`], because a delivered message is still charged.
pub fn market_of(recipient_id: &str) -> RecipientMarket {
    match RecipientNumber::parse(recipient_id) {
        Ok(number) => number.market(),
        Err(_) => RecipientMarket::Unknown,
    }
}

/// Compiles the +1 patterns (the busiest shared code), so that the
/// first billed message after a cold start does not pay for them. Call it once at start-up.
pub fn warm_up() {
    phone_table::compile_code(NANP_CALLING_CODE);
}

/// Places the digits of a valid international number (see the module documentation).
fn place(digits: &str) -> RecipientMarket {
    for code_len in 1..=3 {
        let Some(code) = digits
            .get(..code_len)
            .and_then(|code| code.parse::<u16>().ok())
        else {
            return RecipientMarket::Unknown;
        };
        let Some(regions) = phone_table::regions_of(code) else {
            continue;
        };
        let national = &digits[code_len..];
        return place_in(code, regions, national);
    }
    RecipientMarket::Unknown
}

fn place_in(code: u16, regions: &[&str], national: &str) -> RecipientMarket {
    let known = |id: &str| {
        Market::from_region_id(id)
            .map(RecipientMarket::Known)
            .unwrap_or(RecipientMarket::Unknown)
    };
    match regions {
        [] => return RecipientMarket::Unknown,
        [only] if *only == NON_GEOGRAPHIC_REGION => return RecipientMarket::Unknown,
        [only] => return known(only),
        _ => {}
    }
    // The table lists the code's main region first, as libphonenumber does.
    for id in regions {
        let Some(region) = phone_table::shared_region(id) else {
            continue;
        };
        let claimed = match &region.leading_digits {
            Some(leading) => leading.starts(national),
            None => fits_region(region, national),
        };
        if claimed {
            return known(id);
        }
    }
    if code == NANP_CALLING_CODE {
        return RecipientMarket::Unknown;
    }
    known(regions[0])
}

/// libphonenumber's "number type is not UNKNOWN" for a region: the general pattern and at least one
/// specific one.
fn fits_region(region: &SharedRegion, national: &str) -> bool {
    region.general.describes(national)
        && region
            .types
            .iter()
            .flatten()
            .any(|pattern| pattern.describes(national))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn market(code: &str) -> RecipientMarket {
        RecipientMarket::Known(Market::parse(code).unwrap())
    }

    #[test]
    fn numbers_are_placed_in_their_market() {
        // Made-up subscriber numbers in real area codes and ranges.
        let table = [
            ("12025550123", "US"), // Washington DC
            ("14155552671", "US"), // San Francisco
            ("18005551234", "US"), // toll-free is North America's main region
            ("14165550123", "CA"), // Toronto
            ("16135550123", "CA"), // Ottawa
            ("18765550123", "JM"), // Jamaica
            ("16585550123", "JM"), // Jamaica's second area code
            ("18095550123", "DO"), // Dominican Republic, all three area codes
            ("18295551234", "DO"),
            ("18495551234", "DO"),
            ("17875551234", "PR"), // Puerto Rico, both area codes
            ("19395551234", "PR"),
            ("18685551234", "TT"), // Trinidad and Tobago
            ("12465551234", "BB"), // Barbados
            ("12425551234", "BS"), // Bahamas
            ("16845551234", "AS"), // American Samoa: +1, not North America
            ("919876543210", "IN"),
            ("5511987654321", "BR"),
            ("6281234567890", "ID"),
            ("525512345678", "MX"),
            ("447400123456", "GB"),
            ("79161234567", "RU"),
            ("77012345678", "KZ"),  // +7 shared with Russia
            ("390612345678", "IT"), // Rome: the national number keeps its leading zero
            ("39066981234", "VA"),
        ];
        for (digits, expected) in table {
            assert_eq!(market_of(digits), market(expected), "{expected}");
        }
    }

    #[test]
    fn unplaceable_numbers_are_an_unknown_market() {
        let table = [
            "",
            "1",
            "12",
            "123456",           // too short
            "1234567890123456", // too long
            "+12025550123",     // Meta sends no '+'
            "1 202 555 0123",
            "0012025550123",
            "abcdefghij",
            "8001234567",  // +800: international freephone, no market
            "19995551234", // +1 999: no area code
            "15555551234", // +1 555: no area code
            "3790612345",  // +379: not assigned
            "٣٣٣٣٣٣٣٣",    // non-ASCII digits
        ];
        for digits in table {
            assert_eq!(market_of(digits), RecipientMarket::Unknown, "{digits:?}");
        }
    }

    #[test]
    fn shared_codes_fall_back_to_their_main_region_except_north_america() {
        // +44 and +7 numbers no region's patterns claim still belong to the code's main country.
        assert_eq!(market_of("4400000000"), market("GB"));
        assert_eq!(market_of("70000000000"), market("RU"));
        assert_eq!(market_of("10000000000"), RecipientMarket::Unknown);
    }

    #[test]
    fn markets_are_region_codes_that_phone_numbers_have() {
        for good in ["US", "IN", "JM", "GB", "XK"] {
            assert_eq!(Market::parse(good).unwrap().as_str(), good);
        }
        let table = [
            ("us", MarketError::NotARegionCode("us".into())),
            ("USA", MarketError::NotARegionCode("USA".into())),
            ("", MarketError::NotARegionCode("".into())),
            ("001", MarketError::NotARegionCode("001".into())),
        ];
        for (code, error) in table {
            assert_eq!(Market::parse(code), Err(error), "{code:?}");
        }
        assert_eq!(
            Market::parse("UK").unwrap_err().to_string(),
            "market UK is not a region any phone number belongs to (the United Kingdom is GB)"
        );
        assert_eq!(
            Market::parse("ZZ").unwrap_err().to_string(),
            "market ZZ is not a region any phone number belongs to"
        );
    }

    #[test]
    fn recipient_numbers_never_show_their_digits() {
        let number = RecipientNumber::parse("18765550123").unwrap();
        let shown = format!("{number:?} {:?}", Some(&number));
        assert!(!shown.contains("8765550123"), "{shown}");
        assert!(!shown.contains("5550123"), "{shown}");
        assert_eq!(number.expose_digits(), "18765550123");
        assert_eq!(number.market(), market("JM"));
        let error = RecipientNumber::parse("18765x50123").unwrap_err();
        assert!(!format!("{error} {error:?}").contains("8765"));
    }

    #[test]
    fn recipient_numbers_refuse_what_is_not_an_international_number() {
        let table = [
            ("123456", RecipientNumberError::BadLength),
            ("1234567890123456", RecipientNumberError::BadLength),
            ("+1202555012", RecipientNumberError::NotDigits),
            ("0202555012", RecipientNumberError::LeadingZero),
        ];
        for (text, error) in table {
            assert_eq!(RecipientNumber::parse(text), Err(error), "{text:?}");
        }
    }
}
