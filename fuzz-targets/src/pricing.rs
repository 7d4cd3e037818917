//! Rate cards as an operator uploads them: the JSON card, Meta's rates CSV (through the same
//! function the upload route uses, against the built-in market lists) and Meta's volume tiers CSV.

use std::sync::LazyLock;

use imcredits::api::error::ApiError;
use imcredits::api::rate_card_import::card_from_csv;
use imcredits::pricing::tiers::{TierBand, VolumeTiers};
use imcredits::pricing::{Category, MarketList, MarketName, RateCard, built_in_market_lists};

/// What the upload route is given beside the file, chosen by the selector byte: each shipped
/// market list with its own `effective_from` (accepted, so the file reaches the CSV parser), then
/// the newest list at the oldest list's date (not in force), a date before every list and a date
/// before 2000 (both refused). Derived from `built_in_market_lists()`, so a renamed or added list
/// cannot leave the target refusing every input before parsing: the first run named versions
/// "2026-04-01" where the lists are "example-2026-04-01" and never reached the parser.
pub fn import_parameters() -> &'static [(String, String)] {
    static PARAMETERS: LazyLock<Vec<(String, String)>> = LazyLock::new(|| {
        let lists = built_in_market_lists().lists();
        let (Some(oldest), Some(newest)) = (lists.first(), lists.last()) else {
            panic!("the product ships at least one market list");
        };
        let at = |list: &MarketList| list.effective_from().date().to_string();
        let mut parameters: Vec<(String, String)> = lists
            .iter()
            .map(|list| (at(list), list.version().to_owned()))
            .collect();
        parameters.push((at(oldest), newest.version().to_owned()));
        let before = oldest.effective_from().date().previous_day();
        let before = before.map_or_else(|| "2000-01-01".to_owned(), |day| day.to_string());
        parameters.push((before, oldest.version().to_owned()));
        parameters.push(("1999-01-01".to_owned(), oldest.version().to_owned()));
        parameters
    });
    &PARAMETERS
}

/// The import `meta_rates_csv` makes of its input: `None` when the input is no selector and UTF-8.
pub fn meta_rates_import(data: &[u8]) -> Option<Result<RateCard, ApiError>> {
    let (selector, rest) = crate::split_selector(data)?;
    let text = std::str::from_utf8(rest).ok()?;
    let parameters = import_parameters();
    let (effective_from, list) = &parameters[usize::from(selector) % parameters.len()];
    Some(card_from_csv(
        built_in_market_lists(),
        text,
        effective_from,
        list,
    ))
}

pub fn rate_card_json(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(card) = RateCard::from_json(text) else {
        return;
    };
    // A valid card is stored as its JSON and read back by every price lookup, as the store does
    // (`adapters::dynamodb::rate_cards`).
    let stored = serde_json::to_string(&card).expect("a card serializes");
    let again = RateCard::from_json(&stored)
        .unwrap_or_else(|error| panic!("a stored card must read back: {error}: {stored}"));
    assert_eq!(again, card, "a card survives storage");
}

pub fn meta_rates_csv(data: &[u8]) {
    if let Some(Err(error)) = meta_rates_import(data) {
        assert!(error.status.is_client_error(), "{error:?}");
    }
}

pub fn volume_tiers_csv(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(tiers) = VolumeTiers::parse(text) else {
        return;
    };
    // Look up what the file names, as the true-up does.
    for line in text.lines().take(64) {
        let cells: Vec<&str> = line.split(',').collect();
        let (Some(market), Some(category), Some(band)) =
            (cells.first(), cells.get(2), cells.get(3))
        else {
            continue;
        };
        let (Some(market), Some(band)) = (
            MarketName::parse(market.trim()),
            TierBand::parse(band.trim()),
        ) else {
            continue;
        };
        let category = Category::from_meta(&category.trim().to_ascii_lowercase());
        let _ = tiers.rate(&market, &category, band);
    }
}
