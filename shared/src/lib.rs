//! imcredits: prepaid WhatsApp messaging credits.
//!
//! Where a rule lives:
//! - [`money`]: exact amounts, currencies, the rounding rule, credit quotes;
//! - [`wallet`]: one balance per account, its status and settings;
//! - [`ledger`]: entries with deterministic ids and running balances, posting plans, reconciliation;
//! - [`pricing`]: rate cards, recipient markets and categories: what a charged message costs;
//! - [`meta`]: Meta's webhook: signature, handshake, tolerant parsing into events, when a status is charged;
//! - [`ports`]: the narrow traits handlers depend on (store, clock);
//! - [`payments`]: payment ids and amounts; the Stripe adapter (checkout, off-session charges, webhooks);
//! - [`adapters`]: those traits on real infrastructure (DynamoDB);
//! - [`notices`]: events accounts are told about, the in-app feed, signed webhooks;
//! - [`config`] and [`setup`]: typed configuration and clients, built once at cold start.

pub mod adapters;
pub mod api;
pub mod backoff;
pub mod billing;
pub mod config;
pub mod handlers;
pub mod ids;
pub mod ledger;
pub mod meta;
pub mod money;
pub mod notices;
pub mod notices_setup;
pub mod payments;
pub mod ports;
pub mod pricing;
pub mod setup;
pub mod wallet;
