//! `balance.recovered` when a hold's release takes `available` back above zero, by the rule a
//! credit's crossing follows: a `DELETE` and the expiry sweep each publish it once per crossing,
//! under a deterministic id keyed by the hold (a repeated release publishes the same id again,
//! which the feed stores once), and a release that recovers nothing publishes nothing.

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode};
use imcredits::adapters::memory_queue::MemoryQueue;
use imcredits::handlers::holds::sweep_expired_holds;
use imcredits::ports::holds::{HoldPlaced, HoldStore};
use imcredits_tests::app::{TestApp, amount};
use imcredits_tests::dynamo_store_on_own_table;
use imcredits_tests::holds::{funded_wallet, new_hold};
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

/// The events waiting on `queue` (received and deleted: each call sees only what is new).
fn drain(queue: &MemoryQueue) -> Vec<Value> {
    let mut events = Vec::new();
    loop {
        let batch = queue.receive(10);
        if batch.is_empty() {
            return events;
        }
        for delivery in batch {
            queue.delete(delivery.receipt);
            events.push(serde_json::from_str(&delivery.body).expect("a queue message is JSON"));
        }
    }
}

fn of_type<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|event| event["type"] == kind)
        .collect()
}

#[tokio::test]
async fn releasing_the_hold_that_took_the_last_credit_recovers_the_wallet_once() {
    let app = TestApp::spawn().await;
    let (account, token) = app.funded_wallet("holdrecover", "FUNDS-R", "2").await;
    // Two holds of 80 × 0.0125 = 1.00 each: the second takes `available` to zero (depleted).
    let mut ids = Vec::new();
    for key in ["first", "second"] {
        let body = json!({"lines": [{"country": "IN", "category": "marketing", "count": 80}]});
        let placed = app.place_hold(&token, key, body).await;
        assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.body);
        ids.push(placed.body["hold_id"].as_str().unwrap().to_owned());
    }
    let placed = drain(&app.notifications);
    assert_eq!(of_type(&placed, "balance.depleted").len(), 1, "{placed:?}");
    assert!(of_type(&placed, "balance.recovered").is_empty());

    // Releasing the first gives back 1.00: available 0 → 1.00 crosses above zero.
    let delete = |id: &str| {
        let path = format!("/v1/wallet/holds/{id}");
        let (app, token) = (&app, &token);
        async move { app.call(Method::DELETE, &path, token, None).await }
    };
    assert_eq!(delete(&ids[0]).await.status, StatusCode::OK);
    let released = drain(&app.notifications);
    let recovered = of_type(&released, "balance.recovered");
    assert_eq!(recovered.len(), 1, "{released:?}");
    let event = recovered[0];
    assert_eq!(
        event["id"],
        format!("balance.recovered:{account}:hold-{}", ids[0])
    );
    assert_eq!(amount(&event["data"]["available"]), "1".parse().unwrap());
    assert_eq!(amount(&event["data"]["balance"]), "2".parse().unwrap());

    // The second release (1.00 → 2.00) crosses nothing.
    assert_eq!(delete(&ids[1]).await.status, StatusCode::OK);
    let second = drain(&app.notifications);
    assert!(
        of_type(&second, "balance.recovered").is_empty(),
        "{second:?}"
    );

    // A repeated DELETE (a client retrying after a lost answer) publishes the same id again.
    assert_eq!(delete(&ids[0]).await.status, StatusCode::OK);
    let repeat = drain(&app.notifications);
    let again: BTreeSet<String> = of_type(&repeat, "balance.recovered")
        .iter()
        .map(|event| event["id"].to_string())
        .collect();
    assert_eq!(
        again,
        BTreeSet::from([event["id"].to_string()]),
        "{repeat:?}"
    );
}

#[tokio::test]
async fn an_expired_hold_that_held_everything_recovers_the_wallet_once() {
    // A table of its own: the sweep reads every account's expired holds.
    let store = dynamo_store_on_own_table("holdrecx").await;
    let queue = MemoryQueue::new(5, std::time::Duration::from_secs(30));
    let account = funded_wallet(&store, "holdrecx", "1").await;
    let placed_at = OffsetDateTime::now_utc();
    let hold = new_hold(&store, &account, "all", 80, placed_at, Duration::minutes(1)).await;
    let HoldPlaced::Granted(hold) = store.place_hold(&hold, placed_at).await.unwrap() else {
        panic!("the hold of everything is granted");
    };
    assert!(hold.placed.depleted);

    let early = sweep_expired_holds(&store, &queue, placed_at)
        .await
        .unwrap();
    assert_eq!(early.expired, 0);
    assert!(drain(&queue).is_empty(), "nothing released, nothing said");
    let later = placed_at + Duration::minutes(2);
    let (one, two) = tokio::join!(
        sweep_expired_holds(&store, &queue, later),
        sweep_expired_holds(&store, &queue, later)
    );
    assert_eq!(one.unwrap().expired + two.unwrap().expired, 1);
    let events = drain(&queue);
    let recovered = of_type(&events, "balance.recovered");
    assert_eq!(recovered.len(), 1, "{events:?}");
    assert_eq!(
        recovered[0]["id"],
        format!("balance.recovered:{account}:hold-{}", hold.id)
    );
    assert_eq!(
        amount(&recovered[0]["data"]["available"]),
        "1".parse().unwrap()
    );
    let expired = store.get_hold(&account, &hold.id).await.unwrap().unwrap();
    assert!(expired.recovered.is_some(), "kept on the hold for a repeat");
    sweep_expired_holds(&store, &queue, later).await.unwrap();
    assert!(drain(&queue).is_empty(), "a later sweep says nothing again");
}
