//! Rate cards on DynamoDB: one immutable item per version, `RATECARD#<currency>` /
//! `FROM#<effective_from>`, holding the card's canonical JSON.

use std::collections::HashMap;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::codec::{Reader, s, timestamp};
use super::{DynamoStore, keys, unavailable};
use crate::money::Currency;
use crate::ports::store::{RateBookGet, RateCardSave, Saved, StoreError};
use crate::pricing::{BookError, RateBook, RateCard, VERSIONS_PER_BOOK_MAX};

/// DynamoDB items are at most 400 KB; a card's JSON must leave room for its keys.
pub const RATE_CARD_STORED_BYTES_MAX: usize = 380_000;

fn canonical_json(card: &RateCard) -> Result<String, StoreError> {
    let json = serde_json::to_string(card)
        .map_err(|error| StoreError::Corrupt(format!("a rate card did not serialize: {error}")))?;
    if json.len() > RATE_CARD_STORED_BYTES_MAX {
        return Err(StoreError::Rejected(crate::ledger::LedgerError::TooLong {
            what: "rate card",
            len_max: RATE_CARD_STORED_BYTES_MAX,
        }));
    }
    Ok(json)
}

impl RateCardSave for DynamoStore {
    async fn save_rate_card(
        &self,
        card: &RateCard,
        now: OffsetDateTime,
    ) -> Result<Saved, StoreError> {
        let json = canonical_json(card)?;
        let currency = card.currency();
        let item = HashMap::from([
            (keys::PK.to_owned(), s(keys::rate_card_pk(currency))),
            (
                keys::SK.to_owned(),
                s(keys::rate_card_sk(card.effective_from())),
            ),
            ("type".to_owned(), s("rate_card")),
            ("card".to_owned(), s(json)),
            ("saved_at".to_owned(), timestamp(now)),
        ]);
        // The book decides whether one more version fits (and checks the card's currency).
        self.put_version(
            item,
            || self.rate_book(currency),
            |book: &RateBook| {
                book.cards()
                    .iter()
                    .find(|c| c.effective_from() == card.effective_from())
                    .map(|existing| existing == card)
            },
            |mut book| match book.insert(card.clone()) {
                Ok(()) => Ok(()),
                Err(BookError::TooManyVersions) => Err(StoreError::RateBookFull(currency)),
                Err(error) => Err(StoreError::Corrupt(format!(
                    "rate book {currency}: {error}"
                ))),
            },
            || StoreError::RateCardExists {
                currency,
                effective_from: card.effective_from().format(&Rfc3339).unwrap_or_default(),
            },
        )
        .await
    }
}

impl RateBookGet for DynamoStore {
    async fn rate_book(&self, currency: Currency) -> Result<RateBook, StoreError> {
        // One page: a book holds at most VERSIONS_PER_BOOK_MAX cards of at most 380 KB... which
        // can exceed a 1 MB page, so follow the pages, bounded by the version limit.
        let mut cards = Vec::new();
        let mut start_key = None;
        for _ in 0..=VERSIONS_PER_BOOK_MAX {
            let output = self
                .client()
                .query()
                .table_name(self.table())
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s(keys::rate_card_pk(currency)))
                .consistent_read(true)
                .set_exclusive_start_key(start_key.take())
                .send()
                .await
                .map_err(unavailable)?;
            for item in output.items() {
                let json = Reader(item).str("card")?;
                let card = RateCard::from_json(json).map_err(|error| {
                    StoreError::Corrupt(format!("rate card {currency}: {error}"))
                })?;
                cards.push(card);
            }
            if cards.len() > VERSIONS_PER_BOOK_MAX {
                return Err(StoreError::Corrupt(format!(
                    "rate book {currency} holds too many versions"
                )));
            }
            start_key = output.last_evaluated_key().cloned();
            if start_key.is_none() {
                break;
            }
        }
        RateBook::from_cards(currency, cards)
            .map_err(|error| StoreError::Corrupt(format!("rate book {currency}: {error}")))
    }
}
