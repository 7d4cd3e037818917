//! DynamoDB write units per billed event, for a 1,000-event burst to one wallet. The burst is billed
//! on DynamoDB Local; then every transaction it committed is priced by AWS's rules from the stored
//! items (the journal of each posting names its entries; each posting also wrote the wallet and
//! the usage aggregates of its entries). Goal: at most 2.2 (one transactional item write costs
//! 2.0). Run with `scripts/bench` (it starts DynamoDB Local).

use std::time::Instant;

use imcredits::billing::usage::{META_CATEGORY, META_MARKET, META_TAG};
use imcredits::handlers::batch::Record;
use imcredits::meta::parse_webhook;
use imcredits_tests::pipeline::{Pipeline, meta_body, pmp};
use serde_json::{Value, json};

#[path = "billing_wcu/tiers.rs"]
mod tiers;

const EVENTS: usize = 1_000;

/// `hold_tag`: every status carries it (all events settle one hold) instead of a template tag.
fn statuses(markets: &[&str], tags: usize, hold_tag: Option<&str>, category: &str) -> Vec<Value> {
    statuses_at(markets, tags, hold_tag, category, "BENCH", 1_750_030_073)
}

/// `at` in Unix seconds; `prefix` keeps the wamids of two bursts apart.
fn statuses_at(
    markets: &[&str],
    tags: usize,
    hold_tag: Option<&str>,
    category: &str,
    prefix: &str,
    at: i64,
) -> Vec<Value> {
    (0..EVENTS)
        .map(|i| {
            let mut status = json!({
                "id": format!("wamid.{prefix}{i:06}"), "status": "delivered", "timestamp": at.to_string(),
                "recipient_id": markets[i % markets.len()], "pricing": pmp("regular", category)
            });
            status["biz_opaque_callback_data"] = match hold_tag {
                Some(tag) => json!(tag),
                None => json!(format!("template:{}", i % tags.max(1))),
            };
            status
        })
        .collect()
}

#[tokio::main]
async fn main() {
    let pipeline = Pipeline::spawn().await;
    println!("write units per billed event, {EVENTS}-event burst to one wallet (DynamoDB Local):");
    for (label, markets, tags, hold) in [
        ("one market, one template", vec!["919876543210"], 1, false),
        (
            "three markets, one template",
            vec!["919876543210", "14155550123", "5511987654321"],
            1,
            false,
        ),
        (
            "ten markets, five templates",
            vec![
                "919876543210",
                "14155550123",
                "5511987654321",
                "447700900123",
                "6281234567890",
                "525512345678",
                "61412345678",
                "4915123456789",
                "33612345678",
                "18765550123",
            ],
            5,
            false,
        ),
        // Issue 13: every event settles one hold (placed for the whole burst, in India).
        ("one hold, one template", vec!["919876543210"], 1, true),
        // Issue 12: utility is tier-eligible, so its charges carry the WABA and billing reads the
        // month's tier updates of that WABA (a read, no write).
        (
            "utility, one market, one template",
            vec!["919876543210"],
            1,
            false,
        ),
    ] {
        let category = if label.starts_with("utility") {
            "utility"
        } else {
            "marketing"
        };
        let (account, phone) = pipeline.wallet("bench", "1000").await;
        let hold_tag = if hold {
            let hold =
                imcredits_tests::holds::granted_hold(&pipeline.store, &account, "bench", 1_000)
                    .await;
            Some(hold.tag())
        } else {
            None
        };
        let body = meta_body(
            &phone,
            statuses(&markets, tags, hold_tag.as_deref(), category),
        );
        let batch = parse_webhook(&body).expect("the body parses");
        let records: Vec<Record> = imcredits::billing::message::pack(&batch)
            .into_iter()
            .enumerate()
            .map(|(index, body)| Record {
                id: index.to_string(),
                body,
            })
            .collect();
        let started = Instant::now();
        let outcome = pipeline.billing_handle(&records).await;
        let elapsed = started.elapsed();
        assert_eq!(outcome.posted, EVENTS, "every event billed: {outcome:?}");
        let wallet = imcredits_tests::assert_reconciled(&pipeline.store, &account).await;
        if hold {
            assert!(wallet.held.is_zero(), "the burst settled the whole hold");
        }
        let (units, transactions) = burst_write_units(&pipeline, &account, "charge").await;
        println!(
            "  {label:<30} {:>6.3} units/event  ({units} units in {transactions} transactions, {} queue records, {:.0} ms on DynamoDB Local)",
            units as f64 / EVENTS as f64,
            records.len(),
            elapsed.as_secs_f64() * 1000.0
        );
    }
    tiers::measure(&pipeline).await;
}

/// Units the postings of `account` whose entries are all of `kind` (`charge`, `adjustment`) cost,
/// and how many transactions they were.
async fn burst_write_units(
    pipeline: &Pipeline,
    account: &imcredits::ids::AccountId,
    kind: &str,
) -> (u64, usize) {
    use aws_sdk_dynamodb::types::AttributeValue;
    use imcredits_tests::capacity::{item_size, transactional_write_units};
    let mut items: Vec<std::collections::HashMap<String, AttributeValue>> = Vec::new();
    let mut start_key = None;
    for _ in 0..100 {
        let output = pipeline
            .store
            .client()
            .query()
            .table_name(imcredits_tests::TEST_TABLE)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(format!("ACCOUNT#{account}")))
            .set_exclusive_start_key(start_key.take())
            .send()
            .await
            .expect("query");
        items.extend(output.items().iter().cloned());
        start_key = output.last_evaluated_key().cloned();
        if start_key.is_none() {
            break;
        }
    }
    let sk = |item: &std::collections::HashMap<String, AttributeValue>| {
        item["sk"].as_s().unwrap().clone()
    };
    let sizes: std::collections::HashMap<String, usize> = items
        .iter()
        .map(|item| (sk(item), item_size(item)))
        .collect();
    let wallet_units = transactional_write_units(sizes["WALLET"]);
    let entries_by_id: std::collections::HashMap<
        String,
        &std::collections::HashMap<String, AttributeValue>,
    > = items
        .iter()
        .filter(|item| item["type"].as_s().unwrap() == "entry")
        .map(|item| (item["entry_id"].as_s().unwrap().clone(), item))
        .collect();
    let mut units = 0;
    let mut transactions = 0;
    for journal in items
        .iter()
        .filter(|item| item["type"].as_s().unwrap() == "journal")
    {
        let ids: Vec<String> = journal["entry_ids"]
            .as_l()
            .unwrap()
            .iter()
            .map(|id| id.as_s().unwrap().clone())
            .collect();
        let entries: Vec<_> = ids.iter().map(|id| entries_by_id[id]).collect();
        if entries
            .iter()
            .any(|entry| entry["kind"].as_s().unwrap() != kind)
        {
            continue; // the funding grant, or postings of another kind
        }
        transactions += 1;
        units += wallet_units + transactional_write_units(item_size(journal));
        let mut usage = std::collections::BTreeSet::new();
        for entry in &entries {
            units += transactional_write_units(item_size(entry));
            if kind != "charge" {
                continue; // only charges touch usage aggregates and holds
            }
            let metadata = entry["metadata"].as_m().unwrap();
            let day = &entry["occurred_at"].as_s().unwrap()[..10];
            let text = |key: &str| metadata.get(key).map(|v| v.as_s().unwrap().clone());
            usage.insert(format!(
                "USAGE#{day}#CM#{}#{}",
                text(META_CATEGORY).unwrap(),
                text(META_MARKET).unwrap()
            ));
            if let Some(tag) = text(META_TAG) {
                usage.insert(format!("USAGE#{day}#TAG#{tag}"));
            }
            // Each hold the posting's charges settle is one update in its transaction.
            if let Some(hold) = text("hold") {
                usage.insert(format!("HOLD#{hold}"));
            }
        }
        units += usage
            .iter()
            .map(|key| transactional_write_units(sizes[key]))
            .sum::<u64>();
    }
    (units, transactions)
}
