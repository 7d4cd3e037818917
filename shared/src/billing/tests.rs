//! Billing's pure parts on bodies shaped like Meta's.

use rust_decimal::Decimal;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::charges::charge_entry;

/// The seed fixture's market lists (`shared/market-lists/`).
fn lists() -> &'static crate::pricing::MarketLists {
    crate::pricing::built_in_market_lists()
}
use super::message::{BillingMessage, EVENTS_PER_MESSAGE_MAX, pack};
use super::thresholds::{CrossingKind, crossings};
use super::usage::{Dimension, UsageTag, increments};
use crate::ids::AccountId;
use crate::ledger::{EntryKind, LedgerEntry};
use crate::meta::{ChargeDecision, StatusEvent, decide_charge, parse_webhook};
use crate::money::{Currency, Money};
use crate::ports::queue::MESSAGE_BODY_LEN_MAX;
use crate::pricing::{Category, Market, RateBook, RateCard, RecipientMarket};
use crate::wallet::{AutoRecharge, Wallet};

fn status(wamid: &str, state: &str, recipient: &str, pricing: Value) -> Value {
    let mut status = json!({
        "id": wamid, "status": state, "timestamp": "1750030073", "recipient_id": recipient,
        "biz_opaque_callback_data": "template:welcome_v2"
    });
    if !pricing.is_null() {
        status["pricing"] = pricing;
    }
    status
}

fn body(phone: &str, statuses: Vec<Value>) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": phone},
            "statuses": statuses
        }}]}]
    }))
    .unwrap()
}

fn regular(category: &str) -> Value {
    json!({"billable": true, "pricing_model": "PMP", "type": "regular", "category": category})
}

fn events(bytes: &[u8]) -> Vec<StatusEvent> {
    parse_webhook(bytes).unwrap().statuses
}

fn flat_book() -> RateBook {
    let card = RateCard::from_json(
        r#"{"currency":"USD","effective_from":"2025-01-01","flat_rate":"0.0125"}"#,
    )
    .unwrap();
    RateBook::from_cards(Currency::Usd, [card]).unwrap()
}

fn table_book() -> RateBook {
    let card = RateCard::from_json(
        r#"{"currency":"USD","effective_from":"2025-01-01",
            "rates":{"IN":{"marketing":"0.0107","utility":"0.0014"}},
            "fallback":{"marketing":"0.0604","utility":"0.0077","authentication":"0.0077"},
            "unknown_category_rate":"0.0604"}"#,
    )
    .unwrap();
    RateBook::from_cards(Currency::Usd, [card]).unwrap()
}

fn decided(event: &StatusEvent) -> (crate::meta::Usage, bool) {
    match decide_charge(event) {
        ChargeDecision::Charge(usage) => (usage, false),
        ChargeDecision::FreeUsage(usage) => (usage, true),
        other => panic!("expected a charge or free usage, got {other:?}"),
    }
}

#[test]
fn a_large_body_packs_into_bounded_messages_that_read_back_whole() {
    let statuses: Vec<Value> = (0..1_000)
        .map(|i| {
            status(
                &format!("wamid.PACK{i:05}"),
                "delivered",
                "919876543210",
                regular("marketing"),
            )
        })
        .collect();
    let mut batch = parse_webhook(&body("106540352242922", statuses)).unwrap();
    let other = parse_webhook(&body(
        "999000111",
        vec![status(
            "wamid.OTHER",
            "read",
            "14155550123",
            regular("utility"),
        )],
    ))
    .unwrap();
    batch.statuses.extend(other.statuses);
    let bodies = pack(&batch);
    let mut seen = 0;
    for text in &bodies {
        assert!(text.len() <= MESSAGE_BODY_LEN_MAX);
        let message = BillingMessage::parse(text).unwrap();
        assert!(message.statuses.len() <= EVENTS_PER_MESSAGE_MAX);
        assert!(
            message
                .statuses
                .iter()
                .all(|s| s.phone_number_id == message.phone_number_id)
        );
        seen += message.statuses.len();
    }
    assert_eq!(seen, 1_001);
    assert!(
        bodies.len() >= 3,
        "1,000 statuses of one number need two messages, the other one"
    );
    assert!(BillingMessage::parse(r#"{"v":2,"phone_number_id":"1"}"#).is_err());
    assert!(BillingMessage::parse(r#"{"v":1,"phone_number_id":"1","x":[]}"#).is_err());
}

#[test]
fn charges_are_priced_by_market_and_category_and_free_usage_is_zero() {
    let statuses = events(&body(
        "1",
        vec![
            status(
                "wamid.IN",
                "delivered",
                "919876543210",
                regular("marketing"),
            ),
            status("wamid.JM", "read", "18765550123", regular("utility")),
            status(
                "wamid.NEW",
                "delivered",
                "919876543210",
                regular("brand_new_category"),
            ),
            status(
                "wamid.FREE",
                "delivered",
                "919876543210",
                json!({"billable": false, "pricing_model": "PMP", "type": "free_customer_service", "category": "service"}),
            ),
        ],
    ));
    let book = table_book();
    let entry = |index: usize| {
        let (usage, free) = decided(&statuses[index]);
        charge_entry(
            lists(),
            &statuses[index],
            &usage,
            free,
            &book,
            Currency::Usd,
        )
        .unwrap()
    };
    let india = entry(0);
    assert_eq!(
        india.amount(),
        Money::parse("-0.0107", Currency::Usd).unwrap()
    );
    assert_eq!(india.metadata().get("market"), Some("IN"));
    assert_eq!(india.metadata().get("tag"), Some("template:welcome_v2"));
    assert_eq!(india.id().as_str(), "charge.msg:wamid.IN");
    // Jamaica (+1 876) is its own market, priced by the fallback row, not as North America.
    let jamaica = entry(1);
    assert_eq!(jamaica.metadata().get("market"), Some("JM"));
    assert_eq!(
        jamaica.amount(),
        Money::parse("-0.0077", Currency::Usd).unwrap()
    );
    let unknown = entry(2);
    assert_eq!(
        unknown.amount(),
        Money::parse("-0.0604", Currency::Usd).unwrap()
    );
    assert_eq!(unknown.metadata().get("flag"), Some("unknown_category"));
    let free = entry(3);
    assert!(free.amount().is_zero());
    assert_eq!(free.kind(), EntryKind::Charge);

    let (usage, _) = decided(&statuses[0]);
    let flat = charge_entry(
        lists(),
        &statuses[0],
        &usage,
        false,
        &flat_book(),
        Currency::Usd,
    )
    .unwrap();
    assert_eq!(
        flat.amount(),
        Money::parse("-0.0125", Currency::Usd).unwrap()
    );
    let empty = RateBook::new(Currency::Usd);
    assert!(charge_entry(lists(), &statuses[0], &usage, false, &empty, Currency::Usd).is_err());
    assert!(
        charge_entry(
            lists(),
            &statuses[0],
            &usage,
            false,
            &flat_book(),
            Currency::Eur
        )
        .is_err()
    );
}

fn posted(
    seq: u64,
    amount: &str,
    after: &str,
    metadata_from: &crate::ledger::NewEntry,
) -> LedgerEntry {
    LedgerEntry {
        id: metadata_from.id().clone(),
        seq,
        kind: EntryKind::Charge,
        amount: Money::parse(amount, Currency::Usd).unwrap(),
        balance_after: Money::parse(after, Currency::Usd).unwrap(),
        description: String::new(),
        metadata: metadata_from.metadata().clone(),
        occurred_at: metadata_from.occurred_at(),
        posted_at: OffsetDateTime::UNIX_EPOCH,
    }
}

#[test]
fn usage_adds_up_per_day_category_market_and_tag() {
    let statuses = events(&body(
        "1",
        vec![
            status("wamid.A", "delivered", "919876543210", regular("marketing")),
            status("wamid.B", "delivered", "919876543211", regular("marketing")),
            status(
                "wamid.C",
                "delivered",
                "919876543212",
                json!({"billable": false, "pricing_model": "PMP", "type": "free_entry_point", "category": "service"}),
            ),
        ],
    ));
    let book = table_book();
    let new: Vec<_> = statuses
        .iter()
        .map(|event| {
            let (usage, free) = decided(event);
            charge_entry(lists(), event, &usage, free, &book, Currency::Usd).unwrap()
        })
        .collect();
    let entries = [
        posted(1, "-0.0107", "1", &new[0]),
        posted(2, "-0.0107", "1", &new[1]),
        posted(3, "0", "1", &new[2]),
    ];
    let sums = increments(&entries).unwrap();
    let marketing = sums
        .iter()
        .find(|s| {
            s.key.dimension
                == Dimension::CategoryMarket {
                    category: Category::Marketing,
                    market: RecipientMarket::Known(Market::parse("IN").unwrap()),
                }
        })
        .unwrap();
    assert_eq!(
        (marketing.messages, marketing.charged, marketing.cost),
        (2, 2, Decimal::new(214, 4))
    );
    let tag = sums
        .iter()
        .find(|s| {
            s.key.dimension == Dimension::Tag(UsageTag::parse("template:welcome_v2").unwrap())
        })
        .unwrap();
    assert_eq!((tag.messages, tag.charged), (3, 2));
    let service = sums
        .iter()
        .find(|s| matches!(&s.key.dimension, Dimension::CategoryMarket { category, .. } if *category == Category::Service))
        .unwrap();
    assert_eq!(
        (service.messages, service.charged, service.cost),
        (1, 0, Decimal::ZERO)
    );
    assert_eq!(marketing.key.day, time::macros::date!(2025 - 06 - 15));
}

#[test]
fn crossings_are_found_once_each_in_sequence_order() {
    let statuses = events(&body(
        "1",
        vec![status(
            "wamid.X",
            "delivered",
            "919876543210",
            regular("marketing"),
        )],
    ));
    let (usage, _) = decided(&statuses[0]);
    let template = charge_entry(
        lists(),
        &statuses[0],
        &usage,
        false,
        &flat_book(),
        Currency::Usd,
    )
    .unwrap();
    let wallet = Wallet {
        account_id: AccountId::parse("acme").unwrap(),
        currency: Currency::Usd,
        balance: Money::parse("-1", Currency::Usd).unwrap(),
        held: Money::zero(Currency::Usd),
        low_balance_threshold: Money::parse("5", Currency::Usd).unwrap(),
        auto_recharge: AutoRecharge::new(
            true,
            Money::parse("3", Currency::Usd).unwrap(),
            10,
            Currency::Usd,
        )
        .unwrap(),
        version: 9,
        entry_count: 9,
        created_at: OffsetDateTime::UNIX_EPOCH,
        updated_at: OffsetDateTime::UNIX_EPOCH,
        reporting_zone: Default::default(),
    };
    // 6 → 4 (low), 4 → 2 (below the recharge minimum), 2 → -1 (depleted); given out of order.
    let entries = [
        posted(9, "-3", "-1", &template),
        posted(7, "-2", "4", &template),
        posted(8, "-2", "2", &template),
    ];
    let (notices, recharge) = crossings(&wallet, &entries);
    let kinds: Vec<(CrossingKind, u64)> = notices.iter().map(|n| (n.kind, n.seq)).collect();
    assert_eq!(
        kinds,
        [(CrossingKind::LowBalance, 7), (CrossingKind::Depleted, 9)]
    );
    assert_eq!(notices[0].id, "acme:lowbalance:7");
    assert_eq!(
        recharge.map(|r| (r.seq, r.id)),
        Some((8, "acme:recharge:8".to_owned()))
    );
    let (none, no_recharge) = crossings(&wallet, &entries[..1]);
    assert_eq!(
        none.iter().map(|n| n.kind).collect::<Vec<_>>(),
        [CrossingKind::Depleted]
    );
    assert!(no_recharge.is_none());
}

#[test]
fn crossings_are_judged_on_available_and_skip_charges_under_a_hold() {
    let statuses = events(&body(
        "1",
        vec![status(
            "wamid.Y",
            "delivered",
            "919876543210",
            regular("marketing"),
        )],
    ));
    let (usage, _) = decided(&statuses[0]);
    let plain = charge_entry(
        lists(),
        &statuses[0],
        &usage,
        false,
        &flat_book(),
        Currency::Usd,
    )
    .unwrap();
    let usd = |text: &str| Money::parse(text, Currency::Usd).unwrap();
    let wallet = Wallet {
        account_id: AccountId::parse("acme").unwrap(),
        currency: Currency::Usd,
        balance: usd("12"),
        held: usd("6"),
        low_balance_threshold: usd("5"),
        auto_recharge: AutoRecharge::new(true, usd("3"), 10, Currency::Usd).unwrap(),
        version: 9,
        entry_count: 9,
        created_at: OffsetDateTime::UNIX_EPOCH,
        updated_at: OffsetDateTime::UNIX_EPOCH,
        reporting_zone: Default::default(),
    };
    // Balance 14 → 12 with 6 held: available 8 → 6, above the threshold of 5 on available (a
    // balance-judged 14 → 12 would not cross either); 12 → 10.5: available 4.5, low.
    let entries = [
        posted(8, "-2", "12", &plain),
        posted(9, "-1.5", "10.5", &plain),
    ];
    let (notices, recharge) = crossings(&wallet, &entries);
    let found: Vec<_> = notices
        .iter()
        .map(|n| (n.kind, n.seq, n.available))
        .collect();
    assert_eq!(found, [(CrossingKind::LowBalance, 9, usd("4.5"))]);
    assert_eq!(notices[0].balance, usd("10.5"));
    assert!(recharge.is_none(), "4.5 is not below 3");
    // The same charges sent under a hold's tag cross nothing: the hold took them off available.
    let mut metadata = crate::ledger::Metadata::new();
    metadata
        .insert(crate::holds::META_HOLD, "hld_0123456789abcdef")
        .unwrap();
    let tagged: Vec<LedgerEntry> = entries
        .iter()
        .cloned()
        .map(|entry| LedgerEntry {
            metadata: metadata.clone(),
            ..entry
        })
        .collect();
    assert_eq!(crossings(&wallet, &tagged), (Vec::new(), None));
}

#[test]
fn chunks_bound_entries_and_aggregates_and_cover_everything_in_order() {
    let markets = [
        "919876543210",
        "14155550123",
        "447700900123",
        "5511987654321",
        "18765550123",
    ];
    let raw: Vec<Value> = (0..40)
        .map(|i| {
            status(
                &format!("wamid.CH{i}"),
                "delivered",
                markets[i % markets.len()],
                regular("marketing"),
            )
        })
        .collect();
    let statuses = events(&body("1", raw));
    let book = table_book();
    let new: Vec<_> = statuses
        .iter()
        .map(|event| {
            let (usage, free) = decided(event);
            charge_entry(lists(), event, &usage, free, &book, Currency::Usd).unwrap()
        })
        .collect();
    let ranges = super::usage::chunks(&new, 7, 4).unwrap();
    assert_eq!(ranges.first().map(|r| r.start), Some(0));
    assert_eq!(ranges.last().map(|r| r.end), Some(new.len()));
    assert!(ranges.windows(2).all(|pair| pair[0].end == pair[1].start));
    for range in &ranges {
        assert!(range.len() <= 7);
        let keys: std::collections::BTreeSet<_> = new[range.clone()]
            .iter()
            .flat_map(|entry| super::usage::keys_of_new(entry).unwrap())
            .collect();
        assert!(
            keys.len() <= 4,
            "{range:?} touches {} aggregates",
            keys.len()
        );
    }
    // One tag and three markets per chunk: four aggregates.
    assert_eq!(ranges[0], 0..3);
}
