//! The versions of one currency's price list, and which one is in force when.

use time::OffsetDateTime;

use super::card::{Priced, PricingError, RateCard, Timestamp};
use super::category::Category;
use super::market::RecipientMarket;
use crate::money::Currency;

/// Most versions one book holds. Meta revises its cards about quarterly, so this is years of
/// history; a store keeps older versions elsewhere, only recent ones price late-arriving events.
pub const VERSIONS_PER_BOOK_MAX: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BookError {
    #[error("the rate book is in {book}, the card is in {card}")]
    CurrencyMismatch { book: Currency, card: Currency },
    #[error("the rate book already has a card effective {}", Timestamp(*effective_from))]
    SameEffectiveFrom { effective_from: OffsetDateTime },
    #[error("the rate book already holds {VERSIONS_PER_BOOK_MAX} versions")]
    TooManyVersions,
}

/// Rate card versions of one currency, ordered by `effective_from`.
///
/// The card in force at an instant is the latest with `effective_from` ≤ that instant (so a card
/// is in force from its boundary instant on, inclusive). Two versions never share an
/// `effective_from`: which one applied would be a coin toss.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateBook {
    currency: Currency,
    /// Sorted by `effective_from`, strictly increasing.
    cards: Vec<RateCard>,
}

impl RateBook {
    pub fn new(currency: Currency) -> Self {
        Self {
            currency,
            cards: Vec::new(),
        }
    }

    pub fn from_cards(
        currency: Currency,
        cards: impl IntoIterator<Item = RateCard>,
    ) -> Result<Self, BookError> {
        let mut book = RateBook::new(currency);
        for card in cards {
            book.insert(card)?;
        }
        Ok(book)
    }

    pub fn insert(&mut self, card: RateCard) -> Result<(), BookError> {
        if card.currency() != self.currency {
            return Err(BookError::CurrencyMismatch {
                book: self.currency,
                card: card.currency(),
            });
        }
        if self.cards.len() >= VERSIONS_PER_BOOK_MAX {
            return Err(BookError::TooManyVersions);
        }
        let effective_from = card.effective_from();
        let index = self
            .cards
            .partition_point(|existing| existing.effective_from() < effective_from);
        if self
            .cards
            .get(index)
            .is_some_and(|existing| existing.effective_from() == effective_from)
        {
            return Err(BookError::SameEffectiveFrom { effective_from });
        }
        self.cards.insert(index, card);
        Ok(())
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// The versions, oldest first.
    pub fn cards(&self) -> &[RateCard] {
        &self.cards
    }

    /// The card in force at `at`: the latest with `effective_from` ≤ `at`.
    pub fn in_force_at(&self, at: OffsetDateTime) -> Result<&RateCard, PricingError> {
        let later = self
            .cards
            .partition_point(|card| card.effective_from() <= at);
        match later.checked_sub(1) {
            Some(index) => Ok(&self.cards[index]),
            None => Err(PricingError::NoCardInForce {
                at,
                first_effective_from: self.cards.first().map(RateCard::effective_from),
            }),
        }
    }

    /// Prices an event of time `at` for a wallet billing in `currency`: refuses a book in another
    /// currency, then asks the card in force (see [`RateCard::price`]).
    pub fn price(
        &self,
        at: OffsetDateTime,
        currency: Currency,
        market: RecipientMarket,
        category: &Category,
    ) -> Result<Priced, PricingError> {
        if currency != self.currency {
            return Err(PricingError::CurrencyMismatch {
                expected: currency,
                card: self.currency,
            });
        }
        self.in_force_at(at)?.price(market, category)
    }
}
