//! Webhook → SQS (moto) → billing → DynamoDB Local, end to end: every charged message deducted
//! exactly once, whatever Meta, SQS or Lambda do.

use axum::http::StatusCode;
use imcredits::ids::AccountId;
use imcredits::ports::store::{StatementRead, StatementRequest, UsageRead, WalletGet};
use imcredits::pricing::{Category, Market, RecipientMarket};
use imcredits_tests::pipeline::{Pipeline, RECEIVES_MAX, meta_body, pmp, secret, status};
use imcredits_tests::sqs::drain;
use imcredits_tests::{assert_reconciled, usd};
use serde_json::{Value, json};

async fn balance(pipeline: &Pipeline, account: &AccountId) -> String {
    let wallet = pipeline.store.get_wallet(account).await.unwrap().unwrap();
    wallet.balance.amount().to_string()
}

async fn charge_count(pipeline: &Pipeline, account: &AccountId) -> usize {
    let page = pipeline
        .store
        .statement_page(account, &StatementRequest::new(100, None))
        .await
        .unwrap();
    page.entries
        .iter()
        .filter(|entry| entry.kind == imcredits::ledger::EntryKind::Charge)
        .count()
}

#[tokio::test]
async fn the_same_webhook_three_times_charges_once() {
    let pipeline = Pipeline::spawn().await;
    let (account, phone) = pipeline.wallet("thrice", "1").await;
    let body = meta_body(
        &phone,
        vec![
            status("wamid.T1", "delivered", pmp("regular", "marketing")),
            status("wamid.T2", "delivered", pmp("regular", "utility")),
        ],
    );
    for _ in 0..3 {
        assert_eq!(pipeline.post(body.clone()).await, StatusCode::OK);
    }
    let outcome = pipeline.bill_all().await;
    assert_eq!((outcome.posted, outcome.replayed), (2, 4));
    assert!(outcome.failed.is_empty());
    assert_eq!(balance(&pipeline, &account).await, "0.975");
    assert_eq!(charge_count(&pipeline, &account).await, 2);
    assert_reconciled(&pipeline.store, &account).await;
}

#[tokio::test]
async fn statuses_out_of_order_and_failures_charge_exactly_what_was_delivered() {
    let pipeline = Pipeline::spawn().await;
    let (account, phone) = pipeline.wallet("order", "1").await;
    // read before delivered before sent, each in its own webhook: one charge.
    for state in ["read", "delivered", "sent"] {
        // Meta sends pricing on sent as well (v24); only delivered or read may charge.
        let pricing = pmp("regular", "marketing");
        let body = meta_body(&phone, vec![status("wamid.ORDER", state, pricing)]);
        assert_eq!(pipeline.post(body).await, StatusCode::OK);
    }
    // failed after sent: no charge.
    for state in ["sent", "failed"] {
        let body = meta_body(
            &phone,
            vec![status(
                "wamid.FAILED",
                state,
                if state == "sent" {
                    pmp("regular", "marketing")
                } else {
                    Value::Null
                },
            )],
        );
        assert_eq!(pipeline.post(body).await, StatusCode::OK);
    }
    let outcome = pipeline.bill_all().await;
    assert!(outcome.failed.is_empty(), "{outcome:?}");
    assert_eq!(outcome.posted, 1);
    assert_eq!(balance(&pipeline, &account).await, "0.9875");
    assert_reconciled(&pipeline.store, &account).await;
}

#[tokio::test]
async fn a_legacy_conversation_of_three_messages_is_charged_once_and_free_types_cost_nothing() {
    let pipeline = Pipeline::spawn().await;
    let (account, phone) = pipeline.wallet("cbp", "1").await;
    let cbp = |wamid: &str| {
        let mut s = status(
            wamid,
            "delivered",
            json!({"billable": true, "pricing_model": "CBP", "category": "service"}),
        );
        s["conversation"] = json!({"id": "CONV-42", "origin": {"type": "service"}, "expiration_timestamp": "1750116473"});
        s
    };
    let body = meta_body(
        &phone,
        vec![cbp("wamid.C1"), cbp("wamid.C2"), cbp("wamid.C3")],
    );
    assert_eq!(pipeline.post(body).await, StatusCode::OK);
    let free = meta_body(
        &phone,
        vec![
            status(
                "wamid.FREE1",
                "delivered",
                pmp("free_customer_service", "service"),
            ),
            status("wamid.FREE2", "read", pmp("free_entry_point", "service")),
        ],
    );
    assert_eq!(pipeline.post(free).await, StatusCode::OK);
    let outcome = pipeline.bill_all().await;
    assert!(outcome.failed.is_empty(), "{outcome:?}");
    // One conversation charge, two zero-cost usage entries.
    assert_eq!(outcome.posted, 3);
    assert_eq!(balance(&pipeline, &account).await, "0.9875");
    let wallet = assert_reconciled(&pipeline.store, &account).await;
    let day = time::macros::date!(2025 - 06 - 15);
    let usage = pipeline
        .store
        .usage(&account, wallet.currency, day, day)
        .await
        .unwrap();
    let service_in = usage
        .iter()
        .find(|row| matches!(&row.key.dimension, imcredits::billing::usage::Dimension::CategoryMarket { category, market } if *category == Category::Service && *market == RecipientMarket::Known(Market::parse("IN").unwrap())))
        .expect("service usage in India");
    assert_eq!(
        (service_in.messages, service_in.charged, service_in.cost),
        (3, 1, usd("0.0125"))
    );
}

#[tokio::test]
async fn a_crash_after_posting_before_the_queue_hears_back_charges_once() {
    let pipeline = Pipeline::spawn().await;
    let (account, phone) = pipeline.wallet("crash", "1").await;
    let body = meta_body(
        &phone,
        vec![status(
            "wamid.CRASH",
            "delivered",
            pmp("regular", "marketing"),
        )],
    );
    assert_eq!(pipeline.post(body).await, StatusCode::OK);
    let first = pipeline.bill_once(true).await.expect("a record");
    assert_eq!(first.posted, 1);
    // The record comes back; billing it again posts nothing new.
    let second = pipeline.bill_all().await;
    assert_eq!((second.posted, second.replayed), (0, 1));
    assert_eq!(balance(&pipeline, &account).await, "0.9875");
    assert_reconciled(&pipeline.store, &account).await;
}

#[tokio::test]
async fn an_unknown_phone_number_ends_in_the_dead_letter_queue_not_lost() {
    let pipeline = Pipeline::spawn().await;
    let (account, _) = pipeline.wallet("known", "1").await;
    let body = meta_body(
        "987654321098",
        vec![status(
            "wamid.LOST",
            "delivered",
            pmp("regular", "marketing"),
        )],
    );
    assert_eq!(pipeline.post(body).await, StatusCode::OK);
    let mut failures = 0;
    for _ in 0..=RECEIVES_MAX + 1 {
        if let Some(outcome) = pipeline.bill_once(false).await {
            failures += outcome.failed.len();
        }
    }
    assert_eq!(failures, RECEIVES_MAX as usize);
    let dead = drain(&pipeline.sqs, &pipeline.dead_letters, 5).await;
    assert_eq!(dead.len(), 1);
    assert!(dead[0].contains("wamid.LOST"));
    assert!(
        drain(&pipeline.sqs, &pipeline.billing_queue, 5)
            .await
            .is_empty()
    );
    assert_reconciled(&pipeline.store, &account).await;
}

#[tokio::test]
async fn bad_signatures_are_401_and_enqueue_nothing() {
    let pipeline = Pipeline::spawn().await;
    let body = meta_body(
        "123456",
        vec![status(
            "wamid.SIG",
            "delivered",
            pmp("regular", "marketing"),
        )],
    );
    let good = imcredits::meta::signature::signature_header_value(&secret(), &body);
    let mut tampered = body.clone();
    let last = tampered.len() - 2;
    tampered[last] ^= 1;
    let other = imcredits::meta::AppSecret::new(b"someone-else").unwrap();
    let wrong = imcredits::meta::signature::signature_header_value(&other, &body);
    for (bytes, signature) in [
        (tampered, Some(good.clone())),
        (body.clone(), Some(wrong)),
        (body.clone(), None),
        (body.clone(), Some("sha256=zz".to_owned())),
    ] {
        assert_eq!(
            pipeline.post_signed(bytes, signature).await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert!(
        drain(&pipeline.sqs, &pipeline.billing_queue, 5)
            .await
            .is_empty()
    );
    // The same body, correctly signed over its exact (non-ASCII) bytes, is taken.
    assert_eq!(pipeline.post_signed(body, Some(good)).await, StatusCode::OK);
    assert_eq!(
        drain(&pipeline.sqs, &pipeline.billing_queue, 5).await.len(),
        1
    );
    let huge = vec![b' '; 3 * 1024 * 1024 + 1];
    assert_eq!(
        pipeline.post_signed(huge, None).await,
        StatusCode::PAYLOAD_TOO_LARGE
    );
}

#[tokio::test]
async fn the_handshake_answers_only_the_right_token() {
    let pipeline = Pipeline::spawn().await;
    let (status, body) = pipeline
        .get("hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158201444")
        .await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "1158201444"));
    for query in [
        "hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1",
        "hub.mode=unsubscribe&hub.verify_token=verify-me&hub.challenge=1",
        "hub.verify_token=verify-me&hub.challenge=1",
        "",
    ] {
        assert_eq!(
            pipeline.get(query).await.0,
            StatusCode::FORBIDDEN,
            "{query}"
        );
    }
}

#[tokio::test]
async fn crossing_a_threshold_notifies_once_and_asks_for_a_recharge() {
    let pipeline = Pipeline::spawn().await;
    let (account, phone) = pipeline.wallet("cross", "0.03").await;
    let store = &pipeline.store;
    imcredits::ports::store::WalletSettingsSet::set_low_balance_threshold(
        store,
        &account,
        usd("0.02"),
        imcredits_tests::at(),
    )
    .await
    .unwrap();
    let settings =
        imcredits::wallet::AutoRecharge::new(true, usd("0.01"), 5, imcredits::money::Currency::Usd)
            .unwrap();
    imcredits::ports::store::WalletSettingsSet::set_auto_recharge(
        store,
        &account,
        &settings,
        imcredits_tests::at(),
    )
    .await
    .unwrap();
    // 0.03 → 0.0175 (low) → 0.005 (below the minimum) → -0.0075 (depleted, may not send).
    let body = meta_body(
        &phone,
        (1..=3)
            .map(|i| {
                status(
                    &format!("wamid.X{i}"),
                    "delivered",
                    pmp("regular", "marketing"),
                )
            })
            .collect(),
    );
    assert_eq!(pipeline.post(body.clone()).await, StatusCode::OK);
    let outcome = pipeline.bill_all().await;
    assert_eq!(
        (outcome.posted, outcome.notices, outcome.recharge_requests),
        (3, 2, 1)
    );
    let wallet = assert_reconciled(store, &account).await;
    assert!(!wallet.can_send());
    let notices = pipeline.queue_bodies(&pipeline.notifications).await;
    let kinds: Vec<&str> = notices
        .iter()
        .map(|n| n["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.len(), 2);
    assert!(kinds.contains(&"balance.low") && kinds.contains(&"balance.depleted"));
    let recharges = pipeline.queue_bodies(&pipeline.recharges).await;
    assert_eq!(recharges.len(), 1);
    assert_eq!(recharges[0]["account_id"], account.as_str());
}
