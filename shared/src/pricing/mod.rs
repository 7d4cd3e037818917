//! Pricing: what one charged WhatsApp message or conversation costs.
//!
//! Meta's webhooks carry no price, only a category and the recipient. The price comes from a rate
//! card by the recipient's **market** ([`market_of`]): the region of their number, with the +1 area
//! codes of Caribbean and Pacific markets kept apart from North America; and by the **category**
//! ([`Category`]), including both spellings of authentication-international and categories Meta has
//! not announced yet ([`Category::is_unknown`]).

mod category;
mod market;

pub use category::{CATEGORY_NAME_LEN_MAX, Category, CategoryError, UnknownCategory};
pub use market::{
    Market, MarketError, RECIPIENT_DIGITS_MAX, RECIPIENT_DIGITS_MIN, RecipientMarket,
    RecipientNumber, RecipientNumberError, market_of, warm_up,
};
