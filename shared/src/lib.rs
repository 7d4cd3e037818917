//! imcredits: prepaid WhatsApp messaging credits.
//!
//! Where a rule lives:
//! - [`money`]: exact amounts, currencies, the rounding rule, credit quotes;
//! - [`wallet`]: one balance per account, its status and settings;
//! - [`ledger`]: entries with deterministic ids and running balances, posting plans, reconciliation;
//! - [`ports`]: the narrow traits handlers depend on (store, clock);
//! - [`payments`]: payment ids and amounts; the Stripe adapter (checkout, off-session charges, webhooks);
//! - [`adapters`]: those traits on real infrastructure (DynamoDB);
//! - [`config`] and [`setup`]: typed configuration and clients, built once at cold start.

pub mod adapters;
pub mod config;
pub mod handlers;
pub mod ids;
pub mod ledger;
pub mod money;
pub mod payments;
pub mod ports;
pub mod setup;
pub mod wallet;
