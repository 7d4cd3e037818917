//! The wallet: one prepaid balance per account, in the account's currency.
//!
//! A wallet starts at zero and its balance moves only through ledger entries (see [`crate::ledger`]),
//! so the sum of its entries always equals its balance.

pub mod zone;

use serde::Serialize;
use time::OffsetDateTime;

use crate::ids::AccountId;
use crate::money::{Currency, Money, MoneyError};

/// Auto-recharge may add at most this many credits at a time, whatever a setting asks.
pub const AUTO_RECHARGE_CREDITS_MAX: u32 = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("{field} must be in {expected}, not {found}")]
    WrongCurrency {
        field: &'static str,
        expected: Currency,
        found: Currency,
    },
    #[error("{0} must not be negative")]
    Negative(&'static str),
    #[error(
        "credits must be between 1 and {AUTO_RECHARGE_CREDITS_MAX} when auto-recharge is enabled"
    )]
    CreditsOutOfRange,
    #[error(transparent)]
    Money(#[from] MoneyError),
}

/// "Specify the number of credits to add automatically, just before you drop below the minimum."
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AutoRecharge {
    pub enabled: bool,
    pub minimum_balance: Money,
    /// Credits bought per recharge; zero only while disabled.
    pub credits: u32,
}

impl AutoRecharge {
    pub fn disabled(currency: Currency) -> Self {
        Self {
            enabled: false,
            minimum_balance: Money::zero(currency),
            credits: 0,
        }
    }

    pub fn new(
        enabled: bool,
        minimum_balance: Money,
        credits: u32,
        wallet_currency: Currency,
    ) -> Result<Self, SettingsError> {
        check_currency("minimum_balance", minimum_balance, wallet_currency)?;
        if minimum_balance.is_negative() {
            return Err(SettingsError::Negative("minimum_balance"));
        }
        let credits_ok = (1..=AUTO_RECHARGE_CREDITS_MAX).contains(&credits);
        if (enabled && !credits_ok) || credits > AUTO_RECHARGE_CREDITS_MAX {
            return Err(SettingsError::CreditsOutOfRange);
        }
        Ok(Self {
            enabled,
            minimum_balance,
            credits,
        })
    }
}

pub(crate) fn check_currency(
    field: &'static str,
    amount: Money,
    expected: Currency,
) -> Result<(), SettingsError> {
    if amount.currency() == expected {
        Ok(())
    } else {
        Err(SettingsError::WrongCurrency {
            field,
            expected,
            found: amount.currency(),
        })
    }
}

/// What a new wallet is created with; its balance is always zero.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWallet {
    pub account_id: AccountId,
    pub currency: Currency,
    pub low_balance_threshold: Money,
    pub auto_recharge: AutoRecharge,
}

impl NewWallet {
    /// A wallet with no low-balance alert above zero and auto-recharge off.
    pub fn new(account_id: AccountId, currency: Currency) -> Self {
        Self {
            account_id,
            currency,
            low_balance_threshold: Money::zero(currency),
            auto_recharge: AutoRecharge::disabled(currency),
        }
    }

    pub fn with_low_balance_threshold(mut self, threshold: Money) -> Result<Self, SettingsError> {
        check_currency("low_balance_threshold", threshold, self.currency)?;
        if threshold.is_negative() {
            return Err(SettingsError::Negative("low_balance_threshold"));
        }
        self.low_balance_threshold = threshold;
        Ok(self)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WalletStatus {
    /// Above its low-balance threshold.
    Active,
    /// Positive, but at or below its low-balance threshold.
    Low,
    /// Zero or negative: sending is blocked until a top-up.
    Depleted,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wallet {
    pub account_id: AccountId,
    pub currency: Currency,
    pub balance: Money,
    /// The sum of the open holds' remaining amounts: money promised to sends in progress. Moves
    /// only in the wallet's own conditional updates, with the holds it sums (see `crate::holds`).
    pub held: Money,
    pub low_balance_threshold: Money,
    pub auto_recharge: AutoRecharge,
    /// Bumped by every balance change; a posting commits only if it is still the one it read.
    pub version: u64,
    /// Entries posted so far; the newest entry's sequence number.
    pub entry_count: u64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// Where the account's days and months begin, for usage and statements (default UTC).
    pub reporting_zone: zone::ReportingZone,
}

impl Wallet {
    /// `balance − held`: what a new send (or a new hold) may spend. Never below zero through a
    /// hold (placing one is conditional on it), but charges of delivered messages can take it
    /// below zero, as they can the balance.
    pub fn available(&self) -> Money {
        self.balance
            .checked_sub(self.held)
            .expect("held is in the wallet's currency")
    }

    /// A message Meta already delivered is charged even into a negative balance, after which the
    /// wallet may not send until a top-up makes it positive again. Judged on what is available:
    /// money held for a broadcast in progress is spoken for, so another send may not use it (a
    /// send under a hold is covered by the hold itself).
    pub fn can_send(&self) -> bool {
        self.available().is_positive()
    }

    /// Judged on what is available, like [`Wallet::can_send`]: a wallet whose money is all held is
    /// depleted for any send outside those holds.
    pub fn status(&self) -> WalletStatus {
        let available = self.available();
        if !available.is_positive() {
            WalletStatus::Depleted
        } else if available.amount() <= self.low_balance_threshold.amount() {
            WalletStatus::Low
        } else {
            WalletStatus::Active
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(text: &str) -> Money {
        Money::parse(text, Currency::Usd).unwrap()
    }

    #[test]
    fn status_and_sending_follow_the_balance() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let mut wallet = Wallet {
            account_id: AccountId::parse("acme").unwrap(),
            currency: Currency::Usd,
            balance: usd("20"),
            held: usd("0"),
            low_balance_threshold: usd("10"),
            auto_recharge: AutoRecharge::disabled(Currency::Usd),
            version: 0,
            entry_count: 0,
            created_at: now,
            updated_at: now,
            reporting_zone: Default::default(),
        };
        assert_eq!(
            (wallet.status(), wallet.can_send()),
            (WalletStatus::Active, true)
        );
        wallet.balance = usd("10");
        assert_eq!(
            (wallet.status(), wallet.can_send()),
            (WalletStatus::Low, true)
        );
        wallet.balance = usd("0");
        assert_eq!(
            (wallet.status(), wallet.can_send()),
            (WalletStatus::Depleted, false)
        );
        wallet.balance = usd("-0.0125");
        assert_eq!(
            (wallet.status(), wallet.can_send()),
            (WalletStatus::Depleted, false)
        );
        // Held money is spoken for: 30 with 25 held leaves 5 available, below the threshold.
        wallet.balance = usd("30");
        wallet.held = usd("25");
        assert_eq!(wallet.available(), usd("5"));
        assert_eq!(
            (wallet.status(), wallet.can_send()),
            (WalletStatus::Low, true)
        );
        wallet.held = usd("30");
        assert_eq!(
            (wallet.status(), wallet.can_send()),
            (WalletStatus::Depleted, false)
        );
    }

    #[test]
    fn auto_recharge_settings_are_checked() {
        assert!(AutoRecharge::new(true, usd("5"), 10, Currency::Usd).is_ok());
        assert_eq!(
            AutoRecharge::new(true, usd("5"), 0, Currency::Usd),
            Err(SettingsError::CreditsOutOfRange)
        );
        assert!(AutoRecharge::new(false, usd("5"), 0, Currency::Usd).is_ok());
        assert!(AutoRecharge::new(true, usd("5"), 10_001, Currency::Usd).is_err());
        assert!(AutoRecharge::new(true, usd("-1"), 10, Currency::Usd).is_err());
        let euros = Money::parse("5", Currency::Eur).unwrap();
        assert!(matches!(
            AutoRecharge::new(true, euros, 10, Currency::Usd),
            Err(SettingsError::WrongCurrency { .. })
        ));
    }
}
