//! The wallet API through its router, in-process, on DynamoDB Local.

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode};
use imcredits::adapters::dynamodb::DynamoStore;
use imcredits::api::routes;
use imcredits_tests::app::TestApp;
use imcredits_tests::{assert_reconciled, unique_account};
use serde_json::{Value, json};

fn openapi() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.json");
    let text = std::fs::read_to_string(path).expect("docs/openapi.json exists");
    serde_json::from_str(&text).expect("docs/openapi.json is JSON")
}

#[tokio::test]
async fn the_openapi_file_names_exactly_the_routes_of_the_router() {
    let spec = openapi();
    assert_eq!(spec["openapi"], "3.1.0");
    let methods = ["get", "put", "post", "delete", "patch"];
    let documented: BTreeSet<(String, String)> = spec["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            methods
                .iter()
                .filter(|method| item.get(**method).is_some())
                .map(|method| (method.to_uppercase(), path.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    let webhook_routes =
        imcredits::handlers::webhook::routes::<imcredits::adapters::memory_queue::MemoryQueue>();
    let served: BTreeSet<(String, String)> = routes::<DynamoStore>()
        .into_iter()
        .map(|(method, path, _)| (method.to_string(), path.to_owned()))
        .chain(
            webhook_routes
                .into_iter()
                .map(|(method, path, _)| (method.to_string(), path.to_owned())),
        )
        .collect();
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from docs/openapi.json: {undocumented:?}"
    );
    assert!(
        unserved.is_empty(),
        "docs/openapi.json names routes the router lacks: {unserved:?}"
    );

    // The API router is built from its list alone: each of its routes answers, an unknown one is
    // 404. (The webhook's router is probed in tests/pipeline.rs.)
    let app = TestApp::spawn().await;
    let operator = app.operator();
    let api_routes: BTreeSet<(String, String)> = routes::<DynamoStore>()
        .into_iter()
        .map(|(method, path, _)| (method.to_string(), path.to_owned()))
        .collect();
    for (method, path) in &api_routes {
        let concrete = path
            .replace("{account_id}", "nobody")
            .replace("{phone_number_id}", "1")
            .replace("{asset}", "app.js");
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        if path == "/" || path.starts_with("/dashboard/") {
            dashboard_answers(&app, &concrete).await;
            continue;
        }
        let answer = app.call(method.clone(), &concrete, &operator, None).await;
        assert!(
            answer.status != StatusCode::METHOD_NOT_ALLOWED
                && answer.body["error"]["code"] != "not_found"
                || answer.message().contains("nobody"),
            "{method} {concrete} is not routed: {:?}",
            answer
        );
    }
    let unknown = app
        .call(Method::GET, "/v1/nothing-here", &operator, None)
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let wrong_method = app.call(Method::PATCH, "/v1/wallet", &operator, None).await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    let no_file = app
        .call(Method::GET, "/dashboard/nothing.js", &operator, None)
        .await;
    assert_eq!(no_file.body["error"]["code"], "not_found");
}

/// The dashboard's page and files are not JSON: they answer 200, with no token, and the strict
/// security headers.
/// What schemathesis (scripts/schema-check) holds the server to, stated for every operation: each
/// path parameter documented, each refusal in the error envelope, the refusals every JSON body and
/// every query string can meet, and each paged list linked to its next page.
#[test]
fn the_openapi_file_states_the_error_contract_of_every_operation() {
    let spec = openapi();
    let envelopes = [
        "#/components/schemas/Error",
        "#/components/schemas/InsufficientAvailable",
    ];
    let mut problems = Vec::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        let path_level = item["parameters"].as_array().cloned().unwrap_or_default();
        for (method, operation) in item.as_object().expect("path item") {
            if method == "parameters" {
                continue;
            }
            let label = format!("{} {path}", method.to_uppercase());
            let mut parameters = operation["parameters"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            parameters.extend(path_level.iter().cloned());
            let named = |place: &str, name: &str| {
                parameters
                    .iter()
                    .any(|p| p["in"] == place && p["name"] == name)
            };
            for segment in path.split('/').filter(|s| s.starts_with('{')) {
                if !named("path", segment.trim_matches(['{', '}'])) {
                    problems.push(format!("{label}: path parameter {segment} undocumented"));
                }
            }
            let responses = operation["responses"].as_object().expect("responses");
            for (status, response) in responses {
                let refusal = status.starts_with('4') || status.starts_with('5');
                let schema = &response["content"]["application/json"]["schema"]["$ref"];
                if refusal && !envelopes.iter().any(|envelope| schema == envelope) {
                    problems.push(format!("{label}: {status} is not in the error envelope"));
                }
            }
            let signed = path.starts_with("/webhooks/");
            let mut expected: Vec<&str> = Vec::new();
            if operation.get("requestBody").is_some() {
                expected.extend(["400", "413"]);
                if !signed {
                    expected.extend(["415", "422"]);
                }
            }
            let has_query = parameters.iter().any(|p| p["in"] == "query");
            if has_query && !signed && path != "/" && !path.starts_with("/dashboard/") {
                expected.push("400");
            }
            if operation["security"] != serde_json::json!([]) {
                expected.extend(["401", "403"]);
            }
            for status in expected {
                if !responses.contains_key(status) {
                    problems.push(format!("{label}: {status} undocumented"));
                }
            }
            if let Some(cursor) = parameters.iter().find(|p| p["name"] == "cursor") {
                if cursor["schema"]["pattern"].as_str().is_none() {
                    problems.push(format!("{label}: cursor has no pattern"));
                }
                let next = &responses["200"]["links"]["NextPage"]["parameters"]["cursor"];
                if next != "$response.body#/next_cursor" {
                    problems.push(format!("{label}: no NextPage link from next_cursor"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "docs/openapi.json: {problems:#?}");
}

async fn dashboard_answers(app: &TestApp, path: &str) {
    use axum::body::Body;
    use axum::http::{Request, header};
    use tower::ServiceExt;
    let response = app
        .router
        .clone()
        .oneshot(Request::get(path).body(Body::empty()).expect("a request"))
        .await
        .expect("the router is infallible");
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    let headers = response.headers();
    let policy = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(
        policy.contains("script-src 'self'") && policy.ends_with("frame-ancestors 'none'"),
        "{path}: {policy}"
    );
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
}

#[tokio::test]
async fn an_operator_sets_up_a_wallet_and_its_owner_uses_every_account_route() {
    let app = TestApp::spawn().await;
    let operator = app.operator();
    let account = app.wallet("flow").await;
    let owner = app.token(Some(&account), false);

    let phone = format!("1555{}", std::process::id());
    let attached = app
        .call(
            Method::PUT,
            &format!("/v1/operator/accounts/{account}/phone-numbers/{phone}"),
            &operator,
            None,
        )
        .await;
    assert_eq!(attached.status, StatusCode::OK, "{}", attached.body);
    assert_eq!(attached.body["account_id"], account.as_str());

    let granted = app
        .call(
            Method::POST,
            &format!("/v1/operator/accounts/{account}/grants"),
            &operator,
            Some(json!({"order_reference": "ZS-1001", "credits": 5, "source": "store", "note": "Zoho Store order"})),
        )
        .await;
    assert_eq!(granted.status, StatusCode::CREATED, "{}", granted.body);
    assert_eq!(granted.body["amount"]["display"], "10.00");
    assert_eq!(granted.body["entry_id"], "grant:ZS-1001");

    let wallet = app.call(Method::GET, "/v1/wallet", &owner, None).await;
    assert_eq!(wallet.status, StatusCode::OK);
    assert_eq!(wallet.body["balance"]["amount"], "10.00");
    assert_eq!(wallet.body["can_send"], true);
    assert_eq!(wallet.body["status"], "active");
    assert_eq!(wallet.body["currency"], "USD");

    let statement = app
        .call(Method::GET, "/v1/wallet/statement", &owner, None)
        .await;
    assert_eq!(statement.status, StatusCode::OK);
    let entries = statement.body["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["kind"], "grant");
    assert_eq!(entries[0]["balance_after"]["display"], "10.00");
    assert_eq!(statement.body["next_cursor"], Value::Null);

    let quote = app.quote(&owner, 3).await;
    assert_eq!(quote.status, StatusCode::OK, "{}", quote.body);
    assert_eq!(
        (
            &quote.body["subtotal"]["display"],
            &quote.body["fee"]["display"],
            &quote.body["total"]["display"]
        ),
        (&json!("6.00"), &json!("0.18"), &json!("6.18"))
    );
    assert_eq!(quote.body["fee_rate"], "0.03");

    // Auto-recharge charges a card a purchase saved (tests/purchases.rs saves one through the
    // webhook); here it is saved directly.
    save_card(&app, &account).await;
    let saved = app
        .call(
            Method::PUT,
            "/v1/wallet/auto-recharge",
            &owner,
            Some(json!({"enabled": true, "minimum_balance": "5.00", "credits": 10})),
        )
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
    assert_eq!(saved.body["message"], "Auto-Recharge Updated Successfully");
    assert_eq!(
        saved.body["auto_recharge"]["minimum_balance"]["amount"],
        "5.00"
    );

    let alerts = app
        .call(
            Method::PUT,
            "/v1/wallet/alerts",
            &owner,
            Some(json!({"low_balance_threshold": "12.50"})),
        )
        .await;
    assert_eq!(alerts.status, StatusCode::OK, "{}", alerts.body);
    assert_eq!(alerts.body["status"], "low");
    assert_eq!(alerts.body["auto_recharge"]["enabled"], true);
    assert_eq!(alerts.body["auto_recharge"]["credits"], 10);

    let as_operator = app
        .call(
            Method::GET,
            &format!("/v1/operator/accounts/{account}/wallet"),
            &operator,
            None,
        )
        .await;
    assert_eq!(as_operator.body, alerts.body);

    let detached = app
        .call(
            Method::DELETE,
            &format!("/v1/operator/accounts/{account}/phone-numbers/{phone}"),
            &operator,
            None,
        )
        .await;
    assert_eq!(detached.status, StatusCode::NO_CONTENT);
    let again = app
        .call(
            Method::DELETE,
            &format!("/v1/operator/accounts/{account}/phone-numbers/{phone}"),
            &operator,
            None,
        )
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert_reconciled(&app.store, &account).await;
}

async fn save_card(app: &TestApp, account: &imcredits::ids::AccountId) {
    use imcredits::payments::purchase::SavedPaymentMethod;
    use imcredits::payments::{ProviderCustomerId, ProviderPaymentMethodId, PurchaseId};
    use imcredits::ports::store::PaymentMethodSave;
    let saved = SavedPaymentMethod {
        customer: ProviderCustomerId::parse("cus_test").unwrap(),
        payment_method: Some(ProviderPaymentMethodId::parse("pm_card_visa").unwrap()),
        source_purchase: PurchaseId::parse("pur_test").unwrap(),
        source_created_at: time::OffsetDateTime::now_utc(),
    };
    let stored = app
        .store
        .save_payment_method(account, &saved, time::OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert!(stored);
}

#[tokio::test]
async fn a_grant_replayed_five_times_credits_once() {
    let app = TestApp::spawn().await;
    let operator = app.operator();
    let account = app.wallet("grant").await;
    let path = format!("/v1/operator/accounts/{account}/grants");
    let request = json!({"order_reference": "PARTNER-77", "credits": 25, "source": "partner"});
    let first = app
        .call(Method::POST, &path, &operator, Some(request.clone()))
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert!(first.headers.get("idempotent-replayed").is_none());
    for _ in 0..4 {
        let replay = app
            .call(Method::POST, &path, &operator, Some(request.clone()))
            .await;
        assert_eq!(replay.status, StatusCode::CREATED);
        assert_eq!(replay.body, first.body);
        assert_eq!(replay.headers["idempotent-replayed"], "true");
    }
    let other = json!({"order_reference": "PARTNER-77", "credits": 26, "source": "partner"});
    let conflict = app.call(Method::POST, &path, &operator, Some(other)).await;
    assert_eq!(conflict.status, StatusCode::CONFLICT);
    assert!(conflict.message().contains("PARTNER-77"));

    let wallet = assert_reconciled(&app.store, &account).await;
    assert_eq!(
        (wallet.entry_count, wallet.balance.amount().to_string()),
        (1, "50.00".into())
    );
}

/// Everything about a wallet a request could change.
async fn snapshot(app: &TestApp, account: &imcredits::ids::AccountId) -> Value {
    let wallet = app
        .call(
            Method::GET,
            &format!("/v1/operator/accounts/{account}/wallet"),
            &app.operator(),
            None,
        )
        .await;
    let statement = app
        .call(
            Method::GET,
            "/v1/wallet/statement?limit=100",
            &app.token(Some(account), false),
            None,
        )
        .await;
    json!({"wallet": wallet.body, "statement": statement.body})
}

#[tokio::test]
async fn an_account_cannot_read_or_change_another_account_on_any_route() {
    let app = TestApp::spawn().await;
    let a = app.wallet("tenant-a").await;
    let b = app.wallet("tenant-b").await;
    let grant = json!({"order_reference": "B-1", "credits": 1, "source": "store"});
    app.call(
        Method::POST,
        &format!("/v1/operator/accounts/{b}/grants"),
        &app.operator(),
        Some(grant.clone()),
    )
    .await;
    let b_before = snapshot(&app, &b).await;
    let a_token = app.token(Some(&a), false);

    // Account routes act on the token's own account only: A sees A.
    let own = app.call(Method::GET, "/v1/wallet", &a_token, None).await;
    assert_eq!(own.body["account_id"], a.as_str());
    assert_eq!(own.body["balance"]["amount"], "0.00");

    // Operator routes refuse an account token, whatever account the path names.
    let c = unique_account("tenant-c");
    let attempts = [
        (
            Method::POST,
            format!("/v1/operator/accounts/{c}/wallet"),
            Some(json!({"currency": "USD"})),
        ),
        (
            Method::GET,
            format!("/v1/operator/accounts/{b}/wallet"),
            None,
        ),
        (
            Method::PUT,
            format!("/v1/operator/accounts/{b}/phone-numbers/4242"),
            None,
        ),
        (
            Method::DELETE,
            format!("/v1/operator/accounts/{b}/phone-numbers/4242"),
            None,
        ),
        (
            Method::POST,
            format!("/v1/operator/accounts/{b}/grants"),
            Some(json!({"order_reference": "A-STEALS", "credits": 9, "source": "store"})),
        ),
        (
            Method::POST,
            format!("/v1/operator/accounts/{a}/grants"),
            Some(json!({"order_reference": "A-SELF", "credits": 9, "source": "store"})),
        ),
    ];
    for (method, path, body) in attempts {
        let refused = app.call(method.clone(), &path, &a_token, body).await;
        assert_eq!(
            refused.status,
            StatusCode::FORBIDDEN,
            "{method} {path}: {}",
            refused.body
        );
    }
    // A token with no account cannot use account routes; no token at all is 401.
    let no_account = app.token(None, false);
    for (method, path) in [
        (Method::GET, "/v1/wallet"),
        (Method::GET, "/v1/wallet/statement"),
        (Method::POST, "/v1/wallet/quotes"),
        (Method::PUT, "/v1/wallet/auto-recharge"),
        (Method::PUT, "/v1/wallet/alerts"),
    ] {
        let refused = app
            .call(method.clone(), path, &no_account, Some(json!({})))
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{method} {path}");
        let anonymous = app
            .call_raw(method.clone(), path, None, None, Vec::new())
            .await;
        assert_eq!(
            anonymous.status,
            StatusCode::UNAUTHORIZED,
            "{method} {path}"
        );
    }
    assert_eq!(snapshot(&app, &b).await, b_before);
    let c_wallet = app
        .call(
            Method::GET,
            &format!("/v1/operator/accounts/{c}/wallet"),
            &app.operator(),
            None,
        )
        .await;
    assert_eq!(c_wallet.status, StatusCode::NOT_FOUND);
    let a_wallet = assert_reconciled(&app.store, &a).await;
    assert_eq!(a_wallet.entry_count, 0);
    assert_reconciled(&app.store, &b).await;
}

#[tokio::test]
async fn each_validation_failure_is_a_4xx_naming_the_problem_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let account = app.wallet("invalid").await;
    let owner = app.token(Some(&account), false);
    let operator = app.operator();
    let before = snapshot(&app, &account).await;
    let grants = format!("/v1/operator/accounts/{account}/grants");
    let wallet_route = format!("/v1/operator/accounts/{account}/wallet");
    let cases: Vec<(Method, String, &String, Value, StatusCode, &str)> = vec![
        (
            Method::POST,
            "/v1/wallet/quotes".into(),
            &owner,
            json!({"credits": 0}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "credits: must be between 1 and 10000",
        ),
        (
            Method::POST,
            "/v1/wallet/quotes".into(),
            &owner,
            json!({"credits": 10001}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "credits: ",
        ),
        (
            Method::POST,
            "/v1/wallet/quotes".into(),
            &owner,
            json!({"credits": "3"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "credits: invalid type",
        ),
        (
            Method::POST,
            "/v1/wallet/quotes".into(),
            &owner,
            json!({"credits": 1.5}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "credits: ",
        ),
        (
            Method::POST,
            "/v1/wallet/quotes".into(),
            &owner,
            json!({"credits": 3, "discount": 1}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown field `discount`",
        ),
        (
            Method::PUT,
            "/v1/wallet/auto-recharge".into(),
            &owner,
            json!({"enabled": true, "minimum_balance": "abc", "credits": 5}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "minimum_balance: ",
        ),
        (
            Method::PUT,
            "/v1/wallet/auto-recharge".into(),
            &owner,
            json!({"enabled": true, "minimum_balance": "-1", "credits": 5}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "minimum_balance: ",
        ),
        (
            Method::PUT,
            "/v1/wallet/auto-recharge".into(),
            &owner,
            json!({"enabled": true, "minimum_balance": "5", "credits": 0}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "credits: ",
        ),
        (
            Method::PUT,
            "/v1/wallet/auto-recharge".into(),
            &owner,
            json!({"enabled": true, "minimum_balance": 5, "credits": 5}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "minimum_balance: invalid type",
        ),
        (
            Method::PUT,
            "/v1/wallet/auto-recharge".into(),
            &owner,
            json!({"enabled": true, "credits": 5}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "missing field `minimum_balance`",
        ),
        (
            Method::PUT,
            "/v1/wallet/alerts".into(),
            &owner,
            json!({"low_balance_threshold": "-5"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "low_balance_threshold: ",
        ),
        (
            Method::PUT,
            "/v1/wallet/alerts".into(),
            &owner,
            json!({"low_balance_threshold": "1.1234567"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "low_balance_threshold: ",
        ),
        (
            Method::POST,
            wallet_route.clone(),
            &operator,
            json!({"currency": "XYZ"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "currency: ",
        ),
        (
            Method::POST,
            "/v1/operator/accounts/a%20b/wallet".into(),
            &operator,
            json!({"currency": "USD"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "account_id: ",
        ),
        (
            Method::POST,
            grants.clone(),
            &operator,
            json!({"order_reference": "X", "credits": 0, "source": "store"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "credits: ",
        ),
        (
            Method::POST,
            grants.clone(),
            &operator,
            json!({"order_reference": "has space", "credits": 1, "source": "store"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "order_reference: ",
        ),
        (
            Method::POST,
            grants.clone(),
            &operator,
            json!({"order_reference": "X", "credits": 1, "source": "shop"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "source: ",
        ),
        (
            Method::POST,
            grants.clone(),
            &operator,
            json!({"order_reference": "X", "credits": 1, "source": "store", "note": "n".repeat(201)}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "note: ",
        ),
        (
            Method::PUT,
            format!("/v1/operator/accounts/{account}/phone-numbers/abc"),
            &operator,
            Value::Null,
            StatusCode::UNPROCESSABLE_ENTITY,
            "phone_number_id: ",
        ),
    ];
    for (method, path, token, body, status, problem) in cases {
        let body = (!body.is_null()).then_some(body);
        let answer = app.call(method.clone(), &path, token, body.clone()).await;
        assert_eq!(
            answer.status, status,
            "{method} {path} {body:?}: {}",
            answer.body
        );
        assert!(
            answer.message().contains(problem),
            "{method} {path} {body:?}: {:?} lacks {problem:?}",
            answer.message()
        );
    }
    for (query, problem) in [
        ("limit=0", "limit: "),
        ("cursor=zz", "cursor: "),
        ("from=yesterday", "from: "),
    ] {
        let answer = app
            .call(
                Method::GET,
                &format!("/v1/wallet/statement?{query}"),
                &owner,
                None,
            )
            .await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert!(
            answer.message().contains(problem),
            "{query}: {}",
            answer.message()
        );
    }
    // Malformed bodies: not JSON, not declared as JSON, too large.
    let not_json = app
        .call_raw(
            Method::POST,
            "/v1/wallet/quotes",
            Some(&owner),
            Some("application/json"),
            b"{credits".to_vec(),
        )
        .await;
    assert_eq!(not_json.status, StatusCode::BAD_REQUEST);
    let not_declared = app
        .call_raw(
            Method::POST,
            "/v1/wallet/quotes",
            Some(&owner),
            Some("text/plain"),
            br#"{"credits":1}"#.to_vec(),
        )
        .await;
    assert_eq!(not_declared.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let mut huge = br#"{"credits":1,"pad":""#.to_vec();
    huge.extend(std::iter::repeat_n(b'x', 70 * 1024));
    huge.extend(br#""}"#);
    let too_large = app
        .call_raw(
            Method::PUT,
            "/v1/wallet/alerts",
            Some(&owner),
            Some("application/json"),
            huge,
        )
        .await;
    assert_eq!(too_large.status, StatusCode::PAYLOAD_TOO_LARGE);

    assert_eq!(snapshot(&app, &account).await, before);
    let missing_wallet = app
        .call(
            Method::GET,
            "/v1/wallet",
            &app.token(Some(&unique_account("none")), false),
            None,
        )
        .await;
    assert_eq!(missing_wallet.status, StatusCode::NOT_FOUND);
    let duplicate = app
        .call(
            Method::POST,
            &wallet_route,
            &operator,
            Some(json!({"currency": "EUR"})),
        )
        .await;
    assert_eq!(duplicate.status, StatusCode::CONFLICT);
    assert_eq!(snapshot(&app, &account).await, before);
    assert_reconciled(&app.store, &account).await;
}

#[tokio::test]
async fn the_statement_pages_with_cursors_and_filters_by_time() {
    let app = TestApp::spawn().await;
    let operator = app.operator();
    let account = app.wallet("statement").await;
    let owner = app.token(Some(&account), false);
    for index in 0..7 {
        let grant =
            json!({"order_reference": format!("S-{index}"), "credits": 1, "source": "store"});
        let answer = app
            .call(
                Method::POST,
                &format!("/v1/operator/accounts/{account}/grants"),
                &operator,
                Some(grant),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED);
    }
    let mut seqs = Vec::new();
    let mut path = "/v1/wallet/statement?limit=3".to_owned();
    for _ in 0..4 {
        let page = app.call(Method::GET, &path, &owner, None).await;
        assert_eq!(page.status, StatusCode::OK);
        seqs.extend(
            page.body["entries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["seq"].as_u64().unwrap()),
        );
        match page.body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/wallet/statement?limit=3&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seqs, [7, 6, 5, 4, 3, 2, 1]);

    let future = app
        .call(
            Method::GET,
            "/v1/wallet/statement?from=2999-01-01T00:00:00Z",
            &owner,
            None,
        )
        .await;
    assert_eq!(future.status, StatusCode::OK);
    assert_eq!(future.body["entries"], json!([]));
    let everything = app
        .call(
            Method::GET,
            "/v1/wallet/statement?from=2000-01-01T00:00:00Z&to=2999-01-01T00:00:00Z&limit=100",
            &owner,
            None,
        )
        .await;
    assert_eq!(everything.body["entries"].as_array().unwrap().len(), 7);
    assert_reconciled(&app.store, &account).await;
}

#[tokio::test]
async fn a_currency_without_a_credit_price_is_refused_not_guessed() {
    let app = TestApp::spawn().await;
    let account = unique_account("peso");
    let created = app
        .call(
            Method::POST,
            &format!("/v1/operator/accounts/{account}/wallet"),
            &app.operator(),
            Some(json!({"currency": "CLP"})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let owner = app.token(Some(&account), false);
    let quote = app.quote(&owner, 3).await;
    assert_eq!(quote.status, StatusCode::CONFLICT);
    assert!(
        quote.message().contains("not sold in CLP"),
        "{}",
        quote.message()
    );
    let grant = json!({"order_reference": "JP-1", "credits": 3, "source": "store"});
    let granted = app
        .call(
            Method::POST,
            &format!("/v1/operator/accounts/{account}/grants"),
            &app.operator(),
            Some(grant),
        )
        .await;
    assert_eq!(granted.status, StatusCode::CONFLICT);
    assert_eq!(assert_reconciled(&app.store, &account).await.entry_count, 0);
}

#[tokio::test]
async fn operators_upload_immutable_rate_card_versions() {
    let app = TestApp::spawn().await;
    let operator = app.operator();
    // Each test run gets its own instant, so reruns against one emulator never collide.
    let instant = format!(
        "2031-01-01T00:00:{:02}.{:09}Z",
        std::process::id() % 60,
        time::OffsetDateTime::now_utc().nanosecond()
    );
    let flat = json!({"currency": "EUR", "effective_from": instant, "flat_rate": "0.0125", "source": "Zoho"});
    let saved = app
        .call(
            Method::POST,
            "/v1/operator/rate-cards",
            &operator,
            Some(flat.clone()),
        )
        .await;
    assert_eq!(saved.status, StatusCode::CREATED, "{}", saved.body);
    assert_eq!(saved.body["kind"], "flat");
    assert_eq!(saved.body["flat_rate"]["amount"], "0.0125");
    assert!(saved.headers.get("idempotent-replayed").is_none());

    let replay = app
        .call(
            Method::POST,
            "/v1/operator/rate-cards",
            &operator,
            Some(flat),
        )
        .await;
    assert_eq!(replay.status, StatusCode::CREATED);
    assert_eq!(replay.headers["idempotent-replayed"], "true");
    let other = json!({"currency": "EUR", "effective_from": instant, "flat_rate": "0.0130"});
    let conflict = app
        .call(
            Method::POST,
            "/v1/operator/rate-cards",
            &operator,
            Some(other),
        )
        .await;
    assert_eq!(conflict.status, StatusCode::CONFLICT, "{}", conflict.body);

    let table = json!({
        "currency": "EUR", "effective_from": "2032-07-01",
        "rates": {"IN": {"marketing": "0.0107", "authentication-international": "0.028"}},
        "fallback": {"marketing": "0.0604", "utility": "0.0077", "authentication": "0.0077"},
        "unknown_category_rate": "0.0604"
    });
    let saved = app
        .call(
            Method::POST,
            "/v1/operator/rate-cards",
            &operator,
            Some(table),
        )
        .await;
    assert!(saved.status == StatusCode::CREATED, "{}", saved.body);
    assert_eq!(
        (saved.body["kind"].as_str(), saved.body["markets"].as_u64()),
        (Some("table"), Some(1))
    );

    let listed = app
        .call(Method::GET, "/v1/operator/rate-cards/EUR", &operator, None)
        .await;
    assert_eq!(listed.status, StatusCode::OK);
    let versions = listed.body["versions"].as_array().unwrap();
    assert!(
        versions
            .iter()
            .any(|v| v["flat_rate"]["amount"] == "0.0125")
    );
    assert!(
        versions
            .windows(2)
            .all(|pair| pair[0]["effective_from"].as_str() < pair[1]["effective_from"].as_str())
    );

    for (card, problem) in [
        (
            json!({"currency": "EUR", "effective_from": "2033-01-01", "flat_rate": "0.0000001"}),
            "flat_rate",
        ),
        (
            json!({"currency": "EUR", "effective_from": "2033-01-01", "flat_rate": 0.0125}),
            "flat_rate",
        ),
        (
            json!({"currency": "EUR", "effective_from": "soon", "flat_rate": "0.01"}),
            "effective_from",
        ),
        (
            json!({"currency": "EUR", "effective_from": "1999-01-01", "flat_rate": "0.01"}),
            "effective_from",
        ),
        (
            json!({"currency": "EUR", "effective_from": "2033-01-01", "flat_rate": "0.01", "tier": 1}),
            "unknown field `tier`",
        ),
        (
            json!({"currency": "EUR", "effective_from": "2033-01-01", "rates": {"IN": {"marketing": "0.1"}}, "fallback": {"marketing": "0.06", "utility": "0.007", "authentication": "0.007"}, "unknown_category_rate": "x"}),
            "unknown_category_rate",
        ),
    ] {
        let refused = app
            .call(
                Method::POST,
                "/v1/operator/rate-cards",
                &operator,
                Some(card.clone()),
            )
            .await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{card}: {}",
            refused.body
        );
        assert!(
            refused.message().contains(problem),
            "{card}: {} lacks {problem}",
            refused.message()
        );
    }
    let huge = vec![b' '; 300 * 1024];
    let too_large = app
        .call_raw(
            Method::POST,
            "/v1/operator/rate-cards",
            Some(&operator),
            Some("application/json"),
            huge,
        )
        .await;
    assert_eq!(too_large.status, StatusCode::PAYLOAD_TOO_LARGE);
    let account = app.token(Some(&unique_account("not-op")), false);
    let forbidden = app
        .call(Method::GET, "/v1/operator/rate-cards/EUR", &account, None)
        .await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    let after = app
        .call(Method::GET, "/v1/operator/rate-cards/EUR", &operator, None)
        .await;
    assert_eq!(after.body["versions"], listed.body["versions"]);
}
