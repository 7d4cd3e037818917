//! Ports: the narrow traits the handlers depend on. Adapters (in [`crate::adapters`]) implement them.

pub mod clock;
pub mod holds;
pub mod market_lists;
pub mod metrics;
pub mod notices;
pub mod payment_events;
pub mod payments;
pub mod postings;
pub mod queue;
pub mod recharge;
pub mod reporting;
pub mod review;
pub mod statement_backfill;
pub mod statements;
pub mod store;
pub mod tiers;
