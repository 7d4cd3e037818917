//! The statement schedule's backfill on DynamoDB Local: a wallet stored before the schedule
//! existed (no `hx_pk`/`hx_sk`) gains the schedule of the month the job runs in, in its own
//! reporting time zone, page by page from the cursor each run prints; a wallet that has one is
//! never touched; and a second run finds nothing and changes nothing.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use imcredits::adapters::dynamodb::DynamoStore;
use imcredits::handlers::statement_backfill::{BackfillRun, backfill_statement_schedule};
use imcredits::ids::AccountId;
use imcredits::money::Currency;
use imcredits::ports::statements::StatementSchedule;
use imcredits::ports::store::{EntriesPost, WalletCreate};
use imcredits::wallet::NewWallet;
use imcredits_tests::{dynamo_store_on_own_table, grant, unique_account};
use time::macros::datetime;

type Item = HashMap<String, AttributeValue>;

fn wallet_key(account: &AccountId) -> Item {
    HashMap::from([
        (
            "pk".to_owned(),
            AttributeValue::S(format!("ACCOUNT#{account}")),
        ),
        ("sk".to_owned(), AttributeValue::S("WALLET".to_owned())),
    ])
}

async fn wallet_item(store: &DynamoStore, account: &AccountId) -> Item {
    store
        .client()
        .get_item()
        .table_name(store.table())
        .set_key(Some(wallet_key(account)))
        .consistent_read(true)
        .send()
        .await
        .expect("the wallet reads")
        .item()
        .cloned()
        .expect("the wallet exists")
}

/// A wallet as stored before the schedule existed: no schedule keys, its zone Tokyo's.
async fn old_wallet(store: &DynamoStore) -> AccountId {
    let account = unique_account("stmtold");
    let created = datetime!(2025-06-01 9:00 UTC);
    store
        .create_wallet(&NewWallet::new(account.clone(), Currency::Usd), created)
        .await
        .unwrap();
    store
        .client()
        .update_item()
        .table_name(store.table())
        .set_key(Some(wallet_key(&account)))
        .update_expression("REMOVE hx_pk, hx_sk SET reporting_tz = :zone")
        .expression_attribute_values(":zone", AttributeValue::S("Asia/Tokyo".into()))
        .send()
        .await
        .unwrap();
    // Items of other kinds around it, for the pages to walk past.
    let grants: Vec<_> = (0..5).map(|n| grant(&format!("OLD-{n}"), "1")).collect();
    store
        .post_entries(&account, &grants, created)
        .await
        .unwrap();
    account
}

/// Runs of one small page each, resumed from the cursor each printed, until one says done.
async fn run_in_small_pages(store: &DynamoStore, now: time::OffsetDateTime) -> BackfillRun {
    let mut total = BackfillRun::default();
    for _ in 0..1_000 {
        let run = backfill_statement_schedule(store, total.resume.take(), 3, 1, now)
            .await
            .expect("a page runs");
        assert_eq!(run.pages, 1);
        total.pages += 1;
        total.items_examined += run.items_examined;
        total.wallets_unscheduled += run.wallets_unscheduled;
        total.scheduled += run.scheduled;
        // The printed cursor is what the next run is given.
        total.resume = run.resume.map(|cursor| cursor.to_string().parse().unwrap());
        if total.resume.is_none() {
            return total;
        }
    }
    panic!("the backfill did not finish in 1,000 pages: {total:?}");
}

#[tokio::test]
async fn an_old_wallet_gains_its_schedule_and_a_second_run_changes_nothing() {
    // A table of its own: the job reads the whole table.
    let store = dynamo_store_on_own_table("stmtbf").await;
    let old = old_wallet(&store).await;
    let new = unique_account("stmtnew");
    store
        .create_wallet(
            &NewWallet::new(new.clone(), Currency::Usd),
            datetime!(2026-03-01 0:00 UTC),
        )
        .await
        .unwrap();
    let new_before = wallet_item(&store, &new).await;
    assert!(!wallet_item(&store, &old).await.contains_key("hx_pk"));

    let now = datetime!(2026-03-10 12:00 UTC);
    let first = run_in_small_pages(&store, now).await;
    assert_eq!(
        (first.wallets_unscheduled, first.scheduled),
        (1, 1),
        "{first:?}"
    );
    assert!(first.pages > 1, "small pages, resumed: {first:?}");
    let old_after = wallet_item(&store, &old).await;
    assert!(old_after.contains_key("hx_pk") && old_after.contains_key("hx_sk"));
    assert_eq!(wallet_item(&store, &new).await, new_before, "never touched");

    // March closes in Tokyo at 2026-03-31 15:00 UTC: the sweep now lists the old wallet then.
    let listed = |at| {
        let store = store.clone();
        async move { store.closed_months(at, 100).await.unwrap() }
    };
    assert!(listed(datetime!(2026-03-31 14:59 UTC)).await.is_empty());
    let closed = listed(datetime!(2026-03-31 15:00:01 UTC)).await;
    assert_eq!(closed.len(), 1, "{closed:?}");
    assert_eq!(
        (&closed[0].account, closed[0].month.label().as_str()),
        (&old, "2026-03")
    );

    let second =
        backfill_statement_schedule(&store, None, 100, 100, now + time::Duration::days(40))
            .await
            .unwrap();
    assert_eq!(
        (second.wallets_unscheduled, second.scheduled),
        (0, 0),
        "{second:?}"
    );
    assert!(second.resume.is_none(), "done: {second:?}");
    assert_eq!(
        wallet_item(&store, &old).await,
        old_after,
        "the second run changed nothing"
    );
    assert_eq!(wallet_item(&store, &new).await, new_before);
}
