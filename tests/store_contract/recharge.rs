//! The store's part of auto-recharge: the sparse index of due wallets follows every balance and
//! settings change, the lock item is written once per revision, and an existing table gains the
//! index.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use imcredits::adapters::dynamodb::recharge::DUE_INDEX;
use imcredits::adapters::dynamodb::table;
use imcredits::ledger::{EntryId, EntryKind, Metadata, NewEntry};
use imcredits::money::Currency;
use imcredits::ports::recharge::RechargeStore;
use imcredits::ports::store::{EntriesPost, StoreError, WalletGet, WalletSettingsSet};
use imcredits::recharge::RechargeState;
use imcredits::recharge::attempt_id;
use imcredits::wallet::AutoRecharge;
use imcredits_tests::{Backend, assert_reconciled, at, charge, grant, new_wallet, usd};

async fn is_listed(
    store: &imcredits::adapters::dynamodb::DynamoStore,
    account: &imcredits::ids::AccountId,
) -> bool {
    store
        .due_wallets(10_000, 0)
        .await
        .unwrap()
        .accounts
        .contains(account)
}

pub async fn the_due_index_follows_balance_and_settings(backend: &Backend) {
    let store = backend.store().await;
    let wallet = new_wallet(&store, "due").await;
    let account = &wallet.account_id;
    store
        .post_entries(account, &[grant("DUE-1", "6")], at())
        .await
        .unwrap();
    let on = AutoRecharge::new(true, usd("5"), 10, Currency::Usd).unwrap();
    store.set_auto_recharge(account, &on, at()).await.unwrap();
    assert!(!is_listed(&store, account).await, "6 is not below 5");
    store
        .post_entries(account, &[charge("wamid.DUE1", "-2")], at())
        .await
        .unwrap();
    assert!(is_listed(&store, account).await, "4 is below 5");
    store
        .post_entries(account, &[grant("DUE-2", "10")], at())
        .await
        .unwrap();
    assert!(!is_listed(&store, account).await, "14 is not");
    store
        .post_entries(account, &[charge("wamid.DUE2", "-10")], at())
        .await
        .unwrap();
    assert!(is_listed(&store, account).await, "4 again");
    let off = AutoRecharge {
        enabled: false,
        ..on
    };
    store.set_auto_recharge(account, &off, at()).await.unwrap();
    assert!(!is_listed(&store, account).await, "disabled");
    let wallet = assert_reconciled(&store, account).await;
    assert!(!wallet.auto_recharge.enabled);
}

pub async fn the_recharge_lock_is_written_once_per_revision(backend: &Backend) {
    let store = backend.store().await;
    let wallet = new_wallet(&store, "lock").await;
    let account = &wallet.account_id;
    assert_eq!(store.recharge_state(account).await.unwrap(), None);
    let first = RechargeState {
        rev: 1,
        lease_until_ms: 10,
        attempt_seq: 1,
        ..RechargeState::default()
    };
    assert!(store.put_recharge_state(account, &first).await.unwrap());
    assert!(
        !store.put_recharge_state(account, &first).await.unwrap(),
        "rev 0 is gone"
    );
    let second = RechargeState {
        rev: 2,
        ..first.clone()
    };
    assert!(store.put_recharge_state(account, &second).await.unwrap());
    assert_eq!(store.recharge_state(account).await.unwrap(), Some(second));

    // A posting whose lock write is stale commits nothing, entry included.
    let attempt = attempt_id(account, 1);
    let entry = NewEntry::new(
        EntryId::auto_recharge(attempt.as_str()).unwrap(),
        EntryKind::AutoRecharge,
        usd("20"),
        "auto-recharge",
        Metadata::new(),
        at(),
    )
    .unwrap();
    let policy = imcredits::money::QuotePolicy::zoho_default(Currency::Usd);
    let quote = policy.quote(policy.credits(10).unwrap()).unwrap();
    let paid = imcredits::payments::purchase::Purchase::pending(
        imcredits::payments::PurchaseId::parse(attempt.as_str()).unwrap(),
        account.clone(),
        quote,
        "auto_recharge".into(),
        None,
        at(),
    );
    let stale = RechargeState { rev: 2, ..first };
    assert!(matches!(
        store
            .post_recharge(account, &entry, &stale, &paid, at())
            .await,
        Err(StoreError::ExtraRefused(0))
    ));
    assert_eq!(
        store
            .get_wallet(account)
            .await
            .unwrap()
            .unwrap()
            .entry_count,
        0
    );
    let current = RechargeState {
        rev: 3,
        ..RechargeState::default()
    };
    let receipt = store
        .post_recharge(account, &entry, &current, &paid, at())
        .await
        .unwrap();
    assert_eq!(receipt.posted_count(), 1);
    assert_eq!(store.recharge_state(account).await.unwrap(), Some(current));
    // In the payment history, once.
    let page = imcredits::ports::store::PurchaseRead::purchase_page(
        &store,
        account,
        &imcredits::ports::store::PurchaseListRequest::new(10, None),
    )
    .await
    .unwrap();
    assert_eq!(page.purchases.len(), 1);
    assert_eq!(page.purchases[0].id.as_str(), attempt.as_str());
    let wallet = assert_reconciled(&store, account).await;
    assert_eq!(wallet.balance, usd("20"));
}

pub async fn a_table_made_before_the_due_index_gains_it(backend: &Backend) {
    let store = backend.store().await;
    let client = store.client();
    let name = imcredits_tests::unique_account("oldtable").to_string();
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    let key = |name: &str, key_type| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(key_type)
            .build()
            .unwrap()
    };
    client
        .create_table()
        .table_name(&name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute("pk"))
        .attribute_definitions(attribute("sk"))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .send()
        .await
        .unwrap();
    table::ensure_table(client, &name).await.unwrap();
    table::ensure_table(client, &name).await.unwrap();
    let described = client
        .describe_table()
        .table_name(&name)
        .send()
        .await
        .unwrap();
    let mut indexes: Vec<&str> = described
        .table()
        .unwrap()
        .global_secondary_indexes()
        .iter()
        .filter_map(|index| index.index_name())
        .collect();
    indexes.sort_unstable();
    // The holds' expiry index (issue 13) is added the same way.
    assert_eq!(
        indexes,
        [
            imcredits::adapters::dynamodb::hold_items::HOLD_EXPIRY_INDEX,
            DUE_INDEX
        ]
    );
}

/// How many times the sweep's read lists `account`.
async fn times_listed(
    store: &imcredits::adapters::dynamodb::DynamoStore,
    account: &imcredits::ids::AccountId,
) -> usize {
    let due = store.due_wallets(10_000, 0).await.unwrap();
    due.accounts.iter().filter(|due| *due == account).count()
}

/// Simulation seeds 109, 163, ...: a charge whose answer was lost must be resumed by the sweep even
/// after the balance went back above the minimum (the card may have been charged), and listed once.
pub async fn an_attempt_in_flight_stays_listed_whatever_the_balance(backend: &Backend) {
    let store = backend.store().await;
    let wallet = new_wallet(&store, "inflight").await;
    let account = &wallet.account_id;
    let on = AutoRecharge::new(true, usd("5"), 10, Currency::Usd).unwrap();
    store.set_auto_recharge(account, &on, at()).await.unwrap();
    assert_eq!(times_listed(&store, account).await, 1, "0 is below 5");
    let policy = imcredits::money::QuotePolicy::zoho_default(Currency::Usd);
    let attempt = imcredits::recharge::InFlight {
        attempt_id: attempt_id(account, 0),
        quote: policy.quote(policy.credits(10).unwrap()).unwrap(),
        customer: imcredits::payments::ProviderCustomerId::parse("cus_inflight").unwrap(),
        payment_method: imcredits::payments::ProviderPaymentMethodId::parse("pm_inflight").unwrap(),
        started_ms: imcredits::recharge::epoch_ms(at()),
    };
    let held = RechargeState::default().held(attempt, 1, at(), std::time::Duration::ZERO);
    assert!(store.put_recharge_state(account, &held).await.unwrap());
    assert_eq!(
        times_listed(&store, account).await,
        1,
        "due and in flight: once"
    );
    store
        .post_entries(account, &[grant("INFLIGHT-1", "10")], at())
        .await
        .unwrap();
    assert_eq!(
        times_listed(&store, account).await,
        1,
        "10 is not below 5, but the attempt's answer is still unknown"
    );
    let (declined, _) = held.after_decline(at());
    assert!(store.put_recharge_state(account, &declined).await.unwrap());
    assert_eq!(
        times_listed(&store, account).await,
        0,
        "settled and not due"
    );
    assert_eq!(store.recharge_state(account).await.unwrap(), Some(declined));
    assert_reconciled(&store, account).await;
}
