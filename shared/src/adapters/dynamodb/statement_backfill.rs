//! The statement schedule's backfill on DynamoDB: a **maintenance `Scan`**, the one in the code,
//! run only by the operator's job (`imcredits-local backfill-statement-schedule`; never a request
//! path, never a schedule). No index lists every wallet, and one is not worth a write unit on every
//! wallet for a job that runs once. Each page evaluates at most `items_max` items (`Limit`),
//! keeps the wallets without a schedule (`FilterExpression`; wallet items only) and answers the
//! last key evaluated as the cursor to resume from. Each wallet's schedule is set by an update
//! conditioned on it still having none, so a second run, or a zone set meanwhile, changes nothing.

use std::collections::HashMap;

use time::OffsetDateTime;

use super::codec::{Item, s};
use super::hold_items::HX_PK;
use super::statements::schedule_values;
use super::{DynamoStore, conditional, keys, unavailable};
use crate::ids::AccountId;
use crate::ports::statement_backfill::{
    BACKFILL_PAGE_ITEMS_MAX, BackfillCursor, BackfillPage, StatementBackfill,
};
use crate::ports::store::StoreError;
use crate::wallet::zone::ReportingZone;

/// The account and zone of a wallet item the page found (only its key and zone are projected).
fn unscheduled_wallet(item: &Item) -> Result<(AccountId, ReportingZone), StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("wallet item in the backfill: {what}"));
    let account = item
        .get(keys::PK)
        .and_then(|value| value.as_s().ok())
        .and_then(|pk| pk.strip_prefix("ACCOUNT#"))
        .and_then(|account| AccountId::parse(account).ok())
        .ok_or_else(|| corrupt("account"))?;
    // Absent on wallets made before zones existed: UTC, as `codec::wallet_from_item` reads it.
    let zone = match item.get("reporting_tz").and_then(|value| value.as_s().ok()) {
        Some(name) => ReportingZone::parse(name).map_err(|error| corrupt(&error.to_string()))?,
        None => ReportingZone::utc(),
    };
    Ok((account, zone))
}

fn cursor_of(last: &Item) -> Option<BackfillCursor> {
    let text = |name: &str| Some(last.get(name)?.as_s().ok()?.clone());
    Some(BackfillCursor {
        pk: text(keys::PK)?,
        sk: text(keys::SK)?,
    })
}

impl DynamoStore {
    /// Gives `account` the schedule of the month `now` is in, if it still has none.
    async fn schedule_if_absent(
        &self,
        account: &AccountId,
        zone: &ReportingZone,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let [(pk_name, pk), (sk_name, sk)] = schedule_values(account, zone, now);
        let result = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(Self::key(keys::account_pk(account), keys::WALLET_SK)))
            .update_expression("SET #hx_pk = :hx_pk, #hx_sk = :hx_sk")
            .condition_expression("attribute_exists(#pk) AND attribute_not_exists(#hx_pk)")
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_names("#hx_pk", pk_name)
            .expression_attribute_names("#hx_sk", sk_name)
            .expression_attribute_values(":hx_pk", pk)
            .expression_attribute_values(":hx_sk", sk)
            .send()
            .await;
        Ok(conditional(result)?.is_some())
    }
}

impl StatementBackfill for DynamoStore {
    async fn backfill_schedule_page(
        &self,
        resume: Option<&BackfillCursor>,
        items_max: u32,
        now: OffsetDateTime,
    ) -> Result<BackfillPage, StoreError> {
        assert!((1..=BACKFILL_PAGE_ITEMS_MAX).contains(&items_max));
        let start = resume.map(|cursor| {
            HashMap::from([
                (keys::PK.to_owned(), s(cursor.pk.as_str())),
                (keys::SK.to_owned(), s(cursor.sk.as_str())),
            ])
        });
        let output = self
            .client()
            .scan()
            .table_name(self.table())
            .limit(i32::try_from(items_max).expect("bounded above"))
            .filter_expression("#sk = :wallet AND attribute_not_exists(#hx_pk)")
            .projection_expression("#pk, #sk, reporting_tz")
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_names("#sk", keys::SK)
            .expression_attribute_names("#hx_pk", HX_PK)
            .expression_attribute_values(":wallet", s(keys::WALLET_SK))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(unavailable)?;
        let mut page = BackfillPage {
            items_examined: u64::try_from(output.scanned_count()).unwrap_or(0),
            next: output.last_evaluated_key().and_then(cursor_of),
            ..BackfillPage::default()
        };
        for item in output.items() {
            let (account, zone) = unscheduled_wallet(item)?;
            page.wallets_unscheduled += 1;
            if self.schedule_if_absent(&account, &zone, now).await? {
                page.scheduled += 1;
            }
        }
        Ok(page)
    }
}
