//! Holds in the store, as a port. Every operation moves the hold and the wallet's `held` in one
//! transaction, so `held` is the sum of the open holds' `remaining` at every commit.

use std::future::Future;

use time::OffsetDateTime;

use crate::holds::{FailedSend, Hold, HoldId, HoldStatus};
use crate::ids::AccountId;
use crate::money::Money;
use crate::ports::store::StoreError;

/// Holds listed per page at most.
pub const HOLD_PAGE_LIMIT_MAX: u32 = 100;
/// Expired holds one sweep releases at most; the next run takes the rest.
pub const SWEEP_HOLDS_MAX: usize = 500;

/// What placing a hold found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldPlaced {
    /// Granted now: the wallet's `available` covered it, checked by the write's condition.
    Granted(Hold),
    /// A hold with this id exists (a replay of the same `Idempotency-Key`): as stored.
    Existing(Hold),
    /// `available` did not cover it; nothing was written. `available` as read after the refusal.
    Refused { available: Money },
}

/// What a release (delete or expiry) found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldReleased {
    /// Closed now, giving back `hold.released_amount`.
    Released(Hold),
    /// Closed before (by the sender, the sweep or a concurrent release): nothing changed.
    AlreadyClosed(Hold),
    /// Expiry asked for a hold whose time has not come (it was extended by nothing: a stale read
    /// of the index); nothing changed.
    NotDue(Hold),
}

/// A page of an account's holds, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldListRequest {
    limit: u32,
    /// Only holds with this status.
    pub status: Option<HoldStatus>,
    /// Created before this (the cursor: `created ms` and id of the last hold of a page).
    pub before: Option<(u64, HoldId)>,
}

impl HoldListRequest {
    /// `limit` is clamped to 1..=[`HOLD_PAGE_LIMIT_MAX`].
    pub fn new(limit: u32, status: Option<HoldStatus>, before: Option<(u64, HoldId)>) -> Self {
        Self {
            limit: limit.clamp(1, HOLD_PAGE_LIMIT_MAX),
            status,
            before,
        }
    }

    pub fn limit(&self) -> u32 {
        self.limit
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldPage {
    pub holds: Vec<Hold>,
    /// Where the next (older) page starts; `None` on the last page. With a status filter a page
    /// may be short and still have a next page: each read is bounded.
    pub next: Option<(u64, HoldId)>,
}

/// Holds the expiry index lists as due at a time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExpiredHolds {
    pub holds: Vec<(AccountId, HoldId)>,
    pub items_read: usize,
}

pub trait HoldStore {
    /// Places `hold` (new, open) if the wallet's `available` covers its amount, in one
    /// transaction with the wallet's `held`; a hold with its id already there is answered as is.
    fn place_hold(
        &self,
        hold: &Hold,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<HoldPlaced, StoreError>> + Send;

    fn get_hold(
        &self,
        account: &AccountId,
        hold: &HoldId,
    ) -> impl Future<Output = Result<Option<Hold>, StoreError>> + Send;

    fn hold_page(
        &self,
        account: &AccountId,
        request: &HoldListRequest,
    ) -> impl Future<Output = Result<HoldPage, StoreError>> + Send;

    /// Closes an open hold as `status` (released or expired), giving what remains back to
    /// `available`; `None` if there is no such hold. Expiry closes only a hold due at `now`.
    fn release_hold(
        &self,
        account: &AccountId,
        hold: &HoldId,
        status: HoldStatus,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Option<HoldReleased>, StoreError>> + Send;

    /// Releases the estimates of failed messages, each message once however often it is
    /// reported; answers how many were released now.
    fn release_failed(
        &self,
        account: &AccountId,
        failed: &[FailedSend],
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Open holds whose expiry is at or before `now`, from the sparse expiry index (no scan), at
    /// most `limit`.
    fn expired_holds(
        &self,
        now: OffsetDateTime,
        limit: usize,
    ) -> impl Future<Output = Result<ExpiredHolds, StoreError>> + Send;
}
