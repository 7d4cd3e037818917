//! A credit quote: what buying a number of credits costs, with its breakdown.
//!
//! `total = credits × unit_price + fee`, where `fee = subtotal × fee_rate` rounded to the minor
//! unit (half away from zero: the module's rounding rule). Zoho's defaults: 2.00 USD a credit and a
//! 3% fee, so 3 credits cost 6.00 + 0.18 = 6.18.

use rust_decimal::Decimal;
use serde::Serialize;

use super::{Currency, Money, MoneyError};

/// No policy may allow more credits in one purchase than this, whatever its configuration says.
pub const CREDITS_ABS_MAX: u32 = 1_000_000;
/// Fee rates are written with at most this many decimal places (0.0325 is 3.25%).
pub const FEE_RATE_SCALE_MAX: u32 = 4;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuoteError {
    #[error("credits must be between 1 and {max}, got {requested}")]
    CreditsOutOfRange { requested: u64, max: u32 },
    #[error("invalid quote policy: {0}")]
    InvalidPolicy(&'static str),
    #[error(transparent)]
    Money(#[from] MoneyError),
}

/// A number of credits that a policy accepts (1..=its maximum).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Credits(u32);

impl Credits {
    pub fn get(self) -> u32 {
        self.0
    }
}

/// The price of credits for one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotePolicy {
    unit_price: Money,
    fee_rate: Decimal,
    credits_max: u32,
}

impl QuotePolicy {
    pub const CREDITS_MAX_DEFAULT: u32 = 10_000;

    pub fn new(unit_price: Money, fee_rate: Decimal, credits_max: u32) -> Result<Self, QuoteError> {
        if !unit_price.is_positive() {
            return Err(QuoteError::InvalidPolicy("unit price must be positive"));
        }
        // A unit price in fractions of a cent would make the card total differ from the quote.
        unit_price.to_minor_units()?;
        if fee_rate < Decimal::ZERO || fee_rate > Decimal::ONE {
            return Err(QuoteError::InvalidPolicy("fee rate must be within 0..=1"));
        }
        if fee_rate.normalize().scale() > FEE_RATE_SCALE_MAX {
            return Err(QuoteError::InvalidPolicy(
                "fee rate has more than 4 decimal places",
            ));
        }
        if credits_max == 0 || credits_max > CREDITS_ABS_MAX {
            return Err(QuoteError::InvalidPolicy(
                "credits maximum must be within 1..=1,000,000",
            ));
        }
        Ok(Self {
            unit_price,
            fee_rate,
            credits_max,
        })
    }

    /// 2.00 a credit plus a 3% fee, up to 10,000 credits at a time, in `currency`.
    pub fn zoho_default(currency: Currency) -> Self {
        let unit_price = Money::new(Decimal::new(200, 2), currency)
            .expect("2.00 is in range for every currency");
        Self::new(unit_price, Decimal::new(3, 2), Self::CREDITS_MAX_DEFAULT)
            .expect("the default policy is valid")
    }

    pub fn unit_price(&self) -> Money {
        self.unit_price
    }

    pub fn credits_max(&self) -> u32 {
        self.credits_max
    }

    /// Parses a requested number of credits against this policy's limit.
    pub fn credits(&self, requested: u64) -> Result<Credits, QuoteError> {
        match u32::try_from(requested) {
            Ok(credits) if (1..=self.credits_max).contains(&credits) => Ok(Credits(credits)),
            _ => Err(QuoteError::CreditsOutOfRange {
                requested,
                max: self.credits_max,
            }),
        }
    }

    /// What `credits` credits add to a wallet's balance: credits × unit price (the fee is not credited).
    pub fn credit_value(&self, credits: Credits) -> Result<Money, QuoteError> {
        Ok(self.unit_price.checked_times(u64::from(credits.get()))?)
    }

    pub fn quote(&self, credits: Credits) -> Result<CreditQuote, QuoteError> {
        let subtotal = self.credit_value(credits)?;
        let fee = Money::rounded_to_minor(subtotal.amount() * self.fee_rate, subtotal.currency())?;
        let total = subtotal.checked_add(fee)?;
        // Both sides of the payment edge: what we will ask a card for is whole minor units.
        debug_assert!(total.to_minor_units().is_ok());
        Ok(CreditQuote {
            credits: credits.get(),
            unit_price: self.unit_price,
            subtotal,
            fee_rate: self.fee_rate,
            fee,
            total,
        })
    }
}

/// The breakdown a buyer checks before paying.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CreditQuote {
    pub credits: u32,
    pub unit_price: Money,
    pub subtotal: Money,
    #[serde(with = "rust_decimal_string")]
    pub fee_rate: Decimal,
    pub fee: Money,
    pub total: Money,
}

mod rust_decimal_string {
    use rust_decimal::Decimal;
    use serde::Serializer;

    pub fn serialize<S: Serializer>(value: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn three_credits_cost_six_dollars_eighteen() {
        let policy = QuotePolicy::zoho_default(Currency::Usd);
        let quote = policy.quote(policy.credits(3).unwrap()).unwrap();
        assert_eq!(quote.unit_price.display_rounded(), "2.00");
        assert_eq!(quote.subtotal.display_rounded(), "6.00");
        assert_eq!(quote.fee.display_rounded(), "0.18");
        assert_eq!(quote.total.display_rounded(), "6.18");
        assert_eq!(quote.total.to_minor_units(), Ok(618));
        let json = serde_json::to_value(&quote).unwrap();
        assert_eq!(json["fee_rate"], "0.03");
        assert_eq!(json["total"]["amount"], "6.18");
    }

    #[test]
    fn credits_outside_the_policy_are_refused() {
        let policy = QuotePolicy::zoho_default(Currency::Usd);
        for requested in [0, 10_001, u64::from(u32::MAX) + 1] {
            assert_eq!(
                policy.credits(requested),
                Err(QuoteError::CreditsOutOfRange {
                    requested,
                    max: 10_000
                })
            );
        }
        assert!(policy.credits(10_000).is_ok());
    }

    #[test]
    fn fee_rounds_half_away_from_zero() {
        // 1 credit at 0.50 with a 3% fee: 0.015 rounds to 0.02.
        let unit_price = Money::parse("0.50", Currency::Usd).unwrap();
        let policy = QuotePolicy::new(unit_price, Decimal::new(3, 2), 10).unwrap();
        let quote = policy.quote(policy.credits(1).unwrap()).unwrap();
        assert_eq!(quote.fee, Money::parse("0.02", Currency::Usd).unwrap());
    }

    #[test]
    fn invalid_policies_are_refused() {
        let cents = Money::parse("0.015", Currency::Usd).unwrap();
        assert!(QuotePolicy::new(cents, Decimal::ZERO, 10).is_err());
        let two = Money::parse("2", Currency::Usd).unwrap();
        assert!(QuotePolicy::new(two, Decimal::new(-1, 2), 10).is_err());
        assert!(QuotePolicy::new(two, Decimal::new(11, 1), 10).is_err());
        assert!(QuotePolicy::new(two, Decimal::new(12345, 5), 10).is_err());
        assert!(QuotePolicy::new(two, Decimal::ZERO, 0).is_err());
        assert!(QuotePolicy::new(Money::zero(Currency::Usd), Decimal::ZERO, 10).is_err());
    }

    proptest! {
        #[test]
        fn total_is_subtotal_plus_fee_in_whole_minor_units(
            credits in 1u64..=10_000,
            unit_cents in 1i64..=100_000,
            fee_basis_points in 0i64..=10_000,
        ) {
            let unit_price = Money::from_minor_units(unit_cents, Currency::Usd).unwrap();
            let fee_rate = Decimal::new(fee_basis_points, 4);
            let policy = QuotePolicy::new(unit_price, fee_rate, 10_000).unwrap();
            let quote = policy.quote(policy.credits(credits).unwrap()).unwrap();
            let subtotal_cents = unit_cents * credits as i64;
            prop_assert_eq!(quote.subtotal.to_minor_units(), Ok(subtotal_cents));
            // Integer arithmetic in hundredths of a basis point, rounded half up (all positive).
            let fee_cents = (subtotal_cents * fee_basis_points + 5_000) / 10_000;
            prop_assert_eq!(quote.fee.to_minor_units(), Ok(fee_cents));
            prop_assert_eq!(quote.total.to_minor_units(), Ok(subtotal_cents + fee_cents));
        }
    }
}
