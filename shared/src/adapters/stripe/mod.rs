//! The payment provider on Stripe's HTTP API: a small `reqwest` client rather than `async-stripe`.
//!
//! What it does: creates Checkout Sessions ([`CheckoutCreate`](crate::ports::payments::CheckoutCreate)),
//! charges saved cards off-session ([`OffSessionCharge`](crate::ports::payments::OffSessionCharge)),
//! verifies webhook signatures ([`webhook`]) and reads the events imcredits uses ([`events`]).
//! Requests are `application/x-www-form-urlencoded` with Stripe's bracketed keys
//! (`line_items[0][price_data][unit_amount]`), each with its own `Idempotency-Key`; amounts are
//! integers in minor units from [`ChargeAmount`](crate::payments::ChargeAmount), never floats.
//!
//! # Why not `async-stripe`
//! Measured on 2026-11-21 with two throwaway crates outside the repository, each doing what this
//! adapter does (a Checkout Session, a PaymentIntent, a webhook check): `cargo clean`, then
//! `cargo build` (dev profile with `debug = "line-tables-only"` like the workspace), rustc 1.95, on
//! 2 cores shared with three other engineers' builds, so wall times are noisy (load 1 to 9) and
//! CPU time is the steadier figure.
//!
//! | clean build | `reqwest` 0.13 (`rustls`) + hmac, sha2, hex, subtle | `async-stripe` 1.0.0-rc.10 (`rustls-aws-lc-rs`) + `-checkout` (`checkout_session`), `-core` (`payment_intent`), `-webhook` |
//! |---|---|---|
//! | wall time | 38.9 s (load 1.1); 152 s, 128 s (load 7-9) | 136 s (load 1.7); 270 s (load 8-9) |
//! | CPU, user + sys | 69-80 s | 120-139 s |
//! | peak rustc memory | 0.4 GB | 1.8 GB |
//! | `cargo tree \| wc -l` | 242 | 230 |
//! | packages (normal + build) | 108 | 100 |
//! | packages it adds to this workspace, which already builds hyper, rustls, aws-lc-rs, hmac and sha2 for the AWS SDK | 6 (reqwest, tower-http, rustls-platform-verifier, sync_wrapper, log, bitflags) | 15 (seven async-stripe crates, miniserde, chrono, serde_qs, ...) |
//! | compile time of those added crates (`cargo build --timings`, both at load 7-9) | 5 s | 232 s |
//!
//! Most of the difference is `async-stripe-shared`, 240,756 lines of generated types that are
//! compiled whatever features are chosen: 157 s on one core, serial, on every clean build and CI
//! run. imcredits uses two endpoints and one webhook check, so the small client wins: about 5 s
//! added to a clean build instead of about 4 minutes on this loaded machine (roughly half that
//! idle), no dependency on a release candidate (1.0 is still `rc.10`), and retries, timeouts and
//! errors shaped exactly as the port needs. The price is that the form field names are ours to keep
//! right; the wiremock tests pin every one.

mod charge;
mod checkout;
mod client;
pub mod events;
mod read;
pub mod webhook;

#[cfg(test)]
mod tests;

pub use client::{
    STRIPE_API_BASE_URL, StripeClient, StripeConfig, StripeSecretKey, StripeSetupError,
};

use crate::money::Currency;

/// Stripe wants ISO 4217 codes in lowercase.
fn stripe_currency(currency: Currency) -> String {
    currency.code().to_ascii_lowercase()
}
