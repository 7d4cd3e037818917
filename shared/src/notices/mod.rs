//! Notices: what accounts are told (low balance, depleted, recovered, purchases, recharges), as one
//! typed, versioned event model; the in-app feed stores each event once, and signed webhooks
//! (Standard Webhooks) carry it to the endpoints an account or the operator registered.
//!
//! - [`event`]: the events and their stable ids;
//! - [`signing`]: Standard Webhooks signatures and secrets;
//! - [`endpoint`]: webhook endpoints, owners, secret rotation;
//! - [`address`]: the URL and address rules of the SSRF guard;
//! - [`retry`]: when an attempt is tried again, and when an endpoint is disabled;
//! - [`delivery`]: the queue messages and the delivery log;
//! - [`holds`]: the `balance.recovered` a hold's release makes.

pub mod address;
pub mod delivery;
pub mod endpoint;
pub mod event;
pub mod feed;
pub mod holds;
pub mod retry;
pub mod signing;

pub use event::{Event, EventData, EventId, EventType};
