//! The store's side of reporting: the wallet's reporting time zone, and entries by id (the
//! payment history export shows the balance each credited purchase left).

use std::collections::HashMap;
use std::future::Future;

use time::OffsetDateTime;

use super::store::StoreError;
use crate::ids::AccountId;
use crate::ledger::{EntryId, LedgerEntry};
use crate::money::Currency;
use crate::wallet::Wallet;
use crate::wallet::zone::ReportingZone;

/// Entries one [`EntriesGet::entries_by_id`] call may ask for (one `BatchGetItem`).
pub const ENTRIES_BY_ID_MAX: usize = 100;

pub trait ReportingZoneSet {
    /// Sets the zone of the wallet of `currency` (its currency never changes, so the wallet is
    /// found or [`StoreError::WalletNotFound`]); the wallet after.
    fn set_reporting_zone(
        &self,
        account: &AccountId,
        currency: Currency,
        zone: &ReportingZone,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Wallet, StoreError>> + Send;
}

pub trait EntriesGet {
    /// Entries by id (at most [`ENTRIES_BY_ID_MAX`]); ids without an entry are absent.
    fn entries_by_id(
        &self,
        account: &AccountId,
        ids: &[EntryId],
    ) -> impl Future<Output = Result<HashMap<EntryId, LedgerEntry>, StoreError>> + Send;
}
