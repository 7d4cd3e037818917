//! Auto-recharge on the table: the sparse index of wallets due a recharge, and the lock item.
//!
//! **The index.** A wallet carries `due_pk`/`due_sk` only while auto-recharge is enabled and its
//! balance is below the minimum; the GSI [`DUE_INDEX`] therefore holds only due wallets, and the
//! sweep reads them and nothing else. The attributes are SET or REMOVEd by the same
//! version-conditional update that moves the balance (or changes the settings), so the index can
//! never disagree with a committed balance for longer than GSI propagation. `due_pk` is spread over
//! [`DUE_SHARDS`] keys by a hash of the account, so no index partition is hot.
//!
//! **The lock.** `ACCOUNT#<a>` / `RECHARGE_LOCK`: a lease, the attempt in flight and the counters,
//! written only if `rev` is still the one read. While an attempt is in flight the lock item carries
//! the wallet's index keys too (same shard, same sort key), so the sweep resumes an attempt whose
//! answer was lost even after a grant, a purchase or a released hold lifted the balance and took
//! the wallet item out of the index: the card may have been charged. Every lock write is a whole
//! put, so releasing the attempt takes the lock out of the index in the same write.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::codec::{Item, Reader, decimal_to_n, n, s};
use super::pages::IndexSweep;
use super::{DynamoStore, POST_ATTEMPTS_MAX, backoff, built, conditional, keys, unavailable};
use crate::ids::AccountId;
use crate::ledger::NewEntry;
use crate::money::{CreditQuote, Money};
use crate::payments::{ProviderCustomerId, ProviderPaymentMethodId, RechargeAttemptId};
use crate::ports::recharge::{DueWallets, RechargeStore};
use crate::ports::store::{PostReceipt, StoreError, WalletGet};
use crate::recharge::{InFlight, RechargeState, SUCCESSES_KEPT_MAX};
use crate::wallet::{AutoRecharge, Wallet};

pub const DUE_INDEX: &str = "recharge_due";
pub const DUE_PK: &str = "due_pk";
pub const DUE_SK: &str = "due_sk";
pub const DUE_SHARDS: u8 = 16;
pub const RECHARGE_LOCK_SK: &str = "RECHARGE_LOCK";

/// Whether a wallet with these settings and balance is due a recharge.
pub fn is_due(settings: &AutoRecharge, balance: Money) -> bool {
    settings.enabled && balance.amount() < settings.minimum_balance.amount()
}

/// The index shard of an account: a stable hash, so a wallet always lands on the same key.
pub fn due_shard(account: &AccountId) -> u8 {
    let digest = Sha256::digest(account.as_str().as_bytes());
    digest[0] % DUE_SHARDS
}

pub fn due_pk(shard: u8) -> String {
    format!("DUE#{shard}")
}

/// A fragment appended to a wallet update's `SET ...` clause, and its values.
pub struct DueUpdate {
    pub expression: String,
    pub values: HashMap<String, AttributeValue>,
}

/// Puts the wallet in the index (SET) or takes it out (REMOVE), for `balance` under the settings
/// of `wallet` as read.
pub fn due_attributes(wallet: &Wallet, balance: Money) -> DueUpdate {
    due_update(&wallet.account_id, &wallet.auto_recharge, balance)
}

fn due_update(account: &AccountId, settings: &AutoRecharge, balance: Money) -> DueUpdate {
    due_update_of(account, is_due(settings, balance))
}

/// The index attributes of a wallet that is (or is not) `due`, as an update expression's tail.
pub fn due_update_of(account: &AccountId, due: bool) -> DueUpdate {
    if due {
        DueUpdate {
            expression: format!(", {DUE_PK} = :due_pk, {DUE_SK} = :due_sk"),
            values: HashMap::from([
                (":due_pk".to_owned(), s(due_pk(due_shard(account)))),
                (":due_sk".to_owned(), s(account.as_str())),
            ]),
        }
    } else {
        DueUpdate {
            expression: format!(" REMOVE {DUE_PK}, {DUE_SK}"),
            values: HashMap::new(),
        }
    }
}

fn state_item(account: &AccountId, state: &RechargeState) -> Item {
    let mut item = HashMap::from([
        (keys::PK.to_owned(), s(keys::account_pk(account))),
        (keys::SK.to_owned(), s(RECHARGE_LOCK_SK)),
        ("type".to_owned(), s("recharge_lock")),
        ("rev".to_owned(), n(state.rev)),
        (
            "lease_until_ms".to_owned(),
            AttributeValue::N(state.lease_until_ms.to_string()),
        ),
        ("attempt_seq".to_owned(), n(state.attempt_seq)),
        (
            "successes_ms".to_owned(),
            AttributeValue::L(
                state
                    .successes_ms
                    .iter()
                    .rev()
                    .take(SUCCESSES_KEPT_MAX)
                    .rev()
                    .map(|ms| AttributeValue::N(ms.to_string()))
                    .collect(),
            ),
        ),
        ("month".to_owned(), s(state.month.clone())),
        ("month_credits".to_owned(), n(state.month_credits)),
        ("declines".to_owned(), n(u64::from(state.declines))),
        (
            "backoff_until_ms".to_owned(),
            AttributeValue::N(state.backoff_until_ms.to_string()),
        ),
    ]);
    if let Some(attempt) = &state.in_flight {
        item.extend(in_flight_attributes(attempt));
        item.extend([
            (DUE_PK.to_owned(), s(due_pk(due_shard(account)))),
            (DUE_SK.to_owned(), s(account.as_str())),
        ]);
    }
    item
}

/// The attempt in flight, on the lock item: what resuming it charges, and to whom.
fn in_flight_attributes(attempt: &InFlight) -> [(String, AttributeValue); 11] {
    [
        ("attempt_id".to_owned(), s(attempt.attempt_id.as_str())),
        (
            "attempt_credits".to_owned(),
            n(u64::from(attempt.quote.credits)),
        ),
        (
            "attempt_unit_price".to_owned(),
            decimal_to_n(attempt.quote.unit_price.amount()),
        ),
        (
            "attempt_value".to_owned(),
            decimal_to_n(attempt.quote.subtotal.amount()),
        ),
        (
            "attempt_fee_rate".to_owned(),
            decimal_to_n(attempt.quote.fee_rate),
        ),
        (
            "attempt_fee".to_owned(),
            decimal_to_n(attempt.quote.fee.amount()),
        ),
        (
            "attempt_total".to_owned(),
            decimal_to_n(attempt.quote.total.amount()),
        ),
        (
            "currency".to_owned(),
            s(attempt.quote.total.currency().code()),
        ),
        ("attempt_customer".to_owned(), s(attempt.customer.as_str())),
        (
            "attempt_payment_method".to_owned(),
            s(attempt.payment_method.as_str()),
        ),
        (
            "attempt_started_ms".to_owned(),
            AttributeValue::N(attempt.started_ms.to_string()),
        ),
    ]
}

fn i64_of(item: &Item, name: &str) -> Result<i64, StoreError> {
    item.get(name)
        .and_then(|value| value.as_n().ok())
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| StoreError::Corrupt(format!("recharge lock: missing {name}")))
}

fn state_from_item(item: &Item) -> Result<RechargeState, StoreError> {
    let read = Reader(item);
    let corrupt = |what: &str| StoreError::Corrupt(format!("recharge lock: {what}"));
    let in_flight = if item.contains_key("attempt_id") {
        let currency = read.currency()?;
        Some(InFlight {
            attempt_id: RechargeAttemptId::parse(read.str("attempt_id")?)
                .map_err(|_| corrupt("attempt id"))?,
            quote: CreditQuote {
                credits: u32::try_from(read.u64("attempt_credits")?)
                    .map_err(|_| corrupt("credits"))?,
                unit_price: read.money("attempt_unit_price", currency)?,
                subtotal: read.money("attempt_value", currency)?,
                fee_rate: read.decimal("attempt_fee_rate")?,
                fee: read.money("attempt_fee", currency)?,
                total: read.money("attempt_total", currency)?,
            },
            customer: ProviderCustomerId::parse(read.str("attempt_customer")?)
                .map_err(|_| corrupt("customer"))?,
            payment_method: ProviderPaymentMethodId::parse(read.str("attempt_payment_method")?)
                .map_err(|_| corrupt("payment method"))?,
            started_ms: i64_of(item, "attempt_started_ms")?,
        })
    } else {
        None
    };
    let successes_ms = item
        .get("successes_ms")
        .and_then(|value| value.as_l().ok())
        .ok_or_else(|| corrupt("successes"))?
        .iter()
        .take(SUCCESSES_KEPT_MAX)
        .map(|value| {
            value
                .as_n()
                .ok()
                .and_then(|text| text.parse::<i64>().ok())
                .ok_or_else(|| corrupt("success time"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RechargeState {
        rev: read.u64("rev")?,
        lease_until_ms: i64_of(item, "lease_until_ms")?,
        in_flight,
        attempt_seq: read.u64("attempt_seq")?,
        successes_ms,
        month: read.str("month")?.to_owned(),
        month_credits: read.u64("month_credits")?,
        declines: u32::try_from(read.u64("declines")?).map_err(|_| corrupt("declines"))?,
        backoff_until_ms: i64_of(item, "backoff_until_ms")?,
    })
}

impl DynamoStore {
    /// The conditional put of the lock's next state: only over the revision it was decided from.
    fn state_put(&self, account: &AccountId, next: &RechargeState) -> Put {
        let builder = Put::builder()
            .table_name(self.table())
            .set_item(Some(state_item(account, next)));
        let builder = match next.rev.checked_sub(1) {
            Some(read) if read > 0 => builder
                .condition_expression("rev = :rev")
                .expression_attribute_values(":rev", n(read)),
            _ => builder.condition_expression("attribute_not_exists(pk)"),
        };
        built(builder.build())
    }
}

impl RechargeStore for DynamoStore {
    async fn recharge_state(
        &self,
        account: &AccountId,
    ) -> Result<Option<RechargeState>, StoreError> {
        let output = self
            .client()
            .get_item()
            .table_name(self.table())
            .set_key(Some(Self::key(keys::account_pk(account), RECHARGE_LOCK_SK)))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        output.item().map(state_from_item).transpose()
    }

    async fn put_recharge_state(
        &self,
        account: &AccountId,
        next: &RechargeState,
    ) -> Result<bool, StoreError> {
        let put = self.state_put(account, next);
        let result = self
            .client()
            .put_item()
            .table_name(put.table_name())
            .set_item(Some(put.item().clone()))
            .set_condition_expression(put.condition_expression().map(str::to_owned))
            .set_expression_attribute_values(put.expression_attribute_values().cloned())
            .send()
            .await;
        Ok(conditional(result)?.is_some())
    }

    async fn post_recharge(
        &self,
        account: &AccountId,
        entry: &NewEntry,
        next: &RechargeState,
        paid: &crate::payments::purchase::Purchase,
        now: OffsetDateTime,
    ) -> Result<PostReceipt, StoreError> {
        let put = self.state_put(account, next);
        let (record, log) = self.recharge_purchase_puts(paid);
        self.post_entries_with(account, std::slice::from_ref(entry), now, &|_, _| {
            vec![
                TransactWriteItem::builder().put(put.clone()).build(),
                TransactWriteItem::builder().put(record.clone()).build(),
                TransactWriteItem::builder().put(log.clone()).build(),
            ]
        })
        .await
    }

    async fn update_auto_recharge(
        &self,
        account: &AccountId,
        change: &(dyn Fn(&AutoRecharge) -> AutoRecharge + Sync),
        now: OffsetDateTime,
    ) -> Result<Wallet, StoreError> {
        for attempt in 0..POST_ATTEMPTS_MAX {
            let wallet = self
                .get_wallet(account)
                .await?
                .ok_or_else(|| StoreError::WalletNotFound(account.clone()))?;
            let settings = change(&wallet.auto_recharge);
            if settings.minimum_balance.currency() != wallet.currency {
                return Err(StoreError::WalletNotFound(account.clone()));
            }
            let due = due_update(account, &settings, wallet.available());
            let mut values = due.values;
            values.extend([
                (
                    ":enabled".to_owned(),
                    AttributeValue::Bool(settings.enabled),
                ),
                (
                    ":minimum".to_owned(),
                    decimal_to_n(settings.minimum_balance.amount()),
                ),
                (":credits".to_owned(), n(u64::from(settings.credits))),
                (":now".to_owned(), super::codec::timestamp(now)),
                (":version".to_owned(), n(wallet.version)),
                (":next_version".to_owned(), n(wallet.version + 1)),
            ]);
            let result = self
                .client()
                .update_item()
                .table_name(self.table())
                .set_key(Some(Self::key(keys::account_pk(account), keys::WALLET_SK)))
                .update_expression(format!(
                    "SET ar_enabled = :enabled, ar_minimum_balance = :minimum, \
                     ar_credits = :credits, updated_at = :now, version = :next_version{}",
                    due.expression
                ))
                // The balance the due-ness was computed from is still the balance.
                .condition_expression("version = :version")
                .set_expression_attribute_values(Some(values))
                .send()
                .await;
            if conditional(result)?.is_some() {
                return Ok(Wallet {
                    auto_recharge: settings,
                    version: wallet.version + 1,
                    updated_at: now,
                    ..wallet
                });
            }
            backoff(attempt).await;
        }
        Err(StoreError::Contended {
            account: account.clone(),
            attempts: POST_ATTEMPTS_MAX,
        })
    }

    async fn due_wallets(&self, limit: usize, first_shard: u8) -> Result<DueWallets, StoreError> {
        let sweep = IndexSweep {
            index: DUE_INDEX,
            pk_attribute: DUE_PK,
            sk_below: None,
        };
        // Every shard, from `first_shard` on, so that capped runs do not always favour shard 0.
        let partitions = (0..DUE_SHARDS)
            .map(|offset| due_pk((first_shard % DUE_SHARDS + offset) % DUE_SHARDS))
            .collect();
        let mut accounts: Vec<AccountId> = Vec::new();
        let items_read = self
            .sweep_index(&sweep, partitions, limit, |item| {
                let account = Reader(item).str(DUE_SK)?;
                let account = AccountId::parse(account).map_err(|error| {
                    StoreError::Corrupt(format!("due index names {account:?}: {error}"))
                })?;
                // A wallet both below its minimum and with an attempt in flight is listed by its
                // wallet item and its lock item, next to each other (same shard and sort key):
                // one trigger is enough.
                let new = accounts.last() != Some(&account);
                if new {
                    accounts.push(account);
                }
                Ok(new)
            })
            .await?;
        Ok(DueWallets {
            accounts,
            items_read: u64::try_from(items_read).expect("bounded by the limit"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;
    use crate::recharge::attempt_id;

    #[test]
    fn attempt_ids_are_stable_and_distinct() {
        let account = AccountId::parse("acme").unwrap();
        assert_eq!(attempt_id(&account, 1), attempt_id(&account, 1));
        assert_ne!(attempt_id(&account, 1), attempt_id(&account, 2));
        let other = AccountId::parse("acme2").unwrap();
        assert_ne!(attempt_id(&account, 1), attempt_id(&other, 1));
        assert!(due_shard(&account) < DUE_SHARDS);
    }

    #[test]
    fn the_lock_item_reads_back_as_written() {
        let account = AccountId::parse("acme").unwrap();
        let state = RechargeState {
            rev: 3,
            lease_until_ms: 1_700_000_000_000,
            in_flight: Some(InFlight {
                attempt_id: attempt_id(&account, 2),
                quote: crate::money::QuotePolicy::zoho_default(Currency::Usd)
                    .quote(
                        crate::money::QuotePolicy::zoho_default(Currency::Usd)
                            .credits(10)
                            .unwrap(),
                    )
                    .unwrap(),
                customer: ProviderCustomerId::parse("cus_1").unwrap(),
                payment_method: ProviderPaymentMethodId::parse("pm_1").unwrap(),
                started_ms: 1_700_000_000_000,
            }),
            attempt_seq: 3,
            successes_ms: vec![1, 2],
            month: "2026-11".into(),
            month_credits: 20,
            declines: 1,
            backoff_until_ms: 5,
        };
        let item = state_item(&account, &state);
        assert_eq!(state_from_item(&item).unwrap(), state);
        let idle = RechargeState {
            in_flight: None,
            ..state
        };
        assert_eq!(state_from_item(&state_item(&account, &idle)).unwrap(), idle);
    }

    #[test]
    fn due_only_when_enabled_and_below_the_minimum() {
        let usd = |text: &str| Money::parse(text, Currency::Usd).unwrap();
        let on = AutoRecharge::new(true, usd("5"), 10, Currency::Usd).unwrap();
        assert!(is_due(&on, usd("4.99")));
        assert!(!is_due(&on, usd("5")));
        let off = AutoRecharge::new(false, usd("5"), 10, Currency::Usd).unwrap();
        assert!(!is_due(&off, usd("1")));
    }
}
