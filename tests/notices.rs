//! Notices reach people: every event stored once in the feed and delivered to the endpoints that
//! want it, signed by Standard Webhooks and verified by its own Python library on 127.0.0.1;
//! retries with the same `webhook-id`; one chain per event however often a producer repeats it;
//! the SSRF guard at registration and at delivery; endpoints private to their account; a failing
//! endpoint disabled and its account told; and auto-recharge's decline arriving as
//! `recharge.failed` with its reason. DynamoDB Local for the store.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use imcredits::adapters::http_webhooks::StaticResolver;
use imcredits::money::{Currency, Money};
use imcredits::notices::address::AddressPolicy;
use imcredits::notices::delivery::QueueMessage;
use imcredits::notices::endpoint::{Endpoint, Owner};
use imcredits::notices::event::PurchaseChannel;
use imcredits::notices::signing::SigningSecret;
use imcredits::notices::{Event, EventData, EventType};
use imcredits::ports::notices::{DeliveryStore, EndpointStore};
use imcredits::ports::queue::QueueSend;
use imcredits_tests::app::TestApp;
use imcredits_tests::notices::{
    NoticesRig, drain_once, low_balance, notifier, quick_policy, with_id,
};
use imcredits_tests::receiver::Receiver;
use imcredits_tests::usd;
use serde_json::{Value, json};

const LONG: Duration = Duration::from_secs(20);

fn every_event(account: &imcredits::ids::AccountId) -> Vec<Event> {
    let money = |text: &str| Money::parse(text, Currency::Usd).unwrap();
    let at = time::OffsetDateTime::now_utc();
    let data = vec![
        EventData::BalanceLow {
            balance: money("4"),
            threshold: money("5"),
            available: Some(money("4")),
        },
        EventData::BalanceDepleted {
            balance: money("-0.01"),
            available: None,
        },
        EventData::BalanceRecovered {
            balance: money("10"),
            available: None,
        },
        EventData::PurchasePaid {
            purchase_id: "pur_1".into(),
            channel: PurchaseChannel::Card,
            credits: 3,
            credited: money("6"),
            balance: money("16"),
        },
        EventData::PurchaseFailed {
            purchase_id: "pur_2".into(),
            credits: 3,
            amount: money("6.18"),
            reason: "expired".into(),
        },
        EventData::RechargeSucceeded {
            attempt_id: "ra_1".into(),
            credits: 10,
            amount: money("20.60"),
        },
        EventData::RechargeFailed {
            attempt_id: "ra_2".into(),
            credits: 10,
            amount: money("20.60"),
            reason: "card_declined".into(),
        },
        EventData::AutoRechargeDisabled {
            attempt_id: "ra_2".into(),
            reason: "3 declined payments in a row".into(),
        },
        EventData::StatementMonthlyReady {
            month: "2026-10".into(),
        },
        EventData::WebhookEndpointDisabled {
            endpoint_id: "we_x".into(),
            url: "https://x.example/".into(),
            failing_since: at,
        },
    ];
    data.into_iter()
        .enumerate()
        .map(|(i, data)| Event::new(account, &format!("k{i}"), at, data).unwrap())
        .collect()
}

#[tokio::test]
async fn every_event_arrives_signed_verified_once_in_the_feed_and_the_read_marker_clears_it() {
    let rig = NoticesRig::start(quick_policy(Duration::from_secs(60))).await;
    let account = rig.app.wallet("ntc-all").await;
    rig.register(Some(&account), "/all", &[], json!({})).await;
    let platform_endpoint = rig
        .register(None, "/platform-low", &["balance.low"], json!({}))
        .await;
    let events = every_event(&account);
    assert_eq!(events.len(), EventType::ALL.len());
    for event in &events {
        rig.publish(event).await;
    }
    // The platform's endpoint also hears other tests' balance.low: count each path on its own.
    let log = rig
        .run_until(LONG, |log| {
            let on = |path: &str| log.iter().filter(|entry| entry["path"] == path).count();
            on("/all") >= events.len() && on("/platform-low") >= 1
        })
        .await;
    let all: Vec<&Value> = log.iter().filter(|entry| entry["path"] == "/all").collect();
    assert_eq!(all.len(), events.len(), "{log:?}");
    for event in &events {
        let got = with_id(&log, event.id.as_str());
        let mine: Vec<_> = got.iter().filter(|entry| entry["path"] == "/all").collect();
        assert_eq!(mine.len(), 1, "{}", event.id);
        assert_eq!(mine[0]["verified"], json!([true]), "{:?}", mine[0]);
        assert_eq!(mine[0]["body"]["type"], event.event_type().as_str());
        assert_eq!(mine[0]["body"]["version"], 1);
        assert_eq!(mine[0]["body"]["account_id"], account.as_str());
    }
    // The platform's endpoint asked for balance.low only.
    let platform: Vec<&Value> = log
        .iter()
        .filter(|entry| entry["path"] == "/platform-low")
        .collect();
    assert!(
        platform
            .iter()
            .all(|entry| entry["body"]["type"] == "balance.low"
                && entry["verified"] == json!([true]))
    );
    assert!(
        platform
            .iter()
            .any(|entry| entry["body"]["account_id"] == account.as_str())
    );

    let feed = rig.feed(&account).await;
    let notices = feed["notices"].as_array().unwrap();
    assert_eq!(notices.len(), events.len());
    assert!(notices.iter().all(|notice| notice["unread"] == true));
    let stored: Vec<&str> = notices
        .iter()
        .map(|n| n["stored_at"].as_str().unwrap())
        .collect();
    let times: Vec<time::OffsetDateTime> = stored
        .iter()
        .map(|text| {
            time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
                .unwrap()
        })
        .collect();
    assert!(
        times.windows(2).all(|pair| pair[0] >= pair[1]),
        "newest first: {stored:?}"
    );
    let token = rig.app.token(Some(&account), false);
    let marked = rig
        .app
        .call(
            Method::PUT,
            "/v1/wallet/notices/read-marker",
            &token,
            Some(json!({"read_through": stored[0]})),
        )
        .await;
    assert_eq!(marked.status, StatusCode::OK, "{}", marked.body);
    let feed = rig.feed(&account).await;
    assert!(
        feed["notices"]
            .as_array()
            .unwrap()
            .iter()
            .all(|notice| notice["unread"] == false)
    );
    // The marker never moves back.
    let back = rig
        .app
        .call(
            Method::PUT,
            "/v1/wallet/notices/read-marker",
            &token,
            Some(json!({"read_through": "2020-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(back.body["read_through"], feed["read_through"]);
    // The platform's endpoint would hear every other test's balance.low: remove it.
    let path = format!(
        "/v1/operator/webhook-endpoints/{}",
        platform_endpoint["id"].as_str().unwrap()
    );
    let removed = rig
        .app
        .call(Method::DELETE, &path, &rig.app.operator(), None)
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn a_receiver_failing_twice_gets_the_same_webhook_id_three_times_and_the_feed_shows_one() {
    let rig = NoticesRig::start(quick_policy(Duration::from_secs(60))).await;
    let account = rig.app.wallet("ntc-retry").await;
    let endpoint = rig
        .register(
            Some(&account),
            "/flaky",
            &[],
            json!({"fail_first": 2, "fail_status": 503}),
        )
        .await;
    let event = low_balance(&account, "7");
    rig.publish(&event).await;
    let log = rig.run_until(LONG, |log| log.len() >= 3).await;
    let got = with_id(&log, event.id.as_str());
    assert_eq!(got.len(), 3, "{log:?}");
    assert!(got.iter().all(|entry| entry["verified"] == json!([true])));
    assert_eq!(
        got.iter()
            .map(|e| e["status"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [503, 503, 200]
    );
    assert_eq!(
        rig.run_for(Duration::from_millis(800)).await.len(),
        3,
        "nothing after the 2xx"
    );
    assert_eq!(
        rig.feed(&account).await["notices"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // The delivery log, through the API: three attempts, their codes and latencies, no bodies.
    let token = rig.app.token(Some(&account), false);
    let id = endpoint["id"].as_str().unwrap();
    let page = rig
        .app
        .call(
            Method::GET,
            &format!("/v1/wallet/webhook-endpoints/{id}/deliveries"),
            &token,
            None,
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let delivery = &page.body["deliveries"][0];
    assert_eq!(delivery["status"], "delivered");
    let codes: Vec<u64> = delivery["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status_code"].as_u64().unwrap())
        .collect();
    assert_eq!(codes, [503, 503, 200]);
    assert!(
        !page.body.to_string().contains("threshold"),
        "bodies are not logged"
    );

    // Resend: the same event, the same webhook-id, once more.
    let resent = rig
        .app
        .call(
            Method::POST,
            &format!("/v1/wallet/webhook-endpoints/{id}/resend"),
            &token,
            Some(json!({"event_id": event.id.as_str()})),
        )
        .await;
    assert_eq!(resent.status, StatusCode::ACCEPTED, "{}", resent.body);
    let log = rig.run_until(LONG, |log| log.len() >= 4).await;
    assert_eq!(with_id(&log, event.id.as_str()).len(), 4);
    assert_eq!(log[3]["verified"], json!([true]));
}

/// A worker claims attempt 1 and dies before it posts or records (a SIGKILL, a Lambda timeout); the
/// queue hands the task out again while the dead worker's lease still holds. The attempt is made
/// once the lease lapses, once: the chain is not lost with the worker.
#[tokio::test]
async fn an_attempt_claimed_by_a_worker_that_died_is_made_when_its_lease_lapses() {
    let policy = quick_policy(Duration::from_secs(60));
    let rig = NoticesRig::start(policy).await;
    let account = rig.app.wallet("ntc-died").await;
    rig.register(Some(&account), "/died", &[], json!({})).await;
    let event = low_balance(&account, "11");
    rig.publish(&event).await;
    // The event: its delivery opened and attempt 1 queued.
    assert_eq!(drain_once(&rig.notifier, &rig.app.notifications).await, 1);
    let queue = &rig.app.notifications;
    let taken = queue.receive(10);
    assert_eq!(taken.len(), 1, "attempt 1 is queued");
    let Ok(QueueMessage::Attempt(task)) = serde_json::from_str(&taken[0].body) else {
        panic!("an attempt task: {}", taken[0].body);
    };
    let now_ms = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap();
    let lease = policy.attempt_timeout + policy.lease_margin;
    let lease_until_ms = now_ms + i64::try_from(lease.as_millis()).unwrap();
    let claimed = rig
        .app
        .store
        .claim_attempt(
            &task.endpoint_id,
            &task.delivery_key,
            1,
            now_ms,
            lease_until_ms,
        )
        .await
        .unwrap();
    assert!(
        claimed.is_some(),
        "the worker that then dies claimed attempt 1"
    );
    queue.release(taken[0].receipt);

    let log = rig.run_until(LONG, |log| !log.is_empty()).await;
    let got = with_id(&log, event.id.as_str());
    assert_eq!(got.len(), 1, "made after the lease lapsed: {log:?}");
    assert_eq!(got[0]["status"], 200);
    assert_eq!(
        rig.run_for(Duration::from_millis(800)).await.len(),
        1,
        "and made once"
    );
}

#[tokio::test]
async fn a_producer_retried_five_times_yields_one_event_and_one_delivery_chain() {
    let rig = NoticesRig::start(quick_policy(Duration::from_secs(60))).await;
    let account = rig.app.wallet("ntc-dup").await;
    rig.register(Some(&account), "/once", &[], json!({})).await;
    // A grant is a producer (purchase.paid, offline): the operator retries it five times.
    let grant =
        json!({"order_reference": format!("ZS-{account}"), "credits": 5, "source": "store"});
    for _ in 0..5 {
        let answer = rig
            .app
            .call(
                Method::POST,
                &format!("/v1/operator/accounts/{account}/grants"),
                &rig.app.operator(),
                Some(grant.clone()),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    }
    // Each retry published both of its events again (the credit recovered a wallet at zero).
    assert_eq!(rig.app.notifications.depth(), 10);
    let log = rig.run_until(LONG, |log| log.len() >= 2).await;
    assert_eq!(log.len(), 2, "{log:?}");
    let log = rig.run_for(Duration::from_millis(800)).await;
    assert_eq!(log.len(), 2, "one chain per event: {log:?}");
    let paid: Vec<&Value> = log
        .iter()
        .filter(|e| e["body"]["type"] == "purchase.paid")
        .collect();
    assert_eq!(paid.len(), 1, "{log:?}");
    assert_eq!(paid[0]["body"]["data"]["channel"], "offline");
    assert_eq!(paid[0]["body"]["data"]["credited"]["amount"], "10.00");
    assert!(log.iter().any(|e| e["body"]["type"] == "balance.recovered"));
    assert!(log.iter().all(|e| e["verified"] == json!([true])));
    let feed = rig.feed(&account).await;
    assert_eq!(feed["notices"].as_array().unwrap().len(), 2, "{feed}");
}

fn resolver() -> StaticResolver {
    let names: [(&str, &str); 4] = [
        ("private.test", "10.0.0.1"),
        ("metadata.test", "169.254.169.254"),
        ("loopback.test", "127.0.0.1"),
        ("mixed.test", "10.0.0.1"),
    ];
    let mut table: HashMap<String, Vec<IpAddr>> = names
        .iter()
        .map(|(name, ip)| (name.to_string(), vec![ip.parse().unwrap()]))
        .collect();
    table
        .get_mut("mixed.test")
        .unwrap()
        .insert(0, "93.184.215.14".parse().unwrap());
    StaticResolver(table)
}

#[tokio::test]
async fn private_metadata_and_loopback_addresses_are_refused_at_registration_and_at_delivery() {
    let app = TestApp::spawn_with(AddressPolicy::PublicHttpsOnly, resolver()).await;
    let receiver = Receiver::start();
    let account = app.wallet("ntc-ssrf").await;
    let token = app.token(Some(&account), false);
    let port = receiver.port;
    let refused = [
        format!("https://127.0.0.1:{port}/x"),
        format!("http://127.0.0.1:{port}/x"),
        "https://10.0.0.1/x".to_owned(),
        "https://169.254.169.254/latest/meta-data/".to_owned(),
        "https://[::ffff:169.254.169.254]/".to_owned(),
        "https://private.test/x".to_owned(),
        "https://metadata.test/x".to_owned(),
        format!("https://loopback.test:{port}/x"),
        "https://mixed.test/x".to_owned(),
        "https://unknown.test/x".to_owned(),
    ];
    for url in &refused {
        let answer = app
            .call(
                Method::POST,
                "/v1/wallet/webhook-endpoints",
                &token,
                Some(json!({"url": url})),
            )
            .await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{url}: {}",
            answer.body
        );
        assert!(
            answer.message().starts_with("url: "),
            "{}",
            answer.message()
        );
    }
    // Endpoints stored past the API (as if a name changed its answer after registration): every
    // attempt is refused before a connection is made, and the receiver on 127.0.0.1 hears nothing.
    let notifier = notifier(
        app.store.clone(),
        app.notifications.clone(),
        AddressPolicy::PublicHttpsOnly,
        resolver(),
        quick_policy(Duration::from_secs(60)),
    );
    for (index, url) in refused[..9].iter().enumerate() {
        let parsed = imcredits::notices::address::WebhookUrl::parse(
            &format!("https://ok-{index}.example/"),
            AddressPolicy::PublicHttpsOnly,
        )
        .unwrap();
        let mut endpoint = Endpoint::new(
            Owner::Account(account.clone()),
            &parsed,
            vec![],
            SigningSecret::generate().unwrap(),
            time::OffsetDateTime::now_utc(),
        );
        endpoint.url = url.clone();
        app.store.create_endpoint(&endpoint).await.unwrap();
    }
    app.notifications
        .send_all(&[imcredits::notices::delivery::event_message(&low_balance(
            &account, "1",
        ))])
        .await
        .unwrap();
    for _ in 0..20 {
        drain_once(&notifier, &app.notifications).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        receiver.log().await.is_empty(),
        "no request reached a refused address"
    );
    for endpoint in app
        .store
        .list_endpoints(&Owner::Account(account.clone()))
        .await
        .unwrap()
    {
        let page = app
            .call(
                Method::GET,
                &format!("/v1/wallet/webhook-endpoints/{}/deliveries", endpoint.id),
                &token,
                None,
            )
            .await;
        let delivery = &page.body["deliveries"][0];
        assert_eq!(
            delivery["status"], "failed",
            "{}: {}",
            endpoint.url, page.body
        );
        let attempt = &delivery["attempts"][0];
        assert!(
            attempt["error"].as_str().unwrap().starts_with("refused: "),
            "{}: {attempt}",
            endpoint.url
        );
        assert_eq!(
            delivery["attempts"].as_array().unwrap().len(),
            1,
            "a refusal is not retried"
        );
    }
}

#[tokio::test]
async fn an_account_cannot_read_or_change_another_s_endpoints() {
    let rig = NoticesRig::start(quick_policy(Duration::from_secs(60))).await;
    let acme = rig.app.wallet("ntc-own").await;
    let other = rig.app.wallet("ntc-other").await;
    let endpoint = rig.register(Some(&acme), "/acme", &[], json!({})).await;
    let id = endpoint["id"].as_str().unwrap();
    let token = rig.app.token(Some(&other), false);
    let list = rig
        .app
        .call(Method::GET, "/v1/wallet/webhook-endpoints", &token, None)
        .await;
    assert_eq!(list.body["endpoints"], json!([]));
    let base = format!("/v1/wallet/webhook-endpoints/{id}");
    for (method, path, body) in [
        (Method::DELETE, base.clone(), None),
        (Method::GET, format!("{base}/deliveries"), None),
        (
            Method::POST,
            format!("{base}/rotate-secret"),
            Some(json!({})),
        ),
        (
            Method::POST,
            format!("{base}/resend"),
            Some(json!({"event_id": format!("balance.low:{acme}:1")})),
        ),
    ] {
        let answer = rig.app.call(method, &path, &token, body).await;
        assert_eq!(
            answer.status,
            StatusCode::NOT_FOUND,
            "{path}: {}",
            answer.body
        );
    }
    let operator_routes = rig
        .app
        .call(Method::GET, "/v1/operator/webhook-endpoints", &token, None)
        .await;
    assert_eq!(operator_routes.status, StatusCode::FORBIDDEN);
    // acme's own endpoint is untouched, and acme cannot resend another account's event to it.
    let acme_token = rig.app.token(Some(&acme), false);
    let mine = rig
        .app
        .call(
            Method::GET,
            "/v1/wallet/webhook-endpoints",
            &acme_token,
            None,
        )
        .await;
    assert_eq!(mine.body["endpoints"][0]["id"], id);
    assert!(
        mine.body["endpoints"][0].get("secret").is_none(),
        "the secret is shown once"
    );
    let foreign = rig
        .app
        .call(
            Method::POST,
            &format!("{base}/resend"),
            &acme_token,
            Some(json!({"event_id": format!("balance.low:{other}:1")})),
        )
        .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    let twice = rig
        .app
        .call(
            Method::POST,
            "/v1/wallet/webhook-endpoints",
            &acme_token,
            Some(json!({"url": rig.receiver.url("/acme")})),
        )
        .await;
    assert_eq!(twice.status, StatusCode::CONFLICT);
    let bad_type = rig
        .app
        .call(
            Method::POST,
            "/v1/wallet/webhook-endpoints",
            &acme_token,
            Some(json!({"url": rig.receiver.url("/x"), "event_types": ["balance.lowish"]})),
        )
        .await;
    assert!(
        bad_type.message().starts_with("event_types: "),
        "{}",
        bad_type.body
    );
}

#[tokio::test]
async fn an_endpoint_failing_past_the_limit_is_disabled_stops_receiving_and_its_account_is_told() {
    let rig = NoticesRig::start(quick_policy(Duration::from_millis(600))).await;
    let account = rig.app.wallet("ntc-off").await;
    let endpoint = rig
        .register(Some(&account), "/down", &[], json!({"always_fail": true}))
        .await;
    rig.publish(&low_balance(&account, "1")).await;
    let token = rig.app.token(Some(&account), false);
    let mut disabled = Value::Null;
    for _ in 0..100 {
        rig.run_for(Duration::from_millis(100)).await;
        let list = rig
            .app
            .call(Method::GET, "/v1/wallet/webhook-endpoints", &token, None)
            .await;
        if list.body["endpoints"][0]["enabled"] == false {
            disabled = list.body["endpoints"][0].clone();
            break;
        }
    }
    assert_eq!(
        disabled["id"], endpoint["id"],
        "disabled after failing past the limit"
    );
    assert!(
        disabled["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("failed")
    );
    let received = rig.run_for(Duration::from_millis(500)).await.len();
    assert!(received >= 2, "it was tried before being disabled");
    rig.publish(&low_balance(&account, "2")).await;
    assert_eq!(
        rig.run_for(Duration::from_secs(1)).await.len(),
        received,
        "a disabled endpoint receives nothing"
    );
    let feed = rig.feed(&account).await;
    let kinds: Vec<&str> = feed["notices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds
            .iter()
            .filter(|kind| **kind == "webhook_endpoint.disabled")
            .count(),
        1,
        "{kinds:?}"
    );
}

#[tokio::test]
async fn rotation_signs_with_both_secrets_during_the_overlap_and_429_waits_for_retry_after() {
    let rig = NoticesRig::start(quick_policy(Duration::from_secs(60))).await;
    let account = rig.app.wallet("ntc-rot").await;
    let endpoint = rig.register(Some(&account), "/rot", &[], json!({})).await;
    let old = endpoint["secret"].as_str().unwrap().to_owned();
    let token = rig.app.token(Some(&account), false);
    let id = endpoint["id"].as_str().unwrap();
    let rotated = rig
        .app
        .call(
            Method::POST,
            &format!("/v1/wallet/webhook-endpoints/{id}/rotate-secret"),
            &token,
            Some(json!({"overlap_hours": 1})),
        )
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let new = rotated.body["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    // Verified with the old secret and with the new one, separately; the first answer is a 429.
    rig.receiver
        .route(
            "/rot",
            &[&old, &new],
            json!({"fail_first": 1, "fail_status": 429, "retry_after": "1"}),
        )
        .await;
    let event = low_balance(&account, "rot");
    rig.publish(&event).await;
    let log = rig.run_until(LONG, |log| log.len() >= 2).await;
    assert_eq!(log.len(), 2, "{log:?}");
    assert!(
        log.iter()
            .all(|entry| entry["verified"] == json!([true, true])),
        "{log:?}"
    );
    let waited = log[1]["received_at"].as_f64().unwrap() - log[0]["received_at"].as_f64().unwrap();
    assert!(
        waited >= 0.95,
        "Retry-After: 1 was honoured, not the 50 ms schedule ({waited} s)"
    );
    // Without an overlap only the new secret signs.
    rig.app
        .call(
            Method::POST,
            &format!("/v1/wallet/webhook-endpoints/{id}/rotate-secret"),
            &token,
            Some(json!({"overlap_hours": 0})),
        )
        .await;
    let newest = rig
        .app
        .call(Method::GET, "/v1/wallet/webhook-endpoints", &token, None)
        .await;
    assert!(newest.body["endpoints"][0]["previous_secret_until"].is_string());
}

#[tokio::test]
async fn the_auto_recharge_decline_ends_in_a_signed_recharge_failed_delivery_with_its_reason() {
    use imcredits_tests::recharge::{RechargeRig, declined};
    let rig = RechargeRig::start(
        imcredits_tests::dynamo_store().await,
        Default::default(),
        2_000,
    )
    .await;
    rig.answer_every_charge(declined()).await;
    let account = rig.due_wallet("ntc-decline", "1").await;
    let receiver = Receiver::start();
    let url = imcredits::notices::address::WebhookUrl::parse(
        &receiver.url("/cards"),
        AddressPolicy::AllowLoopbackHttp,
    )
    .unwrap();
    let secret = SigningSecret::generate().unwrap();
    let endpoint = Endpoint::new(
        Owner::Account(account.clone()),
        &url,
        vec![EventType::RechargeFailed],
        secret.clone(),
        time::OffsetDateTime::now_utc(),
    );
    rig.store.create_endpoint(&endpoint).await.unwrap();
    receiver
        .route("/cards", &[&secret.expose()], json!({}))
        .await;

    rig.recharger.recharge(&account).await.unwrap();
    let notifier = notifier(
        rig.store.clone(),
        rig.notifications.clone(),
        AddressPolicy::AllowLoopbackHttp,
        StaticResolver::default(),
        quick_policy(Duration::from_secs(60)),
    );
    let mut log = Vec::new();
    for _ in 0..200 {
        drain_once(&notifier, &rig.notifications).await;
        log = receiver.log().await;
        if !log.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0]["verified"], json!([true]));
    assert_eq!(log[0]["body"]["type"], "recharge.failed");
    assert_eq!(
        log[0]["body"]["data"]["reason"],
        "card_declined: insufficient_funds"
    );
    assert_eq!(log[0]["body"]["data"]["amount"]["amount"], "20.60");
    let _ = usd("0");
}

#[tokio::test]
async fn the_runner_s_engine_runs_the_same_feed_and_delivery_chain() {
    use imcredits::ports::notices::{DeliveryStore, NoticeFeed};
    let backend = imcredits_tests::Backend::dynoxide().await;
    let store = backend.store().await;
    let account = imcredits_tests::new_wallet(&store, "ntc-dynoxide")
        .await
        .account_id;
    let receiver = Receiver::start();
    let url = imcredits::notices::address::WebhookUrl::parse(
        &receiver.url("/runner"),
        AddressPolicy::AllowLoopbackHttp,
    )
    .unwrap();
    let secret = SigningSecret::generate().unwrap();
    let endpoint = Endpoint::new(
        Owner::Account(account.clone()),
        &url,
        vec![],
        secret.clone(),
        time::OffsetDateTime::now_utc(),
    );
    store.create_endpoint(&endpoint).await.unwrap();
    receiver
        .route("/runner", &[&secret.expose()], json!({"fail_first": 1}))
        .await;
    let queue = imcredits::adapters::memory_queue::MemoryQueue::new(5, Duration::from_secs(30));
    let notifier = notifier(
        store.clone(),
        queue.clone(),
        AddressPolicy::AllowLoopbackHttp,
        StaticResolver::default(),
        quick_policy(Duration::from_secs(60)),
    );
    let event = low_balance(&account, "dynoxide");
    for _ in 0..3 {
        queue
            .send_all(&[imcredits::notices::delivery::event_message(&event)])
            .await
            .unwrap();
    }
    let mut log = Vec::new();
    for _ in 0..300 {
        drain_once(&notifier, &queue).await;
        log = receiver.log().await;
        if log.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(log.len(), 2, "{log:?}");
    assert!(with_id(&log, event.id.as_str()).len() == 2);
    assert!(log.iter().all(|entry| entry["verified"] == json!([true])));
    let page = store.notices_page(&account, 10, None).await.unwrap();
    assert_eq!(page.notices.len(), 1);
    let deliveries = store.deliveries_page(&endpoint.id, 10, None).await.unwrap();
    assert_eq!(deliveries.deliveries.len(), 1);
    assert_eq!(deliveries.deliveries[0].log.len(), 2);
}
