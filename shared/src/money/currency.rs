//! The currencies a wallet may hold, with their ISO 4217 minor units.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::MoneyError;

/// An ISO 4217 currency imcredits can bill in.
///
/// A closed set on purpose: every currency here has a known minor unit, and a wallet in a currency
/// the payment provider or the rate cards cannot serve would be a trap for its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Currency {
    Aud,
    Brl,
    Eur,
    Gbp,
    Idr,
    Inr,
    Jpy,
    Mxn,
    Usd,
}

impl Currency {
    pub const ALL: [Currency; 9] = [
        Currency::Aud,
        Currency::Brl,
        Currency::Eur,
        Currency::Gbp,
        Currency::Idr,
        Currency::Inr,
        Currency::Jpy,
        Currency::Mxn,
        Currency::Usd,
    ];

    pub const fn code(self) -> &'static str {
        match self {
            Currency::Aud => "AUD",
            Currency::Brl => "BRL",
            Currency::Eur => "EUR",
            Currency::Gbp => "GBP",
            Currency::Idr => "IDR",
            Currency::Inr => "INR",
            Currency::Jpy => "JPY",
            Currency::Mxn => "MXN",
            Currency::Usd => "USD",
        }
    }

    /// Decimal places of the currency's minor unit, as ISO 4217 lists them (IDR has two there, and
    /// Stripe treats it as a two-decimal currency too).
    pub const fn minor_unit_digits(self) -> u32 {
        match self {
            Currency::Jpy => 0,
            _ => 2,
        }
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
    }
}
