//! The currencies a wallet may hold, with their ISO 4217 minor units.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::MoneyError;

/// An ISO 4217 currency imcredits can bill in: the 16 Meta bills in since 2026-04-01.
///
/// A closed set on purpose: every currency here has a known minor unit, and a wallet in a currency
/// the payment provider or the rate cards cannot serve would be a trap for its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Currency {
    Aed,
    Ars,
    Aud,
    Brl,
    Clp,
    Cop,
    Eur,
    Gbp,
    Idr,
    Inr,
    Mxn,
    Myr,
    Pen,
    Sar,
    Sgd,
    Usd,
}

/// Every currency with its code and ISO 4217 minor unit (decimal places), in one table so that the
/// three can never disagree.
const TABLE: [(Currency, &str, u32); 16] = [
    (Currency::Aed, "AED", 2),
    (Currency::Ars, "ARS", 2),
    (Currency::Aud, "AUD", 2),
    (Currency::Brl, "BRL", 2),
    // The Chilean peso has no minor unit in ISO 4217.
    (Currency::Clp, "CLP", 0),
    (Currency::Cop, "COP", 2),
    (Currency::Eur, "EUR", 2),
    (Currency::Gbp, "GBP", 2),
    (Currency::Idr, "IDR", 2),
    (Currency::Inr, "INR", 2),
    (Currency::Mxn, "MXN", 2),
    (Currency::Myr, "MYR", 2),
    (Currency::Pen, "PEN", 2),
    (Currency::Sar, "SAR", 2),
    (Currency::Sgd, "SGD", 2),
    (Currency::Usd, "USD", 2),
];

impl Currency {
    pub const ALL: [Currency; 16] = [
        Currency::Aed,
        Currency::Ars,
        Currency::Aud,
        Currency::Brl,
        Currency::Clp,
        Currency::Cop,
        Currency::Eur,
        Currency::Gbp,
        Currency::Idr,
        Currency::Inr,
        Currency::Mxn,
        Currency::Myr,
        Currency::Pen,
        Currency::Sar,
        Currency::Sgd,
        Currency::Usd,
    ];

    const fn row(self) -> (Currency, &'static str, u32) {
        // `TABLE` is in declaration order, so the discriminant is the index (tested below).
        TABLE[self as usize]
    }

    pub const fn code(self) -> &'static str {
        self.row().1
    }

    /// Decimal places of the currency's minor unit, as ISO 4217 lists them: 0 for CLP, 2 for the
    /// others (IDR and COP have two there, and Stripe treats them as two-decimal currencies too).
    pub const fn minor_unit_digits(self) -> u32 {
        self.row().2
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = MoneyError;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        Currency::ALL
            .into_iter()
            .find(|currency| currency.code() == code)
            .ok_or_else(|| MoneyError::UnsupportedCurrency(code.chars().take(8).collect()))
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        code.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_unknown_codes_are_refused() {
        for currency in Currency::ALL {
            assert_eq!(currency.code().parse::<Currency>(), Ok(currency));
        }
        assert_eq!(
            "usd".parse::<Currency>(),
            Err(MoneyError::UnsupportedCurrency("usd".into()))
        );
        assert!("XXX".parse::<Currency>().is_err());
        // JPY is not one Meta bills in.
        assert!("JPY".parse::<Currency>().is_err());
    }

    #[test]
    fn the_sixteen_meta_currencies_with_their_iso_minor_units() {
        assert_eq!(Currency::ALL.len(), 16);
        for (index, (currency, code, digits)) in TABLE.into_iter().enumerate() {
            assert_eq!(currency as usize, index, "{code}");
            assert_eq!(Currency::ALL[index], currency);
            assert_eq!(
                (currency.code(), currency.minor_unit_digits()),
                (code, digits)
            );
        }
        let meta = "USD AED ARS AUD BRL CLP COP EUR GBP IDR INR MXN MYR PEN SAR SGD";
        for code in meta.split(' ') {
            let currency: Currency = code.parse().unwrap();
            let expected = if code == "CLP" { 0 } else { 2 };
            assert_eq!(currency.minor_unit_digits(), expected, "{code}");
        }
    }
}
