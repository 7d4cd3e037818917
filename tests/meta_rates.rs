//! An operator loads Meta's rates files (the layout as Meta publishes it, made-up figures) through
//! the API, and billing prices a body of statuses from them: US, +1 809, India by phone number and
//! by BSUID, a group, a service message, Marketing Messages Lite, Brazil in BRL and Chile in CLP,
//! each equal to the hand calculation written next to it.

use axum::http::{Method, StatusCode};
use imcredits::billing::message::pack;
use imcredits::handlers::batch::Record;
use imcredits::ids::AccountId;
use imcredits::ledger::{EntryKind, LedgerEntry};
use imcredits::meta::parse_webhook;
use imcredits_tests::app::TestApp;
use imcredits_tests::{dynamo_store_on_own_table, unique_account, whole_statement};
use serde_json::{Value, json};

const RATES: [(&str, &str); 3] = [
    (
        "USD",
        include_str!("../shared/rate-cards/meta-format-examples/rates-USD-MADE-UP-FIGURES.csv"),
    ),
    (
        "BRL",
        include_str!("../shared/rate-cards/meta-format-examples/rates-BRL-MADE-UP-FIGURES.csv"),
    ),
    (
        "CLP",
        include_str!("../shared/rate-cards/meta-format-examples/rates-CLP-MADE-UP-FIGURES.csv"),
    ),
];
/// 2026-11-02T10:00:00Z: the cards (effective 2026-10-01) and the list example-2026-10-01 apply.
const EVENT_TIME: &str = "1793613600";
const IMPORT: &str =
    "/v1/operator/rate-cards?effective_from=2026-10-01&market_list=example-2026-10-01";

async fn import(app: &TestApp, path: &str, csv: &str) -> imcredits_tests::app::Answer {
    app.upload(path, "text/csv; charset=utf-8", csv.as_bytes().to_vec())
        .await
}

/// A wallet in `currency` for a fresh account, with `phone` routed to it.
async fn wallet(app: &TestApp, currency: &str, phone: &str) -> AccountId {
    let account = unique_account(&currency.to_ascii_lowercase());
    let operator = app.operator();
    let created = app
        .call(
            Method::POST,
            &format!("/v1/operator/accounts/{account}/wallet"),
            &operator,
            Some(json!({"currency": currency})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let routed = app
        .call(
            Method::PUT,
            &format!("/v1/operator/accounts/{account}/phone-numbers/{phone}"),
            &operator,
            None,
        )
        .await;
    assert!(routed.status.is_success(), "{}", routed.body);
    account
}

fn status(wamid: &str, category: &str, who: &[(&str, &str)]) -> Value {
    let mut status = json!({
        "id": wamid, "status": "delivered", "timestamp": EVENT_TIME,
        "pricing": {"billable": true, "pricing_model": "PMP", "type": "regular", "category": category}
    });
    for (field, value) in who {
        status[*field] = json!(value);
    }
    status
}

fn records(phone: &str, statuses: Vec<Value>) -> Vec<Record> {
    let body = json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": phone},
            "statuses": statuses
        }}]}]
    });
    let batch = parse_webhook(&serde_json::to_vec(&body).unwrap()).unwrap();
    assert_eq!(batch.report.counts.statuses_skipped, 0);
    pack(&batch)
        .into_iter()
        .enumerate()
        .map(|(index, body)| Record {
            id: format!("{phone}-{index}"),
            body,
        })
        .collect()
}

fn charges(entries: &[LedgerEntry]) -> Vec<(String, String)> {
    let mut charges: Vec<(String, String)> = entries
        .iter()
        .filter(|entry| entry.kind == EntryKind::Charge)
        .map(|entry| {
            (
                entry.id.as_str().to_owned(),
                entry.amount.amount().to_string(),
            )
        })
        .collect();
    charges.sort();
    charges
}

#[tokio::test]
async fn meta_rates_files_price_every_market_as_calculated_by_hand() {
    let app = TestApp::spawn_on(dynamo_store_on_own_table("metarates").await).await;
    for (currency, csv) in RATES {
        let saved = import(&app, IMPORT, csv).await;
        assert_eq!(
            saved.status,
            StatusCode::CREATED,
            "{currency}: {}",
            saved.body
        );
        assert_eq!(saved.body["kind"], "table");
    }
    let replay = import(&app, IMPORT, RATES[0].1).await;
    assert_eq!(replay.headers["idempotent-replayed"], "true");

    let usd = wallet(&app, "USD", "5550001").await;
    let brl = wallet(&app, "BRL", "5550002").await;
    let clp = wallet(&app, "CLP", "5550003").await;
    let group = [
        ("recipient_id", "120363040000000000"),
        ("recipient_type", "group"),
    ];
    let mut usd_statuses = vec![
        // North America, marketing: 0.0112.
        status("wamid.US", "marketing", &[("recipient_id", "12025550123")]),
        // +1 809 is the Dominican Republic: Rest of Latin America, marketing 0.0707.
        status("wamid.DO", "marketing", &[("recipient_id", "18095550123")]),
        // India by phone number, utility: 0.0013.
        status("wamid.IN", "utility", &[("recipient_id", "919876543210")]),
        // India known only by a BSUID, marketing: 0.0101.
        status(
            "wamid.INB",
            "marketing",
            &[("recipient_user_id", "IN.8812345")],
        ),
        // A US user known only by a BSUID: North America's 0.0112, not Other's 0.0912.
        status(
            "wamid.USB",
            "marketing",
            &[("recipient_user_id", "US.13491208655302741918")],
        ),
        // A service message Meta charges (`regular`), India: 0.0011.
        status("wamid.SVC", "service", &[("recipient_id", "919876543210")]),
        // Marketing Messages Lite to the UK: the United Kingdom's marketing rate, 0.0505.
        status(
            "wamid.LITE",
            "marketing_lite",
            &[("recipient_id", "447400123456")],
        ),
    ];
    // A group message: a Dominican participant (phone and BSUID) at Rest of Latin America's
    // marketing 0.0707, an Indian one (phone only) at India's 0.0101.
    let mut participant = group.to_vec();
    participant.extend([
        ("recipient_participant_id", "18095550199"),
        ("recipient_participant_user_id", "DO.777"),
    ]);
    usd_statuses.push(status("wamid.G", "group_marketing", &participant));
    let mut second = group.to_vec();
    second.push(("recipient_participant_id", "919876500000"));
    usd_statuses.push(status("wamid.G", "group_marketing", &second));
    // The same Dominican participant again, read, this time known only by the BSUID: same charge.
    let mut again = group.to_vec();
    again.push(("recipient_participant_user_id", "DO.777"));
    let mut read = status("wamid.G", "group_marketing", &again);
    read["status"] = json!("read");

    let mut all = records("5550001", usd_statuses);
    all.extend(records(
        "5550002",
        vec![
            // Brazil in BRL: marketing 0.3125, utility 0.0363.
            status(
                "wamid.BR1",
                "marketing",
                &[("recipient_id", "5511987654321")],
            ),
            status("wamid.BR2", "utility", &[("recipient_id", "5511987654321")]),
        ],
    ));
    // Chile in CLP (no minor unit; rates keep their decimals): marketing 73.82.
    all.extend(records(
        "5550003",
        vec![status(
            "wamid.CL",
            "marketing",
            &[("recipient_id", "56912345678")],
        )],
    ));
    let billing = app.billing();
    let outcome = billing.handle(&all).await;
    assert!(outcome.failed.is_empty(), "{outcome:?}");
    assert_eq!((outcome.posted, outcome.replayed), (12, 0), "{outcome:?}");
    let outcome = billing.handle(&records("5550001", vec![read])).await;
    assert_eq!((outcome.posted, outcome.replayed), (0, 1), "{outcome:?}");

    let usd_charges = charges(&whole_statement(&app.store, &usd, 50).await);
    let individual: Vec<(String, String)> = usd_charges
        .iter()
        .filter(|(id, _)| !id.contains('~'))
        .cloned()
        .collect();
    let expected = [
        ("charge.msg:wamid.DO", "-0.0707"),
        ("charge.msg:wamid.IN", "-0.0013"),
        ("charge.msg:wamid.INB", "-0.0101"),
        ("charge.msg:wamid.LITE", "-0.0505"),
        ("charge.msg:wamid.SVC", "-0.0011"),
        ("charge.msg:wamid.US", "-0.0112"),
        ("charge.msg:wamid.USB", "-0.0112"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(id, amount)| ((*id).to_owned(), (*amount).to_owned()))
        .collect();
    assert_eq!(individual, expected);
    let mut group_amounts: Vec<&str> = usd_charges
        .iter()
        .filter(|(id, _)| id.starts_with("charge.msg:wamid.G~"))
        .map(|(_, amount)| amount.as_str())
        .collect();
    group_amounts.sort();
    assert_eq!(group_amounts, ["-0.0101", "-0.0707"]);
    // 0.0112 + 0.0707 + 0.0013 + 0.0101 + 0.0112 + 0.0011 + 0.0505 + 0.0707 + 0.0101 = 0.2369.
    let wallet = imcredits_tests::assert_reconciled(&app.store, &usd).await;
    assert_eq!(wallet.balance.amount().to_string(), "-0.2369");

    let brl_charges = charges(&whole_statement(&app.store, &brl, 10).await);
    assert_eq!(
        brl_charges,
        [
            ("charge.msg:wamid.BR1".to_owned(), "-0.3125".to_owned()),
            ("charge.msg:wamid.BR2".to_owned(), "-0.0363".to_owned()),
        ]
    );
    let clp_charges = charges(&whole_statement(&app.store, &clp, 10).await);
    assert_eq!(
        clp_charges,
        [("charge.msg:wamid.CL".to_owned(), "-73.82".to_owned())]
    );
    let wallet = imcredits_tests::assert_reconciled(&app.store, &clp).await;
    assert_eq!(wallet.currency.code(), "CLP");

    // A status that names no recipient at all is held for review, never priced at a fallback.
    let held = records("5550001", vec![status("wamid.NOBODY", "marketing", &[])]);
    let outcome = billing.handle(&held).await;
    assert_eq!(outcome.failed.len(), 1);
    assert_eq!(outcome.posted, 0);
}

#[tokio::test]
async fn a_bad_rates_file_is_a_4xx_naming_the_line_and_saves_nothing() {
    let app = TestApp::spawn_on(dynamo_store_on_own_table("badrates").await).await;
    let bad_number = RATES[0].1.replace("India,USD,0.0101", "India,USD,0.01.01");
    let wrong_currency = RATES[0].1.replace("Mexico,USD", "Mexico,EUR");
    let unknown_market = RATES[0].1.replace("Chile,USD", "Atlantis,USD");
    for (csv, needle) in [
        (bad_number, "line 7"),
        (wrong_currency, "line 9"),
        (unknown_market, "line 6"),
    ] {
        let answer = import(&app, IMPORT, &csv).await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            answer.body
        );
        assert!(answer.message().contains(needle), "{}", answer.message());
    }
    for (path, field) in [
        (
            "/v1/operator/rate-cards?market_list=example-2026-10-01",
            "effective_from",
        ),
        (
            "/v1/operator/rate-cards?effective_from=2026-10-01",
            "market_list",
        ),
        // The list of April is not the one in force in October.
        (
            "/v1/operator/rate-cards?effective_from=2026-10-01&market_list=example-2026-04-01",
            "market_list",
        ),
    ] {
        let answer = import(&app, path, RATES[0].1).await;
        assert!(answer.status.is_client_error(), "{}", answer.body);
        assert!(answer.message().starts_with(field), "{}", answer.message());
    }
    let listed = app
        .call(
            Method::GET,
            "/v1/operator/rate-cards/USD",
            &app.operator(),
            None,
        )
        .await;
    assert_eq!(listed.body["versions"], json!([]), "nothing was saved");
}

#[tokio::test]
async fn a_support_desk_adjusts_a_wallet_once_per_reference_with_its_reason() {
    let app = TestApp::spawn().await;
    let account = app.wallet("adjust").await;
    let operator = app.operator();
    let path = format!("/v1/operator/accounts/{account}/adjustments");
    let credit =
        json!({"reference": "CASE-41", "amount": "5.00", "reason": "double charge refunded"});
    let posted = app
        .call(Method::POST, &path, &operator, Some(credit.clone()))
        .await;
    assert_eq!(posted.status, StatusCode::CREATED, "{}", posted.body);
    assert_eq!(posted.body["kind"], "adjustment");
    assert!(posted.headers.get("idempotent-replayed").is_none());
    let replay = app.call(Method::POST, &path, &operator, Some(credit)).await;
    assert_eq!(replay.status, StatusCode::CREATED);
    assert_eq!(replay.headers["idempotent-replayed"], "true");
    let other =
        json!({"reference": "CASE-41", "amount": "6.00", "reason": "double charge refunded"});
    let conflict = app.call(Method::POST, &path, &operator, Some(other)).await;
    assert_eq!(conflict.status, StatusCode::CONFLICT, "{}", conflict.body);
    let debit =
        json!({"reference": "CASE-42", "amount": "-1.25", "reason": "goodwill credit reversed"});
    let debited = app.call(Method::POST, &path, &operator, Some(debit)).await;
    assert_eq!(debited.status, StatusCode::CREATED, "{}", debited.body);
    for (body, field) in [
        (
            json!({"reference": "CASE-43", "amount": "0", "reason": "x"}),
            "amount",
        ),
        (
            json!({"reference": "CASE-43", "amount": "1e3", "reason": "x"}),
            "amount",
        ),
        (
            json!({"reference": "CASE-43", "amount": "1", "reason": " "}),
            "reason",
        ),
        (
            json!({"reference": "has space", "amount": "1", "reason": "x"}),
            "reference",
        ),
    ] {
        let refused = app.call(Method::POST, &path, &operator, Some(body)).await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            refused.body
        );
        assert!(
            refused.message().starts_with(field),
            "{}",
            refused.message()
        );
    }
    let owner = app.token(Some(&account), false);
    let forbidden = app
        .call(
            Method::POST,
            &path,
            &owner,
            Some(json!({"reference": "CASE-44", "amount": "100", "reason": "self-service"})),
        )
        .await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    let statement = app
        .call(Method::GET, "/v1/wallet/statement?limit=10", &owner, None)
        .await;
    let entries = statement.body["entries"].as_array().unwrap();
    let reasons: Vec<&str> = entries
        .iter()
        .filter(|entry| entry["kind"] == "adjustment")
        .map(|entry| entry["description"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        ["goodwill credit reversed", "double charge refunded"]
    );
    let wallet = imcredits_tests::assert_reconciled(&app.store, &account).await;
    assert_eq!(wallet.balance.amount().to_string(), "3.75");
}
