//! The holds domain: ids, tags, what a balance covers, what charges and failures settle.

use time::OffsetDateTime;

use super::*;
use crate::ledger::{EntryId, EntryKind, LedgerEntry, Metadata};

fn usd(text: &str) -> Money {
    Money::parse(text, Currency::Usd).unwrap()
}

fn line(market: &str, category: Category, count: u64, unit: &str) -> HoldLine {
    HoldLine {
        market: Some(Market::parse(market).unwrap()),
        category,
        count,
        unit_price: usd(unit),
        amount: usd(unit).checked_times(count).unwrap(),
    }
}

fn hold(lines: Vec<HoldLine>) -> Hold {
    let account = AccountId::parse("acme").unwrap();
    let id = HoldId::for_request(&account, &PurchaseKey::parse("k").unwrap());
    let at = OffsetDateTime::UNIX_EPOCH;
    Hold::new(
        id,
        account,
        None,
        lines,
        String::new(),
        at,
        HOLD_TTL_DEFAULT,
    )
    .unwrap()
}

fn charge(wamid: &str, hold: &HoldId, amount: &str) -> LedgerEntry {
    let mut metadata = Metadata::new();
    metadata.insert(META_HOLD, hold.as_str()).unwrap();
    LedgerEntry {
        id: EntryId::message_charge(wamid).unwrap(),
        seq: 1,
        kind: EntryKind::Charge,
        amount: usd(amount),
        balance_after: usd("0"),
        description: String::new(),
        metadata,
        occurred_at: OffsetDateTime::UNIX_EPOCH,
        posted_at: OffsetDateTime::UNIX_EPOCH,
    }
}

#[test]
fn ids_are_per_account_and_key_and_tags_carry_hold_and_template() {
    let acme = AccountId::parse("acme").unwrap();
    let key = PurchaseKey::parse("broadcast-1").unwrap();
    let id = HoldId::for_request(&acme, &key);
    assert_eq!(id, HoldId::for_request(&acme, &key));
    assert_ne!(
        id,
        HoldId::for_request(&AccountId::parse("acme2").unwrap(), &key)
    );
    assert_eq!(HoldId::parse_strict(id.as_str()), Some(id.clone()));
    assert_eq!(HoldId::parse_strict("hld_XYZ"), None);
    let tag = callback_tag(&id, Some("spring_sale"));
    assert_eq!(
        parse_tag(&tag),
        ParsedTag {
            hold: Some(id.clone()),
            template: Some("spring_sale")
        }
    );
    assert_eq!(
        parse_tag(id.as_str()),
        ParsedTag {
            hold: Some(id.clone()),
            template: None
        }
    );
    // A plain template tag keeps working, including one with a colon.
    assert_eq!(
        parse_tag("template:3"),
        ParsedTag {
            hold: None,
            template: Some("template:3")
        }
    );
    assert!(check_template("spring_sale").is_ok() && check_template("Spring Sale").is_err());
}

#[test]
fn the_available_balance_covers_the_cheapest_messages_first() {
    let lines = [
        line("IN", Category::Marketing, 100, "0.0125"),
        line("US", Category::Marketing, 10, "0.025"),
        line("BR", Category::Service, 5, "0"),
    ];
    assert_eq!(messages_covered(&lines, usd("0")), 5);
    assert_eq!(messages_covered(&lines, usd("0.5")), 45);
    assert_eq!(messages_covered(&lines, usd("1.3")), 107);
    assert_eq!(messages_covered(&lines, usd("100")), 115);
    assert_eq!(messages_covered(&lines, usd("-3")), 5);
}

#[test]
fn charges_settle_at_most_what_remains_and_closed_holds_settle_nothing() {
    let open = hold(vec![line("IN", Category::Marketing, 2, "0.0125")]);
    let charges = [
        charge("a", &open.id, "-0.0125"),
        charge("b", &open.id, "-0.02"),
        charge("c", &open.id, "0"),
    ];
    let changes = settle_charges(std::slice::from_ref(&open), &charges);
    assert_eq!(changes.len(), 1);
    assert_eq!(
        (changes[0].taken, changes[0].remaining_after),
        (usd("0.025"), usd("0"))
    );
    assert_eq!(changes[0].settled_messages, 3);
    let closed = Hold {
        status: HoldStatus::Expired,
        ..open.clone()
    };
    assert!(settle_charges(&[closed], &charges).is_empty());
    assert!(settle_charges(&[], &charges).is_empty());
}

#[test]
fn a_failure_releases_its_line_price_or_the_cheapest() {
    let held = hold(vec![
        line("IN", Category::Marketing, 10, "0.0125"),
        line("US", Category::Utility, 10, "0.004"),
    ]);
    let failed = |market: &str, category: Option<Category>| FailedSend {
        hold: held.id.clone(),
        wamid: "w".into(),
        market: Some(Market::parse(market).unwrap()),
        category,
    };
    assert_eq!(failed_estimate(&held, &failed("IN", None)), usd("0.0125"));
    assert_eq!(
        failed_estimate(&held, &failed("US", Some(Category::Utility))),
        usd("0.004")
    );
    assert_eq!(failed_estimate(&held, &failed("BR", None)), usd("0.004"));
    let almost = Hold {
        remaining: usd("0.001"),
        ..held.clone()
    };
    assert_eq!(failed_estimate(&almost, &failed("IN", None)), usd("0.001"));
}

#[test]
fn lines_and_expiry_are_bounded() {
    let too_long = Hold::new(
        HoldId::parse_strict(&format!("hld_{}", "0".repeat(32))).unwrap(),
        AccountId::parse("acme").unwrap(),
        None,
        vec![line("IN", Category::Marketing, 1, "1")],
        String::new(),
        OffsetDateTime::UNIX_EPOCH,
        HOLD_TTL_MAX + Duration::seconds(1),
    );
    assert_eq!(too_long, Err(HoldError::Ttl));
}
