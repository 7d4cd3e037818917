//! The monthly statement schedule on DynamoDB. The wallet item carries the month it will announce
//! next as keys of the sparse `hold_expiry` index, in partitions of its own (`STMTX#<shard>`, which
//! the hold sweep never reads): `hx_sk = <close ms:020>#<YYYY-MM>`, the instant that month closes
//! in the wallet's reporting time zone first, so a shard's closed months are one key range. No new
//! index, no scan; the attributes are set when the wallet is created and when its zone changes,
//! and moved on by a conditional update once the month is announced (no version bump: no money
//! moves). Wallets created before the schedule existed gain it when their zone is next set.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use time::OffsetDateTime;

use super::codec::{Item, Reader, s};
use super::hold_items::{HOLD_EXPIRY_INDEX, HX_PK, HX_SK, millis};
use super::pages::IndexSweep;
use super::recharge::{DUE_SHARDS, due_shard};
use super::{DynamoStore, conditional, keys};
use crate::ids::AccountId;
use crate::ports::statements::{ClosedMonth, StatementSchedule};
use crate::ports::store::{StoreError, WalletGet};
use crate::reporting::closing::StatementMonth;
use crate::wallet::zone::ReportingZone;

pub fn schedule_pk(account: &AccountId) -> String {
    format!("STMTX#{}", due_shard(account))
}

pub fn schedule_sk(month: StatementMonth, zone: &ReportingZone) -> String {
    format!("{:020}#{}", millis(month.closes_at(zone)), month.label())
}

/// The schedule attributes of a wallet whose next month to announce is the one `now` is in.
pub fn schedule_values(
    account: &AccountId,
    zone: &ReportingZone,
    now: OffsetDateTime,
) -> [(String, AttributeValue); 2] {
    let month = StatementMonth::containing(zone, now);
    [
        (HX_PK.to_owned(), s(schedule_pk(account))),
        (HX_SK.to_owned(), s(schedule_sk(month, zone))),
    ]
}

fn closed_from_keys(item: &Item) -> Result<ClosedMonth, StoreError> {
    let read = Reader(item);
    let corrupt = || StoreError::Corrupt("statement schedule index entry".into());
    let account = read
        .str(keys::PK)?
        .strip_prefix("ACCOUNT#")
        .and_then(|account| AccountId::parse(account).ok())
        .ok_or_else(corrupt)?;
    let (ms, month) = read.str(HX_SK)?.split_once('#').ok_or_else(corrupt)?;
    let ms: i128 = ms.parse().map_err(|_| corrupt())?;
    let closed_at =
        OffsetDateTime::from_unix_timestamp_nanos(ms * 1_000_000).map_err(|_| corrupt())?;
    let month = StatementMonth::parse(month).ok_or_else(corrupt)?;
    Ok(ClosedMonth {
        account,
        month,
        closed_at,
    })
}

impl StatementSchedule for DynamoStore {
    async fn closed_months(
        &self,
        now: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<ClosedMonth>, StoreError> {
        let sweep = IndexSweep {
            index: HOLD_EXPIRY_INDEX,
            pk_attribute: HX_PK,
            sk_below: Some((HX_SK, format!("{:020}$", millis(now)))),
        };
        let mut closed = Vec::new();
        let partitions = (0..DUE_SHARDS)
            .map(|shard| format!("STMTX#{shard}"))
            .collect();
        self.sweep_index(&sweep, partitions, limit, |item| {
            closed.push(closed_from_keys(item)?);
            Ok(true)
        })
        .await?;
        Ok(closed)
    }

    async fn advance_statement(&self, closed: &ClosedMonth) -> Result<bool, StoreError> {
        let account = &closed.account;
        let wallet = self
            .get_wallet(account)
            .await?
            .ok_or_else(|| StoreError::WalletNotFound(account.clone()))?;
        let zone = &wallet.reporting_zone;
        let next = schedule_sk(closed.month.next(), zone);
        let result = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(Self::key(keys::account_pk(account), keys::WALLET_SK)))
            .update_expression("SET #sk = :next")
            // Only the month just announced moves on: a second sweep finds it moved.
            // Only the month just listed moves on: a second sweep finds it moved.
            .condition_expression("#sk = :listed")
            .expression_attribute_names("#sk", HX_SK)
            .set_expression_attribute_values(Some(HashMap::from([
                (":next".to_owned(), s(next)),
                (
                    ":listed".to_owned(),
                    s(format!(
                        "{:020}#{}",
                        millis(closed.closed_at),
                        closed.month.label()
                    )),
                ),
            ])))
            .send()
            .await;
        Ok(conditional(result)?.is_some())
    }
}
