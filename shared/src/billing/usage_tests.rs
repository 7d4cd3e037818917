//! Usage labels at their ledger edge: the strings written are the ones written since usage was
//! first counted, they read back to the same typed labels, and what does not read back is an
//! error naming its field.

use time::macros::{date, datetime};

use super::usage::{
    Dimension, LabelError, META_CATEGORY, META_DAY, META_MARKET, META_TAG, TAG_LEN_MAX,
    UsageLabels, UsageTag, charge_chunks, keys_of_new, market_code, parse_category, parse_market,
};
use crate::ledger::{EntryId, EntryKind, Metadata, NewEntry};
use crate::money::{Currency, Money};
use crate::pricing::{Category, Market, RecipientMarket};

/// Every category with the name usage has always stored for it (literal: a renamed category
/// fails here), and an unknown one as Meta may add it.
pub(crate) fn categories() -> Vec<(Category, &'static str)> {
    let known = [
        "marketing",
        "marketing_lite",
        "utility",
        "authentication",
        "authentication_international",
        "service",
        "referral_conversion",
    ];
    let mut categories: Vec<(Category, &'static str)> =
        Category::KNOWN.into_iter().zip(known).collect();
    assert_eq!(categories.len(), Category::KNOWN.len());
    categories.push((Category::from_meta("Marketing-Plus"), "marketing_plus"));
    categories.push((Category::from_meta(""), "unnamed"));
    categories
}

/// A few markets with their stored codes, the unplaceable one included.
pub(crate) fn markets() -> Vec<(RecipientMarket, &'static str)> {
    let known = ["IN", "US", "JM", "GB"]
        .map(|code| (RecipientMarket::Known(Market::parse(code).unwrap()), code));
    let mut markets = known.to_vec();
    markets.push((RecipientMarket::Unknown, "unknown"));
    markets
}

/// Tags with their stored text: none, a template, the longest, and the empty one.
pub(crate) fn tags() -> Vec<Option<String>> {
    vec![
        None,
        Some("template:welcome_v2".to_owned()),
        Some("é".repeat(TAG_LEN_MAX)),
        Some(String::new()),
    ]
}

fn charge(metadata: Metadata) -> NewEntry {
    NewEntry::new(
        EntryId::message_charge("wamid.LABELS").unwrap(),
        EntryKind::Charge,
        Money::parse("-0.0125", Currency::Usd).unwrap(),
        "labels",
        metadata,
        datetime!(2026-03-31 23:30 UTC),
    )
    .unwrap()
}

#[test]
fn labels_write_the_strings_they_always_wrote_and_read_back_to_the_same_keys() {
    for (category, category_text) in categories() {
        for (market, market_text) in markets() {
            for tag in tags() {
                let labels = UsageLabels {
                    category: category.clone(),
                    market,
                    tag: tag.as_deref().map(|tag| UsageTag::parse(tag).unwrap()),
                };
                let mut metadata = Metadata::new();
                labels.write(&mut metadata).unwrap();
                let written: Vec<(&str, &str)> = metadata.iter().collect();
                let mut expected = vec![("category", category_text), ("market", market_text)];
                expected.extend(tag.as_deref().map(|tag| ("tag", tag)));
                assert_eq!(written, expected);
                assert_eq!(UsageLabels::read(&metadata), Ok(Some(labels.clone())));

                let keys = keys_of_new(&charge(metadata)).unwrap();
                let mut dimensions = vec![Dimension::CategoryMarket {
                    category: category.clone(),
                    market,
                }];
                dimensions.extend(labels.tag.clone().map(Dimension::Tag));
                assert_eq!(
                    keys.iter().map(|key| &key.dimension).collect::<Vec<_>>(),
                    dimensions.iter().collect::<Vec<_>>()
                );
                assert!(keys.iter().all(|key| key.day == date!(2026 - 03 - 31)));
            }
        }
    }
}

#[test]
fn unreadable_labels_are_errors_naming_their_field() {
    let field = |error: LabelError| match error {
        LabelError::Unreadable { field, .. } | LabelError::Missing(field) => field,
    };
    let table = [
        ("Marketing", "US", META_CATEGORY),
        ("authentication-international", "US", META_CATEGORY),
        ("", "US", META_CATEGORY),
        ("marketing", "us", META_MARKET),
        ("marketing", "UK", META_MARKET),
        ("marketing", "Unknown", META_MARKET),
        ("marketing", "", META_MARKET),
    ];
    for (category, market, named) in table {
        let mut metadata = Metadata::new();
        metadata.insert(META_CATEGORY, category).unwrap();
        metadata.insert(META_MARKET, market).unwrap();
        let error = UsageLabels::read(&metadata).unwrap_err();
        assert_eq!(field(error.clone()), named, "{category:?} {market:?}");
        assert_eq!(keys_of_new(&charge(metadata)), Err(error));
    }
    let mut only_category = Metadata::new();
    only_category.insert(META_CATEGORY, "utility").unwrap();
    assert_eq!(
        UsageLabels::read(&only_category),
        Err(LabelError::Missing(META_MARKET))
    );
    let mut long_tag = Metadata::new();
    long_tag.insert(META_CATEGORY, "utility").unwrap();
    long_tag.insert(META_MARKET, "IN").unwrap();
    long_tag
        .insert(META_TAG, &"t".repeat(TAG_LEN_MAX + 1))
        .unwrap();
    assert_eq!(field(UsageLabels::read(&long_tag).unwrap_err()), META_TAG);
    let mut bad_day = Metadata::new();
    bad_day.insert(META_CATEGORY, "utility").unwrap();
    bad_day.insert(META_MARKET, "IN").unwrap();
    bad_day.insert(META_DAY, "2026-02-30").unwrap();
    assert_eq!(field(keys_of_new(&charge(bad_day)).unwrap_err()), META_DAY);
    // No labels: not usage. Labels on another kind of entry: not usage either.
    assert_eq!(UsageLabels::read(&Metadata::new()), Ok(None));
    assert_eq!(keys_of_new(&charge(Metadata::new())), Ok(Vec::new()));
    let adjustment = NewEntry::new(
        EntryId::adjustment("tier.x").unwrap(),
        EntryKind::Adjustment,
        Money::parse("0.01", Currency::Usd).unwrap(),
        "",
        only_category,
        datetime!(2026-03-31 12:00 UTC),
    )
    .unwrap();
    assert_eq!(keys_of_new(&adjustment), Ok(Vec::new()));
}

#[test]
fn a_batch_with_an_unreadable_label_is_refused_whole() {
    let good = |wamid: &str| {
        let mut metadata = Metadata::new();
        UsageLabels {
            category: Category::Utility,
            market: RecipientMarket::Unknown,
            tag: None,
        }
        .write(&mut metadata)
        .unwrap();
        NewEntry::new(
            EntryId::message_charge(wamid).unwrap(),
            EntryKind::Charge,
            Money::parse("-0.01", Currency::Usd).unwrap(),
            "",
            metadata,
            datetime!(2026-03-31 12:00 UTC),
        )
        .unwrap()
    };
    let mut bad = Metadata::new();
    bad.insert(META_CATEGORY, "utility").unwrap();
    bad.insert(META_MARKET, "XX").unwrap();
    let batch = [good("wamid.A"), charge(bad), good("wamid.B")];
    assert!(matches!(
        charge_chunks(&batch, 100, 10),
        Err(LabelError::Unreadable {
            field: META_MARKET,
            ..
        })
    ));
    assert_eq!(charge_chunks(&batch[..1], 100, 10), Ok(vec![vec![0]]));
}

#[test]
fn dimensions_order_as_their_text_did() {
    let mut dimensions = Vec::new();
    for (category, _) in categories() {
        for (market, _) in markets() {
            dimensions.push(Dimension::CategoryMarket {
                category: category.clone(),
                market,
            });
        }
    }
    dimensions
        .extend(["b", "a", "template:x"].map(|tag| Dimension::Tag(UsageTag::parse(tag).unwrap())));
    let text = |dimension: &Dimension| match dimension {
        Dimension::CategoryMarket { category, market } => (
            0,
            category.as_str().to_owned(),
            market_code(market).to_owned(),
        ),
        Dimension::Tag(tag) => (1, tag.as_str().to_owned(), String::new()),
    };
    let mut by_type = dimensions.clone();
    by_type.sort();
    let mut by_text = dimensions;
    by_text.sort_by_key(text);
    assert_eq!(by_type, by_text);
    // The text reads back to the same value.
    for dimension in &by_type {
        if let Dimension::CategoryMarket { category, market } = dimension {
            assert_eq!(parse_category(category.as_str()).as_ref(), Ok(category));
            assert_eq!(parse_market(market_code(market)), Ok(*market));
        }
    }
}
