//! Rate cards as an operator uploads them: the JSON card, Meta's rates CSV (through the same
//! function the upload route uses, against the built-in market lists) and Meta's volume tiers CSV.

use imcredits::api::rate_card_import::card_from_csv;
use imcredits::pricing::tiers::{TierBand, VolumeTiers};
use imcredits::pricing::{Category, MarketName, RateCard, built_in_market_lists};

/// An `effective_from` and market list in force at it, per the selector (the route's parameters).
const IMPORT_PARAMETERS: &[(&str, &str)] = &[
    ("2026-04-01", "2026-04-01"),
    ("2026-10-01", "2026-10-01"),
    ("2026-10-01", "2026-04-01"),
    ("1999-01-01", "2026-04-01"),
];

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
    let Some((selector, rest)) = crate::split_selector(data) else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let (effective_from, list) = IMPORT_PARAMETERS[usize::from(selector) % IMPORT_PARAMETERS.len()];
    if let Err(error) = card_from_csv(built_in_market_lists(), text, effective_from, list) {
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
