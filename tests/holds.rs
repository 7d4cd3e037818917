//! Holds on DynamoDB Local (issue 13): granted only under the store's condition, settled once by
//! their charges however often and in whatever order the statuses come, failures releasing their
//! share, expiry releasing the rest exactly once, crashes ending as if they had not happened.
//! Every test ends with `held` = the sum of the open holds and a reconciled ledger.

use imcredits::billing::message::pack;
use imcredits::handlers::batch::Record;
use imcredits::handlers::holds::sweep_expired_holds;
use imcredits::holds::HoldStatus;
use imcredits::meta::parse_webhook;
use imcredits::ports::holds::{HoldPlaced, HoldReleased, HoldStore};
use imcredits::ports::store::{ChargesPost, EntriesPost, WalletGet};
use imcredits_tests::faults::{FailOperation, Fault};
use imcredits_tests::holds::{
    failed, flat_card, funded_wallet, granted_hold, hold_charge, new_hold,
};
use imcredits_tests::pipeline::{Pipeline, meta_body, pmp};
use imcredits_tests::{
    Backend, assert_reconciled, at, dynamo_store, dynamo_store_on_own_table, grant, new_wallet, usd,
};
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

mod holds_api;
mod holds_props;
mod holds_recovered;

fn records(phone: &str, statuses: Vec<Value>) -> Vec<Record> {
    let batch = parse_webhook(&meta_body(phone, statuses)).expect("the body parses");
    pack(&batch)
        .into_iter()
        .enumerate()
        .map(|(index, body)| Record {
            id: index.to_string(),
            body,
        })
        .collect()
}

/// Out of order, deterministically: position i moves to (7919 i) mod n, a permutation for any n
/// that 7919 (prime) does not divide.
fn scramble(statuses: &mut Vec<Value>) {
    let n = statuses.len();
    assert!(!n.is_multiple_of(7919));
    let mut placed: Vec<(usize, Value)> = statuses
        .drain(..)
        .enumerate()
        .map(|(i, status)| ((i * 7919) % n, status))
        .collect();
    placed.sort_by_key(|(at, _)| *at);
    statuses.extend(placed.into_iter().map(|(_, status)| status));
}

fn tagged(wamid: &str, state: &str, tag: &str) -> Value {
    let mut status = json!({"id": wamid, "status": state, "timestamp": "1750030073",
        "recipient_id": "919876543210", "biz_opaque_callback_data": tag});
    if state != "failed" {
        status["pricing"] = pmp("regular", "marketing");
    }
    status
}

#[tokio::test]
async fn fifty_concurrent_holds_against_a_balance_for_ten_grant_exactly_ten() {
    let store = dynamo_store().await;
    // 100 messages at 0.0125 is 1.25 a hold: 12.50 covers exactly ten.
    let account = funded_wallet(&store, "holds50", "12.50").await;
    let now = OffsetDateTime::now_utc();
    let tasks: Vec<_> = (0..50)
        .map(|index| {
            let (store, account) = (store.clone(), account.clone());
            tokio::spawn(async move {
                let hold = new_hold(
                    &store,
                    &account,
                    &format!("k{index}"),
                    100,
                    now,
                    Duration::hours(1),
                )
                .await;
                store.place_hold(&hold, now).await.unwrap()
            })
        })
        .collect();
    let (mut granted, mut refused) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            HoldPlaced::Granted(_) => granted += 1,
            HoldPlaced::Refused { available } => {
                assert!(!available.is_negative(), "available never below zero");
                assert!(available.amount() < usd("1.25").amount());
                refused += 1;
            }
            HoldPlaced::Existing(hold) => panic!("distinct keys: {hold:?}"),
        }
    }
    assert_eq!((granted, refused), (10, 40));
    let wallet = assert_reconciled(&store, &account).await;
    assert_eq!((wallet.balance, wallet.held), (usd("12.50"), usd("12.50")));
    assert!(wallet.available().is_zero() && !wallet.can_send());
}

#[tokio::test]
async fn the_same_key_answers_the_same_hold_and_a_bigger_one_is_refused() {
    let store = dynamo_store().await;
    let account = funded_wallet(&store, "holdkey", "1").await;
    let first = granted_hold(&store, &account, "same", 40).await;
    let now = OffsetDateTime::now_utc();
    let again = new_hold(&store, &account, "same", 40, now, Duration::hours(1)).await;
    assert_eq!(
        store.place_hold(&again, now).await.unwrap(),
        HoldPlaced::Existing(first)
    );
    let big = new_hold(&store, &account, "big", 80, now, Duration::hours(1)).await;
    assert_eq!(
        store.place_hold(&big, now).await.unwrap(),
        HoldPlaced::Refused {
            available: usd("0.5")
        }
    );
    assert_eq!(
        imcredits::holds::messages_covered(&big.lines, usd("0.5")),
        40
    );
    let wallet = assert_reconciled(&store, &account).await;
    assert_eq!(wallet.held, usd("0.5"));
}

#[tokio::test]
async fn a_thousand_statuses_twice_and_out_of_order_settle_the_hold_once() {
    let pipeline = Pipeline::spawn().await;
    let (account, phone) = pipeline.wallet("holdsettle", "20").await;
    let hold = granted_hold(&pipeline.store, &account, "broadcast", 1_000).await;
    let tag = hold.tag();
    let mut statuses: Vec<Value> = (0..1_000)
        .map(|i| tagged(&format!("wamid.HOLD{i:05}"), "delivered", &tag))
        .collect();
    statuses.extend(statuses.clone());
    scramble(&mut statuses);
    let mut posted = 0;
    for chunk in statuses.chunks(250) {
        posted += pipeline
            .billing_handle(&records(&phone, chunk.to_vec()))
            .await
            .posted;
    }
    assert_eq!(posted, 1_000, "each message charged once");
    let settled = pipeline
        .store
        .get_hold(&account, &hold.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (settled.remaining, settled.settled_count),
        (usd("0"), 1_000)
    );
    assert_eq!(settled.settled_amount, usd("12.5"));
    let wallet = assert_reconciled(&pipeline.store, &account).await;
    assert_eq!((wallet.balance, wallet.held), (usd("7.5"), usd("0")));
    // Charges beyond the estimate are simply charged, from the balance.
    let extra = tagged("wamid.HOLDEXTRA", "delivered", &tag);
    pipeline.billing_handle(&records(&phone, vec![extra])).await;
    let wallet = assert_reconciled(&pipeline.store, &account).await;
    assert_eq!((wallet.balance, wallet.held), (usd("7.4875"), usd("0")));
}

#[tokio::test]
async fn failed_messages_release_their_share_once() {
    let pipeline = Pipeline::spawn().await;
    let (account, phone) = pipeline.wallet("holdfail", "1").await;
    let hold = granted_hold(&pipeline.store, &account, "ten", 10).await;
    let tag = hold.tag();
    let mut statuses: Vec<Value> = (0..6)
        .map(|i| tagged(&format!("wamid.OK{i}"), "delivered", &tag))
        .chain((0..4).map(|i| tagged(&format!("wamid.KO{i}"), "failed", &tag)))
        .collect();
    statuses.extend(statuses.clone());
    scramble(&mut statuses);
    pipeline.billing_handle(&records(&phone, statuses)).await;
    let settled = pipeline
        .store
        .get_hold(&account, &hold.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((settled.settled_count, settled.failed_count), (6, 4));
    assert_eq!(
        (settled.failed_amount, settled.remaining),
        (usd("0.05"), usd("0"))
    );
    let wallet = assert_reconciled(&pipeline.store, &account).await;
    assert_eq!((wallet.balance, wallet.held), (usd("0.925"), usd("0")));
}

#[tokio::test]
async fn two_concurrent_sweeps_release_an_expired_hold_exactly_once() {
    // A table of its own: the sweep reads every account's expired holds.
    let store = dynamo_store_on_own_table("holdsweep").await;
    let queue =
        imcredits::adapters::memory_queue::MemoryQueue::new(5, std::time::Duration::from_secs(30));
    let account = funded_wallet(&store, "holdsweep", "5").await;
    let placed_at = OffsetDateTime::now_utc();
    let hold = new_hold(
        &store,
        &account,
        "short",
        100,
        placed_at,
        Duration::minutes(1),
    )
    .await;
    assert!(matches!(
        store.place_hold(&hold, placed_at).await.unwrap(),
        HoldPlaced::Granted(_)
    ));
    store
        .post_charges(
            &account,
            &[hold_charge("wamid.S1", &hold.id, "-0.0125")],
            at(),
        )
        .await
        .unwrap();
    let early = sweep_expired_holds(&store, &queue, placed_at)
        .await
        .unwrap();
    assert_eq!(early.expired, 0, "not due yet");
    let later = placed_at + Duration::minutes(2);
    let (one, two) = tokio::join!(
        sweep_expired_holds(&store, &queue, later),
        sweep_expired_holds(&store, &queue, later)
    );
    assert_eq!(one.unwrap().expired + two.unwrap().expired, 1);
    let expired = store.get_hold(&account, &hold.id).await.unwrap().unwrap();
    assert_eq!(expired.status, HoldStatus::Expired);
    assert_eq!(expired.released_amount, usd("1.2375"));
    assert_eq!(
        sweep_expired_holds(&store, &queue, later)
            .await
            .unwrap()
            .due,
        0,
        "left the index"
    );
    // A charge after the release is simply charged.
    store
        .post_charges(
            &account,
            &[hold_charge("wamid.S2", &hold.id, "-0.0125")],
            at(),
        )
        .await
        .unwrap();
    let wallet = assert_reconciled(&store, &account).await;
    assert_eq!((wallet.balance, wallet.held), (usd("4.975"), usd("0")));
    let gone = store.get_hold(&account, &hold.id).await.unwrap().unwrap();
    assert_eq!(gone, expired);
}

/// Each step of settling and releasing fails once (before DynamoDB sees it, or after it
/// committed), the caller retries, and the end is what it would have been without the fault.
#[tokio::test]
async fn a_crash_between_any_two_steps_of_settle_or_release_ends_as_if_it_had_not_happened() {
    let backend = Backend::dynamodb_local();
    let plain = backend.store().await;
    flat_card(&plain).await;
    let cases = ["GetItem", "BatchGetItem", "TransactWriteItems"]
        .into_iter()
        .flat_map(|op| [Fault::RequestLost, Fault::AnswerLost].map(|fault| (op, fault)))
        .flat_map(|(op, fault)| (0..3).map(move |first| (op, fault, first)));
    for (operation, fault, first) in cases {
        {
            let failing = FailOperation::new(operation, fault, 1);
            let interceptor = failing.clone();
            let store = backend
                .store_with(move |c| c.interceptor(interceptor))
                .await;
            let wallet = new_wallet(&plain, "holdcrash").await;
            let account = wallet.account_id.clone();
            plain
                .post_entries(&account, &[grant("FUNDS", "2")], at())
                .await
                .unwrap();
            let one = granted_hold(&plain, &account, "one", 10).await;
            let two = granted_hold(&plain, &account, "two", 10).await;
            // The fault strikes the first call of its kind: in the step run first.
            let case = format!("{operation} {fault:?}, step {first} first");
            // Settle: a charge; release: a failed message, a delete.
            let charge = [hold_charge("wamid.C1", &one.id, "-0.0125")];
            let fail = [failed(&one.id, "wamid.C2")];
            for attempt in 0..3 {
                let mut all_ok = true;
                for step in (0..3).map(|k| (first + k) % 3) {
                    all_ok &= match step {
                        0 => store.post_charges(&account, &charge, at()).await.is_ok(),
                        1 => store.release_failed(&account, &fail, at()).await.is_ok(),
                        _ => store
                            .release_hold(
                                &account,
                                &two.id,
                                HoldStatus::Released,
                                OffsetDateTime::now_utc(),
                            )
                            .await
                            .is_ok(),
                    };
                }
                if all_ok {
                    break;
                }
                assert!(attempt < 2, "{case}: the retry succeeds");
            }
            assert_eq!(failing.remaining(), 0, "{case}: the fault was injected");
            let one = plain.get_hold(&account, &one.id).await.unwrap().unwrap();
            assert_eq!((one.settled_count, one.failed_count), (1, 1), "{case}");
            assert_eq!(one.remaining, usd("0.1"), "{case}");
            let two = plain.get_hold(&account, &two.id).await.unwrap().unwrap();
            assert_eq!(
                (two.status, two.released_amount),
                (HoldStatus::Released, usd("0.125")),
                "{case}"
            );
            let wallet = assert_reconciled(&plain, &account).await;
            assert_eq!(
                (wallet.balance, wallet.held),
                (usd("1.9875"), usd("0.1")),
                "{case}"
            );
        }
    }
    // A delete repeated answers the closed hold and changes nothing.
    let wallet = new_wallet(&plain, "holdagain").await;
    plain
        .post_entries(&wallet.account_id, &[grant("FUNDS", "1")], at())
        .await
        .unwrap();
    let hold = granted_hold(&plain, &wallet.account_id, "again", 8).await;
    let now = OffsetDateTime::now_utc();
    let first = plain
        .release_hold(&wallet.account_id, &hold.id, HoldStatus::Released, now)
        .await
        .unwrap();
    let Some(HoldReleased::Released(closed)) = first else {
        panic!("{first:?}")
    };
    let second = plain
        .release_hold(&wallet.account_id, &hold.id, HoldStatus::Released, now)
        .await
        .unwrap();
    assert_eq!(second, Some(HoldReleased::AlreadyClosed(closed)));
    let after = plain.get_wallet(&wallet.account_id).await.unwrap().unwrap();
    assert_eq!(after.held, usd("0"));
    assert_reconciled(&plain, &wallet.account_id).await;
}
