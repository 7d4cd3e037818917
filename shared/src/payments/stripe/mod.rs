//! The payment provider on Stripe: webhook signature verification ([`webhook`]) and the events
//! imcredits uses ([`events`]).

pub mod events;
pub mod webhook;
