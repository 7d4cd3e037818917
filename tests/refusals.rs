//! What the API must refuse (issue 15, item 5), through the real router on DynamoDB Local: each
//! refusal is a 4xx in the error envelope that names the field, and changes nothing.

use std::time::Duration as StdDuration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use imcredits::adapters::memory_queue::MemoryQueue;
use imcredits::handlers::webhook::{WEBHOOK_PATH, WebhookApp, router};
use imcredits::ids::AccountId;
use imcredits::meta::{AppSecret, BODY_LEN_MAX, VerifyToken};
use imcredits_tests::app::{Answer, TestApp};
use imcredits_tests::assert_reconciled;
use imcredits_tests::stripe::{SessionFacts, session_event};
use serde_json::{Value, json};
use time::OffsetDateTime;
use tower::ServiceExt;

fn assert_names(answer: &Answer, status: StatusCode, field: &str) {
    assert_eq!(answer.status, status, "{}", answer.body);
    assert!(
        answer.message().starts_with(&format!("{field}: ")),
        "the message should name {field}: {}",
        answer.body
    );
}

#[tokio::test]
async fn json_arrays_are_not_bodies_and_grant_nothing() {
    let app = TestApp::spawn().await;
    let account = app.wallet("array").await;
    let owner = app.token(Some(&account), false);
    let operator = app.operator();
    let array = |value: Value| serde_json::to_vec(&value).unwrap();
    for (method, path, token, body) in [
        (
            Method::POST,
            format!("/v1/operator/accounts/{account}/grants"),
            &operator,
            array(json!(["ARR-1", 2, "store", null])),
        ),
        (
            Method::POST,
            "/v1/wallet/quotes".to_owned(),
            &owner,
            array(json!([3])),
        ),
        (
            Method::PUT,
            "/v1/wallet/auto-recharge".to_owned(),
            &owner,
            array(json!([false, "1.00", 1])),
        ),
        (
            Method::PUT,
            "/v1/wallet/alerts".to_owned(),
            &owner,
            array(json!(["1.00"])),
        ),
        (
            Method::PUT,
            "/v1/wallet/reporting-time-zone".to_owned(),
            &owner,
            array(json!(["UTC"])),
        ),
        (
            Method::POST,
            "/v1/operator/accounts/array-other/wallet".to_owned(),
            &operator,
            array(json!(["USD"])),
        ),
        (
            Method::POST,
            "/v1/wallet/quotes".to_owned(),
            &owner,
            b" \n [3]".to_vec(),
        ),
    ] {
        let answer = app
            .call_raw(method, &path, Some(token), Some("application/json"), body)
            .await;
        assert_names(&answer, StatusCode::UNPROCESSABLE_ENTITY, "body");
        assert_eq!(answer.body["error"]["code"], "invalid_body");
    }
    assert_eq!(app.balance(&account).await, "0.00");
    assert_reconciled(&app.store, &account).await;
}

#[tokio::test]
async fn tokens_from_the_future_are_refused_on_every_route() {
    let app = TestApp::spawn().await;
    let account = app.wallet("future").await;
    let year_ahead = OffsetDateTime::now_utc() + time::Duration::days(365);
    let future_owner = app.token_issued_at(Some(&account), true, year_ahead);
    let routes = imcredits::api::routes::<imcredits::adapters::dynamodb::DynamoStore>();
    let mut refused = 0;
    for (method, path, _) in routes {
        // Stripe signs its webhook; the dashboard's page and files take no token.
        if path == "/webhooks/stripe" || path == "/" || path.starts_with("/dashboard/") {
            continue;
        }
        let concrete = path
            .replace("{account_id}", account.as_str())
            .replace("{phone_number_id}", "1")
            .replace("{purchase_id}", "pur_x")
            .replace("{currency}", "USD")
            .replace("{month}", "2026-01");
        let answer = app
            .call(method.clone(), &concrete, &future_owner, None)
            .await;
        assert_eq!(
            answer.status,
            StatusCode::UNAUTHORIZED,
            "{method} {concrete}: {}",
            answer.body
        );
        refused += 1;
    }
    assert!(refused >= 18, "every bearer route was tried ({refused})");
    // Within the leeway a token is fine.
    let now_ish = OffsetDateTime::now_utc() + time::Duration::seconds(20);
    let fine = app.token_issued_at(Some(&account), false, now_ish);
    let wallet = app.call(Method::GET, "/v1/wallet", &fine, None).await;
    assert_eq!(wallet.status, StatusCode::OK, "{}", wallet.body);
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let app = TestApp::spawn().await;
    let account = app.wallet("scheme").await;
    let token = app.token(Some(&account), false);
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let response = app
            .router
            .clone()
            .oneshot(
                Request::get("/v1/wallet")
                    .header(header::AUTHORIZATION, format!("{scheme} {token}"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{scheme}");
    }
}

#[tokio::test]
async fn account_ids_that_are_path_tricks_are_refused() {
    let app = TestApp::spawn().await;
    let operator = app.operator();
    for bad in [
        ".", "..", "...", ".hidden", "acme.", "-acme", "a%2Fb", "a%00b",
    ] {
        let created = app
            .call(
                Method::POST,
                &format!("/v1/operator/accounts/{bad}/wallet"),
                &operator,
                Some(json!({"currency": "USD"})),
            )
            .await;
        assert_eq!(
            created.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {}",
            created.body
        );
        assert!(
            created.message().starts_with("account_id: "),
            "{}",
            created.body
        );
        let read = app
            .call(
                Method::GET,
                &format!("/v1/operator/accounts/{bad}/wallet"),
                &operator,
                None,
            )
            .await;
        assert_eq!(read.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
}

#[tokio::test]
async fn wrong_types_enums_and_huge_numbers_name_their_field() {
    let app = TestApp::spawn().await;
    let account = app.wallet("types").await;
    let owner = app.token(Some(&account), false);
    let operator = app.operator();
    let grants = format!("/v1/operator/accounts/{account}/grants");
    let cases: [(&str, &str, &str, &[u8], &str); 8] = [
        (
            "POST",
            grants.as_str(),
            "o",
            br#"{"order_reference": "T-1", "credits": 1, "source": 5}"#,
            "source",
        ),
        (
            "POST",
            grants.as_str(),
            "o",
            br#"{"order_reference": "T-1", "credits": 1, "source": "shop"}"#,
            "source",
        ),
        (
            "POST",
            grants.as_str(),
            "o",
            br#"{"order_reference": "T-1", "credits": 1e400, "source": "store"}"#,
            "credits",
        ),
        (
            "POST",
            "/v1/wallet/quotes",
            "a",
            br#"{"credits": 1e400}"#,
            "credits",
        ),
        (
            "POST",
            "/v1/wallet/quotes",
            "a",
            br#"{"credits": -1e400}"#,
            "credits",
        ),
        (
            "POST",
            "/v1/operator/accounts/types-x/wallet",
            "o",
            br#"{"currency": 5}"#,
            "currency",
        ),
        (
            "POST",
            "/v1/operator/accounts/types-x/wallet",
            "o",
            br#"{"currency": "XXX"}"#,
            "currency",
        ),
        (
            "PUT",
            "/v1/wallet/auto-recharge",
            "a",
            br#"{"enabled": "yes", "minimum_balance": "1.00", "credits": 1}"#,
            "enabled",
        ),
    ];
    for (method, path, who, body, field) in cases {
        let token = if who == "o" { &operator } else { &owner };
        let answer = app
            .call_raw(
                Method::from_bytes(method.as_bytes()).unwrap(),
                path,
                Some(token),
                Some("application/json"),
                body.to_vec(),
            )
            .await;
        assert!(answer.status.is_client_error(), "{path}: {}", answer.body);
        assert!(
            answer.message().starts_with(&format!("{field}: ")),
            "{path} {}: the message should name {field}: {}",
            String::from_utf8_lossy(body),
            answer.body
        );
    }
    assert_eq!(app.balance(&account).await, "0.00");
}

/// Every route that takes a body answers 413 in the envelope, with its own limit.
#[tokio::test]
async fn every_body_route_answers_413_in_the_envelope_with_its_limit() {
    let app = TestApp::spawn().await;
    let account = app.wallet("large").await;
    let owner = app.token(Some(&account), false);
    let operator = app.operator();
    let routes = imcredits::api::routes::<imcredits::adapters::dynamodb::DynamoStore>();
    let mut checked = 0;
    for (method, path, _) in routes {
        // Attaching a phone number or a WABA takes no body.
        if method == Method::GET
            || method == Method::DELETE
            || path.contains("phone-numbers")
            || path.contains("wabas")
        {
            continue;
        }
        let limit = match path {
            "/v1/operator/rate-cards" => 256 * 1024,
            "/v1/operator/volume-tiers" => imcredits::api::tiers::TIERS_BODY_LEN_MAX,
            "/webhooks/stripe" => 256 * 1024,
            _ => 64 * 1024,
        };
        let concrete = path
            .replace("{account_id}", account.as_str())
            .replace("{purchase_id}", "pur_x");
        let token = if path.starts_with("/v1/operator") {
            &operator
        } else {
            &owner
        };
        let answer = app
            .call_with_headers(
                method.clone(),
                &concrete,
                Some(token),
                Some("application/json"),
                &[("Idempotency-Key", "big-1")],
                vec![b' '; limit + 1],
            )
            .await;
        assert_eq!(
            answer.status,
            StatusCode::PAYLOAD_TOO_LARGE,
            "{method} {path}: {}",
            answer.body
        );
        assert_eq!(answer.body["error"]["code"], "payload_too_large");
        assert!(
            answer.message().contains(&limit.to_string()),
            "{path} should state {limit}: {}",
            answer.body
        );
        checked += 1;
    }
    assert!(checked >= 11, "{checked} routes checked");

    // Meta's webhook: 3 MiB, and the envelope too.
    let webhook = router(WebhookApp {
        secret: AppSecret::new(b"secret").unwrap(),
        verify_token: VerifyToken::new("token").unwrap(),
        queue: MemoryQueue::new(5, StdDuration::from_secs(30)),
    });
    let response = webhook
        .oneshot(
            Request::post(WEBHOOK_PATH)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(vec![b' '; BODY_LEN_MAX + 1]))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let json: Value = serde_json::from_slice(&body)
        .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&body)));
    assert_eq!(json["error"]["code"], "payload_too_large");
    assert!(
        json["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&BODY_LEN_MAX.to_string())
    );
}

async fn pending_purchase(app: &TestApp, account: &AccountId, key: &str) -> SessionFacts {
    let owner = app.token(Some(account), false);
    let purchase = app.purchase(&owner, key, json!({"credits": 10})).await;
    assert_eq!(purchase.status, StatusCode::CREATED, "{}", purchase.body);
    SessionFacts::for_purchase(
        purchase.body["purchase_id"].as_str().unwrap(),
        account.as_str(),
        10,
        2060,
    )
}

async fn review(app: &TestApp, account: &AccountId, purchase: &str, decision: &str) -> Answer {
    app.call(
        Method::POST,
        &format!("/v1/operator/accounts/{account}/purchases/{purchase}/review"),
        &app.operator(),
        Some(json!({ "decision": decision })),
    )
    .await
}

#[tokio::test]
async fn a_paid_amount_that_differs_from_the_quote_is_held_until_an_operator_settles_it() {
    let app = TestApp::spawn().await;
    let account = app.wallet("held").await;
    let mut facts = pending_purchase(&app, &account, "held-1").await;
    // Stripe says 1 cent was paid for a 20.60 quote.
    facts.amount_total = 1;
    for attempt in 0..3 {
        let delivered = app
            .deliver_signed(&session_event(
                &format!("evt_held_{attempt}"),
                "checkout.session.completed",
                "paid",
                &facts,
            ))
            .await;
        assert_eq!(delivered.status, StatusCode::OK, "{}", delivered.body);
        assert_eq!(delivered.body["outcome"], "held_for_review");
    }
    assert_eq!(app.balance(&account).await, "0.00");
    let history = app
        .call(
            Method::GET,
            "/v1/wallet/purchases",
            &app.token(Some(&account), false),
            None,
        )
        .await;
    assert_eq!(history.body["purchases"][0]["status"], "held");

    // Only an operator settles; an account cannot.
    let by_owner = app
        .call(
            Method::POST,
            &format!(
                "/v1/operator/accounts/{account}/purchases/{}/review",
                facts.purchase_id
            ),
            &app.token(Some(&account), false),
            Some(json!({"decision": "credit"})),
        )
        .await;
    assert_eq!(by_owner.status, StatusCode::FORBIDDEN);

    for _ in 0..2 {
        let credited = review(&app, &account, &facts.purchase_id, "credit").await;
        assert_eq!(credited.status, StatusCode::OK, "{}", credited.body);
        assert_eq!(credited.body["purchase"]["status"], "paid");
        assert_eq!(credited.body["paid_total"]["amount"], "0.01");
    }
    assert_eq!(app.balance(&account).await, "20.00");
    let rejected = review(&app, &account, &facts.purchase_id, "reject").await;
    assert_eq!(rejected.status, StatusCode::CONFLICT, "{}", rejected.body);
    // A late, matching-looking replay of the held event changes nothing either.
    let replay = app
        .deliver_signed(&session_event(
            "evt_held_late",
            "checkout.session.completed",
            "paid",
            &facts,
        ))
        .await;
    assert_eq!(replay.body["outcome"], "already_credited");
    assert_eq!(app.balance(&account).await, "20.00");

    // Another held purchase, rejected: never credited, and a credit after it is refused.
    let mut other = pending_purchase(&app, &account, "held-2").await;
    other.amount_total = 999_999;
    let delivered = app
        .deliver_signed(&session_event(
            "evt_held_b",
            "checkout.session.completed",
            "paid",
            &other,
        ))
        .await;
    assert_eq!(delivered.body["outcome"], "held_for_review");
    for _ in 0..2 {
        let rejected = review(&app, &account, &other.purchase_id, "reject").await;
        assert_eq!(rejected.status, StatusCode::OK, "{}", rejected.body);
        assert_eq!(rejected.body["purchase"]["status"], "rejected");
    }
    let credit = review(&app, &account, &other.purchase_id, "credit").await;
    assert_eq!(credit.status, StatusCode::CONFLICT);
    assert_eq!(app.balance(&account).await, "20.00");

    // A purchase that was never held cannot be settled.
    let pending = pending_purchase(&app, &account, "held-3").await;
    let refused = review(&app, &account, &pending.purchase_id, "credit").await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    let bad = app
        .call(
            Method::POST,
            &format!(
                "/v1/operator/accounts/{account}/purchases/{}/review",
                pending.purchase_id
            ),
            &app.operator(),
            Some(json!({"decision": "refund"})),
        )
        .await;
    assert!(bad.message().starts_with("decision: "), "{}", bad.body);
    assert_reconciled(&app.store, &account).await;
}

#[tokio::test]
async fn stripe_event_times_out_of_bounds_are_refused_and_credit_nothing() {
    let app = TestApp::spawn().await;
    let account = app.wallet("created").await;
    let facts = pending_purchase(&app, &account, "created-1").await;
    let paid = session_event("evt_c", "checkout.session.completed", "paid", &facts);
    let mut event_json: Value = serde_json::from_slice(&paid).unwrap();
    for created in [
        0_i64,
        253_402_300_799,
        OffsetDateTime::now_utc().unix_timestamp() + 3_600,
    ] {
        event_json["created"] = json!(created);
        let answer = app
            .deliver_signed(&serde_json::to_vec(&event_json).unwrap())
            .await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{created}: {}",
            answer.body
        );
        assert!(answer.message().starts_with("created: "), "{}", answer.body);
    }
    assert_eq!(app.balance(&account).await, "0.00");
    // In bounds, it credits, and the entry's time is Stripe's.
    let fine = app.deliver_signed(&paid).await;
    assert_eq!(fine.body["outcome"], "credited", "{}", fine.body);
    assert_eq!(app.balance(&account).await, "20.00");
    assert_reconciled(&app.store, &account).await;
}
