//! The fuzz targets of imcredits, one function per target, each taking libFuzzer's bytes.
//!
//! They live here, in an ordinary crate of the workspace, so that two callers share them: the
//! `cargo fuzz` binaries in `fuzz/` (nightly, libFuzzer) and `tests/replay.rs` (stable, run by
//! `scripts/test`), which feeds every committed corpus and regression file through them. Each
//! target drives outside input through the same functions the server uses, and asserts what must
//! hold for any input: no panic, every refusal of a request a 4xx, and round trips that billing
//! depends on (a packed queue message parses back; a cursor decodes to what was encoded).

mod api;
mod cursor;
mod meta;
mod pricing;
mod queue;
mod stripe;

/// One fuzz target: its name (the folder of its corpus under `fuzz/corpus/`) and its body.
pub struct Target {
    pub name: &'static str,
    pub run: fn(&[u8]),
}

/// Every target; `fuzz/fuzz_targets/<name>.rs` calls the function of the same name.
pub const TARGETS: &[Target] = &[
    Target {
        name: "meta_webhook",
        run: meta_webhook,
    },
    Target {
        name: "stripe_webhook",
        run: stripe_webhook,
    },
    Target {
        name: "api_body",
        run: api_body,
    },
    Target {
        name: "api_query",
        run: api_query,
    },
    Target {
        name: "rate_card_json",
        run: rate_card_json,
    },
    Target {
        name: "meta_rates_csv",
        run: meta_rates_csv,
    },
    Target {
        name: "volume_tiers_csv",
        run: volume_tiers_csv,
    },
    Target {
        name: "billing_message",
        run: billing_message,
    },
    Target {
        name: "cursor",
        run: cursor,
    },
];

pub use api::{api_body, api_query};
pub use cursor::cursor;
pub use meta::meta_webhook;
pub use pricing::{
    import_parameters, meta_rates_csv, meta_rates_import, rate_card_json, volume_tiers_csv,
};
pub use queue::billing_message;
pub use stripe::stripe_webhook;

/// The first byte chooses a variant of a target (a route, a signing mode); the rest is the input.
fn split_selector(data: &[u8]) -> Option<(u8, &[u8])> {
    data.split_first().map(|(first, rest)| (*first, rest))
}
