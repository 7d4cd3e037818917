//! The invariants, checked after every step (with faults off, so the checks' own reads are true)
//! and, stricter, after the drain.

use std::collections::BTreeSet;

use imcredits::ledger::{EntryKind, LedgerEntry, reconcile};
use imcredits::ports::store::WalletGet;
use imcredits::wallet::Wallet;
use time::Duration;

use crate::model::Model;
use crate::ports::IntentOutcome;
use crate::world::{World, limits};

/// Idempotency keys of recharges whose outcome never reached the handler.
pub fn open_intents(world: &World) -> Vec<String> {
    world
        .stripe
        .lock()
        .intents
        .iter()
        .filter(|(_, intent)| !intent.answered)
        .map(|(key, intent)| format!("{key} ({:?})", intent.outcome))
        .collect()
}

async fn ledger(
    world: &World,
    index: usize,
    model: &Model,
) -> Result<(Wallet, Vec<LedgerEntry>), String> {
    let account = &model.accounts[index].id;
    let wallet = world
        .store
        .get_wallet(account)
        .await
        .map_err(|error| format!("{account}: wallet read failed with faults off: {error}"))?
        .ok_or_else(|| format!("{account}: the wallet is gone"))?;
    let entries = imcredits_tests::whole_statement(&world.store, account, 100).await;
    reconcile(&wallet, &entries)
        .map_err(|error| format!("{account} does not reconcile: {error}"))?;
    imcredits_tests::holds::assert_holds_add_up(&world.store, &wallet).await;
    let mut ids = BTreeSet::new();
    for entry in &entries {
        if !ids.insert(entry.id.as_str()) {
            return Err(format!("{account}: {} posted twice", entry.id));
        }
    }
    Ok((wallet, entries))
}

/// What must hold at every moment. `store_touched` false: no store call since the last check, so
/// the ledgers are as that check read them (and what they may hold only grows): not read again.
pub async fn during(world: &World, model: &Model, store_touched: bool) -> Result<(), String> {
    if let Some(violation) = world.stripe.lock().violations.first() {
        return Err(format!("two recharges in flight: {violation}"));
    }
    if let Some(unexpected) = model.unexpected.first() {
        return Err(unexpected.clone());
    }
    if !store_touched {
        return Ok(());
    }
    for index in 0..model.accounts.len() {
        let (_, entries) = ledger(world, index, model).await?;
        for entry in &entries {
            if entry.kind == EntryKind::AutoRecharge {
                recharge_was_paid(world, entry)?;
            } else if !model.allowed[index].contains(entry.id.as_str()) {
                return Err(format!(
                    "{}: {} was posted, but nothing asked for it (an unpaid purchase, an unbillable status)",
                    model.accounts[index].id, entry.id
                ));
            }
        }
        within_caps(&entries)
            .map_err(|broken| format!("{}: {broken}", model.accounts[index].id))?;
    }
    Ok(())
}

fn recharge_was_paid(world: &World, entry: &LedgerEntry) -> Result<(), String> {
    let attempt = entry.metadata.get("attempt_id").unwrap_or_default();
    let key = format!("imcredits.recharge.{attempt}");
    match world
        .stripe
        .lock()
        .intents
        .get(&key)
        .map(|intent| intent.outcome)
    {
        Some(IntentOutcome::Succeeded) => Ok(()),
        other => Err(format!(
            "{} credited, but the provider says {other:?}",
            entry.id
        )),
    }
}

/// At most `per_day_max` recharges in any 24 hours, at most the monthly credits per UTC month.
fn within_caps(entries: &[LedgerEntry]) -> Result<(), String> {
    let limits = limits();
    let recharges: Vec<&LedgerEntry> = entries
        .iter()
        .filter(|entry| entry.kind == EntryKind::AutoRecharge)
        .collect();
    for first in &recharges {
        let window = recharges
            .iter()
            .filter(|other| {
                other.posted_at >= first.posted_at
                    && other.posted_at - first.posted_at < Duration::days(1)
            })
            .count();
        if window > limits.per_day_max as usize {
            return Err(format!("{window} recharges within 24 hours"));
        }
        let month = (first.posted_at.year(), first.posted_at.month());
        let credits: u64 = recharges
            .iter()
            .filter(|other| (other.posted_at.year(), other.posted_at.month()) == month)
            .map(|other| {
                other
                    .metadata
                    .get("credits")
                    .and_then(|credits| credits.parse::<u64>().ok())
                    .unwrap_or(0)
            })
            .sum();
        if credits > limits.monthly_credits_max.unwrap_or(u64::MAX) {
            return Err(format!("{credits} credits recharged in one month"));
        }
    }
    Ok(())
}

/// After the drain: everything asked for is posted exactly once, and every recharge the provider
/// took is credited.
/// Answers how many entries of each kind the ledger holds, to show what the seed exercised.
pub async fn at_end(
    world: &World,
    model: &Model,
) -> Result<std::collections::BTreeMap<String, usize>, String> {
    during(world, model, true).await?;
    let mut kinds = std::collections::BTreeMap::new();
    for index in 0..model.accounts.len() {
        let account = &model.accounts[index].id;
        let (_, entries) = ledger(world, index, model).await?;
        for entry in &entries {
            *kinds.entry(format!("{:?}", entry.kind)).or_insert(0) += 1;
        }
        let posted: BTreeSet<String> = entries
            .iter()
            .filter(|entry| entry.kind != EntryKind::AutoRecharge)
            .map(|entry| entry.id.as_str().to_owned())
            .collect();
        if let Some(missing) = model.expected[index].difference(&posted).next() {
            return Err(format!(
                "{account}: {missing} was accepted but never posted"
            ));
        }
        let credited: BTreeSet<String> = entries
            .iter()
            .filter(|entry| entry.kind == EntryKind::AutoRecharge)
            .map(|entry| {
                format!(
                    "imcredits.recharge.{}",
                    entry.metadata.get("attempt_id").unwrap_or_default()
                )
            })
            .collect();
        for (key, intent) in &world.stripe.lock().intents {
            if &intent.account == account
                && intent.outcome == IntentOutcome::Succeeded
                && !credited.contains(key)
            {
                return Err(format!(
                    "{account}: recharge {key} was paid but never credited"
                ));
            }
        }
    }
    Ok(kinds)
}
