//! Releasing holds on DynamoDB: a delete or an expiry closes one (the wallet, if its version is
//! as read, and the hold, if still open, in one transaction); a failed message gives back its
//! estimate once per wamid (a marker `Put` if absent, in the same transaction).

use std::collections::{BTreeSet, HashMap};

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{TransactWriteItem, Update};
use rust_decimal::Decimal;
use time::OffsetDateTime;

use super::codec::{decimal_to_n, s, timestamp};
use super::hold_items::{HX_PK, HX_SK, hold_failed_sk, hold_sk, recovered_values};
use super::holds::{FAILED_PER_TRANSACTION_MAX, held_after, reason_codes, refused_or_conflict};
use super::{DynamoStore, POST_ATTEMPTS_MAX, backoff, built, keys, unavailable};
use crate::billing::thresholds::release_recovery;
use crate::holds::{FailedSend, Hold, HoldChange, HoldId, HoldStatus, ReleaseRecovery};
use crate::ids::AccountId;
use crate::money::Money;
use crate::ports::holds::{HoldReleased, HoldStore};
use crate::ports::store::{StoreError, WalletGet};
use crate::wallet::Wallet;

impl DynamoStore {
    /// The hold's closing update: open → `status`, nothing remaining, out of the expiry index, and
    /// the figures of the recovery when the release made one.
    fn close_update(
        &self,
        hold: &Hold,
        status: HoldStatus,
        now: OffsetDateTime,
        recovered: Option<ReleaseRecovery>,
    ) -> Update {
        let mut set = String::from(
            "SET #status = :status, remaining = :zero, released_amount = :released, \
             closed_at = :now, updated_at = :now",
        );
        let recovered_items = recovered.map(|r| recovered_values(r).to_vec());
        let recovered_items = recovered_items.unwrap_or_default();
        for (index, (name, _)) in recovered_items.iter().enumerate() {
            set.push_str(&format!(", {name} = :recovered{index}"));
        }
        let mut close = Update::builder()
            .table_name(self.table())
            .set_key(Some(Self::key(
                keys::account_pk(&hold.account_id),
                &hold_sk(&hold.id),
            )))
            .update_expression(format!("{set} REMOVE {HX_PK}, {HX_SK}"))
            .condition_expression("#status = :open")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":status", s(status.as_str()))
            .expression_attribute_values(":open", s(HoldStatus::Open.as_str()))
            .expression_attribute_values(":zero", decimal_to_n(Decimal::ZERO))
            .expression_attribute_values(":released", decimal_to_n(hold.remaining.amount()))
            .expression_attribute_values(":now", timestamp(now));
        for (index, (_, value)) in recovered_items.into_iter().enumerate() {
            close = close.expression_attribute_values(format!(":recovered{index}"), value);
        }
        built(close.build())
    }

    /// Closes `hold` (open, read after `wallet`) as `status`, if the wallet is still as read.
    async fn try_close(
        &self,
        wallet: &Wallet,
        hold: &Hold,
        status: HoldStatus,
        now: OffsetDateTime,
    ) -> Result<Option<Hold>, StoreError> {
        let change = HoldChange {
            id: hold.id.clone(),
            taken: hold.remaining,
            remaining_after: Money::zero(hold.amount.currency()),
            settled_messages: 0,
            failed_messages: 0,
            settled: Money::zero(hold.amount.currency()),
        };
        let held = held_after(wallet, std::slice::from_ref(&change));
        let wallet_update =
            self.wallet_update(wallet, wallet.balance, held, wallet.entry_count, now);
        // Exact: the wallet's update is conditioned on its version as read.
        let recovered = release_recovery(wallet, hold.remaining);
        let close = self.close_update(hold, status, now, recovered);
        let result = self
            .client()
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(wallet_update).build())
            .transact_items(TransactWriteItem::builder().update(close).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(Some(Hold {
                status,
                remaining: change.remaining_after,
                released_amount: hold.remaining,
                closed_at: Some(now),
                recovered,
                ..hold.clone()
            })),
            Err(error) => match error.as_service_error().and_then(reason_codes) {
                Some(codes) if codes.iter().any(|code| refused_or_conflict(code)) => Ok(None),
                _ => Err(unavailable(error)),
            },
        }
    }

    /// One transaction releasing `pending` failures (on open holds, not released before).
    /// `Ok(None)`: the wallet moved, try again; `Ok(Some(done))`: markers already there, or
    /// committed.
    async fn try_release_failed(
        &self,
        account: &AccountId,
        pending: &mut Vec<&FailedSend>,
        now: OffsetDateTime,
    ) -> Result<Option<u64>, StoreError> {
        let wallet = self
            .get_wallet(account)
            .await?
            .ok_or_else(|| StoreError::WalletNotFound(account.clone()))?;
        let ids: BTreeSet<HoldId> = pending.iter().map(|send| send.hold.clone()).collect();
        let holds = self
            .holds_by_id(account, &ids.into_iter().collect::<Vec<_>>())
            .await?;
        let open: BTreeSet<&HoldId> = holds
            .iter()
            .filter(|h| h.is_open())
            .map(|h| &h.id)
            .collect();
        // A failure of a closed (or unknown) hold has nothing left to release.
        pending.retain(|send| open.contains(&send.hold));
        if pending.is_empty() {
            return Ok(Some(0));
        }
        let changes = crate::holds::settle::release_failed(&holds, pending);
        let held = held_after(&wallet, &changes);
        let mut items = vec![
            TransactWriteItem::builder()
                .update(self.wallet_update(&wallet, wallet.balance, held, wallet.entry_count, now))
                .build(),
        ];
        items.extend(self.hold_settle_items(account, &changes, now));
        let first_marker = items.len();
        items.extend(
            pending
                .iter()
                .map(|send| self.failed_marker(account, send, now)),
        );
        let result = self
            .client()
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Some(pending.len() as u64)),
            Err(error) => release_refused(error, pending, first_marker),
        }
    }

    /// The marker that a failed send's estimate was given back: put only if absent, so each wamid
    /// releases once.
    fn failed_marker(
        &self,
        account: &AccountId,
        send: &FailedSend,
        now: OffsetDateTime,
    ) -> TransactWriteItem {
        self.put_new(HashMap::from([
            (keys::PK.to_owned(), s(keys::account_pk(account))),
            (keys::SK.to_owned(), s(hold_failed_sk(&send.wamid))),
            ("type".to_owned(), s("hold_failed")),
            ("hold_id".to_owned(), s(send.hold.as_str())),
            ("released_at".to_owned(), timestamp(now)),
        ]))
    }

    pub(crate) async fn release_hold_now(
        &self,
        account: &AccountId,
        hold: &HoldId,
        status: HoldStatus,
        now: OffsetDateTime,
    ) -> Result<Option<HoldReleased>, StoreError> {
        assert!(status != HoldStatus::Open, "a release closes the hold");
        for attempt in 0..POST_ATTEMPTS_MAX {
            // The wallet first, then the hold: a hold change after the wallet read moved the
            // wallet's version, so the close below is refused and read again.
            let wallet = self
                .get_wallet(account)
                .await?
                .ok_or_else(|| StoreError::WalletNotFound(account.clone()))?;
            let Some(found) = self.get_hold(account, hold).await? else {
                return Ok(None);
            };
            if !found.is_open() {
                return Ok(Some(HoldReleased::AlreadyClosed(found)));
            }
            if status == HoldStatus::Expired && found.expires_at > now {
                return Ok(Some(HoldReleased::NotDue(found)));
            }
            if let Some(closed) = self.try_close(&wallet, &found, status, now).await? {
                return Ok(Some(HoldReleased::Released(closed)));
            }
            backoff(attempt).await;
        }
        Err(StoreError::Contended {
            account: account.clone(),
            attempts: POST_ATTEMPTS_MAX,
        })
    }

    pub(crate) async fn release_failed_now(
        &self,
        account: &AccountId,
        failed: &[FailedSend],
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let mut seen = BTreeSet::new();
        let unique: Vec<&FailedSend> = failed
            .iter()
            .filter(|send| seen.insert(send.wamid.as_str()))
            .collect();
        let mut released = 0;
        for chunk in unique.chunks(FAILED_PER_TRANSACTION_MAX) {
            let mut pending: Vec<&FailedSend> = chunk.to_vec();
            let mut done = false;
            for attempt in 0..POST_ATTEMPTS_MAX {
                match self.try_release_failed(account, &mut pending, now).await? {
                    Some(count) => {
                        released += count;
                        done = true;
                        break;
                    }
                    None if pending.is_empty() => {
                        done = true;
                        break;
                    }
                    None => backoff(attempt).await,
                }
            }
            if !done {
                return Err(StoreError::Contended {
                    account: account.clone(),
                    attempts: POST_ATTEMPTS_MAX,
                });
            }
        }
        Ok(released)
    }
}

/// What a refused release of failures means (its markers are the items from `first_marker` on,
/// in `pending`'s order). Failures released before (their marker exists) leave `pending`, and the
/// rest are tried again (`Ok(None)`), as after a moved wallet or a conflict; any other error is
/// the store's.
fn release_refused<R: std::fmt::Debug>(
    error: SdkError<TransactWriteItemsError, R>,
    pending: &mut Vec<&FailedSend>,
    first_marker: usize,
) -> Result<Option<u64>, StoreError> {
    let Some(codes) = error.as_service_error().and_then(reason_codes) else {
        return Err(unavailable(error));
    };
    let released_before: BTreeSet<usize> = (first_marker..codes.len())
        .filter(|index| codes[*index] == "ConditionalCheckFailed")
        .map(|index| index - first_marker)
        .collect();
    if !released_before.is_empty() {
        let mut index = 0;
        pending.retain(|_| {
            index += 1;
            !released_before.contains(&(index - 1))
        });
        return Ok(None);
    }
    if codes.iter().any(|code| refused_or_conflict(code)) {
        return Ok(None);
    }
    Err(unavailable(error))
}
