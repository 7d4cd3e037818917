//! imcredits: prepaid WhatsApp messaging credits. The layers and the import rule are in
//! `docs/architecture.md`; `architecture_tests` holds the rule.
//!
//! Domain (imports nothing outer):
//! - [`money`]: exact amounts, currencies, the rounding rule, credit pricing and quotes;
//! - [`ids`]: identifiers, the one cursor codec, the one request fingerprint;
//! - [`wallet`]: one balance per account, its status and settings;
//! - [`ledger`]: entries with deterministic ids and running balances, posting plans, reconciliation;
//! - [`holds`]: money reserved before a send, settled by its charges, released when not used;
//! - [`pricing`]: rate cards, recipient markets and categories: what a charged message costs;
//! - [`meta`]: Meta's webhook: signature, handshake, tolerant parsing into events, when a status is charged;
//! - [`billing`]: the billing queue's message, charges, usage aggregates, threshold crossings;
//! - [`payments`]: purchase ids, amounts and the purchase state machine;
//! - [`recharge`]: when auto-recharge may charge, and the lock item after each outcome;
//! - [`reporting`]: usage buckets by day or month and group, monthly statements (the reporting time
//!   zone itself lives on the wallet: `wallet::zone`);
//! - [`notices`]: the events accounts are told (feed, signed webhooks), endpoints, the SSRF rules.
//!
//! Around it: [`ports`] (the narrow traits handlers depend on), [`adapters`] (those traits on
//! DynamoDB, SQS, an in-process queue and Stripe), [`handlers`] and [`api`] (what each function
//! does, against ports), and [`config`] and [`setup`] (typed configuration and clients, built once
//! at cold start: the only place that names concrete adapters).

pub mod adapters;
pub mod api;
pub mod billing;
pub mod config;
pub mod handlers;
pub mod holds;
pub mod ids;
pub mod ledger;
pub mod meta;
pub mod money;
pub mod notices;
#[cfg(feature = "aws")]
pub mod notices_setup;
pub mod payments;
pub mod ports;
pub mod pricing;
pub mod recharge;
pub mod reporting;
#[cfg(feature = "aws")]
pub mod setup;
pub mod wallet;
pub mod web;

#[cfg(test)]
mod architecture_tests;
