//! What the API answers: response bodies built from domain values.

use serde::Serialize;
use time::OffsetDateTime;

use crate::ledger::{EntryKind, LedgerEntry, Metadata};
use crate::money::{CreditQuote, Currency, Money};
use crate::wallet::{AutoRecharge, Wallet, WalletStatus};

/// An amount as the API shows it: exact, and rounded for people by the money module's rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AmountView {
    /// Exact decimal text, e.g. "9.9875".
    pub amount: String,
    /// Rounded to the currency's minor unit, half away from zero, e.g. "9.99".
    pub display: String,
    pub currency: Currency,
}

impl From<Money> for AmountView {
    fn from(money: Money) -> Self {
        Self {
            amount: money.amount().to_string(),
            display: money.display_rounded(),
            currency: money.currency(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AutoRechargeView {
    pub enabled: bool,
    pub minimum_balance: AmountView,
    pub credits: u32,
}

impl From<&AutoRecharge> for AutoRechargeView {
    fn from(settings: &AutoRecharge) -> Self {
        Self {
            enabled: settings.enabled,
            minimum_balance: settings.minimum_balance.into(),
            credits: settings.credits,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WalletView {
    pub account_id: String,
    pub currency: Currency,
    /// Money in the wallet: the sum of its ledger.
    pub balance: AmountView,
    /// Reserved by open holds for sends in progress.
    pub held: AmountView,
    /// `balance − held`: what a new send or hold may use; `can_send` and `status` are judged on it.
    pub available: AmountView,
    pub can_send: bool,
    pub status: WalletStatus,
    pub low_balance_threshold: AmountView,
    pub auto_recharge: AutoRechargeView,
    pub entry_count: u64,
    /// The IANA time zone whose days and months usage and statements use.
    pub reporting_time_zone: String,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<&Wallet> for WalletView {
    fn from(wallet: &Wallet) -> Self {
        Self {
            account_id: wallet.account_id.to_string(),
            currency: wallet.currency,
            balance: wallet.balance.into(),
            held: wallet.held.into(),
            available: wallet.available().into(),
            can_send: wallet.can_send(),
            status: wallet.status(),
            low_balance_threshold: wallet.low_balance_threshold.into(),
            auto_recharge: (&wallet.auto_recharge).into(),
            entry_count: wallet.entry_count,
            reporting_time_zone: wallet.reporting_zone.name().to_owned(),
            updated_at: wallet.updated_at,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntryView {
    pub id: String,
    pub seq: u64,
    pub kind: EntryKind,
    pub amount: AmountView,
    pub balance_after: AmountView,
    pub description: String,
    pub metadata: Metadata,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub posted_at: OffsetDateTime,
}

impl From<LedgerEntry> for EntryView {
    fn from(entry: LedgerEntry) -> Self {
        Self {
            id: entry.id.to_string(),
            seq: entry.seq,
            kind: entry.kind,
            amount: entry.amount.into(),
            balance_after: entry.balance_after.into(),
            description: entry.description,
            metadata: entry.metadata,
            occurred_at: entry.occurred_at,
            posted_at: entry.posted_at,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatementView {
    pub entries: Vec<EntryView>,
    /// Pass as `cursor` for the next, older page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuoteView {
    pub credits: u32,
    pub unit_price: AmountView,
    pub subtotal: AmountView,
    pub fee_rate: String,
    pub fee: AmountView,
    pub total: AmountView,
}

impl From<&CreditQuote> for QuoteView {
    fn from(quote: &CreditQuote) -> Self {
        Self {
            credits: quote.credits,
            unit_price: quote.unit_price.into(),
            subtotal: quote.subtotal.into(),
            fee_rate: quote.fee_rate.to_string(),
            fee: quote.fee.into(),
            total: quote.total.into(),
        }
    }
}
