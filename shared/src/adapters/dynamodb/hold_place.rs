//! Placing a hold on DynamoDB: one transaction of the wallet's update, the hold (`Put` if absent:
//! the `Idempotency-Key`'s hold id) and its log item.
//!
//! The wallet's update is granted on the *condition* `available >= :amount` (the refusal is the
//! condition, never a read) and, in the same update, refreshes what is judged on `available`: the
//! stored `can_send` and the sparse index of wallets due an auto-recharge. Those follow from the
//! comparisons of [`crate::holds::placement`], each of which is also part of the condition (with
//! the settings they were computed from), so concurrent placements never need the wallet's version
//! and what commits is exact. A placement refused by one of those comparisons (another placement
//! or posting moved `available` across it) reads the wallet again and retries.

use aws_sdk_dynamodb::types::{TransactWriteItem, Update};
use time::OffsetDateTime;

use super::codec::{self, decimal_to_n, n, s, timestamp};
use super::hold_items::{hold_item, hold_log_item};
use super::holds::reason_codes;
use super::recharge::due_update_of;
use super::{DynamoStore, POST_ATTEMPTS_MAX, backoff, built, keys, unavailable};
use crate::holds::Hold;
use crate::holds::placement::{PlacementFacts, placement_facts};
use crate::ports::holds::{HoldPlaced, HoldStore};
use crate::ports::store::StoreError;
use crate::wallet::Wallet;

impl DynamoStore {
    /// The placement's wallet update: granted and refreshed only on its conditions.
    fn hold_grant_update(
        &self,
        wallet: &Wallet,
        hold: &Hold,
        facts: &PlacementFacts,
        now: OffsetDateTime,
    ) -> TransactWriteItem {
        let due = due_update_of(&hold.account_id, facts.due_after);
        let mut condition = String::from(
            "currency = :currency AND available >= :amount AND ar_enabled = :ar_enabled \
             AND ar_minimum_balance = :ar_minimum AND low_balance_threshold = :threshold",
        );
        let mut update = Update::builder()
            .table_name(self.table())
            .set_key(Some(Self::key(
                keys::account_pk(&hold.account_id),
                keys::WALLET_SK,
            )))
            .update_expression(format!(
                "SET held = held + :amount, available = available - :amount, \
                 version = version + :one, updated_at = :now, can_send = :can_send{}",
                due.expression
            ))
            .set_expression_attribute_values(Some(due.values));
        for (index, band) in facts.bands.iter().enumerate() {
            let name = format!(":band{index}");
            let comparison = if band.greater_than { ">" } else { "<" };
            let clause = format!("available {comparison} {name}");
            if band.outcome {
                condition.push_str(&format!(" AND {clause}"));
            } else {
                condition.push_str(&format!(" AND NOT ({clause})"));
            }
            update = update.expression_attribute_values(name, decimal_to_n(band.bound));
        }
        let settings = &wallet.auto_recharge;
        let update = update
            .condition_expression(condition)
            .expression_attribute_values(":amount", decimal_to_n(hold.amount.amount()))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":now", timestamp(now))
            .expression_attribute_values(":currency", s(hold.amount.currency().code()))
            .expression_attribute_values(
                ":can_send",
                aws_sdk_dynamodb::types::AttributeValue::Bool(facts.can_send_after),
            )
            .expression_attribute_values(
                ":ar_enabled",
                aws_sdk_dynamodb::types::AttributeValue::Bool(settings.enabled),
            )
            .expression_attribute_values(
                ":ar_minimum",
                decimal_to_n(settings.minimum_balance.amount()),
            )
            .expression_attribute_values(
                ":threshold",
                decimal_to_n(wallet.low_balance_threshold.amount()),
            );
        TransactWriteItem::builder()
            .update(built(update.build()))
            .build()
    }

    /// The wallet as stored, with `held` and `available` (a wallet from before holds gains them).
    async fn wallet_for_placement(&self, hold: &Hold) -> Result<Wallet, StoreError> {
        let account = &hold.account_id;
        for _ in 0..2 {
            let item = self
                .wallet_item_for_holds(account)
                .await?
                .ok_or_else(|| StoreError::WalletNotFound(account.clone()))?;
            if item.contains_key("available") {
                return codec::wallet_from_item(&item);
            }
        }
        Err(StoreError::Corrupt(format!(
            "wallet {account} did not gain held and available"
        )))
    }

    pub(super) async fn place_hold_now(
        &self,
        hold: &Hold,
        now: OffsetDateTime,
    ) -> Result<HoldPlaced, StoreError> {
        assert!(hold.is_open() && hold.remaining == hold.amount);
        let account = &hold.account_id;
        let mut wallet = self.wallet_for_placement(hold).await?;
        for attempt in 0..POST_ATTEMPTS_MAX {
            if wallet.currency != hold.amount.currency() {
                // A wallet's currency never changes: no hold in another one is ever granted.
                return Ok(HoldPlaced::Refused {
                    available: wallet.available(),
                });
            }
            let facts = placement_facts(&wallet, hold.amount);
            let placed = Hold {
                placed: facts.crossings,
                ..hold.clone()
            };
            let result = self
                .client()
                .transact_write_items()
                .transact_items(self.hold_grant_update(&wallet, &placed, &facts, now))
                .transact_items(self.put_new(hold_item(&placed)))
                .transact_items(self.put_new(hold_log_item(&placed)))
                .send()
                .await;
            let Err(error) = result else {
                return Ok(HoldPlaced::Granted(placed));
            };
            let Some(codes) = error.as_service_error().and_then(reason_codes) else {
                return Err(unavailable(error));
            };
            let failed = |index: usize| codes.get(index).map(String::as_str);
            if failed(1) == Some("ConditionalCheckFailed") {
                let existing = self.get_hold(account, &hold.id).await?.ok_or_else(|| {
                    StoreError::Corrupt(format!("hold {} refused as existing, not found", hold.id))
                })?;
                return Ok(HoldPlaced::Existing(existing));
            }
            if failed(0) == Some("ConditionalCheckFailed") {
                // Refused by a condition: either `available` does not cover the hold (say so, with
                // what is available now) or it, or a setting, moved across a comparison: again.
                wallet = self.wallet_for_placement(hold).await?;
                if wallet.available().amount() < hold.amount.amount() {
                    return Ok(HoldPlaced::Refused {
                        available: wallet.available(),
                    });
                }
                continue;
            }
            if codes.iter().any(|code| code == "TransactionConflict") {
                backoff(attempt).await;
                wallet = self.wallet_for_placement(hold).await?;
                continue;
            }
            return Err(StoreError::Unavailable(format!("hold refused: {codes:?}")));
        }
        Err(StoreError::Contended {
            account: account.clone(),
            attempts: POST_ATTEMPTS_MAX,
        })
    }
}
