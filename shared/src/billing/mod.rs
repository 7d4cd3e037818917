//! Billing: from Meta's status events to charges on wallets.
//!
//! - [`message`]: what the webhook puts on the billing queue;
//! - [`charges`]: the ledger entry for a charged or free status, priced by the rate card in force;
//! - [`usage`]: per-day aggregates by category × market and by template tag;
//! - [`thresholds`]: low-balance, depleted and recovered crossings, and recharge requests;
//! - [`tier_message`], [`tier_pricing`], [`true_up`]: Meta's volume tier updates on the queue, charges
//!   priced at a tier, and the adjustments a late tier update calls for;
//! - [`re_rate`]: a corrected card's differences over a past period, as adjustments.
//!
//! When a status is charged at all is decided in [`crate::meta::charge_rules`].

pub mod charges;
pub mod message;
pub mod re_rate;
pub mod thresholds;
pub mod tier_message;
pub mod tier_pricing;
pub mod true_up;
pub mod usage;

#[cfg(test)]
mod tests;
#[cfg(test)]
pub(crate) mod usage_tests;
