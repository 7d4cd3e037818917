//! Immutable versions (rate cards, tiers files, market lists), each put once by the one helper
//! (`adapters::dynamodb::put_once`): a new version is created, the same content again is a
//! replay, other content at its instant is the caller's own conflict and changes nothing; and
//! writers racing for one instant end with one created and the rest answered by content.

use std::future::Future;

use imcredits::money::Currency;
use imcredits::ports::market_lists::MarketListStore;
use imcredits::ports::store::{RateBookGet, RateCardSave, Saved, StoreError};
use imcredits::ports::tiers::TierBooks;
use imcredits::pricing::tier_book::TierCard;
use imcredits::pricing::{MarketList, RateCard};
use imcredits_tests::{Backend, at};
use serde_json::{Value, json};
use time::macros::datetime;

const FLAT: &str = include_str!("../../shared/rate-cards/zoho-flat-usd.json");
const LIST: &str = include_str!("../../shared/market-lists/example-2026-10-01.json");
const TIERS: &str =
    include_str!("../../shared/rate-cards/meta-format-examples/tiers-USD-MADE-UP-FIGURES.csv");

/// `text` (JSON) with `changes` applied to its top-level fields.
fn edited(text: &str, changes: Value) -> String {
    let mut value: Value = serde_json::from_str(text).expect("a JSON fixture");
    for (name, field) in changes.as_object().expect("an object of changes") {
        value[name] = field.clone();
    }
    value.to_string()
}

/// `save` creates, replays, then `clash` (other content, same instant) is refused as `conflict`
/// says, and `save` is still a replay after it.
async fn created_replayed_refused<S, C>(
    save: impl Fn() -> S,
    clash: impl Fn() -> C,
    conflict: impl Fn(&StoreError) -> bool,
) where
    S: Future<Output = Result<Saved, StoreError>>,
    C: Future<Output = Result<Saved, StoreError>>,
{
    assert_eq!(save().await.expect("a new version saves"), Saved::Created);
    assert_eq!(save().await.expect("a replay"), Saved::AlreadySaved);
    let refused = clash()
        .await
        .expect_err("other content at the same instant");
    assert!(conflict(&refused), "{refused:?}");
    assert_eq!(save().await.expect("a replay"), Saved::AlreadySaved);
}

pub async fn an_immutable_version_is_created_once_then_replayed_or_refused(backend: &Backend) {
    let store = backend.store_on_own_table("versions").await;
    let card = RateCard::from_json(FLAT).expect("the flat card");
    let other_card = RateCard::from_json(&edited(FLAT, json!({"flat_rate": "0.02"}))).unwrap();
    created_replayed_refused(
        || store.save_rate_card(&card, at()),
        || store.save_rate_card(&other_card, at()),
        |error| matches!(error, StoreError::RateCardExists { .. }),
    )
    .await;
    let book = store.rate_book(Currency::Usd).await.unwrap();
    assert_eq!(book.cards(), std::slice::from_ref(&card));

    let tiers_from = datetime!(2026-10-01 0:00 UTC);
    let tiers = TierCard::from_stored(TIERS, tiers_from, "example-2026-10-01").unwrap();
    let other_tiers = TierCard::from_stored(TIERS, tiers_from, "example-2026-04-01").unwrap();
    created_replayed_refused(
        || store.save_tier_card(&tiers, at()),
        || store.save_tier_card(&other_tiers, at()),
        |error| matches!(error, StoreError::TiersExist { .. }),
    )
    .await;
    let book = store.tier_book(Currency::Usd).await.unwrap();
    assert_eq!(book.cards(), std::slice::from_ref(&tiers));

    let list = MarketList::from_json(LIST).expect("the fixture list");
    let other_text = edited(LIST, json!({"source": "another text of the same instant"}));
    let other_list = MarketList::from_json(&other_text).unwrap();
    created_replayed_refused(
        || store.save_market_list(&list, LIST, at()),
        || store.save_market_list(&other_list, &other_text, at()),
        |error| matches!(error, StoreError::MarketListConflict(_)),
    )
    .await;
    // A new instant that may not join the others (its version is taken) is refused too.
    let later_text = edited(LIST, json!({"effective_from": "2026-12-01"}));
    let later = MarketList::from_json(&later_text).unwrap();
    let refused = store
        .save_market_list(&later, &later_text, at())
        .await
        .expect_err("a version saved under another instant");
    assert!(
        matches!(refused, StoreError::MarketListConflict(_)),
        "{refused:?}"
    );
    assert_eq!(store.market_lists().await.unwrap().lists(), [list]);
}

pub async fn writers_racing_for_one_instant_end_with_one_version(backend: &Backend) {
    const WRITERS: usize = 8;
    let store = backend.store_on_own_table("versions-race").await;
    // Half write one card, half another, all at the same instant, at once.
    let cards = [FLAT.to_owned(), edited(FLAT, json!({"flat_rate": "0.02"}))]
        .map(|text| RateCard::from_json(&text).expect("a flat card"));
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let (store, card) = (store.clone(), cards[writer % 2].clone());
            tokio::spawn(async move {
                let saved = store.save_rate_card(&card, at()).await;
                (card, saved)
            })
        })
        .collect();
    let mut answers = Vec::new();
    for writer in writers {
        answers.push(writer.await.expect("the writer ran"));
    }
    let book = store.rate_book(Currency::Usd).await.unwrap();
    let [stored] = book.cards() else {
        panic!("one version at the instant: {book:?}");
    };
    let created = answers
        .iter()
        .filter(|(_, answer)| matches!(answer, Ok(Saved::Created)))
        .count();
    assert_eq!(created, 1, "{answers:?}");
    for (card, answer) in &answers {
        match answer {
            Ok(_) => assert_eq!(card, stored, "only the stored content is saved"),
            Err(StoreError::RateCardExists { .. }) => assert_ne!(card, stored),
            Err(error) => panic!("{error:?}"),
        }
    }
}
