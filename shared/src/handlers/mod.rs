//! Handlers: what each function does with an event, written against ports so they run without AWS.

pub mod auto_recharge;
pub mod batch;
pub mod billing;
pub mod cache;
pub mod holds;
pub mod notifications;
pub mod recharge_trigger;
pub mod statement_backfill;
pub mod statements;
pub mod tiers;
pub mod webhook;
