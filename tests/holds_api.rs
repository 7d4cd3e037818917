//! The hold routes end to end through the router, on DynamoDB Local: granted (201) with its tag
//! and expiry, replayed under the same key, 409 under another body, 402 with what is missing and
//! how many messages are covered, listed, released, and the wallet view's three amounts.

use axum::http::{Method, StatusCode};
use imcredits_tests::app::{TestApp, amount};
use imcredits_tests::assert_reconciled;
use serde_json::json;

fn dec(text: &str) -> rust_decimal::Decimal {
    text.parse().expect("a decimal")
}

#[tokio::test]
async fn a_platform_places_lists_and_releases_a_hold_through_the_api() {
    let app = TestApp::spawn().await;
    let (account, token) = app.funded_wallet("holdapi", "FUNDS", "2").await;
    let body = json!({"template": "spring_sale", "expires_in_seconds": 3600, "lines": [
        {"country": "IN", "category": "marketing", "count": 100},
        {"phone_number": "+14155550123", "category": "utility", "count": 20}]});
    let placed = app.place_hold(&token, "broadcast-1", body.clone()).await;
    assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.body);
    let id = placed.body["hold_id"].as_str().unwrap().to_owned();
    assert_eq!(amount(&placed.body["amount"]), dec("1.5"));
    assert_eq!(placed.body["lines"][1]["market"], "US");
    assert_eq!(placed.body["callback_tag"], format!("{id}:spring_sale"));
    assert_eq!(placed.body["status"], "open");

    let again = app.place_hold(&token, "broadcast-1", body).await;
    assert_eq!(
        (again.status, &again.body["hold_id"]),
        (StatusCode::CREATED, &json!(id))
    );
    assert_eq!(again.headers["idempotent-replayed"], "true");
    let other = json!({"lines": [{"country": "IN", "category": "marketing", "count": 1}]});
    assert_eq!(
        app.place_hold(&token, "broadcast-1", other).await.status,
        StatusCode::CONFLICT
    );

    let wallet = app.call(Method::GET, "/v1/wallet", &token, None).await;
    assert_eq!(amount(&wallet.body["balance"]), dec("2"));
    assert_eq!(amount(&wallet.body["held"]), dec("1.5"));
    assert_eq!(amount(&wallet.body["available"]), dec("0.5"));

    // 0.50 available: 40 of the 100 messages, 1.00 missing.
    let big = json!({"lines": [{"country": "IN", "category": "marketing", "count": 120}]});
    let refused = app.place_hold(&token, "broadcast-2", big).await;
    assert_eq!(
        refused.status,
        StatusCode::PAYMENT_REQUIRED,
        "{}",
        refused.body
    );
    assert_eq!(
        refused.body["error"]["code"],
        "insufficient_available_balance"
    );
    assert_eq!(amount(&refused.body["error"]["missing"]), dec("1"));
    assert_eq!(refused.body["error"]["messages_covered"], 40);
    for (bad, field) in [
        (json!({"lines": []}), "lines"),
        (
            json!({"lines": [{"country": "IN", "phone_number": "14155550123", "category": "marketing", "count": 1}]}),
            "lines[0].country",
        ),
        (
            json!({"lines": [{"country": "IN", "category": "marketing", "count": 0}]}),
            "lines[0].count",
        ),
        (
            json!({"lines": [{"country": "IN", "category": "marketing", "count": 1}], "expires_in_seconds": 9999999}),
            "expires_in_seconds",
        ),
    ] {
        let answer = app.place_hold(&token, "bad", bad).await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            answer.body
        );
        assert!(answer.message().starts_with(field), "{}", answer.message());
    }

    let open = app
        .call(Method::GET, "/v1/wallet/holds", &token, None)
        .await;
    assert_eq!(open.body["holds"].as_array().unwrap().len(), 1);
    let released = app
        .call(
            Method::DELETE,
            &format!("/v1/wallet/holds/{id}"),
            &token,
            None,
        )
        .await;
    assert_eq!(released.status, StatusCode::OK, "{}", released.body);
    assert_eq!(released.body["status"], "released");
    assert_eq!(amount(&released.body["released_amount"]), dec("1.5"));
    let open = app
        .call(Method::GET, "/v1/wallet/holds", &token, None)
        .await;
    assert_eq!(open.body["holds"], json!([]));
    let history = app
        .call(Method::GET, "/v1/wallet/holds?status=all", &token, None)
        .await;
    assert_eq!(history.body["holds"][0]["hold_id"], json!(id));
    let statement = app
        .call(Method::GET, "/v1/wallet/statement", &token, None)
        .await;
    assert_eq!(
        statement.body["entries"].as_array().unwrap().len(),
        1,
        "holds are not entries"
    );
    let missing = app
        .call(Method::DELETE, "/v1/wallet/holds/hld_nope", &token, None)
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let wallet = assert_reconciled(&app.store, &account).await;
    assert!(wallet.held.is_zero());
}
