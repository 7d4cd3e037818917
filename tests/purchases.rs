//! Buying credits through the API on DynamoDB Local, with `wiremock` standing in for Stripe's API
//! (it checks what is sent) and Stripe-shaped webhooks signed as Stripe signs them.

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode};
use imcredits::ids::AccountId;
use imcredits_tests::app::{Answer, TestApp};
use imcredits_tests::assert_reconciled;
use imcredits_tests::stripe::{
    CANCEL_URL, SUCCESS_URL, SessionFacts, event, form, intent_succeeded, session_event, sign,
};
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

async fn buy(app: &TestApp, account: &AccountId, key: &str, credits: u64) -> Answer {
    let owner = app.token(Some(account), false);
    app.purchase(&owner, key, json!({ "credits": credits }))
        .await
}

/// The session facts of a purchase the API answered, as Stripe would report them.
fn facts(purchase: &Answer, account: &AccountId) -> SessionFacts {
    let total = &purchase.body["quote"]["total"]["amount"];
    let cents = total
        .as_str()
        .and_then(|text| text.replace('.', "").parse::<i64>().ok())
        .expect("a two-decimal total");
    SessionFacts::for_purchase(
        purchase.body["purchase_id"]
            .as_str()
            .expect("a purchase id"),
        account.as_str(),
        u32::try_from(purchase.body["quote"]["credits"].as_u64().expect("credits"))
            .expect("credits fit"),
        cents,
    )
}

async fn history(app: &TestApp, account: &AccountId, query: &str) -> Answer {
    app.call(
        Method::GET,
        &format!("/v1/wallet/purchases{query}"),
        &app.token(Some(account), false),
        None,
    )
    .await
}

async fn status_of(app: &TestApp, account: &AccountId, purchase_id: &str) -> Value {
    let page = history(app, account, "?limit=100").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    page.body["purchases"]
        .as_array()
        .expect("purchases")
        .iter()
        .find(|purchase| purchase["purchase_id"] == purchase_id)
        .map(|purchase| purchase["status"].clone())
        .unwrap_or(Value::Null)
}

#[tokio::test]
async fn the_quote_and_the_checkout_amount_agree_to_the_cent() {
    let app = TestApp::spawn().await;
    let account = app.wallet("amounts").await;
    let owner = app.token(Some(&account), false);
    for (credits, cents) in [(1u64, "206"), (3, "618"), (10_000, "2060000")] {
        let quote = app.quote(&owner, credits).await;
        assert_eq!(quote.status, StatusCode::OK, "{}", quote.body);
        let purchase = buy(&app, &account, &format!("amounts-{credits}"), credits).await;
        assert_eq!(purchase.status, StatusCode::CREATED, "{}", purchase.body);
        assert_eq!(purchase.body["status"], "pending");
        // The purchase carries exactly the quote the buyer checked.
        assert_eq!(purchase.body["quote"], quote.body);
        let purchase_id = purchase.body["purchase_id"].as_str().unwrap();
        let key = format!("imcredits.checkout.{purchase_id}");
        let sent: Vec<_> = app
            .stripe
            .checkout_requests()
            .await
            .into_iter()
            .filter(|request| request.headers["Idempotency-Key"] == key.as_str())
            .collect();
        assert_eq!(sent.len(), 1, "{credits} credits: one Checkout Session");
        let fields = form(&sent[0]);
        // Stripe is asked for the quote's total, fee included, in cents: to the cent.
        assert_eq!(fields["line_items[0][price_data][unit_amount]"], cents);
        assert_eq!(
            quote.body["total"]["amount"]
                .as_str()
                .unwrap()
                .replace('.', "")
                .trim_start_matches('0'),
            cents
        );
        assert_eq!(fields["line_items[0][quantity]"], "1");
        assert_eq!(fields["line_items[0][price_data][currency]"], "usd");
        assert_eq!(fields["mode"], "payment");
        assert_eq!(
            fields["payment_intent_data[setup_future_usage]"],
            "off_session"
        );
        assert_eq!(fields["client_reference_id"], purchase_id);
        assert_eq!(fields["metadata[purchase_id]"], purchase_id);
        assert_eq!(fields["metadata[account_id]"], account.as_str());
        assert_eq!(fields["metadata[credits]"], credits.to_string());
        assert_eq!(fields["success_url"], SUCCESS_URL);
        assert_eq!(fields["cancel_url"], CANCEL_URL);
        assert_eq!(fields["customer_creation"], "always");
        assert_eq!(
            sent[0].headers["Authorization"],
            format!("Bearer {}", imcredits_tests::stripe::SECRET_KEY).as_str()
        );
        assert_eq!(
            purchase.body["checkout_url"],
            format!(
                "https://checkout.stripe.com/c/pay/{}",
                imcredits_tests::stripe::session_id_for_key(&key)
            )
        );
    }
    // Nothing is credited before payment.
    let wallet = assert_reconciled(&app.store, &account).await;
    assert_eq!(wallet.entry_count, 0);
}

#[tokio::test]
async fn a_purchase_replayed_with_one_key_opens_one_checkout_and_another_body_is_409() {
    let app = TestApp::spawn().await;
    let account = app.wallet("replay").await;
    let first = buy(&app, &account, "order-1", 3).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert!(first.headers.get("idempotent-replayed").is_none());
    for _ in 0..4 {
        let replay = buy(&app, &account, "order-1", 3).await;
        assert_eq!(replay.status, StatusCode::CREATED, "{}", replay.body);
        assert_eq!(replay.headers["idempotent-replayed"], "true");
        assert_eq!(replay.body["purchase_id"], first.body["purchase_id"]);
        assert_eq!(replay.body["checkout_url"], first.body["checkout_url"]);
    }
    // Concurrent replays too: one purchase, and whatever reaches Stripe carries one key.
    let (a, b, c) = tokio::join!(
        buy(&app, &account, "order-2", 5),
        buy(&app, &account, "order-2", 5),
        buy(&app, &account, "order-2", 5)
    );
    let ids: BTreeSet<_> = [&a, &b, &c]
        .iter()
        .map(|answer| {
            assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
            answer.body["purchase_id"].to_string()
        })
        .collect();
    assert_eq!(ids.len(), 1);

    let requests = app.stripe.checkout_requests().await;
    let keys: Vec<String> = requests
        .iter()
        .map(|request| {
            request.headers["Idempotency-Key"]
                .to_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let first_key = format!(
        "imcredits.checkout.{}",
        first.body["purchase_id"].as_str().unwrap()
    );
    // The replays of order-1 found its stored page and never called Stripe again.
    assert_eq!(keys.iter().filter(|key| **key == first_key).count(), 1);
    let second: BTreeSet<&String> = keys.iter().filter(|key| **key != first_key).collect();
    assert_eq!(
        second.len(),
        1,
        "order-2 used one idempotency key: {keys:?}"
    );

    // The same key with another body is a conflict, and changes nothing.
    let before = history(&app, &account, "").await.body;
    let other = buy(&app, &account, "order-1", 4).await;
    assert_eq!(other.status, StatusCode::CONFLICT, "{}", other.body);
    assert!(
        other.message().contains("Idempotency-Key"),
        "{}",
        other.message()
    );
    assert_eq!(history(&app, &account, "").await.body, before);
    assert_eq!(before["purchases"].as_array().unwrap().len(), 2);
    // A new key is a new purchase.
    let new = buy(&app, &account, "order-3", 3).await;
    assert_ne!(new.body["purchase_id"], first.body["purchase_id"]);
    assert_reconciled(&app.store, &account).await;
}

#[tokio::test]
async fn a_checkout_retried_after_stripe_failed_reuses_its_idempotency_key() {
    let app = TestApp::spawn().await;
    let account = app.wallet("stripe-down").await;
    // Stripe answers 500 to the first call and both of the client's retries.
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(
            ResponseTemplate::new(500)
                .set_body_json(json!({"error": {"type": "api_error", "message": "try later"}})),
        )
        .up_to_n_times(3)
        .with_priority(1)
        .mount(&app.stripe.server)
        .await;
    let failed = buy(&app, &account, "retry-me", 3).await;
    assert_eq!(
        failed.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        failed.body
    );
    assert!(failed.message().contains("same Idempotency-Key"));
    // The purchase is recorded, pending, without a page.
    let listed = history(&app, &account, "").await;
    assert_eq!(listed.body["purchases"][0]["status"], "pending");
    assert_eq!(listed.body["purchases"][0]["checkout_url"], Value::Null);

    let retried = buy(&app, &account, "retry-me", 3).await;
    assert_eq!(retried.status, StatusCode::CREATED, "{}", retried.body);
    assert!(retried.body["checkout_url"].is_string());
    let requests = app.stripe.checkout_requests().await;
    assert_eq!(requests.len(), 4);
    let keys: BTreeSet<_> = requests
        .iter()
        .map(|request| {
            request.headers["Idempotency-Key"]
                .to_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        keys.len(),
        1,
        "every attempt carried the same key: {keys:?}"
    );
    // Every attempt sent the very same request.
    assert!(requests.windows(2).all(|pair| pair[0].body == pair[1].body));
    assert_reconciled(&app.store, &account).await;
}

#[tokio::test]
async fn a_refused_checkout_fails_the_purchase() {
    let app = TestApp::spawn().await;
    let account = app.wallet("refused").await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {
            "type": "invalid_request_error", "code": "amount_too_large",
            "message": "Amount must be no more than $999,999.99"}})))
        .with_priority(1)
        .mount(&app.stripe.server)
        .await;
    let refused = buy(&app, &account, "too-big", 3).await;
    assert_eq!(refused.status, StatusCode::BAD_GATEWAY, "{}", refused.body);
    assert!(refused.message().contains("Amount must be no more"));
    let replay = buy(&app, &account, "too-big", 3).await;
    assert_eq!(replay.body["status"], "failed");
    assert_eq!(replay.body["checkout_url"], Value::Null);
    // A failed purchase is not retried at Stripe.
    assert_eq!(app.stripe.checkout_requests().await.len(), 1);
    assert_reconciled(&app.store, &account).await;
}

#[tokio::test]
async fn the_key_header_is_required_and_nothing_is_written_without_it() {
    let app = TestApp::spawn().await;
    let account = app.wallet("no-key").await;
    let owner = app.token(Some(&account), false);
    let missing = app
        .call(
            Method::POST,
            "/v1/wallet/purchases",
            &owner,
            Some(json!({"credits": 3})),
        )
        .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert!(
        missing.message().starts_with("Idempotency-Key: "),
        "{}",
        missing.message()
    );
    for (key, body, status, needle) in [
        (
            "has space",
            json!({"credits": 3}),
            StatusCode::BAD_REQUEST,
            "Idempotency-Key: ",
        ),
        (
            &*"k".repeat(129),
            json!({"credits": 3}),
            StatusCode::BAD_REQUEST,
            "Idempotency-Key: ",
        ),
        (
            "ok-key",
            json!({"credits": 0}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "credits: ",
        ),
        (
            "ok-key",
            json!({"credits": 10_001}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "credits: ",
        ),
        (
            "ok-key",
            json!({"credits": 3, "price": 1}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown field",
        ),
    ] {
        let answer = app.purchase(&owner, key, body.clone()).await;
        assert_eq!(answer.status, status, "{key} {body}: {}", answer.body);
        assert!(answer.message().contains(needle), "{}", answer.message());
    }
    let listed = history(&app, &account, "").await;
    assert_eq!(listed.body["purchases"], json!([]));
    assert!(app.stripe.checkout_requests().await.is_empty());
    assert_reconciled(&app.store, &account).await;
}

#[tokio::test]
async fn completion_delivered_five_times_among_expiries_credits_once() {
    let app = TestApp::spawn().await;
    let account = app.wallet("exactly-once").await;
    let purchase = buy(&app, &account, "five-times", 3).await;
    let purchase_id = purchase.body["purchase_id"].as_str().unwrap().to_owned();
    let facts = facts(&purchase, &account);
    let completed = session_event(
        "evt_completed",
        "checkout.session.completed",
        "paid",
        &facts,
    );
    let expired = session_event("evt_expired", "checkout.session.expired", "unpaid", &facts);

    // An expiry overtakes the completion: the purchase shows expired until the money arrives.
    let answer = app.deliver_signed(&expired).await;
    assert_eq!(answer.body["outcome"], "marked_expired", "{}", answer.body);
    assert_eq!(status_of(&app, &account, &purchase_id).await, "expired");

    let mut outcomes = Vec::new();
    let first = app.deliver_signed(&completed).await;
    outcomes.push(first.body["outcome"].clone());
    let again = app.deliver_signed(&expired).await;
    assert_eq!(again.body["outcome"], "unchanged");
    // Three at once, as Stripe's retries and a slow first answer can make happen.
    let (a, b, c) = tokio::join!(
        app.deliver_signed(&completed),
        app.deliver_signed(&completed),
        app.deliver_signed(&completed)
    );
    outcomes.extend([&a, &b, &c].map(|answer| answer.body["outcome"].clone()));
    app.deliver_signed(&expired).await;
    let last = app.deliver_signed(&completed).await;
    outcomes.push(last.body["outcome"].clone());

    assert_eq!(outcomes.len(), 5);
    assert_eq!(
        outcomes
            .iter()
            .filter(|outcome| **outcome == "credited")
            .count(),
        1,
        "{outcomes:?}"
    );
    assert!(
        outcomes
            .iter()
            .all(|outcome| *outcome == "credited" || *outcome == "already_credited"),
        "{outcomes:?}"
    );
    assert_eq!(status_of(&app, &account, &purchase_id).await, "paid");
    let wallet = assert_reconciled(&app.store, &account).await;
    // 3 credits × 2.00: the 0.18 fee is not credited.
    assert_eq!(
        (wallet.entry_count, wallet.balance.amount().to_string()),
        (1, "6.00".into())
    );
}

#[tokio::test]
async fn every_order_of_events_ends_in_the_same_state() {
    let app = TestApp::spawn().await;
    let account = app.wallet("orders").await;
    let orders: [&[&str]; 6] = [
        &["paid", "expired", "failed"],
        &["expired", "paid", "failed"],
        &["failed", "expired", "paid"],
        &["expired", "failed"],
        &["failed", "expired"],
        &["async_paid", "paid", "expired"],
    ];
    let mut credited = 0u32;
    for (index, order) in orders.iter().enumerate() {
        let purchase = buy(&app, &account, &format!("order-{index}"), 1).await;
        let facts = facts(&purchase, &account);
        for (step, name) in order.iter().enumerate() {
            let id = format!("evt_{index}_{step}");
            let body = match *name {
                "paid" => session_event(&id, "checkout.session.completed", "paid", &facts),
                "async_paid" => session_event(
                    &id,
                    "checkout.session.async_payment_succeeded",
                    "paid",
                    &facts,
                ),
                "expired" => session_event(&id, "checkout.session.expired", "unpaid", &facts),
                _ => session_event(
                    &id,
                    "checkout.session.async_payment_failed",
                    "unpaid",
                    &facts,
                ),
            };
            let answer = app.deliver_signed(&body).await;
            assert_eq!(answer.status, StatusCode::OK, "{order:?}: {}", answer.body);
        }
        let expected = if order.iter().any(|name| name.contains("paid")) {
            credited += 1;
            "paid"
        } else {
            "failed"
        };
        let purchase_id = purchase.body["purchase_id"].as_str().unwrap();
        assert_eq!(
            status_of(&app, &account, purchase_id).await,
            expected,
            "{order:?}"
        );
    }
    let wallet = assert_reconciled(&app.store, &account).await;
    assert_eq!(wallet.entry_count, u64::from(credited));
    assert_eq!(
        wallet.balance.amount().to_string(),
        format!("{}.00", 2 * credited)
    );
}

#[tokio::test]
async fn forged_stale_and_missing_signatures_are_400_and_change_nothing() {
    let app = TestApp::spawn().await;
    let account = app.wallet("signatures").await;
    let purchase = buy(&app, &account, "signed", 3).await;
    let purchase_id = purchase.body["purchase_id"].as_str().unwrap().to_owned();
    let body = session_event(
        "evt_sig",
        "checkout.session.completed",
        "paid",
        &facts(&purchase, &account),
    );
    let now = OffsetDateTime::now_utc();
    let forged = imcredits::adapters::stripe::webhook::signature_header(
        &imcredits::adapters::stripe::webhook::WebhookSecret::parse("whsec_not_ours").unwrap(),
        now,
        &body,
    );
    // Ten minutes either way: well outside the 300 s tolerance however long the test takes (the
    // exact boundary is tested in the verifier's unit tests, with a fixed clock).
    let stale = sign(&body, now - Duration::seconds(600));
    let future = sign(&body, now + Duration::seconds(600));
    let mut tampered = body.clone();
    let at = tampered.len() - 2;
    tampered.insert(at, b' ');
    let attempts: [(&[u8], Option<String>); 7] = [
        (&body, None),
        (&body, Some(forged)),
        (&body, Some(stale)),
        (&body, Some(future)),
        (&tampered, Some(sign(&body, now))),
        (&body, Some("t=abc,v1=00".into())),
        (&body, Some(String::new())),
    ];
    for (delivered, signature) in attempts {
        let answer = app.deliver(delivered, signature.as_deref()).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{signature:?}: {}",
            answer.body
        );
        assert_eq!(answer.body["error"]["code"], "bad_signature");
        assert_eq!(status_of(&app, &account, &purchase_id).await, "pending");
        assert_eq!(app.balance(&account).await, "0.00");
    }
    // A body beyond the webhook's limit is refused before it is read in full.
    let huge = vec![b' '; 256 * 1024 + 1];
    let too_large = app.deliver(&huge, Some(&sign(&huge, now))).await;
    assert_eq!(
        too_large.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        too_large.body
    );
    // The same body, properly signed, is what credits: the refusals were the signatures.
    let good = app.deliver_signed(&body).await;
    assert_eq!(good.body["outcome"], "credited", "{}", good.body);
    let wallet = assert_reconciled(&app.store, &account).await;
    assert_eq!(wallet.balance.amount().to_string(), "6.00");
}

#[tokio::test]
async fn an_account_sees_and_settles_only_its_own_purchases() {
    let app = TestApp::spawn().await;
    let a = app.wallet("buyer-a").await;
    let b = app.wallet("buyer-b").await;
    // The same key from two accounts is two purchases.
    let a_purchase = buy(&app, &a, "shared-key", 1).await;
    let b_purchase = buy(&app, &b, "shared-key", 2).await;
    assert_eq!(a_purchase.status, StatusCode::CREATED);
    assert_eq!(b_purchase.status, StatusCode::CREATED);
    assert_ne!(
        a_purchase.body["purchase_id"],
        b_purchase.body["purchase_id"]
    );

    let a_history = history(&app, &a, "").await;
    let listed: Vec<_> = a_history.body["purchases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|purchase| purchase["purchase_id"].clone())
        .collect();
    assert_eq!(listed, [a_purchase.body["purchase_id"].clone()]);
    let b_history = history(&app, &b, "").await;
    assert_eq!(b_history.body["purchases"].as_array().unwrap().len(), 1);
    assert_eq!(
        b_history.body["purchases"][0]["purchase_id"],
        b_purchase.body["purchase_id"]
    );

    // An event naming B's purchase under A's account finds nothing and credits nothing.
    let mut crossed = facts(&b_purchase, &b);
    crossed.account_id = a.to_string();
    let answer = app
        .deliver_signed(&session_event(
            "evt_cross",
            "checkout.session.completed",
            "paid",
            &crossed,
        ))
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["outcome"], "unknown_purchase");
    // A token without an account, or none at all, reaches no history.
    let no_account = app.token(None, false);
    let refused = app
        .call(Method::GET, "/v1/wallet/purchases", &no_account, None)
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let anonymous = app
        .call_raw(Method::GET, "/v1/wallet/purchases", None, None, Vec::new())
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let anonymous_buy = app
        .call_with_headers(
            Method::POST,
            "/v1/wallet/purchases",
            None,
            Some("application/json"),
            &[("Idempotency-Key", "k")],
            br#"{"credits": 1}"#.to_vec(),
        )
        .await;
    assert_eq!(anonymous_buy.status, StatusCode::UNAUTHORIZED);
    for account in [&a, &b] {
        let wallet = assert_reconciled(&app.store, account).await;
        assert_eq!(wallet.entry_count, 0);
    }
}

#[tokio::test]
async fn quote_purchase_payment_balance_and_history_in_one_flow() {
    let app = TestApp::spawn().await;
    let account = app.wallet("full-flow").await;
    let owner = app.token(Some(&account), false);
    let quote = app.quote(&owner, 3).await;
    assert_eq!(quote.body["total"]["display"], "6.18");
    let purchase = buy(&app, &account, "flow-1", 3).await;
    assert_eq!(purchase.status, StatusCode::CREATED, "{}", purchase.body);
    assert_eq!(purchase.body["credited"]["display"], "6.00");
    let facts = facts(&purchase, &account);

    let paid = app
        .deliver_signed(&session_event(
            "evt_flow_paid",
            "checkout.session.completed",
            "paid",
            &facts,
        ))
        .await;
    assert_eq!(paid.body["outcome"], "credited", "{}", paid.body);
    assert_eq!(paid.body["event_id"], "evt_flow_paid");
    let card = app
        .deliver_signed(&intent_succeeded("evt_flow_card", &facts, "pm_card_visa"))
        .await;
    assert_eq!(
        card.body["outcome"], "payment_method_saved",
        "{}",
        card.body
    );
    assert_eq!(app.balance(&account).await, "6.00");

    let statement = app
        .call(Method::GET, "/v1/wallet/statement", &owner, None)
        .await;
    let entry = &statement.body["entries"][0];
    assert_eq!(entry["kind"], "purchase");
    assert_eq!(
        entry["id"],
        format!(
            "purchase:{}",
            purchase.body["purchase_id"].as_str().unwrap()
        )
    );
    assert_eq!(entry["amount"]["display"], "6.00");
    assert_eq!(entry["metadata"]["charged_total"], "6.18");
    assert_eq!(entry["metadata"]["checkout_session"], facts.session_id);

    let listed = history(&app, &account, "").await;
    let shown = &listed.body["purchases"][0];
    assert_eq!(shown["status"], "paid");
    assert_eq!(shown["quote"]["total"]["display"], "6.18");
    assert!(shown["paid_at"].is_string());
    assert_eq!(shown["checkout_url"], Value::Null);
    assert_eq!(listed.body["next_cursor"], Value::Null);

    // The next purchase pays as the customer the first one saved.
    let second = buy(&app, &account, "flow-2", 1).await;
    let sent = app.stripe.checkout_requests().await;
    let fields = form(sent.last().unwrap());
    assert_eq!(fields["customer"], facts.customer);
    assert!(!fields.contains_key("customer_creation"));
    assert_eq!(second.body["status"], "pending");
    assert_reconciled(&app.store, &account).await;
}

#[tokio::test]
async fn auto_recharge_is_refused_until_a_purchase_saves_a_card() {
    let app = TestApp::spawn().await;
    let account = app.wallet("auto-card").await;
    let owner = app.token(Some(&account), false);
    let enable = json!({"enabled": true, "minimum_balance": "5.00", "credits": 10});
    let put = || async {
        app.call(
            Method::PUT,
            "/v1/wallet/auto-recharge",
            &owner,
            Some(enable.clone()),
        )
        .await
    };
    let refused = put().await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert!(refused.message().contains("buy"), "{}", refused.message());
    assert!(refused.message().contains("/v1/wallet/purchases"));
    // Turning it off needs no card.
    let off = app
        .call(
            Method::PUT,
            "/v1/wallet/auto-recharge",
            &owner,
            Some(json!({"enabled": false, "minimum_balance": "0", "credits": 1})),
        )
        .await;
    assert_eq!(off.status, StatusCode::OK, "{}", off.body);

    let purchase = buy(&app, &account, "card-1", 1).await;
    let facts = facts(&purchase, &account);
    // The card arrives before the completion (Stripe does not order them): saved all the same.
    let card = app
        .deliver_signed(&intent_succeeded("evt_card", &facts, "pm_card_mastercard"))
        .await;
    assert_eq!(card.body["outcome"], "payment_method_saved");
    let still_unpaid = put().await;
    assert_eq!(still_unpaid.status, StatusCode::OK, "{}", still_unpaid.body);
    assert_eq!(
        still_unpaid.body["message"],
        "Auto-Recharge Updated Successfully"
    );
    app.deliver_signed(&session_event(
        "evt_card_paid",
        "checkout.session.completed",
        "paid",
        &facts,
    ))
    .await;
    assert_eq!(put().await.status, StatusCode::OK);
    let wallet = assert_reconciled(&app.store, &account).await;
    assert!(wallet.auto_recharge.enabled);
}

#[tokio::test]
async fn the_newest_purchase_s_card_wins_in_any_order() {
    use imcredits::ports::store::PaymentMethodGet;
    let app = TestApp::spawn().await;
    let account = app.wallet("two-cards").await;
    let older = facts(&buy(&app, &account, "card-old", 1).await, &account);
    let newer = facts(&buy(&app, &account, "card-new", 1).await, &account);
    // The newer purchase's card first, then the older one's late event.
    let answer = app
        .deliver_signed(&intent_succeeded("evt_new", &newer, "pm_new"))
        .await;
    assert_eq!(answer.body["outcome"], "payment_method_saved");
    let answer = app
        .deliver_signed(&intent_succeeded("evt_old", &older, "pm_old"))
        .await;
    assert_eq!(answer.body["outcome"], "newer_payment_method_kept");
    // And the older purchase's completion still credits, keeping the newer card.
    let answer = app
        .deliver_signed(&session_event(
            "evt_old_paid",
            "checkout.session.completed",
            "paid",
            &older,
        ))
        .await;
    assert_eq!(answer.body["outcome"], "credited");
    let saved = app
        .store
        .get_payment_method(&account)
        .await
        .unwrap()
        .expect("a card is saved");
    assert_eq!(saved.payment_method.unwrap().as_str(), "pm_new");
    assert_eq!(saved.source_purchase.as_str(), newer.purchase_id);
    let wallet = assert_reconciled(&app.store, &account).await;
    assert_eq!(wallet.balance.amount().to_string(), "2.00");
}

#[tokio::test]
async fn unpaid_completions_wait_and_other_events_are_acknowledged() {
    let app = TestApp::spawn().await;
    let account = app.wallet("other-events").await;
    let purchase = buy(&app, &account, "bank-debit", 2).await;
    let purchase_id = purchase.body["purchase_id"].as_str().unwrap().to_owned();
    let facts = facts(&purchase, &account);
    // A delayed payment method: completed but unpaid, then it settles.
    let waiting = app
        .deliver_signed(&session_event(
            "evt_unpaid",
            "checkout.session.completed",
            "unpaid",
            &facts,
        ))
        .await;
    assert_eq!(waiting.body["outcome"], "awaiting_payment");
    assert_eq!(status_of(&app, &account, &purchase_id).await, "pending");
    for (id, event_type, object) in [
        (
            "evt_refund",
            "charge.refunded",
            json!({"id": "ch_1", "object": "charge"}),
        ),
        ("evt_customer", "customer.updated", json!(null)),
        (
            "evt_recharge",
            "payment_intent.succeeded",
            json!({"id": "pi_r", "metadata": {"attempt_id": "acme-1"}}),
        ),
        (
            "evt_foreign",
            "checkout.session.completed",
            json!({"id": "cs_other", "payment_status": "paid", "metadata": {}}),
        ),
    ] {
        let answer = app.deliver_signed(&event(id, event_type, object)).await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "{event_type}: {}",
            answer.body
        );
        assert_eq!(answer.body["outcome"], "ignored", "{event_type}");
    }
    let mut unknown = facts.clone();
    unknown.purchase_id = "pur_00000000000000000000000000000000".into();
    let answer = app
        .deliver_signed(&session_event(
            "evt_unknown",
            "checkout.session.completed",
            "paid",
            &unknown,
        ))
        .await;
    assert_eq!(answer.body["outcome"], "unknown_purchase");
    // A signed body that is not an event is a 400 (Stripe retries it, and someone looks).
    let garbage = app.deliver_signed(b"{\"not\": \"an event\"}").await;
    assert_eq!(garbage.status, StatusCode::BAD_REQUEST);
    assert_eq!(garbage.body["error"]["code"], "bad_event");
    assert_eq!(app.balance(&account).await, "0.00");

    let settled = app
        .deliver_signed(&session_event(
            "evt_settled",
            "checkout.session.async_payment_succeeded",
            "paid",
            &facts,
        ))
        .await;
    assert_eq!(settled.body["outcome"], "credited");
    assert_eq!(app.balance(&account).await, "4.00");
    assert_reconciled(&app.store, &account).await;
}

#[tokio::test]
async fn payment_history_pages_newest_first() {
    let app = TestApp::spawn().await;
    let account = app.wallet("history").await;
    let mut created = Vec::new();
    for index in 0..5 {
        let purchase = buy(&app, &account, &format!("h-{index}"), index + 1).await;
        created.push(purchase.body["purchase_id"].as_str().unwrap().to_owned());
        // Distinct creation times, so newest-first is a single order.
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    let mut seen = Vec::new();
    let mut query = "?limit=2".to_owned();
    let mut pages = 0;
    loop {
        let page = history(&app, &account, &query).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let purchases = page.body["purchases"].as_array().unwrap();
        assert!(purchases.len() <= 2);
        seen.extend(
            purchases
                .iter()
                .map(|purchase| purchase["purchase_id"].as_str().unwrap().to_owned()),
        );
        pages += 1;
        match page.body["next_cursor"].as_str() {
            Some(cursor) => query = format!("?limit=2&cursor={cursor}"),
            None => break,
        }
        assert!(pages < 10, "paging does not end");
    }
    created.reverse();
    assert_eq!(seen, created);
    assert_eq!(pages, 3);
    for (query, field) in [
        ("?limit=0", "limit"),
        ("?limit=101", "limit"),
        ("?cursor=bm9wZQ", "cursor"),
        ("?status=paid", "status"),
    ] {
        let bad = history(&app, &account, query).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert!(
            bad.message().starts_with(&format!("{field}: ")),
            "{}",
            bad.message()
        );
    }
    let nobody = AccountId::parse("nobody-has-this-wallet").unwrap();
    assert_eq!(
        history(&app, &nobody, "").await.status,
        StatusCode::NOT_FOUND
    );
    assert_reconciled(&app.store, &account).await;
}
