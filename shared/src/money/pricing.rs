//! The price of credits: what one credit costs in each currency sold, the fee and the purchase
//! limit. The API quotes with it, operators grant with it, auto-recharge buys with it.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use super::quote::CREDITS_ABS_MAX;
use super::{Currency, Money, QuoteError, QuotePolicy};

/// Credits have no price in this currency (the API answers 409 with this text).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("credits are not sold in {0}; an operator must give them a price")]
pub struct NotSold(pub Currency);

/// The price of credits: a unit price per currency, one fee rate, one purchase limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditPricing {
    /// Currencies absent here are not sold: a quote in them is refused, never guessed.
    pub unit_prices: BTreeMap<Currency, Decimal>,
    pub fee_rate: Decimal,
    pub credits_per_purchase_max: u32,
}

impl Default for CreditPricing {
    /// Zoho's: 2.00 a credit in the wallet's currency, a 3% fee, up to 10,000 credits at a time.
    /// CLP has no minor unit, and 2 pesos a credit would be no price at all, so it is left unpriced.
    fn default() -> Self {
        Self {
            unit_prices: Currency::ALL
                .into_iter()
                .filter(|currency| currency.minor_unit_digits() == 2)
                .map(|currency| (currency, Decimal::new(200, 2)))
                .collect(),
            fee_rate: Decimal::new(3, 2),
            credits_per_purchase_max: QuotePolicy::CREDITS_MAX_DEFAULT,
        }
    }
}

impl CreditPricing {
    /// Checks every configured price, so a bad one fails at start, not on a request.
    pub fn validated(self) -> Result<Self, QuoteError> {
        for (currency, unit_price) in &self.unit_prices {
            self.try_policy(*currency, *unit_price, self.credits_per_purchase_max)?;
        }
        Ok(self)
    }

    fn try_policy(
        &self,
        currency: Currency,
        unit_price: Decimal,
        credits_max: u32,
    ) -> Result<QuotePolicy, QuoteError> {
        QuotePolicy::new(
            Money::new(unit_price, currency)?,
            self.fee_rate,
            credits_max,
        )
    }

    fn policy(&self, currency: Currency, credits_max: u32) -> Result<QuotePolicy, NotSold> {
        let unit_price = self.unit_prices.get(&currency).ok_or(NotSold(currency))?;
        Ok(self
            .try_policy(currency, *unit_price, credits_max)
            .expect("credit pricing was validated at start"))
    }

    /// What buyers are quoted.
    pub fn quote_policy(&self, currency: Currency) -> Result<QuotePolicy, NotSold> {
        self.policy(currency, self.credits_per_purchase_max)
    }

    /// Operators may grant larger offline orders than one online purchase.
    pub fn grant_policy(&self, currency: Currency) -> Result<QuotePolicy, NotSold> {
        self.policy(currency, CREDITS_ABS_MAX)
    }
}
