//! Reporting: where an account's days and months begin, and the usage and monthly reports built
//! on the aggregates billing writes.
//!
//! # The reporting time zone
//! Each wallet carries an IANA time zone name (`Europe/Berlin`, `America/Sao_Paulo`; default
//! `UTC`), set by the account or an operator. Billing stamps every charge with the local date it
//! falls on in that zone (`usage_day` in the entry's metadata) and counts it in that day's usage
//! aggregate. Changing the zone changes the days of charges posted **after** the change only:
//! aggregates already written keep the days they were counted in (UTC before zones existed), so
//! no posted figure ever moves. The zone database is bundled (jiff's copy of the IANA tzdb), so a
//! day's boundaries are the same on Lambda and on a laptop.

pub mod closing;
pub mod monthly;
pub mod usage;

pub use crate::wallet::zone::{ReportingZone, ZONE_NAME_LEN_MAX, ZoneError};
