//! The store's side of purchases held for review ([`crate::payments::review`]).

use std::future::Future;

use time::OffsetDateTime;

use super::store::{Closed, Fulfilment, StoreError};
use crate::ids::AccountId;
use crate::ledger::NewEntry;
use crate::payments::PurchaseId;
use crate::payments::purchase::Purchase;
use crate::payments::review::HeldPayment;

pub trait PurchaseReview {
    /// Marks a purchase `held` with what was paid, if its status is lower (pending, expired,
    /// failed): [`Closed::Changed`]; otherwise [`Closed::Unchanged`] with the status it has. A
    /// conditional update, so a repeat changes nothing.
    fn hold_purchase(
        &self,
        purchase: &Purchase,
        held: &HeldPayment,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Closed, StoreError>> + Send;

    /// The purchase (read consistently) and, if it was ever held, what was paid.
    fn held_purchase(
        &self,
        account: &AccountId,
        purchase: &PurchaseId,
    ) -> impl Future<Output = Result<Option<(Purchase, Option<HeldPayment>)>, StoreError>> + Send;

    /// Credits a held purchase: posts `entry` (the purchase's own id) and, in the same
    /// transaction, marks it paid **only if it is still held** (otherwise
    /// [`StoreError::ExtraRefused`] and nothing is written). A repeat after success is
    /// [`Fulfilment::AlreadyCredited`].
    fn credit_held(
        &self,
        purchase: &Purchase,
        entry: &NewEntry,
        held: &HeldPayment,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Fulfilment, StoreError>> + Send;

    /// Moves a held purchase to `rejected`; [`Closed::Unchanged`] with its status when it is not
    /// held (a repeat answers `rejected`). `None` if there is no such purchase.
    fn reject_held(
        &self,
        account: &AccountId,
        purchase: &PurchaseId,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Option<Closed>, StoreError>> + Send;
}
