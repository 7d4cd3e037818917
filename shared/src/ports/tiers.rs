//! What volume tiers ask of a store: which account a WABA bills to, the tiers files by currency
//! and date, and Meta's tier updates per WABA × market × category × month.

use std::future::Future;

use time::{Month, OffsetDateTime};

use super::store::{Saved, StoreError};
use crate::ids::AccountId;
use crate::meta::account_update::TierUpdate;
use crate::meta::ids::WabaId;
use crate::money::Currency;
use crate::pricing::tier_book::{TierBook, TierCard};

/// Tier updates one month of one WABA may hold: every market of a list (at most 300) × the two
/// tiered categories.
pub const TIER_UPDATES_PER_MONTH_MAX: usize = 600;

pub trait WabaRoutes {
    /// Attaches a WABA to the account's wallet (which must exist): its tier updates true up that
    /// wallet. Again to the same account is a no-op; to another, [`StoreError::WabaTaken`].
    fn attach_waba(
        &self,
        waba: &WabaId,
        account: &AccountId,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// `false` if the WABA was not attached to that account.
    fn detach_waba(
        &self,
        waba: &WabaId,
        account: &AccountId,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    fn get_waba_route(
        &self,
        waba: &WabaId,
    ) -> impl Future<Output = Result<Option<AccountId>, StoreError>> + Send;
}

pub trait TierBooks {
    /// Saves an immutable tiers version. The same file again is [`Saved::AlreadySaved`]; another
    /// file of the same currency and `effective_from` is [`StoreError::TiersExist`].
    fn save_tier_card(
        &self,
        card: &TierCard,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Saved, StoreError>> + Send;

    /// Every tiers version of `currency` (empty if none was uploaded).
    fn tier_book(
        &self,
        currency: Currency,
    ) -> impl Future<Output = Result<TierBook, StoreError>> + Send;
}

pub trait TierUpdates {
    /// Records `update` unless one with its key ([`TierUpdate::key`]) and an earlier instant (or
    /// the same instant and a lower tier) is recorded: a conditional write, so duplicates in any
    /// order end with the earliest. Answers the update that stands.
    fn record_tier_update(
        &self,
        update: &TierUpdate,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<TierUpdate, StoreError>> + Send;

    /// The tier updates recorded for a WABA's month (at most [`TIER_UPDATES_PER_MONTH_MAX`]).
    fn month_tier_updates(
        &self,
        waba: &WabaId,
        year: i32,
        month: Month,
    ) -> impl Future<Output = Result<Vec<TierUpdate>, StoreError>> + Send;
}
