//! Market lists as data (issue 12, point 3): an operator loads Meta's country → market list like
//! a rate card, and a later-dated list takes effect on its date and not before. Here the later
//! list gives the Dominican Republic (+1 809) a market of its own (as Meta's 2026-10-01 change did
//! for nine markets), and a rates file under it prices that market; a message an instant before
//! the list's date is priced as Rest of Latin America, one at the instant as its own market.

use axum::http::{Method, StatusCode};
use imcredits::adapters::dynamodb::DynamoStore;
use imcredits::handlers::batch::Record;
use imcredits::meta::parse_webhook;
use imcredits_tests::app::TestApp;
use imcredits_tests::pipeline::meta_body;
use imcredits_tests::{dynamo_store_on_own_table, whole_statement};
use serde_json::{Value, json};

const RATES: &str =
    include_str!("../shared/rate-cards/meta-format-examples/rates-USD-MADE-UP-FIGURES.csv");
/// 2026-11-15T00:00:00Z: the later list's date.
const LATER: i64 = 1_794_700_800;
const PHONE: &str = "5550301";
/// Santo Domingo, +1 809.
const DOMINICAN: &str = "18095550123";

/// The seed fixture's 2026-10-01 list, with the Dominican Republic moved to a market of its own.
fn later_list() -> Value {
    let mut list: Value = serde_json::from_str(include_str!(
        "../shared/market-lists/example-2026-10-01.json"
    ))
    .unwrap();
    list["version"] = json!("test-2026-11-15");
    list["effective_from"] = json!("2026-11-15");
    list["source"] = json!("MADE UP for a test: the 2026-10-01 example with DO on its own");
    list["markets"]["Rest of Latin America"] = json!(["AR"]);
    list["markets"]["Dominican Republic"] = json!(["DO"]);
    list
}

/// The rates fixture under the later list: the same rows, and the Dominican Republic's own.
fn later_rates() -> String {
    format!("{RATES}Dominican Republic,USD,0.0606,0.0099,0.0099,n/a,0.0055\n")
}

fn status(wamid: &str, at: i64) -> Value {
    json!({
        "id": wamid, "status": "delivered", "timestamp": at.to_string(), "recipient_id": DOMINICAN,
        "pricing": {"billable": true, "pricing_model": "PMP", "type": "regular", "category": "marketing"}
    })
}

#[tokio::test]
async fn a_later_market_list_takes_effect_on_its_date_and_not_before() {
    let app = TestApp::spawn_on(dynamo_store_on_own_table("lists").await).await;
    let operator = app.operator();
    let listed = app
        .call(Method::GET, "/v1/operator/market-lists", &operator, None)
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let seeded = listed.body["versions"].as_array().unwrap().len();
    assert_eq!(seeded, 2, "the seed fixture's two lists: {}", listed.body);

    // A rates file under a list that is not loaded yet is refused, naming the parameter.
    let early = "effective_from=2026-11-15&market_list=test-2026-11-15";
    let refused = app
        .upload(
            &format!("/v1/operator/rate-cards?{early}"),
            "text/csv",
            later_rates().into_bytes(),
        )
        .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    assert!(
        refused.message().starts_with("market_list: "),
        "{}",
        refused.body
    );

    // Bad lists change nothing: a country in two markets, an unknown field.
    let mut twice = later_list();
    twice["markets"]["Rest of Latin America"] = json!(["AR", "DO"]);
    let mut unknown = later_list();
    unknown["colour"] = json!("blue");
    for bad in [twice, unknown] {
        let answer = app
            .upload(
                "/v1/operator/market-lists",
                "application/json",
                bad.to_string().into_bytes(),
            )
            .await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            answer.body
        );
    }
    // The operator loads the later list; again is a replay; another list at its instant is 409.
    let body = later_list().to_string().into_bytes();
    let loaded = app
        .upload(
            "/v1/operator/market-lists",
            "application/json",
            body.clone(),
        )
        .await;
    assert_eq!(loaded.status, StatusCode::CREATED, "{}", loaded.body);
    assert_eq!(loaded.body["version"], "test-2026-11-15");
    let again = app
        .upload("/v1/operator/market-lists", "application/json", body)
        .await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.body);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    let mut other = later_list();
    other["version"] = json!("test-other");
    let clash = app
        .upload(
            "/v1/operator/market-lists",
            "application/json",
            other.to_string().into_bytes(),
        )
        .await;
    assert_eq!(clash.status, StatusCode::CONFLICT, "{}", clash.body);
    let listed = app
        .call(Method::GET, "/v1/operator/market-lists", &operator, None)
        .await;
    assert_eq!(
        listed.body["versions"].as_array().unwrap().len(),
        seeded + 1
    );

    // Meta's rates under each list, each effective with its list.
    for (query, csv) in [
        (
            "effective_from=2026-10-01&market_list=example-2026-10-01",
            RATES.to_owned(),
        ),
        (early, later_rates()),
    ] {
        let saved = app
            .upload(
                &format!("/v1/operator/rate-cards?{query}"),
                "text/csv",
                csv.into_bytes(),
            )
            .await;
        assert_eq!(saved.status, StatusCode::CREATED, "{query}: {}", saved.body);
    }

    // +1 809 an instant before the later list's date, at it, and a day later.
    let account = app
        .routed_wallet("lists", &[format!("phone-numbers/{PHONE}")])
        .await;
    let billing = app.billing();
    let body = meta_body(
        PHONE,
        vec![
            status("wamid.L0", LATER - 1),
            status("wamid.L1", LATER),
            status("wamid.L2", LATER + 86_400),
        ],
    );
    let records: Vec<Record> = imcredits::billing::message::pack(&parse_webhook(&body).unwrap())
        .into_iter()
        .enumerate()
        .map(|(index, body)| Record {
            id: index.to_string(),
            body,
        })
        .collect();
    let outcome = billing.handle(&records).await;
    assert_eq!(
        (outcome.posted, outcome.failed.len()),
        (3, 0),
        "{outcome:?}"
    );
    let entries = whole_statement(&app.store, &account, 10).await;
    let charged = |wamid: &str| {
        let entry = entries
            .iter()
            .find(|entry| entry.id.as_str() == format!("charge.msg:{wamid}"))
            .unwrap();
        entry.amount.amount().to_string()
    };
    // By hand: Rest of Latin America's marketing rate before, the Dominican Republic's from its date.
    assert_eq!(charged("wamid.L0"), "-0.0707");
    assert_eq!(charged("wamid.L1"), "-0.0606");
    assert_eq!(charged("wamid.L2"), "-0.0606");
    let _: &DynamoStore = &app.store;
}
