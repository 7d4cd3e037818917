//! Items to domain values and back. Money is stored as DynamoDB numbers (`N`), written from the
//! exact decimal text and read back exactly: never through a float.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use rust_decimal::Decimal;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::keys;
use crate::ids::AccountId;
use crate::ledger::{EntryId, EntryKind, LedgerEntry, Metadata};
use crate::money::{Currency, Money};
use crate::ports::store::StoreError;
use crate::wallet::{AutoRecharge, NewWallet, Wallet};

pub type Item = HashMap<String, AttributeValue>;

/// The exact text of a decimal as a DynamoDB number.
pub fn decimal_to_n(value: Decimal) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// Reads a DynamoDB number exactly. DynamoDB may answer in exponent form (`1E+2`); an exact plain
/// reading is tried first and the exponent form second, and either refuses to round.
pub fn decimal_from_n(text: &str) -> Option<Decimal> {
    Decimal::from_str_exact(text)
        .ok()
        .or_else(|| Decimal::from_scientific(text).ok())
}

pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub fn timestamp(at: OffsetDateTime) -> AttributeValue {
    AttributeValue::S(
        at.format(&Rfc3339)
            .expect("a UTC timestamp always formats as RFC 3339"),
    )
}

fn corrupt(item: &Item, what: &str) -> StoreError {
    let pk = item
        .get(keys::PK)
        .and_then(|v| v.as_s().ok())
        .map_or("?", String::as_str);
    let sk = item
        .get(keys::SK)
        .and_then(|v| v.as_s().ok())
        .map_or("?", String::as_str);
    StoreError::Corrupt(format!("{what} in item {pk}/{sk}"))
}

/// Typed reads of one item's attributes, each failing as [`StoreError::Corrupt`].
pub struct Reader<'a>(pub &'a Item);

impl<'a> Reader<'a> {
    pub fn str(&self, name: &str) -> Result<&'a str, StoreError> {
        self.0
            .get(name)
            .and_then(|value| value.as_s().ok())
            .map(String::as_str)
            .ok_or_else(|| corrupt(self.0, &format!("missing text {name}")))
    }

    pub fn decimal(&self, name: &str) -> Result<Decimal, StoreError> {
        self.0
            .get(name)
            .and_then(|value| value.as_n().ok())
            .and_then(|text| decimal_from_n(text))
            .ok_or_else(|| corrupt(self.0, &format!("missing or inexact number {name}")))
    }

    pub fn u64(&self, name: &str) -> Result<u64, StoreError> {
        self.0
            .get(name)
            .and_then(|value| value.as_n().ok())
            .and_then(|text| text.parse().ok())
            .ok_or_else(|| corrupt(self.0, &format!("missing count {name}")))
    }

    pub fn bool(&self, name: &str) -> Result<bool, StoreError> {
        self.0
            .get(name)
            .and_then(|value| value.as_bool().ok())
            .copied()
            .ok_or_else(|| corrupt(self.0, &format!("missing flag {name}")))
    }

    pub fn money(&self, name: &str, currency: Currency) -> Result<Money, StoreError> {
        Money::new(self.decimal(name)?, currency)
            .map_err(|error| corrupt(self.0, &format!("{name}: {error}")))
    }

    pub fn currency(&self) -> Result<Currency, StoreError> {
        self.str("currency")?
            .parse()
            .map_err(|_| corrupt(self.0, "unknown currency"))
    }

    pub fn timestamp(&self, name: &str) -> Result<OffsetDateTime, StoreError> {
        OffsetDateTime::parse(self.str(name)?, &Rfc3339)
            .map_err(|_| corrupt(self.0, &format!("bad timestamp {name}")))
    }

    pub fn string_list(&self, name: &str) -> Result<Vec<&'a str>, StoreError> {
        let list = self
            .0
            .get(name)
            .and_then(|value| value.as_l().ok())
            .ok_or_else(|| corrupt(self.0, &format!("missing list {name}")))?;
        list.iter()
            .map(|value| value.as_s().map(String::as_str))
            .collect::<Result<_, _>>()
            .map_err(|_| corrupt(self.0, &format!("non-text in list {name}")))
    }
}

pub fn new_wallet_item(wallet: &NewWallet, now: OffsetDateTime) -> Item {
    let zero = Money::zero(wallet.currency);
    let mut item: Item = HashMap::from([
        (keys::PK.into(), s(keys::account_pk(&wallet.account_id))),
        (keys::SK.into(), s(keys::WALLET_SK)),
        ("type".into(), s("wallet")),
        ("account_id".into(), s(wallet.account_id.as_str())),
        ("currency".into(), s(wallet.currency.code())),
        ("balance".into(), decimal_to_n(zero.amount())),
        ("held".into(), decimal_to_n(zero.amount())),
        ("available".into(), decimal_to_n(zero.amount())),
        ("can_send".into(), AttributeValue::Bool(false)),
        (
            "low_balance_threshold".into(),
            decimal_to_n(wallet.low_balance_threshold.amount()),
        ),
        (
            "ar_enabled".into(),
            AttributeValue::Bool(wallet.auto_recharge.enabled),
        ),
        (
            "ar_minimum_balance".into(),
            decimal_to_n(wallet.auto_recharge.minimum_balance.amount()),
        ),
        (
            "ar_credits".into(),
            n(u64::from(wallet.auto_recharge.credits)),
        ),
        ("version".into(), n(0)),
        ("entry_count".into(), n(0)),
        ("created_at".into(), timestamp(now)),
        ("updated_at".into(), timestamp(now)),
    ]);
    // The monthly statement schedule starts with the month the wallet is created in (UTC until
    // a zone is set).
    item.extend(super::statements::schedule_values(
        &wallet.account_id,
        &crate::wallet::zone::ReportingZone::utc(),
        now,
    ));
    item
}

pub fn wallet_from_item(item: &Item) -> Result<Wallet, StoreError> {
    let read = Reader(item);
    let currency = read.currency()?;
    let account_id = AccountId::parse(read.str("account_id")?)
        .map_err(|error| corrupt(item, &error.to_string()))?;
    let credits = u32::try_from(read.u64("ar_credits")?)
        .map_err(|_| corrupt(item, "auto-recharge credits out of range"))?;
    Ok(Wallet {
        account_id,
        currency,
        balance: read.money("balance", currency)?,
        // A wallet stored before holds existed has none held.
        held: if item.contains_key("held") {
            read.money("held", currency)?
        } else {
            Money::zero(currency)
        },
        low_balance_threshold: read.money("low_balance_threshold", currency)?,
        auto_recharge: AutoRecharge {
            enabled: read.bool("ar_enabled")?,
            minimum_balance: read.money("ar_minimum_balance", currency)?,
            credits,
        },
        version: read.u64("version")?,
        entry_count: read.u64("entry_count")?,
        created_at: read.timestamp("created_at")?,
        updated_at: read.timestamp("updated_at")?,
        // Absent on wallets made before zones existed: UTC, as their aggregates are.
        reporting_zone: match item.get("reporting_tz").and_then(|v| v.as_s().ok()) {
            Some(name) => crate::reporting::ReportingZone::parse(name)
                .map_err(|error| corrupt(item, &error.to_string()))?,
            None => crate::reporting::ReportingZone::utc(),
        },
    })
}

pub fn entry_item(account: &AccountId, entry: &LedgerEntry) -> Item {
    let metadata = entry
        .metadata
        .iter()
        .map(|(key, value)| (key.to_owned(), s(value)))
        .collect();
    HashMap::from([
        (keys::PK.into(), s(keys::account_pk(account))),
        (keys::SK.into(), s(keys::entry_sk(&entry.id))),
        ("type".into(), s("entry")),
        ("entry_id".into(), s(entry.id.as_str())),
        ("seq".into(), n(entry.seq)),
        ("kind".into(), s(entry.kind.as_str())),
        ("currency".into(), s(entry.amount.currency().code())),
        ("amount".into(), decimal_to_n(entry.amount.amount())),
        (
            "balance_after".into(),
            decimal_to_n(entry.balance_after.amount()),
        ),
        ("description".into(), s(entry.description.as_str())),
        ("metadata".into(), AttributeValue::M(metadata)),
        ("occurred_at".into(), timestamp(entry.occurred_at)),
        ("posted_at".into(), timestamp(entry.posted_at)),
    ])
}

pub fn entry_from_item(item: &Item) -> Result<LedgerEntry, StoreError> {
    let read = Reader(item);
    let currency = read.currency()?;
    let id = EntryId::parse(read.str("entry_id")?).map_err(|e| corrupt(item, &e.to_string()))?;
    let kind = EntryKind::parse(read.str("kind")?).ok_or_else(|| corrupt(item, "unknown kind"))?;
    let mut metadata = Metadata::new();
    if let Some(AttributeValue::M(pairs)) = item.get("metadata") {
        for (key, value) in pairs {
            let value = value
                .as_s()
                .map_err(|_| corrupt(item, "non-text metadata"))?;
            metadata
                .insert(key, value)
                .map_err(|error| corrupt(item, &error.to_string()))?;
        }
    }
    Ok(LedgerEntry {
        id,
        seq: read.u64("seq")?,
        kind,
        amount: read.money("amount", currency)?,
        balance_after: read.money("balance_after", currency)?,
        description: read.str("description")?.to_owned(),
        metadata,
        occurred_at: read.timestamp("occurred_at")?,
        posted_at: read.timestamp("posted_at")?,
    })
}

/// The journal of one posting: its entry ids in sequence order, starting at `first_seq`. The
/// statement reads journals to list entries newest first without an index on the entries.
pub fn journal_item(account: &AccountId, entries: &[LedgerEntry]) -> Item {
    assert!(!entries.is_empty());
    let first_seq = entries[0].seq;
    debug_assert!(
        entries
            .iter()
            .zip(first_seq..)
            .all(|(entry, seq)| entry.seq == seq)
    );
    HashMap::from([
        (keys::PK.into(), s(keys::account_pk(account))),
        (keys::SK.into(), s(keys::journal_sk(first_seq))),
        ("type".into(), s("journal")),
        ("first_seq".into(), n(first_seq)),
        (
            "entry_ids".into(),
            AttributeValue::L(entries.iter().map(|entry| s(entry.id.as_str())).collect()),
        ),
        ("posted_at".into(), timestamp(entries[0].posted_at)),
        ("posted_at_ms".into(), epoch_ms(entries[0].posted_at)),
    ])
}

/// Milliseconds since the epoch as a number: comparable in filter expressions, unlike RFC 3339
/// text whose fractional seconds vary in length.
pub fn epoch_ms(at: OffsetDateTime) -> AttributeValue {
    AttributeValue::N((at.unix_timestamp_nanos() / 1_000_000).to_string())
}

/// A journal's `(seq, entry id)` pairs, oldest first.
pub fn journal_from_item(item: &Item) -> Result<Vec<(u64, EntryId)>, StoreError> {
    let read = Reader(item);
    let first_seq = read.u64("first_seq")?;
    read.string_list("entry_ids")?
        .into_iter()
        .zip(first_seq..)
        .map(|(id, seq)| {
            EntryId::parse(id)
                .map(|id| (seq, id))
                .map_err(|error| corrupt(item, &error.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::tests::amount_strategy;
    use proptest::prelude::*;

    #[test]
    fn exponent_answers_read_exactly() {
        assert_eq!(decimal_from_n("1E+2"), Some(Decimal::from(100)));
        assert_eq!(decimal_from_n("-1.25E-3"), Some(Decimal::new(-125, 5)));
        assert_eq!(decimal_from_n("abc"), None);
    }

    proptest! {
        #[test]
        fn number_round_trip_is_lossless(amount in amount_strategy()) {
            let stored = decimal_to_n(amount);
            let text = stored.as_n().unwrap();
            prop_assert_eq!(decimal_from_n(text), Some(amount));
        }
    }
}
