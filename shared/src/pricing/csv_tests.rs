//! Meta's rates file: the layout (newline in the header, `n/a`, regions), and every error naming
//! its line with nothing built.

use time::macros::datetime;

use super::*;
use crate::pricing::{MarketList, RecipientMarket};

const USD: &str =
    include_str!("../../rate-cards/meta-format-examples/rates-USD-MADE-UP-FIGURES.csv");
const BRL: &str =
    include_str!("../../rate-cards/meta-format-examples/rates-BRL-MADE-UP-FIGURES.csv");
const CLP: &str =
    include_str!("../../rate-cards/meta-format-examples/rates-CLP-MADE-UP-FIGURES.csv");

fn list() -> MarketList {
    MarketList::from_json(
        r#"{"version": "t1", "effective_from": "2026-10-01", "source": "test",
            "markets": {"North America": ["US", "CA"], "Rest of Latin America": ["DO", "PE"],
                        "India": ["IN"]},
            "other": "Other"}"#,
    )
    .unwrap()
}

const HEADER: &str = "Cost per message in USD\nMarket,Currency,Marketing,Utility,Authentication,\"Authentication-\nInternational\",Service\n";

fn file(rows: &str) -> String {
    format!("{HEADER}{rows}")
}

const ROWS: &str = "North America,USD,0.0250,0.0040,0.0040,n/a,0.0030\n\
    Rest of Latin America,USD,0.0740,0.0113,0.0113,0.0500,n/a\n\
    India,USD,0.0107,0.0014,0.0014,0.0280,0.0010\n\
    Other,USD,0.0604,0.0077,0.0077,n/a,0.0060\n";

fn price(card: &RateCard, country: &str, category: Category) -> Option<String> {
    let market = RecipientMarket::Known(Market::parse(country).unwrap());
    card.price(market, &category)
        .ok()
        .map(|priced| priced.amount.amount().to_string())
}

#[test]
fn the_layout_parses_with_the_newline_in_the_header_and_n_a() {
    let rates = MetaRates::parse(&file(ROWS)).unwrap();
    assert_eq!(rates.currency, Currency::Usd);
    assert_eq!(rates.rows.len(), 4);
    // The header spans lines 2-3, so the first row is on line 4.
    assert_eq!(rates.rows[0].line, 4);
    assert_eq!(rates.rows[0].market.as_str(), "North America");
    assert!(
        !rates.rows[0]
            .rates
            .contains_key(&Category::AuthenticationInternational)
    );
    let card = rates
        .to_card(&list(), datetime!(2026-10-01 0:00 UTC), "test")
        .unwrap();
    assert_eq!(card.market_list(), Some("t1"));
    assert_eq!(
        price(&card, "US", Category::Marketing).as_deref(),
        Some("0.025")
    );
    assert_eq!(
        price(&card, "CA", Category::Utility).as_deref(),
        Some("0.004")
    );
    // +1 809 is DO: Rest of Latin America, not North America.
    assert_eq!(
        price(&card, "DO", Category::Marketing).as_deref(),
        Some("0.074")
    );
    assert_eq!(
        price(&card, "IN", Category::AuthenticationInternational).as_deref(),
        Some("0.028")
    );
    // A country no market names is Other, the fallback.
    assert_eq!(
        price(&card, "FR", Category::Marketing).as_deref(),
        Some("0.0604")
    );
    // n/a for service in Rest of Latin America: the fallback's service rate.
    assert_eq!(
        price(&card, "PE", Category::Service).as_deref(),
        Some("0.006")
    );
}

#[test]
fn the_shipped_format_examples_parse_in_each_currency() {
    let lists = crate::pricing::built_in_market_lists();
    let list = lists.by_version("example-2026-10-01").unwrap();
    for (text, currency) in [
        (USD, Currency::Usd),
        (BRL, Currency::Brl),
        (CLP, Currency::Clp),
    ] {
        let rates = MetaRates::parse(text).unwrap();
        assert_eq!(rates.currency, currency);
        let card = rates
            .to_card(list, datetime!(2026-10-01 0:00 UTC), "example")
            .unwrap();
        assert_eq!(card.currency(), currency);
        assert!(card.markets().count() >= 9, "{currency}");
    }
}

#[test]
fn every_problem_names_its_line() {
    let table: [(String, usize, &str); 11] = [
        (
            file("Mars,USD,0.1,0.1,0.1,n/a,0.1\n"),
            4,
            "Mars is not in market list t1",
        ),
        (
            file(&format!("{ROWS}India,USD,0.1,0.1,0.1,n/a,0.1\n")),
            8,
            "India is listed twice (first on line 6)",
        ),
        (
            file("North America,USD,0.02.5,0.1,0.1,n/a,0.1\n"),
            4,
            "marketing: \"0.02.5\" is not a rate",
        ),
        (
            file("North America,USD,1e-2,0.1,0.1,n/a,0.1\n"),
            4,
            "is not a rate",
        ),
        (
            file("North America,USD,-0.1,0.1,0.1,n/a,0.1\n"),
            4,
            "is not a rate",
        ),
        (
            file("North America,EUR,0.1,0.1,0.1,n/a,0.1\n"),
            4,
            "currency \"EUR\" disagrees with the file's USD",
        ),
        (
            file(&format!("{ROWS}DO,USD,0.1,0.1,0.1,n/a,0.1\n")),
            8,
            "country DO is already priced by line 5",
        ),
        (
            file("North America,USD,0.1,0.1\n"),
            4,
            "does not have the header's columns",
        ),
        (
            "Prices\nMarket,Currency,Marketing\nIndia,USD,0.1\n".to_owned(),
            1,
            "Meta's preamble",
        ),
        (
            "Cost per message in XYZ\nMarket,Currency,Marketing\n".to_owned(),
            1,
            "not a supported currency",
        ),
        (
            "Cost per message in USD\nMarket,Currency,Marketing,Bananas\nIndia,USD,0.1,0.1\n"
                .to_owned(),
            2,
            "unknown column \"bananas\"",
        ),
    ];
    for (text, line, problem) in table {
        let error = MetaRates::parse(&text)
            .and_then(|rates| rates.to_card(&list(), datetime!(2026-10-01 0:00 UTC), "t"))
            .unwrap_err();
        assert_eq!(error.line, line, "{error}");
        assert!(error.problem.contains(problem), "{error} lacks {problem:?}");
    }
}

#[test]
fn a_file_missing_a_market_or_the_fallback_builds_nothing() {
    let no_india = ROWS.replace("India,USD,0.0107,0.0014,0.0014,0.0280,0.0010\n", "");
    let error = MetaRates::parse(&file(&no_india))
        .unwrap()
        .to_card(&list(), datetime!(2026-10-01 0:00 UTC), "t")
        .unwrap_err();
    assert!(
        error.problem.contains("India of list t1 has no row"),
        "{error}"
    );
    let no_other = ROWS.replace("Other,USD,0.0604,0.0077,0.0077,n/a,0.0060\n", "");
    let error = MetaRates::parse(&file(&no_other))
        .unwrap()
        .to_card(&list(), datetime!(2026-10-01 0:00 UTC), "t")
        .unwrap_err();
    assert!(error.problem.contains("no Other row"), "{error}");
    let unclosed = "Cost per message in USD\nMarket,\"Currency\n";
    assert_eq!(MetaRates::parse(unclosed).unwrap_err().line, 2);
}
