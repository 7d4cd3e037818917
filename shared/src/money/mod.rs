//! Exact money: an amount on `rust_decimal` that always carries its currency.
//!
//! # The rounding rule
//! Amounts inside imcredits are exact: balances, ledger entries and rates are never rounded, and
//! may carry up to [`AMOUNT_SCALE_MAX`] decimal places (Meta rates have up to six). Rounding happens
//! only at an edge, always with the same rule: **to the currency's minor unit, half away from zero**
//! (0.005 USD becomes 0.01 USD, -0.005 USD becomes -0.01 USD). The edges are:
//! - a fee, which is charged to a card and so must be a whole number of minor units;
//! - amounts sent to the payment provider (which must already be whole minor units: see
//!   [`Money::to_minor_units`], which refuses rather than rounds);
//! - amounts shown to people ([`Money::display_rounded`]).

mod currency;
mod pricing;
pub mod quote;

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use currency::Currency;
pub use pricing::{CreditPricing, NotSold};
pub use quote::{CreditQuote, Credits, QuoteError, QuotePolicy};

/// Decimal places an amount may carry (rates are published with up to six).
pub const AMOUNT_SCALE_MAX: u32 = 6;
/// Largest absolute amount, in whole currency units. Far above any wallet (a quadrillion of anything),
/// low enough that every sum of two in-range amounts is exactly representable, and that an amount in
/// minor units always fits an `i64`.
pub const AMOUNT_ABS_MAX_UNITS: i64 = 1_000_000_000_000_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("unsupported currency {0:?}")]
    UnsupportedCurrency(String),
    #[error("cannot combine {left} with {right}")]
    CurrencyMismatch { left: Currency, right: Currency },
    #[error("amount is out of range (at most {AMOUNT_ABS_MAX_UNITS} units either way)")]
    Overflow,
    #[error("amount {0} has more than {AMOUNT_SCALE_MAX} decimal places")]
    TooPrecise(Decimal),
    #[error("amount {0:?} is not a plain decimal number")]
    NotANumber(String),
    #[error("{0} is not a whole number of minor units")]
    NotInMinorUnits(Money),
}

/// An exact amount of one currency.
///
/// Invariants (checked by every constructor): scale ≤ [`AMOUNT_SCALE_MAX`] and
/// |amount| ≤ [`AMOUNT_ABS_MAX_UNITS`]. Arithmetic is checked and refuses to mix currencies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    amount: Decimal,
    currency: Currency,
}

fn amount_abs_max() -> Decimal {
    Decimal::from(AMOUNT_ABS_MAX_UNITS)
}

impl Money {
    pub fn new(amount: Decimal, currency: Currency) -> Result<Self, MoneyError> {
        if amount.abs() > amount_abs_max() {
            return Err(MoneyError::Overflow);
        }
        // One canonical text per value, whatever produced it (a parse, a sum, a DynamoDB number
        // that dropped its trailing zeros): trailing zeros removed, then padded back to the
        // currency's minor unit. 1.5000000 USD is 1.50 USD; 0.0125 stays 0.0125.
        let mut amount = amount.normalize();
        if amount.scale() > AMOUNT_SCALE_MAX {
            return Err(MoneyError::TooPrecise(amount));
        }
        if amount.scale() < currency.minor_unit_digits() {
            amount.rescale(currency.minor_unit_digits());
        }
        Ok(Self { amount, currency })
    }

    /// Parses an exact decimal string such as `"6.18"` or `"-0.0125"`; exponents and floats are refused.
    pub fn parse(amount: &str, currency: Currency) -> Result<Self, MoneyError> {
        Self::new(parse_exact_decimal(amount)?, currency)
    }

    pub fn zero(currency: Currency) -> Self {
        Self {
            amount: Decimal::ZERO,
            currency,
        }
    }

    /// `minor_units` of the currency's minor unit (cents for USD, pesos for CLP).
    pub fn from_minor_units(minor_units: i64, currency: Currency) -> Result<Self, MoneyError> {
        Self::new(
            Decimal::new(minor_units, currency.minor_unit_digits()),
            currency,
        )
    }

    /// The rounding edge: an exact decimal (say, a fee computed as amount × rate) rounded to the
    /// currency's minor unit by the module's rule.
    pub fn rounded_to_minor(amount: Decimal, currency: Currency) -> Result<Self, MoneyError> {
        Self::new(round_to_minor(amount, currency), currency)
    }

    pub fn amount(&self) -> Decimal {
        self.amount
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    pub fn is_zero(&self) -> bool {
        self.amount.is_zero()
    }

    pub fn is_positive(&self) -> bool {
        self.amount > Decimal::ZERO
    }

    pub fn is_negative(&self) -> bool {
        self.amount < Decimal::ZERO
    }

    fn same_currency(&self, other: &Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch {
                left: self.currency,
                right: other.currency,
            })
        }
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(&other)?;
        let sum = self
            .amount
            .checked_add(other.amount)
            .ok_or(MoneyError::Overflow)?;
        Money::new(sum, self.currency)
    }

    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(&other)?;
        let difference = self
            .amount
            .checked_sub(other.amount)
            .ok_or(MoneyError::Overflow)?;
        Money::new(difference, self.currency)
    }

    pub fn negated(self) -> Money {
        // The range is symmetric, so negation cannot leave it.
        Money {
            amount: -self.amount,
            currency: self.currency,
        }
    }

    /// `self × count`, e.g. a unit price times a number of credits.
    pub fn checked_times(self, count: u64) -> Result<Money, MoneyError> {
        let product = self
            .amount
            .checked_mul(Decimal::from(count))
            .ok_or(MoneyError::Overflow)?;
        Money::new(product, self.currency)
    }

    /// Compares two amounts of the same currency; amounts of different currencies have no order.
    pub fn checked_cmp(&self, other: &Money) -> Result<Ordering, MoneyError> {
        self.same_currency(other)?;
        Ok(self.amount.cmp(&other.amount))
    }

    /// The amount in minor units, for a payment provider. Refuses, rather than rounds, an amount
    /// that is not a whole number of minor units: money sent to a card must be what was quoted.
    pub fn to_minor_units(&self) -> Result<i64, MoneyError> {
        let digits = self.currency.minor_unit_digits();
        if round_to_minor(self.amount, self.currency) != self.amount {
            return Err(MoneyError::NotInMinorUnits(*self));
        }
        let mut scaled = self.amount;
        scaled.rescale(digits);
        let mantissa = scaled.mantissa();
        debug_assert_eq!(scaled.scale(), digits);
        i64::try_from(mantissa).map_err(|_| MoneyError::Overflow)
    }

    /// The amount as people see it: rounded by the module's rule, with exactly the currency's
    /// minor-unit digits ("6.18", "-0.01", "1200" for CLP).
    pub fn display_rounded(&self) -> String {
        let mut rounded = round_to_minor(self.amount, self.currency);
        rounded.rescale(self.currency.minor_unit_digits());
        rounded.to_string()
    }
}

fn round_to_minor(amount: Decimal, currency: Currency) -> Decimal {
    amount.round_dp_with_strategy(
        currency.minor_unit_digits(),
        RoundingStrategy::MidpointAwayFromZero,
    )
}

/// Parses a plain decimal string exactly: no exponent, no rounding of excess digits, at most 64
/// characters (a limit on input that may come from outside).
pub fn parse_exact_decimal(text: &str) -> Result<Decimal, MoneyError> {
    const TEXT_LEN_MAX: usize = 64;
    let not_a_number = || MoneyError::NotANumber(text.chars().take(TEXT_LEN_MAX).collect());
    if text.is_empty() || text.len() > TEXT_LEN_MAX {
        return Err(not_a_number());
    }
    let plain = text
        .bytes()
        .enumerate()
        .all(|(index, byte)| byte.is_ascii_digit() || byte == b'.' || (index == 0 && byte == b'-'));
    if !plain {
        return Err(not_a_number());
    }
    Decimal::from_str_exact(text).map_err(|_| not_a_number())
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.currency)
    }
}

impl FromStr for Money {
    type Err = MoneyError;

    /// `"6.18 USD"`, the form [`Display`](fmt::Display) writes.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (amount, code) = text
            .split_once(' ')
            .ok_or_else(|| MoneyError::NotANumber(text.chars().take(64).collect()))?;
        Money::parse(amount, code.parse()?)
    }
}

/// JSON form: `{"amount": "6.18", "currency": "USD"}`. The amount is a string so that no JSON
/// reader on the way turns it into a float.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct MoneyJson<'a> {
    amount: std::borrow::Cow<'a, str>,
    currency: Currency,
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        MoneyJson {
            amount: self.amount.to_string().into(),
            currency: self.currency,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let json = MoneyJson::deserialize(deserializer)?;
        Money::parse(&json.amount, json.currency).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    fn usd(text: &str) -> Money {
        Money::parse(text, Currency::Usd).expect("test amount is valid")
    }

    #[test]
    fn rounding_is_half_away_from_zero_at_the_minor_unit() {
        assert_eq!(usd("0.005").display_rounded(), "0.01");
        assert_eq!(usd("-0.005").display_rounded(), "-0.01");
        assert_eq!(usd("0.0049").display_rounded(), "0.00");
        assert_eq!(usd("6").display_rounded(), "6.00");
        let pesos = Money::parse("1200.5", Currency::Clp).unwrap();
        assert_eq!(pesos.display_rounded(), "1201");
    }

    #[test]
    fn currencies_never_mix() {
        let euros = Money::parse("1", Currency::Eur).unwrap();
        assert_eq!(
            usd("1").checked_add(euros),
            Err(MoneyError::CurrencyMismatch {
                left: Currency::Usd,
                right: Currency::Eur
            })
        );
        assert!(usd("1").checked_sub(euros).is_err());
        assert!(usd("1").checked_cmp(&euros).is_err());
    }

    #[test]
    fn out_of_range_and_over_precise_amounts_are_errors() {
        let max = Money::new(Decimal::from(AMOUNT_ABS_MAX_UNITS), Currency::Usd).unwrap();
        assert_eq!(max.checked_add(usd("0.000001")), Err(MoneyError::Overflow));
        assert_eq!(max.checked_times(u64::MAX), Err(MoneyError::Overflow));
        assert_eq!(
            max.negated().checked_sub(usd("1")),
            Err(MoneyError::Overflow)
        );
        assert!(matches!(
            Money::parse("0.0000001", Currency::Usd),
            Err(MoneyError::TooPrecise(_))
        ));
        // Trailing zeros are not precision.
        assert_eq!(
            Money::parse("1.50000000", Currency::Usd).unwrap(),
            usd("1.5")
        );
    }

    #[test]
    fn only_plain_decimals_parse() {
        for bad in ["", "1e3", "1.0f", "+1", "--1", "NaN", "1,5", " 1", "0x10"] {
            assert!(parse_exact_decimal(bad).is_err(), "{bad:?} parsed");
        }
        let long = "1".repeat(65);
        assert!(parse_exact_decimal(&long).is_err());
        assert_eq!(
            parse_exact_decimal("-0.0125").unwrap(),
            Decimal::new(-125, 4)
        );
    }

    #[test]
    fn minor_units_are_exact_or_refused() {
        assert_eq!(usd("6.18").to_minor_units(), Ok(618));
        assert_eq!(usd("-0.10").to_minor_units(), Ok(-10));
        assert!(matches!(
            usd("0.0125").to_minor_units(),
            Err(MoneyError::NotInMinorUnits(_))
        ));
        let pesos = Money::from_minor_units(1200, Currency::Clp).unwrap();
        assert_eq!(pesos.to_minor_units(), Ok(1200));
        assert_eq!(Money::from_minor_units(618, Currency::Usd), Ok(usd("6.18")));
    }

    #[test]
    fn json_form_is_a_string_amount_and_rejects_floats_and_unknown_fields() {
        let json = serde_json::to_string(&usd("6.18")).unwrap();
        assert_eq!(json, r#"{"amount":"6.18","currency":"USD"}"#);
        assert!(serde_json::from_str::<Money>(r#"{"amount":6.18,"currency":"USD"}"#).is_err());
        assert!(serde_json::from_str::<Money>(r#"{"amount":"1","currency":"USD","x":1}"#).is_err());
        assert!(serde_json::from_str::<Money>(r#"{"amount":"1","currency":"XYZ"}"#).is_err());
    }

    /// Any in-range amount with up to six decimal places.
    pub(crate) fn amount_strategy() -> impl Strategy<Value = Decimal> {
        let max_micros = i128::from(AMOUNT_ABS_MAX_UNITS) * 1_000_000;
        (-max_micros..=max_micros, 0u32..=AMOUNT_SCALE_MAX).prop_map(|(micros, scale)| {
            // Dividing the range down keeps every scale's values inside the limit.
            let mantissa = micros / 10i128.pow(AMOUNT_SCALE_MAX - scale);
            Decimal::from_i128_with_scale(mantissa, scale)
        })
    }

    fn currency_strategy() -> impl Strategy<Value = Currency> {
        proptest::sample::select(Currency::ALL.to_vec())
    }

    proptest! {
        #[test]
        fn addition_is_exact_commutative_and_undone_by_subtraction(
            a in amount_strategy(), b in amount_strategy(), currency in currency_strategy()
        ) {
            let x = Money::new(a, currency).unwrap();
            let y = Money::new(b, currency).unwrap();
            match (x.checked_add(y), y.checked_add(x)) {
                (Ok(sum), Ok(sum_other_way)) => {
                    prop_assert_eq!(sum, sum_other_way);
                    prop_assert_eq!(sum.amount(), a + b);
                    prop_assert_eq!(sum.checked_sub(y).unwrap(), x);
                }
                (Err(e1), Err(e2)) => {
                    prop_assert_eq!(&e1, &MoneyError::Overflow);
                    prop_assert_eq!(e1, e2);
                    prop_assert!((a + b).abs() > Decimal::from(AMOUNT_ABS_MAX_UNITS));
                }
                (left, right) => prop_assert!(false, "asymmetric: {left:?} vs {right:?}"),
            }
        }

        #[test]
        fn multiplication_never_panics_and_matches_repeated_addition(
            a in amount_strategy(), count in 0u64..50
        ) {
            let x = Money::new(a, Currency::Usd).unwrap();
            let mut total = Ok(Money::zero(Currency::Usd));
            for _ in 0..count {
                total = total.and_then(|t| t.checked_add(x));
            }
            match (x.checked_times(count), total) {
                (Ok(product), Ok(sum)) => prop_assert_eq!(product, sum),
                (Err(MoneyError::Overflow), Err(MoneyError::Overflow)) => {}
                (product, sum) => prop_assert!(false, "{product:?} vs {sum:?}"),
            }
        }

        #[test]
        fn huge_multipliers_are_errors_not_panics(a in amount_strategy(), count in any::<u64>()) {
            let x = Money::new(a, Currency::Usd).unwrap();
            if let Ok(product) = x.checked_times(count) {
                prop_assert!(product.amount().abs() <= Decimal::from(AMOUNT_ABS_MAX_UNITS));
            }
        }

        #[test]
        fn json_round_trip_is_lossless(a in amount_strategy(), currency in currency_strategy()) {
            let x = Money::new(a, currency).unwrap();
            let json = serde_json::to_string(&x).unwrap();
            let back: Money = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(back, x);
            prop_assert_eq!(back.amount(), a);
            // The text is canonical: the same value always prints the same way.
            prop_assert_eq!(back.amount().to_string(), x.amount().to_string());
        }

        #[test]
        fn display_rounding_moves_at_most_half_a_minor_unit(a in amount_strategy(), currency in currency_strategy()) {
            let x = Money::new(a, currency).unwrap();
            let shown = parse_exact_decimal(&x.display_rounded()).unwrap();
            let half_unit = Decimal::new(5, currency.minor_unit_digits() + 1);
            prop_assert!((shown - a).abs() <= half_unit);
            prop_assert_eq!(shown.scale(), currency.minor_unit_digits());
        }
    }
}
