//! The HTTP edge the API and Meta's webhook share: the `{"error":{"code","message"}}` envelope
//! ([`error::ApiError`], and [`envelope::envelope_errors`] for axum's own refusals) and strict
//! query strings ([`query`]), the headers of a page ([`page`]). No rule of the product lives here.

pub mod envelope;
pub mod error;
pub mod page;
pub mod query;
