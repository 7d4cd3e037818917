//! The payment provider on Stripe: webhook signature verification ([`webhook`]).

pub mod webhook;
