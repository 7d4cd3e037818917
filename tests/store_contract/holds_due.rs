//! What is judged on `available` follows every hold in the hold's own transaction: the sparse
//! index of wallets due an auto-recharge, the stored `can_send`, and the crossings a placement
//! records (low balance, depleted) for its notices.

use aws_sdk_dynamodb::types::AttributeValue;
use imcredits::adapters::dynamodb::DynamoStore;
use imcredits::holds::HoldStatus;
use imcredits::holds::placement::PlacementCrossings;
use imcredits::ids::AccountId;
use imcredits::money::Currency;
use imcredits::ports::holds::HoldStore;
use imcredits::ports::recharge::RechargeStore;
use imcredits::ports::store::{EntriesPost, WalletGet, WalletSettingsSet};
use imcredits::wallet::AutoRecharge;
use imcredits_tests::holds::{flat_card, granted_hold};
use imcredits_tests::{Backend, TEST_TABLE, assert_reconciled, at, grant, new_wallet, usd};

/// Whether the wallet is due, and its stored `can_send`, as the table has them.
async fn due_and_can_send(store: &DynamoStore, account: &AccountId) -> (bool, bool) {
    let listed = store
        .due_wallets(10_000, 0)
        .await
        .unwrap()
        .accounts
        .contains(account);
    let item = store
        .client()
        .get_item()
        .table_name(TEST_TABLE)
        .key("pk", AttributeValue::S(format!("ACCOUNT#{account}")))
        .key("sk", AttributeValue::S("WALLET".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    let stored = item.item().and_then(|item| item.get("can_send")).cloned();
    let wallet = store.get_wallet(account).await.unwrap().unwrap();
    assert_eq!(
        stored,
        Some(AttributeValue::Bool(wallet.can_send())),
        "stored can_send"
    );
    (listed, wallet.can_send())
}

pub async fn holds_refresh_the_due_index_and_can_send(backend: &Backend) {
    let store = backend.store().await;
    flat_card(&store).await;
    let wallet = new_wallet(&store, "holddue").await;
    let account = &wallet.account_id;
    store
        .post_entries(account, &[grant("HOLDDUE-1", "1.00")], at())
        .await
        .unwrap();
    let on = AutoRecharge::new(true, usd("0.50"), 10, Currency::Usd).unwrap();
    store.set_auto_recharge(account, &on, at()).await.unwrap();
    store
        .set_low_balance_threshold(account, usd("0.60"), at())
        .await
        .unwrap();
    assert_eq!(due_and_can_send(&store, account).await, (false, true));

    // 40 × 0.0125 = 0.50 held: 0.50 available, not below the minimum; below the threshold.
    let a = granted_hold(&store, account, "hold-due-a", 40).await;
    assert_eq!(
        a.placed,
        PlacementCrossings {
            low: true,
            depleted: false
        }
    );
    assert_eq!(due_and_can_send(&store, account).await, (false, true));
    // One more message: 0.4875 available, below the minimum of 0.50: due, by the hold alone.
    let b = granted_hold(&store, account, "hold-due-b", 1).await;
    assert_eq!(b.placed, PlacementCrossings::default(), "already low");
    assert_eq!(due_and_can_send(&store, account).await, (true, true));
    // Releasing it gives 0.50 back: no longer due.
    store
        .release_hold(account, &b.id, HoldStatus::Released, at())
        .await
        .unwrap();
    assert_eq!(due_and_can_send(&store, account).await, (false, true));
    // Holding the rest: nothing available, sending stops, due.
    let c = granted_hold(&store, account, "hold-due-c", 40).await;
    assert!(c.placed.depleted && !c.placed.low);
    assert_eq!(due_and_can_send(&store, account).await, (true, false));
    // Expiry and release give it all back.
    store
        .release_hold(account, &c.id, HoldStatus::Released, at())
        .await
        .unwrap();
    store
        .release_hold(account, &a.id, HoldStatus::Released, at())
        .await
        .unwrap();
    assert_eq!(due_and_can_send(&store, account).await, (false, true));
    // Auto-recharge off: a hold never makes the wallet due.
    let off = AutoRecharge {
        enabled: false,
        ..on
    };
    store.set_auto_recharge(account, &off, at()).await.unwrap();
    granted_hold(&store, account, "hold-due-d", 79).await;
    assert_eq!(due_and_can_send(&store, account).await, (false, true));
    let wallet = assert_reconciled(&store, account).await;
    assert_eq!(wallet.available(), usd("0.0125"));
}
