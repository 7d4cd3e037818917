//! Pricing as billing sees it: cards from JSON, books over time, the sample cards in the repo.

use std::collections::BTreeMap;
use std::path::Path;

use proptest::prelude::*;
use rust_decimal::Decimal;
use time::OffsetDateTime;
use time::macros::datetime;

use super::*;
use crate::money::{Currency, Money};

fn usd(text: &str) -> Money {
    Money::parse(text, Currency::Usd).unwrap()
}

/// A table card in USD with a few markets, both spellings of authentication-international and a
/// fallback without `service`.
const TABLE_CARD: &str = r#"{
    "currency": "USD",
    "effective_from": "2025-07-01",
    "source": "test figures",
    "rates": {
        "US": { "marketing": "0.025", "utility": "0.004", "authentication": "0.0135" },
        "JM": { "marketing": "0.074", "utility": "0.0113" },
        "IN": {
            "marketing": "0.0107",
            "authentication": "0.0014",
            "authentication-international": "0.028"
        }
    },
    "fallback": { "marketing": "0.0604", "utility": "0.0077", "authentication": "0.0077" },
    "unknown_category_rate": "0.05"
}"#;

fn table_card() -> RateCard {
    RateCard::from_json(TABLE_CARD).unwrap()
}

fn flat_card(effective_from: &str) -> RateCard {
    RateCard::from_json(&format!(
        r#"{{"currency": "USD", "effective_from": "{effective_from}", "flat_rate": "0.0125"}}"#
    ))
    .unwrap()
}

#[test]
fn a_table_card_prices_by_market_then_fallback_then_default() {
    use RateBasis::*;
    let card = table_card();
    let table = [
        // (recipient_id, category as Meta sends it, amount, basis)
        ("12025550123", "marketing", "0.025", MarketRate), // US
        ("12025550123", "utility", "0.004", MarketRate),
        ("18765550123", "marketing", "0.074", MarketRate), // Jamaica, not US
        ("18765550123", "authentication", "0.0077", Fallback), // JM lists no authentication
        ("17875551234", "marketing", "0.0604", Fallback),  // Puerto Rico: +1 but not US
        ("14165550123", "marketing", "0.0604", Fallback),  // Canada: not listed here
        ("919876543210", "marketing", "0.0107", MarketRate), // India
        (
            "919876543210",
            "authentication-international",
            "0.028",
            MarketRate,
        ),
        (
            "919876543210",
            "authentication_international",
            "0.028",
            MarketRate,
        ),
        ("5511987654321", "utility", "0.0077", Fallback), // Brazil: not listed
        ("not a number", "marketing", "0.0604", Fallback), // unknown market
        (
            "12025550123",
            "marketing_plus",
            "0.05",
            UnknownCategoryDefault,
        ),
        ("not a number", "MYSTERY", "0.05", UnknownCategoryDefault),
    ];
    for (recipient, category, amount, basis) in table {
        let priced = card
            .price(market_of(recipient), &Category::from_meta(category))
            .unwrap_or_else(|error| panic!("{category}: {error}"));
        assert_eq!(priced.amount, usd(amount), "{category} {amount}");
        assert_eq!(priced.basis, basis, "{category} {amount}");
        assert_eq!(priced.card_effective_from, datetime!(2025-07-01 0:00 UTC));
    }
}

#[test]
fn both_authentication_international_spellings_are_one_category_with_one_price() {
    let card = table_card();
    let india = market_of("919876543210");
    let hyphen = Category::from_meta("authentication-international");
    let underscore = Category::from_meta("authentication_international");
    assert_eq!(hyphen, underscore);
    assert_eq!(hyphen, Category::AuthenticationInternational);
    assert_eq!(
        card.price(india, &hyphen).unwrap(),
        card.price(india, &underscore).unwrap()
    );
    // A card may spell it either way; it is written back canonically.
    let written = serde_json::to_string(&card).unwrap();
    assert!(
        written.contains(r#""authentication_international":"0.028""#),
        "{written}"
    );
    assert!(
        !written.contains("authentication-international"),
        "{written}"
    );
}

#[test]
fn unknown_categories_get_the_default_and_stay_flagged() {
    let card = RateCard::from_json(
        &TABLE_CARD
            .replace(
                r#""unknown_category_rate": "0.05""#,
                r#""unknown_category_rate": "0.07""#,
            )
            .replace(r#""JM": {"#, r#""JM": { "marketing_plus": "0.09","#),
    )
    .unwrap();
    let future = Category::from_meta("marketing_plus");
    assert!(future.is_unknown());
    let us = card.price(market_of("12025550123"), &future).unwrap();
    assert_eq!(
        (us.amount, us.basis),
        (usd("0.07"), RateBasis::UnknownCategoryDefault)
    );
    // Once an operator prices the new category for a market, that rate wins; it is still unknown
    // to the code, so billing still flags it.
    let jamaica = card.price(market_of("18765550123"), &future).unwrap();
    assert_eq!(
        (jamaica.amount, jamaica.basis),
        (usd("0.09"), RateBasis::MarketRate)
    );
}

#[test]
fn a_known_category_without_any_rate_is_an_error_not_a_guess() {
    let card = table_card();
    let error = card
        .price(market_of("12025550123"), &Category::Service)
        .unwrap_err();
    assert_eq!(
        error,
        PricingError::NoRate {
            market: market_of("12025550123"),
            category: Category::Service,
            card_effective_from: datetime!(2025-07-01 0:00 UTC),
        }
    );
    assert_eq!(
        error.to_string(),
        "the rate card effective 2025-07-01T00:00:00Z has no service rate for US and no fallback for it"
    );
}

#[test]
fn a_flat_card_prices_everything_the_same() {
    let card = flat_card("2025-01-01");
    assert_eq!(card.flat_rate(), Some(usd("0.0125")));
    let recipients = ["12025550123", "18765550123", "919876543210", "garbage"];
    let categories = [
        "marketing",
        "utility",
        "authentication-international",
        "service",
        "new_one",
    ];
    for recipient in recipients {
        for category in categories {
            let priced = card
                .price(market_of(recipient), &Category::from_meta(category))
                .unwrap();
            assert_eq!(priced.amount, usd("0.0125"), "{category}");
            assert_eq!(priced.basis, RateBasis::Flat, "{category}");
        }
    }
    let written = serde_json::to_string(&card).unwrap();
    assert_eq!(
        written,
        r#"{"currency":"USD","effective_from":"2025-01-01T00:00:00Z","flat_rate":"0.0125"}"#
    );
}

#[test]
fn the_card_in_force_is_the_latest_effective_at_or_before_the_event() {
    let january = flat_card("2025-01-01");
    let july = table_card();
    // Inserted out of order on purpose.
    let book = RateBook::from_cards(Currency::Usd, [july.clone(), january.clone()]).unwrap();
    let table = [
        (datetime!(2025-01-01 0:00 UTC), Some(&january)), // boundary instant: inclusive
        (
            datetime!(2025-06-30 23:59:59.999_999_999 UTC),
            Some(&january),
        ),
        (datetime!(2025-07-01 0:00 UTC), Some(&july)), // boundary instant of the next version
        (datetime!(2025-07-01 5:30 +05:30), Some(&july)), // the same instant in India
        (datetime!(2025-07-01 5:29:59 +05:30), Some(&january)),
        (datetime!(2030-01-01 0:00 UTC), Some(&july)),
        (datetime!(2024-12-31 23:59:59.999_999_999 UTC), None),
    ];
    for (at, expected) in table {
        match (book.in_force_at(at), expected) {
            (Ok(card), Some(expected)) => assert_eq!(card, expected, "{at}"),
            (Err(error), None) => assert_eq!(
                error,
                PricingError::NoCardInForce {
                    at,
                    first_effective_from: Some(datetime!(2025-01-01 0:00 UTC)),
                }
            ),
            (got, expected) => panic!("{at}: got {got:?}, expected {expected:?}"),
        }
    }
    let us = market_of("12025550123");
    let before = book
        .price(
            datetime!(2025-06-30 12:00 UTC),
            Currency::Usd,
            us,
            &Category::Marketing,
        )
        .unwrap();
    let after = book
        .price(
            datetime!(2025-07-01 0:00 UTC),
            Currency::Usd,
            us,
            &Category::Marketing,
        )
        .unwrap();
    assert_eq!(
        (before.amount, before.basis),
        (usd("0.0125"), RateBasis::Flat)
    );
    assert_eq!(
        (after.amount, after.basis),
        (usd("0.025"), RateBasis::MarketRate)
    );
}

#[test]
fn an_empty_book_or_an_event_before_the_first_card_is_a_clear_error() {
    let at = datetime!(2025-03-01 0:00 UTC);
    let empty = RateBook::new(Currency::Usd);
    let error = empty.in_force_at(at).unwrap_err();
    assert_eq!(
        error.to_string(),
        "no rate card in force at 2025-03-01T00:00:00Z (the rate book is empty)"
    );
    let book = RateBook::from_cards(Currency::Usd, [table_card()]).unwrap();
    let error = book.in_force_at(at).unwrap_err();
    assert_eq!(
        error.to_string(),
        "no rate card in force at 2025-03-01T00:00:00Z (the first card takes effect 2025-07-01T00:00:00Z)"
    );
}

#[test]
fn currencies_never_mix() {
    let inr_card = RateCard::from_json(
        r#"{"currency": "INR", "effective_from": "2025-07-01", "flat_rate": "0.86"}"#,
    )
    .unwrap();
    let mut book = RateBook::new(Currency::Usd);
    assert_eq!(
        book.insert(inr_card),
        Err(BookError::CurrencyMismatch {
            book: Currency::Usd,
            card: Currency::Inr
        })
    );
    book.insert(table_card()).unwrap();
    let error = book
        .price(
            datetime!(2025-08-01 0:00 UTC),
            Currency::Inr,
            market_of("919876543210"),
            &Category::Marketing,
        )
        .unwrap_err();
    assert_eq!(
        error,
        PricingError::CurrencyMismatch {
            expected: Currency::Inr,
            card: Currency::Usd
        }
    );
    let rupees = Money::parse("0.86", Currency::Inr).unwrap();
    assert_eq!(
        RateCard::flat(Currency::Usd, datetime!(2025-07-01 0:00 UTC), rupees),
        Err(CardError::Invalid {
            field: "flat_rate".into(),
            problem: CardProblem::WrongCurrency {
                expected: Currency::Usd,
                found: Currency::Inr
            },
        })
    );
}

#[test]
fn a_book_refuses_two_versions_at_one_instant_and_too_many_versions() {
    let mut book = RateBook::from_cards(Currency::Usd, [flat_card("2025-07-01")]).unwrap();
    assert_eq!(
        book.insert(table_card()),
        Err(BookError::SameEffectiveFrom {
            effective_from: datetime!(2025-07-01 0:00 UTC)
        })
    );
    let mut book = RateBook::new(Currency::Usd);
    let start = datetime!(2020-01-01 0:00 UTC);
    for day in 0..VERSIONS_PER_BOOK_MAX {
        let effective_from = start + time::Duration::days(day as i64);
        book.insert(RateCard::flat(Currency::Usd, effective_from, usd("0.01")).unwrap())
            .unwrap();
    }
    let one_more = RateCard::flat(Currency::Usd, datetime!(2030-01-01 0:00 UTC), usd("0.01"));
    assert_eq!(
        book.insert(one_more.unwrap()),
        Err(BookError::TooManyVersions)
    );
    assert_eq!(book.cards().len(), VERSIONS_PER_BOOK_MAX);
}

/// The table card with one field's JSON replaced: `(pattern, replacement)`.
fn table_card_with(pattern: &str, replacement: &str) -> String {
    assert!(TABLE_CARD.contains(pattern), "{pattern}");
    TABLE_CARD.replacen(pattern, replacement, 1)
}

#[test]
fn validation_errors_name_the_field() {
    let us_marketing = r#""US": { "marketing": "0.025","#;
    let us_with = |rate: &str| format!(r#""US": {{ "marketing": {rate},"#);
    let many_markets: String = (0..=MARKETS_PER_CARD_MAX)
        .map(|index| format!(r#""M{index}": {{"marketing": "1"}}"#))
        .collect::<Vec<_>>()
        .join(",");
    let many_categories: String = (0..=CATEGORIES_PER_MARKET_MAX)
        .map(|index| format!(r#""category_{index}": "1""#))
        .collect::<Vec<_>>()
        .join(",");
    let table: Vec<(String, &str, CardProblem)> = vec![
        (
            table_card_with(us_marketing, &us_with(r#""0.0250001""#)),
            "rates.US.marketing",
            CardProblem::TooPrecise,
        ),
        (
            table_card_with(us_marketing, &us_with("0.025")),
            "rates.US.marketing",
            CardProblem::NotAString("number"),
        ),
        (
            table_card_with(us_marketing, &us_with("1")),
            "rates.US.marketing",
            CardProblem::NotAString("number"),
        ),
        (
            table_card_with(us_marketing, &us_with("null")),
            "rates.US.marketing",
            CardProblem::NotAString("null"),
        ),
        (
            table_card_with(us_marketing, &us_with("true")),
            "rates.US.marketing",
            CardProblem::NotAString("boolean"),
        ),
        (
            table_card_with(us_marketing, &us_with(r#""-0.025""#)),
            "rates.US.marketing",
            CardProblem::Negative,
        ),
        (
            table_card_with(us_marketing, &us_with(r#""2.5e-2""#)),
            "rates.US.marketing",
            CardProblem::NotADecimal,
        ),
        (
            table_card_with(us_marketing, &us_with(r#""""#)),
            "rates.US.marketing",
            CardProblem::NotADecimal,
        ),
        (
            table_card_with(us_marketing, &us_with(r#""100000.000001""#)),
            "rates.US.marketing",
            CardProblem::TooLarge,
        ),
        (
            table_card_with(r#""US": {"#, r#""UK": {"#),
            "rates.UK",
            CardProblem::Market(MarketError::NotAPhoneRegion(uk())),
        ),
        (
            table_card_with(r#""US": {"#, r#""us": {"#),
            "rates.us",
            CardProblem::Market(MarketError::NotARegionCode("us".into())),
        ),
        (
            table_card_with(r#""US": {"#, r#""U S": {"#),
            r#"rates."U S""#,
            CardProblem::Market(MarketError::NotARegionCode("U S".into())),
        ),
        (
            table_card_with(r#""US": {"#, r#""IN": {"#),
            "rates.IN",
            CardProblem::DuplicateMarket,
        ),
        (
            table_card_with(
                r#""US": { "marketing": "0.025", "utility": "0.004", "authentication": "0.0135" }"#,
                r#""US": {}"#,
            ),
            "rates.US",
            CardProblem::Empty,
        ),
        (
            table_card_with(r#""marketing": "0.025""#, r#""Marketing": "0.025""#),
            "rates.US.Marketing",
            CardProblem::Category(CategoryError::BadCharacter),
        ),
        (
            table_card_with(
                r#""authentication": "0.0014","#,
                r#""authentication_international": "0.0014","#,
            ),
            "rates.IN.authentication-international",
            CardProblem::DuplicateCategory,
        ),
        (
            table_card_with(r#""rates": {"#, &format!(r#""rates": {{{many_markets},"#)),
            "rates",
            CardProblem::TooMany {
                max: MARKETS_PER_CARD_MAX,
            },
        ),
        (
            table_card_with(r#""US": {"#, &format!(r#""US": {{{many_categories},"#)),
            "rates.US",
            CardProblem::TooMany {
                max: CATEGORIES_PER_MARKET_MAX,
            },
        ),
        (
            table_card_with(r#""utility": "0.0077", "#, ""),
            "fallback.utility",
            CardProblem::Missing,
        ),
        (
            table_card_with(
                r#""fallback": { "marketing": "0.0604", "utility": "0.0077", "authentication": "0.0077" },"#,
                "",
            ),
            "fallback",
            CardProblem::MissingUnlessFlat,
        ),
        (
            table_card_with(",\n    \"unknown_category_rate\": \"0.05\"", ""),
            "unknown_category_rate",
            CardProblem::MissingUnlessFlat,
        ),
        (
            table_card_with(r#""currency": "USD""#, r#""currency": "usd""#),
            "currency",
            CardProblem::UnsupportedCurrency("usd".into()),
        ),
        (
            table_card_with(r#""currency": "USD""#, r#""currency": "XYZ""#),
            "currency",
            CardProblem::UnsupportedCurrency("XYZ".into()),
        ),
        (
            table_card_with("2025-07-01", "2025-13-01"),
            "effective_from",
            CardProblem::BadTimestamp,
        ),
        (
            table_card_with("2025-07-01", "2025-07-01 00:00"),
            "effective_from",
            CardProblem::BadTimestamp,
        ),
        (
            table_card_with("2025-07-01", "yesterday"),
            "effective_from",
            CardProblem::BadTimestamp,
        ),
        (
            table_card_with(r#""test figures""#, r#""line\u0000break""#),
            "source",
            CardProblem::ControlCharacter,
        ),
        (
            table_card_with(
                r#""test figures""#,
                &format!("{:?}", "x".repeat(SOURCE_NOTE_CHARS_MAX + 1)),
            ),
            "source",
            CardProblem::TooLong,
        ),
        (
            table_card_with(r#""source": "test figures","#, r#""flat_rate": "0.0125","#),
            "rates",
            CardProblem::NotOnFlatCard,
        ),
    ];
    for (json, field, problem) in table {
        match RateCard::from_json(&json) {
            Err(CardError::Invalid {
                field: got_field,
                problem: got_problem,
            }) => {
                assert_eq!(
                    (got_field.as_str(), &got_problem),
                    (field, &problem),
                    "{field}"
                );
            }
            other => panic!("{field}: expected {problem:?}, got {other:?}"),
        }
    }
}

/// `UK`: two letters, but no phone number is in it.
fn uk() -> Market {
    match Market::parse("UK") {
        Err(MarketError::NotAPhoneRegion(uk)) => uk,
        other => panic!("UK parsed as {other:?}"),
    }
}

#[test]
fn validation_error_messages_read_as_field_then_problem() {
    let json = table_card_with(r#""marketing": "0.0107""#, r#""marketing": "0.0107001""#);
    assert_eq!(
        RateCard::from_json(&json).unwrap_err().to_string(),
        "rates.IN.marketing: more than 6 decimal places"
    );
    let json = table_card_with(r#""marketing": "0.0107""#, r#""marketing": 0.0107"#);
    assert_eq!(
        RateCard::from_json(&json).unwrap_err().to_string(),
        r#"rates.IN.marketing: must be a decimal string such as "0.025", not a JSON number"#
    );
}

#[test]
fn the_json_form_refuses_unknown_fields_and_oversized_bodies() {
    let unknown = table_card_with(r#""source": "test figures","#, r#""sauce": "x","#);
    assert!(
        matches!(RateCard::from_json(&unknown), Err(CardError::Json(message)) if message.contains("unknown field `sauce`"))
    );
    let nested = table_card_with(r#""rates": {"#, r#""rates": { "US": "0.025","#);
    assert!(matches!(
        RateCard::from_json(&nested),
        Err(CardError::Json(_))
    ));
    let no_currency = table_card_with(r#""currency": "USD","#, "");
    assert!(
        matches!(RateCard::from_json(&no_currency), Err(CardError::Json(message)) if message.contains("currency"))
    );
    let padded = format!("{TABLE_CARD}{}", " ".repeat(RATE_CARD_JSON_BYTES_MAX));
    assert_eq!(RateCard::from_json(&padded), Err(CardError::TooLarge));
    assert!(matches!(
        RateCard::from_json("not json"),
        Err(CardError::Json(_))
    ));
    // serde on RateCard applies the same rules.
    let error = serde_json::from_str::<RateCard>(&unknown)
        .unwrap_err()
        .to_string();
    assert!(error.contains("unknown field"), "{error}");
    let imprecise = table_card_with(r#""marketing": "0.0107""#, r#""marketing": "0.0107001""#);
    let error = serde_json::from_str::<RateCard>(&imprecise)
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("rates.IN.marketing: more than 6 decimal places"),
        "{error}"
    );
}

#[test]
fn effective_from_takes_a_date_or_a_timestamp_and_keeps_utc() {
    let table = [
        ("2025-07-01", datetime!(2025-07-01 0:00 UTC)),
        ("2025-07-01T00:00:00Z", datetime!(2025-07-01 0:00 UTC)),
        ("2025-07-01T05:30:00+05:30", datetime!(2025-07-01 0:00 UTC)),
        (
            "2025-06-30T19:00:00.5-05:00",
            datetime!(2025-07-01 0:00:00.5 UTC),
        ),
    ];
    for (text, expected) in table {
        let card = flat_card(text);
        assert_eq!(card.effective_from(), expected, "{text}");
        assert_eq!(
            card.effective_from().offset(),
            time::UtcOffset::UTC,
            "{text}"
        );
    }
}

#[test]
fn every_sample_card_loads_and_prices_known_cases() {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("rate-cards");
    let mut cards = BTreeMap::new();
    for entry in std::fs::read_dir(&directory).unwrap() {
        let path = entry.unwrap().path();
        if path
            .extension()
            .is_some_and(|extension| extension == "json")
        {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&path).unwrap();
            let card = RateCard::from_json(&text).unwrap_or_else(|error| panic!("{name}: {error}"));
            assert!(
                card.source().is_some_and(|source| !source.is_empty()),
                "{name} names no source"
            );
            cards.insert(name, card);
        }
    }
    assert!(cards.len() >= 2, "{cards:?}");
    let meta_markets: Vec<String> = cards["meta-usd-2025-07-01.json"]
        .markets()
        .map(|market| market.to_string())
        .collect();
    assert_eq!(meta_markets, ["AG", "AI", "AR", "AT", "AU", "AW", "BS"]);
    use RateBasis::*;
    let cases = [
        (
            "meta-usd-2025-07-01.json",
            "12425551234",
            "marketing",
            "0.0740",
            MarketRate,
        ), // Bahamas, +1 242
        (
            "meta-usd-2025-07-01.json",
            "12425551234",
            "utility",
            "0.0113",
            MarketRate,
        ),
        (
            "meta-usd-2025-07-01.json",
            "12685551234",
            "authentication",
            "0.0113",
            MarketRate,
        ), // Antigua
        (
            "meta-usd-2025-07-01.json",
            "5491123456789",
            "utility",
            "0.0289",
            MarketRate,
        ), // Argentina
        (
            "meta-usd-2025-07-01.json",
            "61412345678",
            "marketing",
            "0.0732",
            MarketRate,
        ), // Australia
        (
            "meta-usd-2025-07-01.json",
            "16845551234",
            "marketing",
            "0.0604",
            Fallback,
        ), // American Samoa: "Other"
        (
            "meta-usd-2025-07-01.json",
            "8001234567",
            "utility",
            "0.0077",
            Fallback,
        ), // non-geographic
        (
            "meta-usd-2025-07-01.json",
            "12425551234",
            "brand_new",
            "0.0604",
            UnknownCategoryDefault,
        ),
        (
            "zoho-flat-usd.json",
            "12025550123",
            "marketing",
            "0.0125",
            Flat,
        ), // a US marketing message
        (
            "zoho-flat-usd.json",
            "18765550123",
            "authentication-international",
            "0.0125",
            Flat,
        ),
    ];
    for (file, recipient, category, amount, basis) in cases {
        let card = cards
            .get(file)
            .unwrap_or_else(|| panic!("{file} is missing"));
        let priced = card
            .price(market_of(recipient), &Category::from_meta(category))
            .unwrap_or_else(|error| panic!("{file} {category}: {error}"));
        assert_eq!(
            (priced.amount, priced.basis),
            (usd(amount), basis),
            "{file} {category} {amount}"
        );
    }
    // All USD samples can live in one book: no two share an effective date.
    let usd_cards = cards
        .values()
        .filter(|card| card.currency() == Currency::Usd)
        .cloned();
    RateBook::from_cards(Currency::Usd, usd_cards).unwrap();
}

const ROUND_TRIP_MARKETS: [&str; 12] = [
    "US", "CA", "IN", "BR", "ID", "GB", "MX", "JM", "DO", "PR", "BS", "AR",
];
const ROUND_TRIP_CATEGORIES: [&str; 8] = [
    "marketing",
    "utility",
    "authentication",
    "authentication-international",
    "service",
    "marketing_lite",
    "referral_conversion",
    "future_category",
];

/// A rate as an exact decimal string: 0 to RATE_UNITS_MAX with 0 to 6 decimal places.
fn rate_strategy() -> impl Strategy<Value = String> {
    let max_micros = i128::from(RATE_UNITS_MAX) * 1_000_000;
    (0..=max_micros, 0u32..=6).prop_map(|(micros, scale)| {
        Decimal::from_i128_with_scale(micros / 10i128.pow(6 - scale), scale).to_string()
    })
}

fn category_rates_strategy(required: bool) -> impl Strategy<Value = Vec<(String, String)>> {
    let names = proptest::sample::subsequence(ROUND_TRIP_CATEGORIES.to_vec(), 1..=8);
    (names, proptest::collection::vec(rate_strategy(), 8)).prop_map(move |(names, rates)| {
        let mut names: Vec<&str> = names;
        if required {
            for name in ["marketing", "utility", "authentication"] {
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        names
            .into_iter()
            .map(str::to_owned)
            .zip(rates.into_iter().cycle())
            .collect()
    })
}

fn card_json_strategy() -> impl Strategy<Value = String> {
    let currency = proptest::sample::select(Currency::ALL.to_vec());
    let effective_from =
        (946_684_800i64..4_102_444_800, 0u32..1_000_000_000).prop_map(|(seconds, nanos)| {
            let instant = OffsetDateTime::from_unix_timestamp(seconds).unwrap();
            instant.replace_nanosecond(nanos).unwrap()
        });
    let markets = proptest::sample::subsequence(ROUND_TRIP_MARKETS.to_vec(), 0..=12).prop_flat_map(
        |markets| {
            let count = markets.len();
            (
                Just(markets),
                proptest::collection::vec(category_rates_strategy(false), count),
            )
        },
    );
    let table = (markets, category_rates_strategy(true), rate_strategy());
    (
        currency,
        effective_from,
        proptest::option::of(rate_strategy()),
        table,
    )
        .prop_map(
            |(
                currency,
                effective_from,
                flat_rate,
                ((markets, market_rates), fallback, unknown),
            )| {
                let mut json = serde_json::json!({
                    "currency": currency.code(),
                    "effective_from": effective_from
                        .format(&time::format_description::well_known::Rfc3339)
                        .unwrap(),
                    "source": "generated",
                });
                match flat_rate {
                    Some(flat_rate) => json["flat_rate"] = flat_rate.into(),
                    None => {
                        let as_object = |rates: Vec<(String, String)>| {
                            serde_json::Value::Object(
                                rates
                                    .into_iter()
                                    .map(|(name, rate)| (name, rate.into()))
                                    .collect(),
                            )
                        };
                        json["rates"] = serde_json::Value::Object(
                            markets
                                .into_iter()
                                .map(str::to_owned)
                                .zip(market_rates.into_iter().map(as_object))
                                .collect(),
                        );
                        json["fallback"] = as_object(fallback);
                        json["unknown_category_rate"] = unknown.into();
                    }
                }
                json.to_string()
            },
        )
}

proptest! {
    #[test]
    fn json_to_card_to_json_is_lossless(json in card_json_strategy()) {
        let card = RateCard::from_json(&json).unwrap();
        let written = serde_json::to_string(&card).unwrap();
        let back = RateCard::from_json(&written).unwrap();
        prop_assert_eq!(&back, &card);
        prop_assert_eq!(serde_json::to_string(&back).unwrap(), written);
        // Every rate in the input prices exactly what it said.
        let input: serde_json::Value = serde_json::from_str(&json).unwrap();
        if let Some(markets) = input["rates"].as_object() {
            for (code, rates) in markets {
                let market = RecipientMarket::Known(Market::parse(code).unwrap());
                for (name, rate) in rates.as_object().unwrap() {
                    let priced = card.price(market, &Category::parse(name).unwrap()).unwrap();
                    let expected = crate::money::parse_exact_decimal(rate.as_str().unwrap()).unwrap();
                    prop_assert_eq!(priced.amount.amount(), expected);
                    prop_assert_eq!(priced.basis, RateBasis::MarketRate);
                    prop_assert_eq!(priced.amount.currency(), card.currency());
                }
            }
        }
    }
}
