//! The store's contract: exactly-once postings, exact balances under concurrency, safe retries,
//! gap-free statements. Run against DynamoDB Local (`store_dynamodb.rs`) and against the local
//! runner's embedded engine (`store_dynoxide.rs`), so the two cannot drift apart. Every test ends by
//! reconciling its wallets.

use aws_sdk_dynamodb::types::AttributeValue;
use imcredits::ids::{AccountId, PhoneNumberId};
use imcredits::ledger::{EntryOutcome, LedgerError, NewEntry};
use imcredits::money::{Currency, Money, MoneyError};
use imcredits::ports::store::{
    EntriesPost, RouteGet, RouteSet, StatementRead, StatementRequest, StoreError, WalletCreate,
    WalletGet,
};
use imcredits::wallet::NewWallet;
use imcredits_tests::faults::{FailOperation, Fault};
use imcredits_tests::{
    Backend, TEST_TABLE, assert_reconciled, at, charge, grant, new_wallet, unique_account, usd,
    whole_statement,
};
use rust_decimal::Decimal;

mod holds_due;
mod purchases;
mod recharge;
mod usage;
mod versions;
pub use holds_due::*;
pub use purchases::*;
pub use recharge::*;
pub use usage::*;
pub use versions::*;

/// The one list of the contract: `store_contract_on!(backend)` makes a test of each on `backend`
/// (an expression evaluated inside each test, so it may `.await`).
macro_rules! store_contract_on {
    ($backend:expr) => {
        store_contract_tests!($backend;
        the_same_entry_posted_twenty_times_moves_the_balance_once,
        eight_tasks_of_fifty_charges_end_exact_with_a_gap_free_chain,
        a_write_that_fails_once_and_is_retried_ends_as_if_it_had_not_failed,
        a_batch_with_some_duplicates_posts_the_rest_and_reports_each,
        statement_pages_return_every_entry_once_in_order,
        a_delivered_charge_may_overdraw_and_then_blocks_sending,
        refused_postings_change_nothing,
        a_wallet_is_created_once,
        a_phone_number_routes_to_one_wallet,
        extras_commit_with_new_entries_only,
        // Purchases.
        a_purchase_is_recorded_once_and_credited_once_whatever_the_order,
        a_fulfilment_whose_answer_is_lost_is_credited_once_on_retry,
        purchase_history_pages_newest_first_within_one_account,
        the_newest_purchase_s_card_is_kept,
        // Auto-recharge.
        the_due_index_follows_balance_and_settings,
        the_recharge_lock_is_written_once_per_revision,
        a_table_made_before_the_due_index_gains_it,
        an_attempt_in_flight_stays_listed_whatever_the_balance,
        // Holds: what is judged on available follows them.
        holds_refresh_the_due_index_and_can_send,
        // Usage aggregates: typed labels, the same strings stored.
        usage_labels_round_trip_through_the_table_as_the_same_strings,
        unreadable_usage_labels_are_refused_and_corrupt_items_named,
        // Immutable versions: rate cards, tiers files, market lists.
        an_immutable_version_is_created_once_then_replayed_or_refused,
        writers_racing_for_one_instant_end_with_one_version,
        );
    };
}

macro_rules! store_contract_tests {
    ($backend:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let backend = $backend;
                store_contract::$name(&backend).await;
            }
        )*
    };
}

pub async fn the_same_entry_posted_twenty_times_moves_the_balance_once(backend: &Backend) {
    let store = backend.store().await;
    let wallet = new_wallet(&store, "twenty").await;
    let account = &wallet.account_id;
    store
        .post_entries(account, &[grant("ORDER-1", "10")], at())
        .await
        .unwrap();

    let entry = charge("wamid.TWENTY", "-0.0125");
    let mut posted = 0;
    for _ in 0..20 {
        let receipt = store
            .post_entries(account, std::slice::from_ref(&entry), at())
            .await
            .unwrap();
        assert_eq!(receipt.outcomes.len(), 1);
        posted += receipt.posted_count();
        assert_eq!(receipt.wallet.balance, usd("9.9875"));
    }
    assert_eq!(posted, 1);

    // The same, twenty at once: the replays race the first posting and still cannot double it.
    let racing = charge("wamid.RACING", "-1");
    let posts = (0..20).map(|_| {
        let (store, account, racing) = (store.clone(), account.clone(), racing.clone());
        tokio::spawn(async move { store.post_entries(&account, &[racing], at()).await })
    });
    let mut posted = 0;
    for post in posts {
        posted += post.await.unwrap().unwrap().posted_count();
    }
    assert_eq!(posted, 1);

    let wallet = assert_reconciled(&store, account).await;
    assert_eq!(wallet.balance, usd("8.9875"));
    assert_eq!(wallet.entry_count, 3);
}

pub async fn eight_tasks_of_fifty_charges_end_exact_with_a_gap_free_chain(backend: &Backend) {
    let store = backend.store().await;
    const TASKS: usize = 8;
    const CHARGES_PER_TASK: usize = 50;
    let wallet = new_wallet(&store, "concurrent").await;
    let account = wallet.account_id.clone();
    store
        .post_entries(&account, &[grant("FUNDS", "100")], at())
        .await
        .unwrap();

    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let (store, account) = (store.clone(), account.clone());
            tokio::spawn(async move {
                for index in 0..CHARGES_PER_TASK {
                    // Distinct amounts, so a lost update would show in the balance.
                    let amount = format!("-0.{:04}", 1 + task * CHARGES_PER_TASK + index);
                    let entry = charge(&format!("wamid.T{task}.{index}"), &amount);
                    let receipt = store.post_entries(&account, &[entry], at()).await.unwrap();
                    assert_eq!(receipt.posted_count(), 1);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }

    // 100 - (1 + 2 + ... + 400) / 10_000
    let charged = Decimal::new((1..=(TASKS * CHARGES_PER_TASK) as i64).sum::<i64>(), 4);
    let wallet = assert_reconciled(&store, &account).await;
    assert_eq!(wallet.balance.amount(), Decimal::from(100) - charged);
    assert_eq!(wallet.entry_count, 1 + (TASKS * CHARGES_PER_TASK) as u64);
    let statement = whole_statement(&store, &account, 100).await;
    let seqs: Vec<u64> = statement.iter().map(|entry| entry.seq).collect();
    assert_eq!(seqs, (1..=wallet.entry_count).rev().collect::<Vec<_>>());
}

/// Posts `entries` through a client whose first `TransactWriteItems` suffers `fault`, retries once
/// the way any caller (or SQS) would, and returns the retry's outcomes.
async fn post_through_fault(
    backend: &Backend,
    fault: Fault,
    account: &AccountId,
    entries: &[NewEntry],
) -> Vec<bool> {
    let failing = FailOperation::new("TransactWriteItems", fault, 1);
    let interceptor = failing.clone();
    let store = backend
        .store_with(move |config| config.interceptor(interceptor))
        .await;
    let first = store.post_entries(account, entries, at()).await;
    assert!(
        matches!(first, Err(StoreError::Unavailable(_))),
        "the injected fault reaches the caller: {first:?}"
    );
    assert_eq!(failing.remaining(), 0, "the fault was injected");
    let retry = store.post_entries(account, entries, at()).await.unwrap();
    retry.outcomes.iter().map(EntryOutcome::is_posted).collect()
}

pub async fn a_write_that_fails_once_and_is_retried_ends_as_if_it_had_not_failed(
    backend: &Backend,
) {
    let store = backend.store().await;
    let batch = [
        grant("ORDER-F", "5"),
        charge("wamid.F1", "-0.25"),
        charge("wamid.F2", "-0.0125"),
    ];
    let control = new_wallet(&store, "control").await;
    store
        .post_entries(&control.account_id, &batch, at())
        .await
        .unwrap();
    let expected = assert_reconciled(&store, &control.account_id).await;
    let expected_lines: Vec<_> = whole_statement(&store, &control.account_id, 10)
        .await
        .into_iter()
        .map(|entry| (entry.id, entry.seq, entry.amount, entry.balance_after))
        .collect();

    for (fault, retry_posts) in [(Fault::RequestLost, true), (Fault::AnswerLost, false)] {
        let wallet = new_wallet(&store, "fault").await;
        let outcomes = post_through_fault(backend, fault, &wallet.account_id, &batch).await;
        // A lost request posts on the retry; a lost answer had posted, so the retry sees replays.
        assert_eq!(outcomes, [retry_posts; 3], "{fault:?}");
        let after = assert_reconciled(&store, &wallet.account_id).await;
        assert_eq!(
            (after.balance, after.entry_count, after.version),
            (expected.balance, expected.entry_count, expected.version),
            "{fault:?}"
        );
        let lines: Vec<_> = whole_statement(&store, &wallet.account_id, 10)
            .await
            .into_iter()
            .map(|entry| (entry.id, entry.seq, entry.amount, entry.balance_after))
            .collect();
        assert_eq!(lines, expected_lines, "{fault:?}");
    }
}

pub async fn a_batch_with_some_duplicates_posts_the_rest_and_reports_each(backend: &Backend) {
    let store = backend.store().await;
    let wallet = new_wallet(&store, "partial").await;
    let account = &wallet.account_id;
    store
        .post_entries(account, &[grant("G", "1"), charge("wamid.A", "-0.1")], at())
        .await
        .unwrap();
    let batch = [
        charge("wamid.A", "-0.1"),
        charge("wamid.B", "-0.2"),
        charge("wamid.B", "-0.2"),
        charge("wamid.C", "-0.3"),
    ];
    let receipt = store.post_entries(account, &batch, at()).await.unwrap();
    let posted: Vec<bool> = receipt
        .outcomes
        .iter()
        .map(EntryOutcome::is_posted)
        .collect();
    assert_eq!(posted, [false, true, false, true]);
    // A replay carries the entry as first posted.
    assert_eq!(receipt.outcomes[0].entry().seq, 2);
    assert_eq!(receipt.outcomes[2].entry(), receipt.outcomes[1].entry());
    assert_eq!(receipt.wallet.balance, usd("0.4"));
    assert_reconciled(&store, account).await;
}

pub async fn statement_pages_return_every_entry_once_in_order(backend: &Backend) {
    let store = backend.store().await;
    let wallet = new_wallet(&store, "paging").await;
    let account = &wallet.account_id;
    // Postings of different sizes, so pages cut through journals at every kind of boundary.
    let mut number = 0;
    for size in [1, 5, 13, 1, 17, 2, 90] {
        let batch: Vec<NewEntry> = (0..size)
            .map(|_| {
                number += 1;
                grant(&format!("P{number}"), "0.01")
            })
            .collect();
        store.post_entries(account, &batch, at()).await.unwrap();
    }
    let total = number as u64;
    for limit in [1, 2, 7, 10, 13, 90, 100] {
        let entries = whole_statement(&store, account, limit).await;
        let seqs: Vec<u64> = entries.iter().map(|entry| entry.seq).collect();
        assert_eq!(seqs, (1..=total).rev().collect::<Vec<_>>(), "limit {limit}");
    }
    // A full last page does not promise a page that is not there.
    let page = store
        .statement_page(account, &StatementRequest::new(100, None))
        .await
        .unwrap();
    assert_eq!(page.entries.len(), 100);
    let last = store
        .statement_page(account, &StatementRequest::new(100, page.next_cursor))
        .await
        .unwrap();
    assert_eq!(last.entries.len(), (total - 100) as usize);
    assert_eq!(last.next_cursor, None);
    assert_reconciled(&store, account).await;
}

pub async fn a_delivered_charge_may_overdraw_and_then_blocks_sending(backend: &Backend) {
    let store = backend.store().await;
    let wallet = new_wallet(&store, "overdraw").await;
    let account = &wallet.account_id;
    assert!(!wallet.can_send());
    let receipt = store
        .post_entries(account, &[grant("G1", "0.01")], at())
        .await
        .unwrap();
    assert!(receipt.wallet.can_send());
    let receipt = store
        .post_entries(account, &[charge("wamid.O", "-0.0125")], at())
        .await
        .unwrap();
    assert_eq!(receipt.wallet.balance, usd("-0.0025"));
    let stored = store.get_wallet(account).await.unwrap().unwrap();
    assert!(!stored.can_send());
    let output = store
        .client()
        .get_item()
        .table_name(TEST_TABLE)
        .key("pk", AttributeValue::S(format!("ACCOUNT#{account}")))
        .key("sk", AttributeValue::S("WALLET".into()))
        .send()
        .await
        .unwrap();
    let item = output.item().unwrap();
    assert_eq!(item.get("can_send"), Some(&AttributeValue::Bool(false)));
    store
        .post_entries(account, &[grant("G2", "1")], at())
        .await
        .unwrap();
    assert!(assert_reconciled(&store, account).await.can_send());
}

pub async fn refused_postings_change_nothing(backend: &Backend) {
    let store = backend.store().await;
    let wallet = new_wallet(&store, "refused").await;
    let account = &wallet.account_id;
    store
        .post_entries(account, &[grant("G", "1")], at())
        .await
        .unwrap();

    let euros = NewEntry::new(
        imcredits::ledger::EntryId::grant("EUR-1").unwrap(),
        imcredits::ledger::EntryKind::Grant,
        Money::parse("1", Currency::Eur).unwrap(),
        "",
        imcredits::ledger::Metadata::new(),
        at(),
    )
    .unwrap();
    let mixed = [charge("wamid.OK", "-0.1"), euros];
    assert!(matches!(
        store.post_entries(account, &mixed, at()).await,
        Err(StoreError::Rejected(LedgerError::Money(
            MoneyError::CurrencyMismatch { .. }
        )))
    ));
    assert!(matches!(
        store.post_entries(account, &[], at()).await,
        Err(StoreError::Rejected(LedgerError::EmptyBatch))
    ));
    let nobody = unique_account("nobody");
    assert!(matches!(
        store.post_entries(&nobody, &[grant("G", "1")], at()).await,
        Err(StoreError::WalletNotFound(_))
    ));
    assert_eq!(store.get_wallet(&nobody).await.unwrap(), None);
    let after = assert_reconciled(&store, account).await;
    assert_eq!((after.balance, after.entry_count), (usd("1"), 1));
}

pub async fn a_wallet_is_created_once(backend: &Backend) {
    let store = backend.store().await;
    let account = unique_account("create");
    let new = NewWallet::new(account.clone(), Currency::Inr)
        .with_low_balance_threshold(Money::parse("100", Currency::Inr).unwrap())
        .unwrap();
    let created = store.create_wallet(&new, at()).await.unwrap();
    assert_eq!(
        store.get_wallet(&account).await.unwrap(),
        Some(created.clone())
    );
    assert!(matches!(
        store
            .create_wallet(&NewWallet::new(account.clone(), Currency::Usd), at())
            .await,
        Err(StoreError::WalletExists(_))
    ));
    let kept = assert_reconciled(&store, &account).await;
    assert_eq!(
        (kept.currency, kept.balance),
        (Currency::Inr, Money::zero(Currency::Inr))
    );
}

pub async fn a_phone_number_routes_to_one_wallet(backend: &Backend) {
    let store = backend.store().await;
    let first = new_wallet(&store, "route-a").await.account_id;
    let second = new_wallet(&store, "route-b").await.account_id;
    let phone =
        PhoneNumberId::parse(&format!("1{}", at().unix_timestamp_nanos() % 1_000_000_007)).unwrap();
    let fresh_phone = PhoneNumberId::parse(&format!("2{}", std::process::id())).unwrap();

    assert_eq!(store.get_route(&phone).await.unwrap(), None);
    assert!(matches!(
        store
            .attach_route(&fresh_phone, &unique_account("ghost"), at())
            .await,
        Err(StoreError::WalletNotFound(_))
    ));
    store.attach_route(&phone, &first, at()).await.unwrap();
    store.attach_route(&phone, &first, at()).await.unwrap();
    assert!(matches!(
        store.attach_route(&phone, &second, at()).await,
        Err(StoreError::RouteTaken(_))
    ));
    assert_eq!(store.get_route(&phone).await.unwrap(), Some(first.clone()));
    assert!(!store.detach_route(&phone, &second).await.unwrap());
    assert!(store.detach_route(&phone, &first).await.unwrap());
    assert_eq!(store.get_route(&phone).await.unwrap(), None);
    store.attach_route(&phone, &second, at()).await.unwrap();
    assert_eq!(store.get_route(&phone).await.unwrap(), Some(second.clone()));
    assert!(store.detach_route(&phone, &second).await.unwrap());
    assert_reconciled(&store, &first).await;
    assert_reconciled(&store, &second).await;
}

/// Extras commit with the entries they belong to, and only with entries that are new.
pub async fn extras_commit_with_new_entries_only(backend: &Backend) {
    use aws_sdk_dynamodb::types::{TransactWriteItem, Update};
    let store = backend.store().await;
    let wallet = new_wallet(&store, "extras").await;
    let account = wallet.account_id.clone();
    let counter_key = format!("EXTRA#{account}");
    let bump = |condition: Option<&'static str>| {
        let key = counter_key.clone();
        move |_: &imcredits::wallet::Wallet, posted: &[imcredits::ledger::LedgerEntry]| {
            let update = Update::builder()
                .table_name(TEST_TABLE)
                .key("pk", AttributeValue::S(key.clone()))
                .key("sk", AttributeValue::S("COUNTER".into()))
                .update_expression("ADD entries :n")
                .expression_attribute_values(":n", AttributeValue::N(posted.len().to_string()))
                .set_condition_expression(condition.map(str::to_owned))
                .build()
                .unwrap();
            vec![TransactWriteItem::builder().update(update).build()]
        }
    };
    let counter = || async {
        let output = store
            .client()
            .get_item()
            .table_name(TEST_TABLE)
            .key("pk", AttributeValue::S(counter_key.clone()))
            .key("sk", AttributeValue::S("COUNTER".into()))
            .consistent_read(true)
            .send()
            .await
            .unwrap();
        output
            .item()
            .and_then(|item| item.get("entries"))
            .map(|n| n.as_n().unwrap().clone())
    };
    let first = [grant("X1", "1"), grant("X2", "1")];
    store
        .post_entries_with(&account, &first, at(), &bump(None))
        .await
        .unwrap();
    assert_eq!(counter().await.as_deref(), Some("2"));
    // A replay writes nothing, extras included.
    store
        .post_entries_with(&account, &first, at(), &bump(None))
        .await
        .unwrap();
    assert_eq!(counter().await.as_deref(), Some("2"));
    // Partly new: the extras see only the new entry.
    let mixed = [grant("X2", "1"), grant("X3", "1")];
    store
        .post_entries_with(&account, &mixed, at(), &bump(None))
        .await
        .unwrap();
    assert_eq!(counter().await.as_deref(), Some("3"));
    // A refused extra refuses the whole posting.
    let refused = store
        .post_entries_with(
            &account,
            &[grant("X4", "1")],
            at(),
            &bump(Some("attribute_not_exists(pk)")),
        )
        .await;
    assert!(
        matches!(refused, Err(StoreError::ExtraRefused(0))),
        "{refused:?}"
    );
    assert_eq!(counter().await.as_deref(), Some("3"));
    let after = assert_reconciled(&store, &account).await;
    assert_eq!((after.entry_count, after.balance), (3, usd("3")));
}
