//! `statement.monthly_ready`, once per account and month, when the month closes in the wallet's
//! reporting time zone: found by the scheduled sweep through the sparse index (no scan), stored in
//! the feed once and delivered by signed webhooks like every other event (verified by the
//! `standardwebhooks` library), however many sweeps run at once. DynamoDB Local, a table of its own
//! (the sweep reads every wallet's schedule in it).

use std::time::Duration;

mod statement_backfill;

use imcredits::adapters::http_webhooks::StaticResolver;
use imcredits::handlers::statements::{StatementSweep, sweep_closed_months};
use imcredits::money::Currency;
use imcredits::notices::address::AddressPolicy;
use imcredits::ports::reporting::ReportingZoneSet;
use imcredits::ports::store::WalletCreate;
use imcredits::reporting::ReportingZone;
use imcredits::wallet::NewWallet;
use imcredits_tests::app::TestApp;
use imcredits_tests::notices::{NoticesRig, notifier, quick_policy, with_id};
use imcredits_tests::receiver::Receiver;
use imcredits_tests::{dynamo_store_on_own_table, unique_account};
use serde_json::json;
use time::OffsetDateTime;
use time::macros::datetime;

const LONG: Duration = Duration::from_secs(20);

async fn sweep(rig: &NoticesRig, now: OffsetDateTime) -> StatementSweep {
    sweep_closed_months(&rig.app.store, &rig.app.notifications, now)
        .await
        .expect("the sweep runs")
}

#[tokio::test]
async fn a_month_is_announced_once_when_it_closes_in_the_wallet_s_zone() {
    let store = dynamo_store_on_own_table("stmt").await;
    let app = TestApp::spawn_on(store.clone()).await;
    let rig = NoticesRig {
        notifier: notifier(
            store.clone(),
            app.notifications.clone(),
            AddressPolicy::AllowLoopbackHttp,
            StaticResolver::default(),
            quick_policy(Duration::from_secs(60)),
        ),
        receiver: Receiver::start(),
        app,
    };
    let account = unique_account("stmt");
    store
        .create_wallet(
            &NewWallet::new(account.clone(), Currency::Usd),
            datetime!(2026-01-10 9:00 UTC),
        )
        .await
        .unwrap();
    let tokyo = ReportingZone::parse("Asia/Tokyo").unwrap();
    store
        .set_reporting_zone(
            &account,
            Currency::Usd,
            &tokyo,
            datetime!(2026-01-15 0:00 UTC),
        )
        .await
        .unwrap();
    rig.register(
        Some(&account),
        "/statements",
        &["statement.monthly_ready"],
        json!({}),
    )
    .await;

    // January closes in Tokyo at 2026-01-31 15:00 UTC; in UTC it would be 9 hours later.
    assert_eq!(
        sweep(&rig, datetime!(2026-01-31 14:59:59 UTC)).await,
        StatementSweep::default()
    );
    let closed = datetime!(2026-01-31 15:00:01 UTC);
    let (first, second) = tokio::join!(sweep(&rig, closed), sweep(&rig, closed));
    assert_eq!(
        first.announced + second.announced,
        1,
        "{first:?} {second:?}"
    );
    assert_eq!(sweep(&rig, closed).await.due, 0, "moved on to February");

    let id = format!("statement.monthly_ready:{account}:2026-01");
    rig.run_until(LONG, |log| !with_id(log, &id).is_empty())
        .await;
    let log = rig.run_for(Duration::from_millis(500)).await;
    let got = with_id(&log, &id);
    assert_eq!(got.len(), 1, "one delivery however many sweeps: {log:?}");
    assert_eq!(got[0]["verified"], json!([true]));
    assert_eq!(got[0]["body"]["type"], "statement.monthly_ready");
    assert_eq!(got[0]["body"]["data"]["month"], "2026-01");
    let feed = rig.feed(&account).await;
    let stored: Vec<_> = feed["notices"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|notice| notice["id"] == id.as_str())
        .collect();
    assert_eq!(stored.len(), 1, "{feed}");
    assert_eq!(stored[0]["unread"], true);

    // February: not before it closes, once after.
    assert_eq!(sweep(&rig, datetime!(2026-02-28 14:59 UTC)).await.due, 0);
    let february = sweep(&rig, datetime!(2026-02-28 15:00 UTC)).await;
    assert_eq!(february.announced, 1);
    let id = format!("statement.monthly_ready:{account}:2026-02");
    let log = rig
        .run_until(LONG, |log| !with_id(log, &id).is_empty())
        .await;
    assert_eq!(with_id(&log, &id).len(), 1);
}
