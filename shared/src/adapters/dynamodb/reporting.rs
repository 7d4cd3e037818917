//! Reporting on DynamoDB: the wallet item's `reporting_tz` attribute (absent = UTC), set like the
//! other settings with a conditional update, and entries by id for exports.

use std::collections::HashMap;

use time::OffsetDateTime;

use super::DynamoStore;
use super::codec::{s, timestamp};
use crate::ids::AccountId;
use crate::ledger::{EntryId, LedgerEntry};
use crate::money::Currency;
use crate::ports::reporting::{ENTRIES_BY_ID_MAX, EntriesGet, ReportingZoneSet};
use crate::ports::store::StoreError;
use crate::reporting::ReportingZone;
use crate::wallet::Wallet;

impl ReportingZoneSet for DynamoStore {
    async fn set_reporting_zone(
        &self,
        account: &AccountId,
        currency: Currency,
        zone: &ReportingZone,
        now: OffsetDateTime,
    ) -> Result<Wallet, StoreError> {
        let [(_, pk), (_, sk)] = super::statements::schedule_values(account, zone, now);
        let schedule = (pk, sk);
        // No version bump: a posting that read the old zone stamps its charges with the old
        // zone's days, which is the documented meaning of "from the change on".
        self.update_wallet_settings(
            account,
            currency,
            // The statement schedule follows the zone: the month now in it closes there.
            "SET reporting_tz = :zone, updated_at = :now, hx_pk = :stmt_pk, hx_sk = :stmt_sk",
            HashMap::from([
                (":zone".to_owned(), s(zone.name())),
                (":now".to_owned(), timestamp(now)),
                (":stmt_pk".to_owned(), schedule.0),
                (":stmt_sk".to_owned(), schedule.1),
            ]),
        )
        .await
    }
}

impl EntriesGet for DynamoStore {
    async fn entries_by_id(
        &self,
        account: &AccountId,
        ids: &[EntryId],
    ) -> Result<HashMap<EntryId, LedgerEntry>, StoreError> {
        assert!(
            ids.len() <= ENTRIES_BY_ID_MAX,
            "one batch of entries at a time"
        );
        let ids: Vec<&EntryId> = ids.iter().collect();
        self.get_entries(account, &ids).await
    }
}
