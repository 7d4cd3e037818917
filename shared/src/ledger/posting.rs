//! Planning a posting: the pure part of moving a balance, shared by every store adapter.
//!
//! A store reads the wallet, plans the posting here (sequence numbers, running balances, the new
//! balance) and commits the plan only if the wallet is still the version it read.

use std::collections::HashMap;

use time::OffsetDateTime;

use super::{EntryId, LedgerEntry, LedgerError, NewEntry};
use crate::money::Money;
use crate::wallet::Wallet;

/// Entries in one posting. DynamoDB commits at most 100 items in a transaction; the wallet and
/// the posting's journal take two, and the rest is kept for per-posting aggregates (usage, index).
pub const ENTRIES_PER_POST_MAX: usize = 90;

/// What became of one entry of a posting request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryOutcome {
    /// Posted by this request.
    Posted(LedgerEntry),
    /// Posted before (by an earlier request, or earlier in this one); nothing changed. Carries the
    /// entry as it was first posted, so a caller can tell a true replay from a conflicting reuse.
    AlreadyPosted(LedgerEntry),
}

impl EntryOutcome {
    pub fn entry(&self) -> &LedgerEntry {
        match self {
            EntryOutcome::Posted(entry) | EntryOutcome::AlreadyPosted(entry) => entry,
        }
    }

    pub fn is_posted(&self) -> bool {
        matches!(self, EntryOutcome::Posted(_))
    }
}

/// The result of planning: entries with their sequence numbers and balances, and the wallet after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostingPlan {
    pub entries: Vec<LedgerEntry>,
    pub balance_after: Money,
    pub entry_count_after: u64,
}

/// Checks a posting request's size and drops repeated ids (the first of each id is kept).
pub fn unique_entries(batch: &[NewEntry]) -> Result<Vec<&NewEntry>, LedgerError> {
    if batch.is_empty() {
        return Err(LedgerError::EmptyBatch);
    }
    if batch.len() > ENTRIES_PER_POST_MAX {
        return Err(LedgerError::BatchTooLarge(batch.len()));
    }
    let mut seen = std::collections::HashSet::with_capacity(batch.len());
    Ok(batch
        .iter()
        .filter(|entry| seen.insert(&entry.id))
        .collect())
}

/// Plans posting `entries` (unique ids, none posted yet) onto `wallet`.
pub fn plan_posting(
    wallet: &Wallet,
    entries: &[&NewEntry],
    posted_at: OffsetDateTime,
) -> Result<PostingPlan, LedgerError> {
    assert!(!entries.is_empty() && entries.len() <= ENTRIES_PER_POST_MAX);
    let mut balance = wallet.balance;
    let mut seq = wallet.entry_count;
    let mut planned = Vec::with_capacity(entries.len());
    for entry in entries {
        balance = balance.checked_add(entry.amount)?;
        seq += 1;
        planned.push(LedgerEntry {
            id: entry.id.clone(),
            seq,
            kind: entry.kind,
            amount: entry.amount,
            balance_after: balance,
            description: entry.description.clone(),
            metadata: entry.metadata.clone(),
            occurred_at: entry.occurred_at,
            posted_at,
        });
    }
    Ok(PostingPlan {
        entries: planned,
        balance_after: balance,
        entry_count_after: seq,
    })
}

/// One outcome per entry of the original request, in its order.
///
/// `posted` are the entries this request wrote, `already_posted` the ones the store already had.
/// Every id of `batch` must be in one of them.
pub fn outcomes_in_request_order(
    batch: &[NewEntry],
    posted: Vec<LedgerEntry>,
    already_posted: Vec<LedgerEntry>,
) -> Vec<EntryOutcome> {
    let mut first: HashMap<EntryId, EntryOutcome> = posted
        .into_iter()
        .map(|entry| (entry.id.clone(), EntryOutcome::Posted(entry)))
        .chain(
            already_posted
                .into_iter()
                .map(|entry| (entry.id.clone(), EntryOutcome::AlreadyPosted(entry))),
        )
        .collect();
    let mut repeats: HashMap<EntryId, LedgerEntry> = HashMap::new();
    batch
        .iter()
        .map(|request| {
            if let Some(entry) = repeats.get(&request.id) {
                return EntryOutcome::AlreadyPosted(entry.clone());
            }
            let outcome = first
                .remove(&request.id)
                .expect("every requested id was either posted or already posted");
            repeats.insert(request.id.clone(), outcome.entry().clone());
            outcome
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::AccountId;
    use crate::ledger::{EntryKind, Metadata};
    use crate::money::{Currency, MoneyError};
    use crate::wallet::AutoRecharge;

    fn wallet(balance: &str, entry_count: u64) -> Wallet {
        Wallet {
            account_id: AccountId::parse("acme").unwrap(),
            currency: Currency::Usd,
            balance: Money::parse(balance, Currency::Usd).unwrap(),
            held: Money::zero(Currency::Usd),
            low_balance_threshold: Money::zero(Currency::Usd),
            auto_recharge: AutoRecharge::disabled(Currency::Usd),
            version: 7,
            entry_count,
            created_at: OffsetDateTime::UNIX_EPOCH,
            updated_at: OffsetDateTime::UNIX_EPOCH,
            reporting_zone: Default::default(),
        }
    }

    fn charge(wamid: &str, amount: &str, currency: Currency) -> NewEntry {
        NewEntry::new(
            EntryId::message_charge(wamid).unwrap(),
            EntryKind::Charge,
            Money::parse(amount, currency).unwrap(),
            "",
            Metadata::new(),
            OffsetDateTime::UNIX_EPOCH,
        )
        .unwrap()
    }

    #[test]
    fn plan_numbers_entries_and_runs_the_balance() {
        let batch = [
            charge("a", "-0.0125", Currency::Usd),
            charge("b", "-0.5", Currency::Usd),
            charge("a", "-9", Currency::Usd),
        ];
        let unique = unique_entries(&batch).unwrap();
        assert_eq!(unique.len(), 2);
        let plan = plan_posting(&wallet("1", 4), &unique, OffsetDateTime::UNIX_EPOCH).unwrap();
        let seqs: Vec<u64> = plan.entries.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [5, 6]);
        assert_eq!(plan.entries[0].balance_after.amount().to_string(), "0.9875");
        assert_eq!(plan.entries[1].balance_after.amount().to_string(), "0.4875");
        assert_eq!(plan.balance_after, plan.entries[1].balance_after);
        assert_eq!(plan.entry_count_after, 6);

        let outcomes = outcomes_in_request_order(&batch, plan.entries.clone(), vec![]);
        assert!(outcomes[0].is_posted() && outcomes[1].is_posted());
        assert_eq!(
            outcomes[2],
            EntryOutcome::AlreadyPosted(plan.entries[0].clone())
        );
    }

    #[test]
    fn a_foreign_currency_entry_fails_the_plan() {
        let batch = [charge("a", "-1", Currency::Eur)];
        let unique = unique_entries(&batch).unwrap();
        assert!(matches!(
            plan_posting(&wallet("1", 0), &unique, OffsetDateTime::UNIX_EPOCH),
            Err(LedgerError::Money(MoneyError::CurrencyMismatch { .. }))
        ));
    }

    #[test]
    fn batch_size_is_bounded_both_ways() {
        assert_eq!(unique_entries(&[]), Err(LedgerError::EmptyBatch));
        let batch: Vec<NewEntry> = (0..=ENTRIES_PER_POST_MAX)
            .map(|index| charge(&index.to_string(), "-1", Currency::Usd))
            .collect();
        assert_eq!(
            unique_entries(&batch),
            Err(LedgerError::BatchTooLarge(ENTRIES_PER_POST_MAX + 1))
        );
    }
}
