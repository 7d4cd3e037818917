//! Auto-recharge cannot run away: one payment per attempt whatever the triggers, a lost answer
//! resumed under the same idempotency key, declines backing off to a stop, the daily cap, and a
//! sweep that reads only due wallets. DynamoDB Local for the store, wiremock for Stripe.

use std::collections::BTreeSet;
use std::time::Duration;

use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use imcredits::adapters::dynamodb::codec;
use imcredits::handlers::auto_recharge::RechargeOutcome;
use imcredits::handlers::batch::Record;
use imcredits::money::Currency;
use imcredits::ports::recharge::RechargeStore;
use imcredits::ports::store::{EntriesPost, WalletCreate, WalletGet, WalletSettingsSet};
use imcredits::recharge::{RechargeLimits, Skip};
use imcredits::wallet::{AutoRecharge, NewWallet};
use imcredits_tests::recharge::{IntentPerKey, RechargeRig, declined, idempotency_key};
use imcredits_tests::{assert_reconciled, at, charge, dynamo_store, unique_account, usd};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

fn limits() -> RechargeLimits {
    RechargeLimits {
        lease: Duration::from_secs(60),
        ..RechargeLimits::default()
    }
}

async fn rig() -> RechargeRig {
    RechargeRig::start(dynamo_store().await, limits(), 2_000).await
}

fn keys(requests: &[wiremock::Request]) -> BTreeSet<String> {
    requests.iter().filter_map(idempotency_key).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_triggers_make_one_payment_and_one_credit() {
    let rig = rig().await;
    rig.answer_every_charge(IntentPerKey {
        status: "succeeded",
        delay: Duration::ZERO,
    })
    .await;
    let account = rig.due_wallet("twenty", "1").await;
    // Stripe answers slowly, so the triggers overlap the one charge in flight.
    rig.stripe.reset().await;
    rig.answer_every_charge(IntentPerKey {
        status: "succeeded",
        delay: Duration::from_millis(500),
    })
    .await;
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(20));
    let triggers: Vec<_> = (0..20)
        .map(|_| {
            let (recharger, account) = (rig.recharger.clone(), account.clone());
            let start = start.clone();
            tokio::spawn(async move {
                start.wait().await;
                recharger.recharge(&account).await
            })
        })
        .collect();
    let mut credited = 0;
    let mut outcomes = Vec::new();
    for trigger in triggers {
        let outcome = trigger.await.unwrap().unwrap();
        if let RechargeOutcome::Credited { .. } = outcome {
            credited += 1;
        }
        outcomes.push(outcome);
    }
    assert_eq!(credited, 1);
    let charges = rig.charges().await;
    assert_eq!(charges.len(), 1, "one PaymentIntent");
    let form = imcredits_tests::stripe::form(&charges[0]);
    assert_eq!(form["amount"], "2060", "10 credits at 2.00 + 3% fee");
    assert_eq!(form["off_session"], "true");
    assert_eq!(form["confirm"], "true");
    assert_eq!(form["customer"], "cus_test");
    assert_eq!(form["payment_method"], "pm_test");
    // 1.00 + 10 credits × 2.00: the fee is not credited.
    let wallet = assert_reconciled(&rig.store, &account).await;
    assert_eq!(wallet.balance, usd("21"));
    // One paid recharge in the payment history, for the total charged.
    let history = imcredits::ports::store::PurchaseRead::purchase_page(
        &rig.store,
        &account,
        &imcredits::ports::store::PurchaseListRequest::new(10, None),
    )
    .await
    .unwrap();
    assert_eq!(history.purchases.len(), 1);
    let paid = &history.purchases[0];
    assert_eq!(paid.status.as_str(), "paid");
    assert_eq!(paid.quote.total, usd("20.60"));
    assert!(paid.id.as_str().starts_with("ra_"));
    let kinds: Vec<String> = rig
        .notices()
        .iter()
        .map(|notice| notice["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds, ["recharge.succeeded"]);
    // Above the minimum now: a further trigger does nothing.
    assert_eq!(
        rig.recharger.recharge(&account).await.unwrap(),
        RechargeOutcome::Skipped(Skip::NotDue)
    );
}

#[tokio::test]
async fn a_lost_answer_is_retried_under_the_same_key_and_credited_once() {
    let rig = RechargeRig::start(dynamo_store().await, limits(), 300).await;
    // Stripe takes the payment, but its answer arrives after the client gave up...
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"id": "pi_slow", "status": "succeeded"}))
                .set_delay(Duration::from_secs(2)),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&rig.stripe)
        .await;
    // ...then a 500 that Stripe had also processed...
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .with_priority(2)
        .mount(&rig.stripe)
        .await;
    // ...then its idempotent replay of the first answer.
    rig.answer_every_charge(IntentPerKey {
        status: "succeeded",
        delay: Duration::ZERO,
    })
    .await;
    let account = rig.due_wallet("lost", "2").await;

    assert!(rig.recharger.recharge(&account).await.is_err(), "timeout");
    // The lease holds the lock: an immediate trigger neither charges nor starts a new attempt.
    assert_eq!(
        rig.recharger.recharge(&account).await.unwrap(),
        RechargeOutcome::Skipped(Skip::Busy)
    );
    rig.clock.advance(time::Duration::seconds(61));
    assert!(rig.recharger.recharge(&account).await.is_err(), "500");
    rig.clock.advance(time::Duration::seconds(61));
    assert!(matches!(
        rig.recharger.recharge(&account).await.unwrap(),
        RechargeOutcome::Credited { .. }
    ));
    rig.clock.advance(time::Duration::seconds(61));
    assert_eq!(
        rig.recharger.recharge(&account).await.unwrap(),
        RechargeOutcome::Skipped(Skip::NotDue)
    );

    let charges = rig.charges().await;
    assert_eq!(charges.len(), 3, "three calls");
    assert_eq!(keys(&charges).len(), 1, "one Idempotency-Key: one payment");
    let bodies: BTreeSet<&[u8]> = charges.iter().map(|r| r.body.as_slice()).collect();
    assert_eq!(bodies.len(), 1, "the same request each time");
    let wallet = assert_reconciled(&rig.store, &account).await;
    assert_eq!(wallet.balance, usd("22"));
    assert_eq!(rig.notices().len(), 1);
}

#[tokio::test]
async fn declines_back_off_then_disable_auto_recharge_with_no_further_calls() {
    let rig = rig().await;
    rig.answer_every_charge(declined()).await;
    let account = rig.due_wallet("declines", "1").await;

    for (round, wait_hours) in [(1, 1), (2, 6), (3, 24)] {
        let outcome = rig.recharger.recharge(&account).await.unwrap();
        assert_eq!(
            outcome,
            RechargeOutcome::Declined {
                disabled: round == 3
            },
            "round {round}"
        );
        if round < 3 {
            // Backing off: no call until the wait is over.
            rig.clock
                .advance(time::Duration::hours(wait_hours) - time::Duration::minutes(1));
            assert_eq!(
                rig.recharger.recharge(&account).await.unwrap(),
                RechargeOutcome::Skipped(Skip::BackingOff)
            );
            rig.clock.advance(time::Duration::minutes(2));
        }
    }
    rig.clock.advance(time::Duration::days(30));
    assert_eq!(
        rig.recharger.recharge(&account).await.unwrap(),
        RechargeOutcome::Skipped(Skip::Disabled)
    );
    assert_eq!(rig.charges().await.len(), 3, "three declines, then no call");
    let wallet = assert_reconciled(&rig.store, &account).await;
    assert!(!wallet.auto_recharge.enabled);
    assert_eq!(wallet.balance, usd("1"));
    let kinds: Vec<String> = rig
        .notices()
        .iter()
        .map(|notice| notice["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        kinds,
        [
            "recharge.failed",
            "recharge.failed",
            "recharge.failed",
            "auto_recharge.disabled"
        ]
    );
    // Out of the index too: the sweep will not find it.
    let due = rig.store.due_wallets(10_000, 0).await.unwrap();
    assert!(!due.accounts.contains(&account));
}

#[tokio::test]
async fn the_daily_cap_holds_under_a_stream_of_triggers() {
    let rig = rig().await;
    rig.answer_every_charge(IntentPerKey {
        status: "succeeded",
        delay: Duration::ZERO,
    })
    .await;
    let account = rig.due_wallet("daily", "1").await;
    // Every few minutes the balance drops below the minimum again and several triggers fire.
    for round in 0..8 {
        for _ in 0..3 {
            rig.recharger.recharge(&account).await.unwrap();
        }
        rig.store
            .post_entries(&account, &[charge(&format!("spend-{round}"), "-20")], at())
            .await
            .unwrap();
        rig.clock.advance(time::Duration::minutes(5));
    }
    assert_eq!(rig.charges().await.len(), 3, "the default cap: 3 a day");
    assert_eq!(
        rig.recharger.recharge(&account).await.unwrap(),
        RechargeOutcome::Skipped(Skip::DailyCap)
    );
    // A rolling day later, the next recharge is allowed.
    rig.clock.advance(time::Duration::hours(24));
    assert!(matches!(
        rig.recharger.recharge(&account).await.unwrap(),
        RechargeOutcome::Credited { .. }
    ));
    assert_eq!(keys(&rig.charges().await).len(), 4);
    let wallet = assert_reconciled(&rig.store, &account).await;
    // 1 + 4 × 20 - 8 × 20
    assert_eq!(wallet.balance, usd("-79"));
}

#[tokio::test]
async fn settings_disabled_after_a_request_was_queued_are_honoured() {
    let rig = rig().await;
    rig.answer_every_charge(IntentPerKey {
        status: "succeeded",
        delay: Duration::ZERO,
    })
    .await;
    let account = rig.due_wallet("honour", "1").await;
    let wallet = rig.store.get_wallet(&account).await.unwrap().unwrap();
    let off = AutoRecharge {
        enabled: false,
        ..wallet.auto_recharge
    };
    rig.store
        .set_auto_recharge(&account, &off, at())
        .await
        .unwrap();
    let body = serde_json::json!({"id": "x", "account_id": account, "balance": "1",
        "minimum_balance": "5", "seq": 3, "at": "2026-11-21T07:00:00Z"});
    let outcome = rig
        .recharger
        .handle_requests(&[Record {
            id: "m-1".into(),
            body: body.to_string(),
        }])
        .await;
    assert!(outcome.failed.is_empty());
    assert!(rig.charges().await.is_empty());
    assert!(
        !rig.store
            .due_wallets(10_000, 0)
            .await
            .unwrap()
            .accounts
            .contains(&account)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn schedule_and_queue_racing_make_one_recharge() {
    let store = imcredits_tests::dynamo_store_on_own_table("race").await;
    let rig = RechargeRig::start(store, limits(), 2_000).await;
    rig.answer_every_charge(IntentPerKey {
        status: "succeeded",
        delay: Duration::from_millis(300),
    })
    .await;
    let account = rig.due_wallet("race", "1").await;
    let body = serde_json::json!({"id": "r", "account_id": account}).to_string();
    let mut tasks = Vec::new();
    for index in 0..5 {
        let recharger = rig.recharger.clone();
        tasks.push(tokio::spawn(async move {
            recharger.sweep().await.unwrap();
        }));
        let (recharger, body) = (rig.recharger.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            let outcome = recharger
                .handle_requests(&[Record {
                    id: format!("m-{index}"),
                    body,
                }])
                .await;
            assert!(outcome.failed.is_empty());
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(rig.charges().await.len(), 1);
    let wallet = assert_reconciled(&rig.store, &account).await;
    assert_eq!(wallet.balance, usd("21"));
    assert_eq!(rig.store.due_wallets(100, 0).await.unwrap().items_read, 0);
}

#[tokio::test]
async fn charges_during_an_in_flight_recharge_keep_every_balance_exact() {
    let rig = rig().await;
    rig.answer_every_charge(
        ResponseTemplate::new(200)
            .set_body_json(serde_json::json!({"id": "pi_inflight", "status": "succeeded"}))
            .set_delay(Duration::from_millis(800)),
    )
    .await;
    let account = rig.due_wallet("inflight", "4").await;
    let recharge = {
        let (recharger, account) = (rig.recharger.clone(), account.clone());
        tokio::spawn(async move { recharger.recharge(&account).await })
    };
    let spenders = (0..4).map(|task| {
        let (store, account) = (rig.store.clone(), account.clone());
        tokio::spawn(async move {
            for index in 0..10 {
                store
                    .post_entries(
                        &account,
                        &[charge(&format!("inflight-{task}-{index}"), "-0.0125")],
                        at(),
                    )
                    .await
                    .unwrap();
                tokio::time::sleep(Duration::from_millis(30)).await;
            }
        })
    });
    for spender in spenders {
        spender.await.unwrap();
    }
    assert!(matches!(
        recharge.await.unwrap().unwrap(),
        RechargeOutcome::Credited { .. }
    ));
    let wallet = assert_reconciled(&rig.store, &account).await;
    // 4 - 40 × 0.0125 + 20
    assert_eq!(wallet.balance, usd("23.5"));
    assert_eq!(rig.charges().await.len(), 1);
}

#[tokio::test]
async fn a_sweep_over_5000_wallets_of_which_7_are_due_reads_7() {
    let store = imcredits_tests::dynamo_store_on_own_table("sweep").await;
    let started = std::time::Instant::now();
    // 4,993 wallets that are not due, written 25 at a time, 8 requests at once.
    let items: Vec<_> = (0..4_993)
        .map(|_| {
            let wallet = NewWallet::new(unique_account("idle"), Currency::Usd);
            codec::new_wallet_item(&wallet, at())
        })
        .collect();
    let batches: Vec<Vec<_>> = items.chunks(25).map(<[_]>::to_vec).collect();
    for group in batches.chunks(8) {
        let writes = group.iter().map(|batch| {
            let (client, table) = (store.client().clone(), store.table().to_owned());
            let requests: Vec<WriteRequest> = batch
                .iter()
                .map(|item| {
                    WriteRequest::builder()
                        .put_request(
                            PutRequest::builder()
                                .set_item(Some(item.clone()))
                                .build()
                                .unwrap(),
                        )
                        .build()
                })
                .collect();
            tokio::spawn(async move {
                let output = client
                    .batch_write_item()
                    .request_items(table, requests)
                    .send()
                    .await
                    .unwrap();
                assert!(
                    output
                        .unprocessed_items()
                        .is_none_or(|left| left.is_empty())
                );
            })
        });
        for write in writes {
            write.await.unwrap();
        }
    }
    // 7 due through the real path: enabling auto-recharge on a wallet below its minimum.
    let mut due = BTreeSet::new();
    for _ in 0..7 {
        let wallet = store
            .create_wallet(&NewWallet::new(unique_account("due"), Currency::Usd), at())
            .await
            .unwrap();
        let settings = AutoRecharge::new(true, usd("5"), 10, Currency::Usd).unwrap();
        store
            .set_auto_recharge(&wallet.account_id, &settings, at())
            .await
            .unwrap();
        due.insert(wallet.account_id);
    }
    // And one enabled wallet above its minimum, which must not be found either.
    let rich = store
        .create_wallet(&NewWallet::new(unique_account("rich"), Currency::Usd), at())
        .await
        .unwrap();
    store
        .post_entries(
            &rich.account_id,
            &[imcredits_tests::grant("RICH", "50")],
            at(),
        )
        .await
        .unwrap();
    store
        .set_auto_recharge(
            &rich.account_id,
            &AutoRecharge::new(true, usd("5"), 10, Currency::Usd).unwrap(),
            at(),
        )
        .await
        .unwrap();

    let found = store.due_wallets(1_000, 0).await.unwrap();
    assert_eq!(found.items_read, 7, "the store returned 7 items");
    assert_eq!(found.accounts.into_iter().collect::<BTreeSet<_>>(), due);
    // From another first shard: the same 7; and a capped run stops at its cap.
    let rotated = store.due_wallets(1_000, 9).await.unwrap();
    assert_eq!(rotated.accounts.into_iter().collect::<BTreeSet<_>>(), due);
    assert_eq!(store.due_wallets(3, 5).await.unwrap().items_read, 3);
    // The sweep itself: 7 wallets, none with a card, so none charged.
    let rig = RechargeRig::start(store, limits(), 2_000).await;
    let outcome = rig.recharger.sweep().await.unwrap();
    assert_eq!((outcome.due, outcome.items_read), (7, 7));
    assert!(rig.charges().await.is_empty());
    eprintln!("sweep test took {:?}", started.elapsed());
}

/// The hold expiry sweep and the statement sweep share the due sweep's one bounded reader of a
/// sharded index (`pages::sweep_index`): each reads every shard of its own partitions (the two
/// share the `hold_expiry` index and never see each other's), only keys below its bound, and stops
/// at its limit.
#[tokio::test]
async fn the_hold_and_statement_sweeps_read_every_shard_and_stop_at_their_limit() {
    use imcredits::ports::holds::{HoldPlaced, HoldStore};
    use imcredits::ports::statements::StatementSchedule;
    use time::macros::datetime;
    let store = imcredits_tests::dynamo_store_on_own_table("sweeps").await;
    let (mut accounts, mut holds) = (BTreeSet::new(), BTreeSet::new());
    for index in 0..20 {
        let account = imcredits_tests::holds::funded_wallet(&store, "sweeps", "10").await;
        let key = format!("sweep-{index}");
        let ttl = time::Duration::minutes(1);
        let hold = imcredits_tests::holds::new_hold(&store, &account, &key, 1, at(), ttl).await;
        let placed = store.place_hold(&hold, at()).await.unwrap();
        assert!(matches!(placed, HoldPlaced::Granted(_)), "{placed:?}");
        holds.insert((account.clone(), hold.id));
        accounts.insert(account);
    }
    let shards: BTreeSet<u8> = accounts
        .iter()
        .map(imcredits::adapters::dynamodb::recharge::due_shard)
        .collect();
    assert!(
        shards.len() > 4,
        "the wallets spread over shards: {shards:?}"
    );

    let early = store.expired_holds(at(), 1_000).await.unwrap();
    assert_eq!(
        (early.holds.len(), early.items_read),
        (0, 0),
        "none expired yet"
    );
    let later = at() + time::Duration::minutes(2);
    let expired = store.expired_holds(later, 1_000).await.unwrap();
    assert_eq!(expired.items_read, 20);
    assert_eq!(expired.holds.into_iter().collect::<BTreeSet<_>>(), holds);
    let capped = store.expired_holds(later, 3).await.unwrap();
    assert_eq!((capped.holds.len(), capped.items_read), (3, 3));

    // The wallets were made on 2025-11-21 (UTC): November closes at midnight on December 1st.
    let open = store
        .closed_months(datetime!(2025-11-30 23:59 UTC), 1_000)
        .await
        .unwrap();
    assert!(open.is_empty(), "{open:?}");
    let closed_at = datetime!(2025-12-01 00:00:01 UTC);
    let closed = store.closed_months(closed_at, 1_000).await.unwrap();
    assert_eq!(
        closed
            .iter()
            .map(|closed| closed.account.clone())
            .collect::<BTreeSet<_>>(),
        accounts
    );
    assert_eq!(closed.len(), 20, "each wallet once");
    assert_eq!(store.closed_months(closed_at, 3).await.unwrap().len(), 3);
}

#[tokio::test]
async fn an_attempt_unanswered_past_stripe_s_key_window_is_held_not_replaced() {
    let rig = RechargeRig::start(dynamo_store().await, limits(), 300).await;
    rig.answer_every_charge(
        ResponseTemplate::new(200)
            .set_body_json(serde_json::json!({"id": "pi_never_seen", "status": "succeeded"}))
            .set_delay(Duration::from_secs(2)),
    )
    .await;
    let account = rig.due_wallet("stuck", "1").await;
    assert!(rig.recharger.recharge(&account).await.is_err(), "timeout");
    rig.clock.advance(time::Duration::hours(24));
    assert_eq!(
        rig.recharger.recharge(&account).await.unwrap(),
        RechargeOutcome::Skipped(Skip::Stuck)
    );
    assert_eq!(rig.charges().await.len(), 1, "neither resumed nor replaced");
    assert_reconciled(&rig.store, &account).await;
}

#[tokio::test]
async fn the_monthly_credit_cap_holds_and_requires_action_backs_off_like_a_decline() {
    let limits = RechargeLimits {
        per_day_max: 24,
        monthly_credits_max: Some(20),
        ..limits()
    };
    let rig = RechargeRig::start(dynamo_store().await, limits, 2_000).await;
    rig.answer_every_charge(IntentPerKey {
        status: "succeeded",
        delay: Duration::ZERO,
    })
    .await;
    let account = rig.due_wallet("monthly", "1").await;
    for round in 0..4 {
        rig.recharger.recharge(&account).await.unwrap();
        rig.store
            .post_entries(&account, &[charge(&format!("month-{round}"), "-20")], at())
            .await
            .unwrap();
        rig.clock.advance(time::Duration::minutes(5));
    }
    // 10 credits a recharge, 20 a month: two recharges, then the cap.
    assert_eq!(rig.charges().await.len(), 2);
    assert_eq!(
        rig.recharger.recharge(&account).await.unwrap(),
        RechargeOutcome::Skipped(Skip::MonthlyCap)
    );

    // The bank wants 3-D Secure, which cannot happen off-session: counted like a decline.
    let rig = rig_requiring_action().await;
    let account = rig.due_wallet("action", "1").await;
    assert_eq!(
        rig.recharger.recharge(&account).await.unwrap(),
        RechargeOutcome::Declined { disabled: false }
    );
    assert_eq!(
        rig.recharger.recharge(&account).await.unwrap(),
        RechargeOutcome::Skipped(Skip::BackingOff)
    );
    let notices = rig.notices();
    assert_eq!(notices[0]["type"], "recharge.failed");
    assert_eq!(notices[0]["data"]["reason"], "requires_action");
    assert_reconciled(&rig.store, &account).await;
}

async fn rig_requiring_action() -> RechargeRig {
    let rig = rig().await;
    rig.answer_every_charge(ResponseTemplate::new(402).set_body_json(serde_json::json!({
        "error": {"type": "card_error", "code": "authentication_required",
                  "message": "This payment requires authentication.",
                  "payment_intent": {"id": "pi_3ds"}}})))
        .await;
    rig
}

/// The immediate trigger end to end: a Meta webhook through billing crosses the minimum, billing
/// queues a request on the (moto) recharge queue, and the handler recharges once from it.
#[tokio::test]
async fn billing_s_request_on_the_recharge_queue_leads_to_one_recharge() {
    use imcredits::payments::purchase::SavedPaymentMethod;
    use imcredits::payments::{ProviderCustomerId, ProviderPaymentMethodId, PurchaseId};
    use imcredits::ports::store::PaymentMethodSave;
    use imcredits_tests::pipeline::{Pipeline, meta_body, pmp, status};

    let pipeline = Pipeline::spawn().await;
    let (account, phone) = pipeline.wallet("billed", "0.03").await;
    let card = SavedPaymentMethod {
        customer: ProviderCustomerId::parse("cus_test").unwrap(),
        payment_method: Some(ProviderPaymentMethodId::parse("pm_test").unwrap()),
        source_purchase: PurchaseId::parse("pur_test").unwrap(),
        source_created_at: at(),
    };
    pipeline
        .store
        .save_payment_method(&account, &card, at())
        .await
        .unwrap();
    let settings = AutoRecharge::new(true, usd("0.02"), 5, Currency::Usd).unwrap();
    pipeline
        .store
        .set_auto_recharge(&account, &settings, at())
        .await
        .unwrap();
    let body = meta_body(
        &phone,
        vec![status("wamid.R1", "delivered", pmp("regular", "marketing"))],
    );
    assert_eq!(pipeline.post(body).await, axum::http::StatusCode::OK);
    assert_eq!(pipeline.bill_all().await.recharge_requests, 1);

    let rig = RechargeRig::start(pipeline.store.clone(), limits(), 2_000).await;
    rig.answer_every_charge(IntentPerKey {
        status: "succeeded",
        delay: Duration::ZERO,
    })
    .await;
    let bodies = imcredits_tests::sqs::drain(&pipeline.sqs, &pipeline.recharges, 10).await;
    assert_eq!(bodies.len(), 1);
    let records: Vec<Record> = bodies
        .iter()
        .enumerate()
        .map(|(index, body)| Record {
            id: format!("m-{index}"),
            body: body.clone(),
        })
        .collect();
    // Delivered twice (SQS is at least once): still one payment.
    assert!(
        rig.recharger
            .handle_requests(&records)
            .await
            .failed
            .is_empty()
    );
    assert!(
        rig.recharger
            .handle_requests(&records)
            .await
            .failed
            .is_empty()
    );
    let charges = rig.charges().await;
    assert_eq!(charges.len(), 1);
    // 5 credits: 10.00 + 0.30 fee.
    assert_eq!(imcredits_tests::stripe::form(&charges[0])["amount"], "1030");
    let wallet = assert_reconciled(&pipeline.store, &account).await;
    // 0.03 - 0.0125 + 10.00
    assert_eq!(wallet.balance, usd("10.0175"));
}

/// A notifications queue that refuses the first `fails` sends.
struct FlakyQueue {
    inner: imcredits::adapters::memory_queue::MemoryQueue,
    fails: std::sync::atomic::AtomicU32,
}

impl imcredits::ports::queue::QueueSend for FlakyQueue {
    async fn send_all(&self, bodies: &[String]) -> Result<(), imcredits::ports::queue::QueueError> {
        let failed = self
            .fails
            .fetch_update(
                std::sync::atomic::Ordering::SeqCst,
                std::sync::atomic::Ordering::SeqCst,
                |left| left.checked_sub(1),
            )
            .is_ok();
        if failed {
            return Err(imcredits::ports::queue::QueueError::Unavailable(
                "test".into(),
            ));
        }
        self.inner.send_all(bodies).await
    }
}

#[tokio::test]
async fn a_notice_that_fails_to_send_is_sent_by_the_retry_and_nothing_is_paid_twice() {
    use imcredits::adapters::stripe::{StripeClient, StripeConfig, StripeSecretKey};
    use imcredits::handlers::auto_recharge::AutoRecharger;

    let rig = rig().await;
    rig.answer_every_charge(IntentPerKey {
        status: "succeeded",
        delay: Duration::ZERO,
    })
    .await;
    let account = rig.due_wallet("flaky", "1").await;
    let mut config =
        StripeConfig::new(StripeSecretKey::parse(imcredits_tests::stripe::SECRET_KEY).unwrap());
    config.base_url = rig.stripe.uri();
    config.retries_max = 0;
    let notices = imcredits::adapters::memory_queue::MemoryQueue::new(5, Duration::from_secs(30));
    let recharger = AutoRecharger {
        store: rig.store.clone(),
        payments: StripeClient::new(config).unwrap(),
        notifications: FlakyQueue {
            inner: notices.clone(),
            fails: std::sync::atomic::AtomicU32::new(1),
        },
        clock: rig.clock.clone(),
        pricing: imcredits::money::CreditPricing::default(),
        limits: limits(),
    };
    assert!(
        recharger.recharge(&account).await.is_err(),
        "the notice failed"
    );
    assert_eq!(
        rig.store
            .get_wallet(&account)
            .await
            .unwrap()
            .unwrap()
            .balance,
        usd("1"),
        "not credited before its notice is out"
    );
    rig.clock.advance(time::Duration::seconds(61));
    assert!(matches!(
        recharger.recharge(&account).await.unwrap(),
        RechargeOutcome::Credited { .. }
    ));
    let charges = rig.charges().await;
    assert_eq!(keys(&charges).len(), 1, "one payment (two calls, one key)");
    let sent: Vec<String> = notices
        .receive(10)
        .into_iter()
        .map(|delivery| delivery.body)
        .collect();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].contains("recharge.succeeded"));
    let wallet = assert_reconciled(&rig.store, &account).await;
    assert_eq!(wallet.balance, usd("21"));
}
