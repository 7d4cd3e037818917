//! Reconciliation: a wallet's entries must add up to its balance, with a gap-free chain of
//! running balances. Tests run it after every scenario; an operator can run it against production.

use crate::money::{Money, MoneyError};
use crate::wallet::Wallet;

use super::LedgerEntry;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReconcileError {
    #[error("wallet counts {expected} entries, the ledger has {found}")]
    EntryCount { expected: u64, found: u64 },
    #[error("entry {found} stands where entry {expected} should")]
    SequenceGap { expected: u64, found: u64 },
    #[error("entry {seq} says the balance became {recorded}, but it was {computed}")]
    BalanceAfter {
        seq: u64,
        recorded: Money,
        computed: Money,
    },
    #[error("entries add up to {computed}, the wallet holds {recorded}")]
    Balance { recorded: Money, computed: Money },
    #[error(transparent)]
    Money(#[from] MoneyError),
}

/// Checks `entries` (a wallet's whole ledger, newest first, as the statement pages it) against
/// `wallet`.
pub fn reconcile(
    wallet: &Wallet,
    entries_newest_first: &[LedgerEntry],
) -> Result<(), ReconcileError> {
    let found = entries_newest_first.len() as u64;
    if found != wallet.entry_count {
        return Err(ReconcileError::EntryCount {
            expected: wallet.entry_count,
            found,
        });
    }
    let mut balance = Money::zero(wallet.currency);
    for (index, entry) in entries_newest_first.iter().rev().enumerate() {
        let expected = index as u64 + 1;
        if entry.seq != expected {
            return Err(ReconcileError::SequenceGap {
                expected,
                found: entry.seq,
            });
        }
        balance = balance.checked_add(entry.amount)?;
        if entry.balance_after != balance {
            return Err(ReconcileError::BalanceAfter {
                seq: entry.seq,
                recorded: entry.balance_after,
                computed: balance,
            });
        }
    }
    if balance != wallet.balance {
        return Err(ReconcileError::Balance {
            recorded: wallet.balance,
            computed: balance,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::AccountId;
    use crate::ledger::{EntryId, EntryKind, Metadata};
    use crate::money::Currency;
    use crate::wallet::AutoRecharge;
    use time::OffsetDateTime;

    fn usd(text: &str) -> Money {
        Money::parse(text, Currency::Usd).unwrap()
    }

    fn entry(seq: u64, amount: &str, balance_after: &str) -> LedgerEntry {
        LedgerEntry {
            id: EntryId::adjustment(&seq.to_string()).unwrap(),
            seq,
            kind: EntryKind::Adjustment,
            amount: usd(amount),
            balance_after: usd(balance_after),
            description: String::new(),
            metadata: Metadata::new(),
            occurred_at: OffsetDateTime::UNIX_EPOCH,
            posted_at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    fn wallet(balance: &str, entry_count: u64) -> Wallet {
        Wallet {
            account_id: AccountId::parse("acme").unwrap(),
            currency: Currency::Usd,
            balance: usd(balance),
            held: usd("0"),
            low_balance_threshold: usd("0"),
            auto_recharge: AutoRecharge::disabled(Currency::Usd),
            version: 1,
            entry_count,
            created_at: OffsetDateTime::UNIX_EPOCH,
            updated_at: OffsetDateTime::UNIX_EPOCH,
            reporting_zone: Default::default(),
        }
    }

    #[test]
    fn a_consistent_ledger_reconciles_and_every_break_is_named() {
        let good = [entry(2, "-1", "9"), entry(1, "10", "10")];
        assert_eq!(reconcile(&wallet("9", 2), &good), Ok(()));
        assert!(matches!(
            reconcile(&wallet("9", 3), &good),
            Err(ReconcileError::EntryCount { .. })
        ));
        assert!(matches!(
            reconcile(&wallet("8", 2), &good),
            Err(ReconcileError::Balance { .. })
        ));
        let gap = [entry(3, "-1", "9"), entry(1, "10", "10")];
        assert!(matches!(
            reconcile(&wallet("9", 2), &gap),
            Err(ReconcileError::SequenceGap {
                expected: 2,
                found: 3
            })
        ));
        let broken = [entry(2, "-1", "8"), entry(1, "10", "10")];
        assert!(matches!(
            reconcile(&wallet("8", 2), &broken),
            Err(ReconcileError::BalanceAfter { seq: 2, .. })
        ));
    }
}
