//! Write units with volume tiers (issue 12): a utility burst priced at a tier Meta announced
//! before it (billing reads the month's tier updates; a tiered charge carries its WABA and tier),
//! and the true-up of a tier update that arrives after a burst it covers was charged (one
//! adjustment per charge). Compare with the `utility, one market` line above, at the card.

use imcredits::billing::tier_message::pack_tier_updates;
use imcredits::handlers::batch::Record;
use imcredits::ids::AccountId;
use imcredits::meta::account_update::tier_updates;
use imcredits::meta::ids::WabaId;
use imcredits::meta::parse_webhook;
use imcredits::ports::tiers::{TierBooks, WabaRoutes};
use imcredits::pricing::built_in_market_lists;
use imcredits::pricing::tier_book::TierCard;
use imcredits_tests::pipeline::{Pipeline, meta_body};
use serde_json::json;

use super::{EVENTS, burst_write_units, statuses_at};

const TIERS: &str =
    include_str!("../../../shared/rate-cards/meta-format-examples/tiers-USD-MADE-UP-FIGURES.csv");
/// `entry[].id` of [`meta_body`].
const WABA: &str = "102290129340398";
const INDIA: [&str; 1] = ["919876543210"];
/// 2026-10-01T00:00:00Z and 2026-11-01T00:00:00Z: the tier's instants; bursts are two weeks
/// later. In the past: a true-up reads the charges *posted* since the tier's instant (now).
const OCTOBER: i64 = 1_790_812_800;
const NOVEMBER: i64 = 1_793_491_200;
const TWO_WEEKS: i64 = 14 * 86_400;

pub async fn measure(pipeline: &Pipeline) {
    let card = TierCard::import(
        built_in_market_lists(),
        TIERS,
        "2026-10-01",
        "example-2026-10-01",
    )
    .expect("the example tiers file reads");
    pipeline
        .store
        .save_tier_card(&card, imcredits_tests::at())
        .await
        .expect("the tiers file saves");
    let waba = WabaId::parse(WABA).expect("digits");

    // The tier is known before the burst: every charge is priced at it.
    let (account, phone) = pipeline.wallet("bench", "1000").await;
    attach(pipeline, &waba, &account).await;
    let recorded = bill(pipeline, tier_update(OCTOBER)).await;
    assert_eq!(recorded, 0, "no charge to true up yet");
    let body = meta_body(
        &phone,
        statuses_at(&INDIA, 1, None, "utility", "TIER", OCTOBER + TWO_WEEKS),
    );
    let posted = bill(pipeline, pack_statuses(&body)).await;
    assert_eq!(posted, EVENTS);
    let (units, transactions) = burst_write_units(pipeline, &account, "charge").await;
    print_line("utility at a recorded tier", units, transactions);
    pipeline
        .store
        .detach_waba(&waba, &account)
        .await
        .expect("detached");

    // The tier arrives after the burst it covers: one true-up adjustment per charge.
    let (account, phone) = pipeline.wallet("bench", "1000").await;
    attach(pipeline, &waba, &account).await;
    let body = meta_body(
        &phone,
        statuses_at(&INDIA, 1, None, "utility", "LATE", NOVEMBER + TWO_WEEKS),
    );
    assert_eq!(bill(pipeline, pack_statuses(&body)).await, EVENTS);
    let (units, transactions) = burst_write_units(pipeline, &account, "charge").await;
    print_line("utility before its tier", units, transactions);
    let adjusted = bill(pipeline, tier_update(NOVEMBER)).await;
    assert_eq!(adjusted, EVENTS, "each charge trued up once");
    imcredits_tests::assert_reconciled(&pipeline.store, &account).await;
    let (units, transactions) = burst_write_units(pipeline, &account, "adjustment").await;
    print_line("its late tier's true-up", units, transactions);
}

async fn attach(pipeline: &Pipeline, waba: &WabaId, account: &AccountId) {
    pipeline
        .store
        .attach_waba(waba, account, imcredits_tests::at())
        .await
        .expect("attached");
}

fn print_line(label: &str, units: u64, transactions: usize) {
    println!(
        "  {label:<30} {:>6.3} units/event  ({units} units in {transactions} transactions)",
        units as f64 / EVENTS as f64
    );
}

/// Billing handles `bodies` as queue records; answers how many entries it posted.
async fn bill(pipeline: &Pipeline, bodies: Vec<String>) -> usize {
    let records: Vec<Record> = bodies
        .into_iter()
        .enumerate()
        .map(|(index, body)| Record {
            id: index.to_string(),
            body,
        })
        .collect();
    let outcome = pipeline.billing_handle(&records).await;
    assert!(outcome.failed.is_empty(), "{outcome:?}");
    outcome.posted
}

fn pack_statuses(body: &[u8]) -> Vec<String> {
    let batch = parse_webhook(body).expect("the body parses");
    imcredits::billing::message::pack(&batch)
}

/// Meta's `account_update` for the WABA's India utility tier 25000001:50000000 from `at`, as the
/// webhook puts it on the billing queue.
fn tier_update(at: i64) -> Vec<String> {
    let month = time::OffsetDateTime::from_unix_timestamp(at).expect("an instant");
    let body = json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA, "time": at, "changes": [{"field": "account_update", "value": {
            "event": "VOLUME_BASED_PRICING_TIER_UPDATE",
            "volume_tier_info": {"tier_update_time": at, "pricing_category": "UTILITY",
                "tier": "25000001:50000000",
                "effective_month": format!("{}-{:02}", month.year(), u8::from(month.month())),
                "region": "INDIA"}}}]}]
    });
    let (updates, malformed) = tier_updates(&serde_json::to_vec(&body).expect("json"));
    assert_eq!((updates.len(), malformed), (1, 0));
    vec![pack_tier_updates(&updates).expect("one update")]
}
