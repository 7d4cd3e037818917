//! Hold items: keys, the item codec and the sparse expiry index's attributes.
//!
//! | item | pk | sk |
//! |------|----|----|
//! | hold | `ACCOUNT#<account>` | `HOLD#<hold id>` |
//! | hold log | `ACCOUNT#<account>` | `HOLD_LOG#<created ms:020>#<hold id>` |
//! | failed message released | `ACCOUNT#<account>` | `HOLD_FAILED#<wamid>` |
//!
//! An open hold carries `hx_pk` = `HOLDX#<0..15>` (the account's shard, as for the recharge index)
//! and `hx_sk` = `<expires ms:020>#<hold id>`; closing it REMOVEs both, so the GSI
//! [`HOLD_EXPIRY_INDEX`] lists open holds only, by expiry.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use time::OffsetDateTime;

use super::codec::{Item, Reader, decimal_to_n, epoch_ms, n, s, timestamp};
use super::keys;
use super::recharge::due_shard;
use crate::holds::placement::PlacementCrossings;
use crate::holds::{Hold, HoldId, HoldLine, HoldStatus, ReleaseRecovery};
use crate::ids::AccountId;
use crate::money::{Currency, Money};
use crate::ports::store::StoreError;
use crate::pricing::{Category, Market};

pub const HOLD_EXPIRY_INDEX: &str = "hold_expiry";
pub const HX_PK: &str = "hx_pk";
pub const HX_SK: &str = "hx_sk";
const RECOVERED_BALANCE: &str = "recovered_balance";
const RECOVERED_AVAILABLE: &str = "recovered_available";
pub const HOLD_SK_PREFIX: &str = "HOLD#";
pub const HOLD_LOG_SK_PREFIX: &str = "HOLD_LOG#";
pub const HOLD_FAILED_SK_PREFIX: &str = "HOLD_FAILED#";

pub fn hold_sk(id: &HoldId) -> String {
    format!("{HOLD_SK_PREFIX}{id}")
}

/// Zero-padded milliseconds, so that key order is creation order (the id breaks ties).
pub fn hold_log_sk(created_ms: u64, id: &HoldId) -> String {
    format!("{HOLD_LOG_SK_PREFIX}{created_ms:020}#{id}")
}

pub fn hold_failed_sk(wamid: &str) -> String {
    format!("{HOLD_FAILED_SK_PREFIX}{wamid}")
}

pub fn expiry_pk(shard: u8) -> String {
    format!("HOLDX#{shard}")
}

pub fn millis(at: OffsetDateTime) -> u64 {
    u64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}

/// The index sort key: expiry first, so a shard's due holds are one key range.
pub fn expiry_sk(expires_at: OffsetDateTime, id: &HoldId) -> String {
    format!("{:020}#{id}", millis(expires_at))
}

/// Every sort key of holds expiring at or before `now` is below this ('$' follows '#').
pub fn expiry_sk_upper(now: OffsetDateTime) -> String {
    format!("{:020}$", millis(now))
}

/// A line as one short string: `market|category|count|unit price|amount` (market empty when the
/// recipient could not be placed). No phone number is ever stored: only its market.
fn line_text(line: &HoldLine) -> String {
    format!(
        "{}|{}|{}|{}|{}",
        line.market.as_ref().map_or("", Market::as_str),
        line.category.as_str(),
        line.count,
        line.unit_price.amount(),
        line.amount.amount()
    )
}

fn line_from_text(text: &str, currency: Currency) -> Option<HoldLine> {
    let mut parts = text.split('|');
    let market = match parts.next()? {
        "" => None,
        code => Some(Market::parse(code).ok()?),
    };
    let category = Category::parse(parts.next()?).ok()?;
    let count = parts.next()?.parse().ok()?;
    let money = |text: &str| {
        super::codec::decimal_from_n(text).and_then(|value| Money::new(value, currency).ok())
    };
    let unit_price = money(parts.next()?)?;
    let amount = money(parts.next()?)?;
    parts.next().is_none().then_some(HoldLine {
        market,
        category,
        count,
        unit_price,
        amount,
    })
}

pub fn hold_item(hold: &Hold) -> Item {
    let account = &hold.account_id;
    let mut item = HashMap::from([
        (keys::PK.to_owned(), s(keys::account_pk(account))),
        (keys::SK.to_owned(), s(hold_sk(&hold.id))),
        ("type".to_owned(), s("hold")),
        ("hold_id".to_owned(), s(hold.id.as_str())),
        ("currency".to_owned(), s(hold.amount.currency().code())),
        ("status".to_owned(), s(hold.status.as_str())),
        ("amount".to_owned(), decimal_to_n(hold.amount.amount())),
        (
            "remaining".to_owned(),
            decimal_to_n(hold.remaining.amount()),
        ),
        ("settled_count".to_owned(), n(hold.settled_count)),
        (
            "settled_amount".to_owned(),
            decimal_to_n(hold.settled_amount.amount()),
        ),
        ("failed_count".to_owned(), n(hold.failed_count)),
        (
            "failed_amount".to_owned(),
            decimal_to_n(hold.failed_amount.amount()),
        ),
        (
            "released_amount".to_owned(),
            decimal_to_n(hold.released_amount.amount()),
        ),
        (
            "lines".to_owned(),
            AttributeValue::L(hold.lines.iter().map(|line| s(line_text(line))).collect()),
        ),
        ("request_sha256".to_owned(), s(hold.request_sha256.as_str())),
        ("created_at".to_owned(), timestamp(hold.created_at)),
        ("expires_at".to_owned(), timestamp(hold.expires_at)),
        ("expires_ms".to_owned(), epoch_ms(hold.expires_at)),
        (
            "placed_low".to_owned(),
            AttributeValue::Bool(hold.placed.low),
        ),
        (
            "placed_depleted".to_owned(),
            AttributeValue::Bool(hold.placed.depleted),
        ),
    ]);
    if let Some(template) = &hold.template {
        item.insert("template".to_owned(), s(template.as_str()));
    }
    if let Some(closed_at) = hold.closed_at {
        item.insert("closed_at".to_owned(), timestamp(closed_at));
    }
    if let Some(recovered) = hold.recovered {
        item.extend(recovered_values(recovered));
    }
    if hold.is_open() {
        item.insert(HX_PK.to_owned(), s(expiry_pk(due_shard(account))));
        item.insert(HX_SK.to_owned(), s(expiry_sk(hold.expires_at, &hold.id)));
    }
    item
}

/// The attributes of a release that recovered the wallet (`balance.recovered`'s figures).
pub fn recovered_values(recovered: ReleaseRecovery) -> [(String, AttributeValue); 2] {
    [
        (
            RECOVERED_BALANCE.to_owned(),
            decimal_to_n(recovered.balance.amount()),
        ),
        (
            RECOVERED_AVAILABLE.to_owned(),
            decimal_to_n(recovered.available.amount()),
        ),
    ]
}

/// The hold's log item: its id only, written once with it, for the history newest first.
pub fn hold_log_item(hold: &Hold) -> Item {
    HashMap::from([
        (keys::PK.to_owned(), s(keys::account_pk(&hold.account_id))),
        (
            keys::SK.to_owned(),
            s(hold_log_sk(millis(hold.created_at), &hold.id)),
        ),
        ("type".to_owned(), s("hold_log")),
        ("hold_id".to_owned(), s(hold.id.as_str())),
    ])
}

pub fn hold_from_item(item: &Item) -> Result<Hold, StoreError> {
    let read = Reader(item);
    let corrupt = |what: &str| StoreError::Corrupt(format!("hold item: {what}"));
    let currency = read.currency()?;
    let id = HoldId::parse_strict(read.str("hold_id")?).ok_or_else(|| corrupt("id"))?;
    let account_id = read
        .str(keys::PK)?
        .strip_prefix("ACCOUNT#")
        .and_then(|account| AccountId::parse(account).ok())
        .ok_or_else(|| corrupt("account"))?;
    let lines = read
        .string_list("lines")?
        .into_iter()
        .map(|text| line_from_text(text, currency).ok_or_else(|| corrupt("line")))
        .collect::<Result<Vec<_>, _>>()?;
    let closed_at = if item.contains_key("closed_at") {
        Some(read.timestamp("closed_at")?)
    } else {
        None
    };
    Ok(Hold {
        id,
        account_id,
        template: item
            .get("template")
            .and_then(|value| value.as_s().ok())
            .cloned(),
        lines,
        amount: read.money("amount", currency)?,
        remaining: read.money("remaining", currency)?,
        status: HoldStatus::parse(read.str("status")?).ok_or_else(|| corrupt("status"))?,
        settled_count: read.u64("settled_count")?,
        settled_amount: read.money("settled_amount", currency)?,
        failed_count: read.u64("failed_count")?,
        failed_amount: read.money("failed_amount", currency)?,
        released_amount: read.money("released_amount", currency)?,
        request_sha256: read.str("request_sha256")?.to_owned(),
        created_at: read.timestamp("created_at")?,
        expires_at: read.timestamp("expires_at")?,
        closed_at,
        // Holds placed before placements recorded their crossings crossed nothing recorded.
        placed: PlacementCrossings {
            low: item.get("placed_low").and_then(|v| v.as_bool().ok()) == Some(&true),
            depleted: item.get("placed_depleted").and_then(|v| v.as_bool().ok()) == Some(&true),
        },
        // Absent unless a release recovered the wallet (and on holds closed before this was kept).
        recovered: if item.contains_key(RECOVERED_BALANCE) {
            Some(ReleaseRecovery {
                balance: read.money(RECOVERED_BALANCE, currency)?,
                available: read.money(RECOVERED_AVAILABLE, currency)?,
            })
        } else {
            None
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::holds::{HoldId, HoldStatus};
    use crate::payments::purchase::PurchaseKey;

    #[test]
    fn a_hold_reads_back_as_written_and_leaves_the_index_when_closed() {
        let usd = |text: &str| Money::parse(text, Currency::Usd).unwrap();
        let account = AccountId::parse("acme").unwrap();
        let id = HoldId::for_request(&account, &PurchaseKey::parse("k").unwrap());
        let line = |market: Option<&str>, count: u64| HoldLine {
            market: market.map(|code| Market::parse(code).unwrap()),
            category: Category::Marketing,
            count,
            unit_price: usd("0.0125"),
            amount: usd("0.0125").checked_times(count).unwrap(),
        };
        let at = time::macros::datetime!(2026-11-27 12:00 UTC);
        let mut hold = Hold::new(
            id,
            account,
            Some("spring_sale".into()),
            vec![line(Some("IN"), 800), line(None, 2)],
            "ab".repeat(16),
            at,
            time::Duration::hours(24),
        )
        .unwrap();
        let item = hold_item(&hold);
        assert!(item.contains_key(HX_PK) && item.contains_key(HX_SK));
        assert_eq!(hold_from_item(&item).unwrap(), hold);
        hold.status = HoldStatus::Expired;
        hold.closed_at = Some(at);
        hold.recovered = Some(ReleaseRecovery {
            balance: usd("12.5"),
            available: usd("0.0125"),
        });
        let item = hold_item(&hold);
        assert!(!item.contains_key(HX_PK));
        assert_eq!(hold_from_item(&item).unwrap(), hold);
        assert!(expiry_sk(at, &hold.id) < expiry_sk_upper(at));
        assert!(expiry_sk(at + time::Duration::milliseconds(1), &hold.id) > expiry_sk_upper(at));
    }
}
