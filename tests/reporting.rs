//! Reporting through the real router on DynamoDB Local: usage from the aggregates billing writes
//! (by the wallet's reporting time zone), the read units a year of usage costs, monthly statements
//! that add up against the ledger for random months, and the CSV and HTML exports.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use imcredits::billing::usage::{META_CATEGORY, META_MARKET, META_TAG};
use imcredits::ids::AccountId;
use imcredits::ledger::{EntryId, EntryKind, LedgerEntry, Metadata, NewEntry};
use imcredits::ports::store::{ChargesPost, EntriesPost, USAGE_DAYS_MAX};
use imcredits_tests::app::TestApp;
use imcredits_tests::pipeline::{Pipeline, meta_body, pmp, status};
use imcredits_tests::{assert_reconciled, usd, whole_statement};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use time::macros::{date, datetime};
use time::{Date, Duration, OffsetDateTime};
use tower::ServiceExt;

async fn usage(app: &TestApp, account: &AccountId, query: &str) -> Value {
    let answer = app
        .call(
            Method::GET,
            &format!("/v1/wallet/usage?{query}"),
            &app.token(Some(account), false),
            None,
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{query}: {}", answer.body);
    answer.body
}

fn bucket<'a>(report: &'a Value, period: &str) -> &'a Value {
    report["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|bucket| bucket["period"] == period)
        .unwrap_or_else(|| panic!("no bucket {period}"))
}

fn group(bucket: &Value, key: Value) -> &Value {
    bucket["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|group| group["key"] == key)
        .unwrap_or_else(|| panic!("no group {key} in {bucket}"))
}

/// Statuses at 2025-06-15 23:27:53 UTC: three charged marketing messages (one tagged), one free
/// service message and one charged CBP conversation.
fn burst(phone: &str, prefix: &str) -> Vec<u8> {
    let mut tagged = status(
        &format!("wamid.{prefix}M1"),
        "delivered",
        pmp("regular", "marketing"),
    );
    tagged["biz_opaque_callback_data"] = json!("template:welcome");
    let mut conversation = status(
        &format!("wamid.{prefix}C1"),
        "delivered",
        json!({"billable": true, "pricing_model": "CBP", "category": "utility"}),
    );
    conversation["conversation"] =
        json!({"id": format!("CONV-{prefix}"), "origin": {"type": "utility"}});
    meta_body(
        phone,
        vec![
            tagged,
            status(
                &format!("wamid.{prefix}M2"),
                "delivered",
                pmp("regular", "marketing"),
            ),
            status(
                &format!("wamid.{prefix}M3"),
                "read",
                pmp("regular", "marketing"),
            ),
            status(
                &format!("wamid.{prefix}F1"),
                "delivered",
                pmp("free_customer_service", "service"),
            ),
            conversation,
        ],
    )
}

#[tokio::test]
async fn usage_counts_billed_charges_on_the_wallet_s_days_by_group() {
    let pipeline = Pipeline::spawn().await;
    let app = TestApp::spawn().await;
    let (utc, utc_phone) = pipeline.wallet("use-utc", "5").await;
    let (berlin, berlin_phone) = pipeline.wallet("use-ber", "5").await;
    let zone = app
        .call(
            Method::PUT,
            "/v1/wallet/reporting-time-zone",
            &app.token(Some(&berlin), false),
            Some(json!({"time_zone": "Europe/Berlin"})),
        )
        .await;
    assert_eq!(zone.status, StatusCode::OK, "{}", zone.body);
    assert_eq!(zone.body["reporting_time_zone"], "Europe/Berlin");
    let bad = app
        .call(
            Method::PUT,
            "/v1/wallet/reporting-time-zone",
            &app.token(Some(&berlin), false),
            Some(json!({"time_zone": "Mars/Olympus"})),
        )
        .await;
    assert!(bad.message().starts_with("time_zone: "), "{}", bad.body);

    assert_eq!(pipeline.post(burst(&utc_phone, "U")).await, StatusCode::OK);
    assert_eq!(
        pipeline.post(burst(&berlin_phone, "B")).await,
        StatusCode::OK
    );
    let outcome = pipeline.bill_all().await;
    assert!(outcome.failed.is_empty(), "{outcome:?}");

    // 23:27 UTC on 15 June is 01:27 on 16 June in Berlin.
    for (account, day, other_day) in [
        (&utc, "2025-06-15", "2025-06-16"),
        (&berlin, "2025-06-16", "2025-06-15"),
    ] {
        let report = usage(&app, account, "from=2025-06-10&to=2025-06-20").await;
        assert_eq!(report["buckets"].as_array().unwrap().len(), 11);
        let counted = bucket(&report, day);
        assert_eq!(counted["totals"]["messages"], 5, "{report}");
        assert_eq!(counted["totals"]["charged_messages"], 4);
        assert_eq!(counted["totals"]["free_messages"], 1);
        assert_eq!(counted["totals"]["conversations"], 1);
        assert_eq!(amount(&counted["totals"]["amount"]), Decimal::new(5, 2));
        assert_eq!(group(counted, json!("marketing"))["messages"], 3);
        assert_eq!(group(counted, json!("utility"))["conversations"], 1);
        assert_eq!(bucket(&report, other_day)["totals"]["messages"], 0);
        assert_eq!(report["totals"]["amount"]["display"], "0.05");

        let by_template = usage(
            &app,
            account,
            "from=2025-06-01&to=2025-06-30&group_by=template",
        )
        .await;
        let counted = bucket(&by_template, day);
        assert_eq!(group(counted, json!("template:welcome"))["messages"], 1);
        let untagged = group(counted, Value::Null);
        assert_eq!(untagged["messages"], 4);
        assert_eq!(amount(&untagged["amount"]), Decimal::new(375, 4));

        let by_month = usage(
            &app,
            account,
            "from=2025-01&to=2025-12&granularity=month&group_by=market",
        )
        .await;
        assert_eq!(by_month["buckets"].as_array().unwrap().len(), 12);
        assert_eq!(bucket(&by_month, "2025-06")["totals"]["messages"], 5);
        assert_eq!(by_month["totals"]["charged_messages"], 4);
    }

    // Past the bounds: a 422 that names the field.
    for (query, field) in [
        ("from=2024-01-01&to=2025-02-04", "to"),
        ("from=2022-01&to=2025-01&granularity=month", "to"),
        ("granularity=hour", "granularity"),
        ("group_by=phone", "group_by"),
    ] {
        let answer = app
            .call(
                Method::GET,
                &format!("/v1/wallet/usage?{query}"),
                &app.token(Some(&utc), false),
                None,
            )
            .await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert!(
            answer.message().starts_with(&format!("{field}: ")),
            "{}",
            answer.body
        );
    }
    assert_reconciled(&pipeline.store, &utc).await;
    assert_reconciled(&pipeline.store, &berlin).await;
}

fn charge_on(day: Date, index: usize, market: &str, category: &str, tag: Option<&str>) -> NewEntry {
    let mut metadata = Metadata::new();
    metadata.insert(META_CATEGORY, category).unwrap();
    metadata.insert(META_MARKET, market).unwrap();
    metadata.insert("model", "pmp").unwrap();
    if let Some(tag) = tag {
        metadata.insert(META_TAG, tag).unwrap();
    }
    NewEntry::new(
        EntryId::message_charge(&format!("wamid.Y{day}-{index}")).unwrap(),
        EntryKind::Charge,
        usd("-0.0125"),
        "year of usage",
        metadata,
        day.midnight().assume_utc() + Duration::hours(12),
    )
    .unwrap()
}

/// What reading a range costs, measured by DynamoDB Local's `ConsumedCapacity` on the very range
/// queries the usage adapter makes (windows of 92 days, every page).
async fn read_units(app: &TestApp, account: &AccountId, from: Date, to: Date) -> (f64, usize) {
    let client = app.store.client();
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let (mut units, mut pages) = (0.0, 0);
    let mut start = from;
    while start <= to {
        let end = (start + Duration::days(USAGE_DAYS_MAX - 1)).min(to);
        let mut key: Option<std::collections::HashMap<String, AttributeValue>> = None;
        loop {
            let output = client
                .query()
                .table_name(app.store.table())
                .key_condition_expression("pk = :pk AND sk BETWEEN :low AND :high")
                .expression_attribute_values(":pk", AttributeValue::S(format!("ACCOUNT#{account}")))
                .expression_attribute_values(
                    ":low",
                    AttributeValue::S(format!("USAGE#{}#", start.format(format).unwrap())),
                )
                .expression_attribute_values(
                    ":high",
                    AttributeValue::S(format!("USAGE#{}#~", end.format(format).unwrap())),
                )
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .set_exclusive_start_key(key.take())
                .send()
                .await
                .unwrap();
            pages += 1;
            units += output
                .consumed_capacity()
                .and_then(|capacity| capacity.capacity_units())
                .expect("DynamoDB Local reports consumed capacity");
            key = output.last_evaluated_key().cloned();
            if key.is_none() {
                break;
            }
        }
        start = end + Duration::days(1);
    }
    (units, pages)
}

#[tokio::test]
async fn a_year_of_usage_reads_in_a_bounded_number_of_pages_and_units() {
    let app = TestApp::spawn().await;
    let account = app.wallet("year").await;
    let first = date!(2025 - 01 - 01);
    // A year: every day 3 markets × 2 categories, and one template tag (7 aggregates a day).
    let mut entries = Vec::new();
    for offset in 0..365 {
        let day = first + Duration::days(offset);
        let mut index = 0;
        for market in ["US", "BR", "IN"] {
            for category in ["marketing", "utility"] {
                let tag = (index == 0).then_some("template:daily_digest");
                entries.push(charge_on(day, index, market, category, tag));
                index += 1;
            }
        }
    }
    let posted = app
        .store
        .post_charges(&account, &entries, OffsetDateTime::now_utc())
        .await
        .expect("a year of charges posts");
    assert_eq!(posted.posted_count(), 365 * 6);
    let last = date!(2025 - 12 - 31);
    let report = usage(
        &app,
        &account,
        "from=2025-01-01&to=2025-12-31&group_by=template",
    )
    .await;
    assert_eq!(report["totals"]["messages"], 365 * 6);
    assert_eq!(amount(&report["totals"]["amount"]), Decimal::new(27_375, 3));
    assert_eq!(
        bucket(&report, "2025-07-04")["groups"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    let (year_units, year_pages) = read_units(&app, &account, first, last).await;
    let (quarter_units, quarter_pages) =
        read_units(&app, &account, first, first + Duration::days(89)).await;
    println!(
        "usage read cost, 2,555 aggregates over a year (7 a day): a 365-day request {year_pages} \
         Query pages, {year_units} read units; a 90-day request {quarter_pages} pages, \
         {quarter_units} read units (eventually consistent)"
    );
    assert!(
        quarter_pages <= 2,
        "a 90-day range is one window: {quarter_pages} pages"
    );
    assert!(year_pages <= 8, "{year_pages} pages");
    assert!(year_units < 200.0, "{year_units} units");
}

/// A small deterministic generator (the seed is printed, so a failure can be replayed).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

fn random_entry(rng: &mut Rng, id: usize, at: OffsetDateTime) -> NewEntry {
    let cents = i64::try_from(rng.below(5_000) + 1).unwrap();
    let (kind, amount, entry_id) = match rng.below(6) {
        0 => (
            EntryKind::Grant,
            Decimal::new(cents, 2),
            EntryId::grant(&format!("G-{id}")),
        ),
        1 => (
            EntryKind::Purchase,
            Decimal::new(cents, 2),
            EntryId::purchase(&format!("pur_{id}")),
        ),
        2 => (
            EntryKind::AutoRecharge,
            Decimal::new(cents, 2),
            EntryId::auto_recharge(&format!("ra_{id}")),
        ),
        _ => (
            EntryKind::Charge,
            -Decimal::new(cents, 4),
            EntryId::message_charge(&format!("wamid.R{id}")),
        ),
    };
    let mut metadata = Metadata::new();
    if kind == EntryKind::Charge {
        let markets = ["US", "BR", "IN", "DE"];
        let categories = ["marketing", "utility", "authentication"];
        metadata
            .insert(META_CATEGORY, categories[rng.below(3) as usize])
            .unwrap();
        metadata
            .insert(META_MARKET, markets[rng.below(4) as usize])
            .unwrap();
    }
    NewEntry::new(
        entry_id.unwrap(),
        kind,
        imcredits::money::Money::new(amount, imcredits::money::Currency::Usd).unwrap(),
        "random",
        metadata,
        at,
    )
    .unwrap()
}

/// The month's figures computed independently from the whole ledger: entries posted within the
/// month (by posting time; the test posts in order, so no cut falls between racing postings).
fn expected_month(
    ledger: &[LedgerEntry],
    start: OffsetDateTime,
    end: OffsetDateTime,
) -> (Decimal, Decimal, BTreeMap<&'static str, Decimal>) {
    let mut oldest_first: Vec<&LedgerEntry> = ledger.iter().collect();
    oldest_first.sort_by_key(|entry| entry.seq);
    let opening = oldest_first
        .iter()
        .rfind(|entry| entry.posted_at < start)
        .map_or(Decimal::ZERO, |entry| entry.balance_after.amount());
    let closing = oldest_first
        .iter()
        .rfind(|entry| entry.posted_at < end)
        .map_or(Decimal::ZERO, |entry| entry.balance_after.amount());
    let mut by_kind = BTreeMap::new();
    for entry in oldest_first
        .iter()
        .filter(|entry| entry.posted_at >= start && entry.posted_at < end)
    {
        *by_kind.entry(entry.kind.as_str()).or_insert(Decimal::ZERO) += entry.amount.amount();
    }
    (opening, closing, by_kind)
}

fn amount(value: &Value) -> Decimal {
    value["amount"].as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn monthly_statements_add_up_against_the_ledger_for_random_months() {
    let app = TestApp::spawn().await;
    let seed = u64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() % 1_000_000_007)
        .unwrap()
        | 1;
    println!("monthly statement seed: {seed}");
    let mut rng = Rng(seed);
    let account = app.wallet("monthly").await;
    let owner = app.token(Some(&account), false);
    // Eight months of postings (Jan..Aug 2026), each batch posted at a random instant.
    let mut at = datetime!(2026-01-01 00:00 UTC) + Duration::minutes(rng.below(600) as i64);
    let mut id = 0;
    while at < datetime!(2026-09-01 00:00 UTC) {
        let batch: Vec<NewEntry> = (0..1 + rng.below(4))
            .map(|_| {
                id += 1;
                random_entry(&mut rng, id, at)
            })
            .collect();
        app.store
            .post_entries(&account, &batch, at)
            .await
            .expect("a random batch posts");
        at += Duration::minutes(1 + rng.below(4 * 24 * 60) as i64);
    }
    let ledger = whole_statement(&app.store, &account, 100).await;
    let mut previous_closing: Option<Decimal> = None;
    for month in 1..=9u8 {
        let start =
            Date::from_calendar_date(2026, time::Month::try_from(month).unwrap(), 1).unwrap();
        let end =
            Date::from_calendar_date(2026, time::Month::try_from(month + 1).unwrap(), 1).unwrap();
        let answer = app
            .call(
                Method::GET,
                &format!("/v1/wallet/statements/2026-{month:02}"),
                &owner,
                None,
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        let body = &answer.body;
        let (opening, closing, by_kind) = expected_month(
            &ledger,
            start.midnight().assume_utc(),
            end.midnight().assume_utc(),
        );
        let sum = |kind: &str| by_kind.get(kind).copied().unwrap_or_default();
        assert_eq!(
            amount(&body["opening_balance"]),
            opening,
            "seed {seed} month {month}"
        );
        assert_eq!(
            amount(&body["closing_balance"]),
            closing,
            "seed {seed} month {month}"
        );
        assert_eq!(amount(&body["credits_bought"]), sum("purchase"));
        assert_eq!(amount(&body["credits_granted"]), sum("grant"));
        assert_eq!(
            amount(&body["credits_auto_recharged"]),
            sum("auto_recharge")
        );
        assert_eq!(amount(&body["charges_total"]), -sum("charge"));
        let lines: Decimal = body["charges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|line| amount(&line["amount"]))
            .sum();
        assert_eq!(lines, amount(&body["charges_total"]));
        // opening + credits − charges = closing, exactly.
        assert_eq!(
            amount(&body["opening_balance"])
                + amount(&body["credits_bought"])
                + amount(&body["credits_granted"])
                + amount(&body["credits_auto_recharged"])
                + amount(&body["refunds"])
                + amount(&body["adjustments"])
                - amount(&body["charges_total"]),
            amount(&body["closing_balance"]),
            "seed {seed} month {month}"
        );
        if let Some(previous) = previous_closing {
            assert_eq!(previous, amount(&body["opening_balance"]), "months chain");
        }
        previous_closing = Some(amount(&body["closing_balance"]));
    }
    let wallet = assert_reconciled(&app.store, &account).await;
    assert_eq!(previous_closing, Some(wallet.balance.amount()));
    for (month, field) in [
        ("2026-13", "month"),
        ("26-01", "month"),
        ("2999-01", "month"),
    ] {
        let refused = app
            .call(
                Method::GET,
                &format!("/v1/wallet/statements/{month}"),
                &owner,
                None,
            )
            .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{month}");
        assert!(refused.message().starts_with(&format!("{field}: ")));
    }
}

/// A raw GET through the router: status, headers and body text.
async fn fetch(
    app: &TestApp,
    path: &str,
    token: &str,
    accept: Option<&str>,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let mut request = Request::get(path).header(header::AUTHORIZATION, format!("Bearer {token}"));
    if let Some(accept) = accept {
        request = request.header(header::ACCEPT, accept);
    }
    let response = app
        .router
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8(bytes.to_vec()).unwrap())
}

#[tokio::test]
async fn exports_stream_csv_with_running_balances_and_a_printable_month() {
    let app = TestApp::spawn().await;
    let account = app.wallet("export").await;
    let owner = app.token(Some(&account), false);
    let now = OffsetDateTime::now_utc();
    let mut rng = Rng(7);
    let mut posted = 0;
    for batch in 0..30 {
        let entries: Vec<NewEntry> = (0..5)
            .map(|i| random_entry(&mut rng, batch * 10 + i, now))
            .collect();
        app.store
            .post_entries(&account, &entries, now)
            .await
            .unwrap();
        posted += entries.len();
    }
    let ledger = whole_statement(&app.store, &account, 100).await;
    assert_eq!(ledger.len(), posted);
    for (path, accept) in [
        ("/v1/wallet/statement?format=csv", None),
        ("/v1/wallet/statement", Some("text/csv")),
    ] {
        let (status, headers, text) = fetch(&app, path, &owner, accept).await;
        assert_eq!(status, StatusCode::OK, "{text}");
        assert!(
            headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/csv")
        );
        let mut lines = text.lines();
        assert!(lines.next().unwrap().starts_with("seq,entry_id,kind,"));
        let rows: Vec<Vec<&str>> = lines.map(|line| line.split(',').collect()).collect();
        assert_eq!(rows.len(), ledger.len());
        for (row, entry) in rows.iter().zip(&ledger) {
            assert_eq!(row[0], entry.seq.to_string());
            assert_eq!(row[1], entry.id.as_str());
            assert_eq!(
                row[9],
                entry.balance_after.amount().to_string(),
                "running balance"
            );
        }
    }
    let long = fetch(
        &app,
        "/v1/wallet/statement?format=csv&from=2024-01-01T00:00:00Z&to=2025-06-01T00:00:00Z",
        &owner,
        None,
    )
    .await;
    assert_eq!(long.0, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(long.2.contains("\"to: "), "{}", long.2);
    let unknown = fetch(
        &app,
        "/v1/wallet/statement?format=csv&limit=5",
        &owner,
        None,
    )
    .await;
    assert_eq!(unknown.0, StatusCode::UNPROCESSABLE_ENTITY);

    let (status, headers, payments) =
        fetch(&app, "/v1/wallet/purchases?format=csv", &owner, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(payments.starts_with("purchase_id,created_at,status,"));

    let month = now
        .format(time::macros::format_description!("[year]-[month]"))
        .unwrap();
    let (status, headers, html) = fetch(
        &app,
        &format!("/v1/wallet/statements/{month}"),
        &owner,
        Some("text/html"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let policy = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(policy.starts_with("default-src 'none'") && policy.contains("script-src 'none'"));
    assert!(!html.contains("<script"), "no script on the page");
    let wallet = assert_reconciled(&app.store, &account).await;
    assert!(html.contains(&wallet.balance.display_rounded()), "{html}");

    // Another account sees none of it.
    let other = app.wallet("export-other").await;
    let (_, _, theirs) = fetch(
        &app,
        "/v1/wallet/statement?format=csv",
        &app.token(Some(&other), false),
        None,
    )
    .await;
    assert_eq!(theirs.lines().count(), 1, "only the header: {theirs}");
}
