//! Writes the seed corpora of every fuzz target into `<dir>/<target>/` (default `fuzz/corpus`):
//! Meta's sample bodies (`<repo>/../shared/fixtures/meta`), the committed rate cards and rates
//! files, the request bodies and queries the API tests send, billing messages packed from the
//! samples and cursors the API issues. `scripts/fuzz --seed` runs it; `cargo fuzz cmin` then
//! keeps the inputs that add coverage.
//!
//! Each file is `selector byte ++ input` for targets that take a selector (see each target).

use std::fs;
use std::path::{Path, PathBuf};

use imcredits::billing::message::pack;
use imcredits::ids::encode_cursor;
use imcredits::meta::parse_webhook;

fn write(dir: &Path, target: &str, name: &str, bytes: &[u8]) {
    let folder = dir.join(target);
    fs::create_dir_all(&folder).expect("the corpus folder can be made");
    fs::write(folder.join(format!("seed-{name}")), bytes).expect("a seed can be written");
}

fn with_selector(selector: u8, input: &[u8]) -> Vec<u8> {
    let mut bytes = vec![selector];
    bytes.extend_from_slice(input);
    bytes
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn meta_samples() -> Vec<(String, Vec<u8>)> {
    let dir = repo().join("../shared/fixtures/meta");
    let mut samples: Vec<(String, Vec<u8>)> = fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
        .map(|entry| entry.expect("a readable folder").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .map(|path| {
            let name = path
                .file_stem()
                .expect("a file name")
                .to_string_lossy()
                .into_owned();
            (name, fs::read(&path).expect("a readable sample"))
        })
        .collect();
    samples.sort();
    samples
}

fn meta(dir: &Path) {
    for (name, body) in meta_samples() {
        write(dir, "meta_webhook", &name, &with_selector(0, &body));
        if let Ok(batch) = parse_webhook(&body) {
            for (index, message) in pack(&batch).iter().enumerate() {
                write(
                    dir,
                    "billing_message",
                    &format!("{name}-{index}"),
                    message.as_bytes(),
                );
            }
        }
    }
    write(dir, "meta_webhook", "bad-signature", b"\x01sha256=00\n{}");
}

fn stripe(dir: &Path) {
    let session = r#"{"id":"evt_1","type":"checkout.session.completed","created":1800000000,"livemode":false,"data":{"object":{"id":"cs_1","payment_status":"paid","amount_total":618,"currency":"usd","payment_intent":"pi_1","metadata":{"imcredits_account":"demo","imcredits_purchase":"pur_0123456789abcdef"}}}}"#;
    let intent = r#"{"id":"evt_2","type":"payment_intent.succeeded","created":1800000000,"livemode":false,"data":{"object":{"id":"pi_1","amount":618,"currency":"usd","customer":"cus_1","payment_method":"pm_1","metadata":{"imcredits_account":"demo","imcredits_attempt":"rch_0123456789abcdef"}}}}"#;
    let other = r#"{"id":"evt_3","type":"customer.created","created":1800000000,"livemode":true,"data":{"object":{}}}"#;
    for (name, body) in [("session", session), ("intent", intent), ("other", other)] {
        write(
            dir,
            "stripe_webhook",
            name,
            &with_selector(0, body.as_bytes()),
        );
    }
    write(
        dir,
        "stripe_webhook",
        "header",
        b"\x01t=1800000000,v1=00\n{}",
    );
}

/// One body per route of `api_body`, in its selector's order.
const BODIES: &[&str] = &[
    r#"{"credits": 3}"#,
    r#"{"credits": 10}"#,
    r#"{"enabled": true, "minimum_balance": "1.00", "credits": 10}"#,
    r#"{"low_balance_threshold": "5.00"}"#,
    r#"{"reference": "TICKET-1", "amount": "-2.50", "reason": "refund"}"#,
    r#"{"currency": "USD", "low_balance_threshold": "1.00"}"#,
    r#"{"order_reference": "ORD-1", "credits": 5, "source": "store", "note": "n"}"#,
    r#"{"currency": "USD", "effective_from": "2026-01-01", "flat_rate": "0.0125"}"#,
    r#"{"lines": [{"country": "BR", "category": "marketing", "count": 2}, {"phone_number": "+5511999999999", "category": "utility", "count": 1}], "template": "promo", "expires_in_seconds": 600}"#,
    r#"{"read_through": "2026-10-01T00:00:00Z"}"#,
    r#"{"decision": "credit"}"#,
    r#"{"time_zone": "Europe/Berlin"}"#,
    r#"{"url": "https://example.com/hook", "event_types": ["balance.low"]}"#,
    r#"{"overlap_hours": 24}"#,
    r#"{"event_id": "evt_1"}"#,
];

const QUERIES: &[&str] = &[
    "limit=10&cursor=czEuNDI&from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z",
    "limit=5&cursor=cDEuMTcwMDAwMDAwMDAwMC5wdXJfMDEyMzQ1Njc4OWFiY2RlZg",
    "status=all&limit=20",
    "limit=100&cursor=00000000000000000001%23x",
    "from=2026-01-01&to=2026-01-31&granularity=day&group_by=market",
    "effective_from=2026-04-01&market_list=2026-04-01",
    "from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z",
    "format=html",
];

fn api(dir: &Path) {
    for (selector, body) in (0u8..).zip(BODIES) {
        write(
            dir,
            "api_body",
            &format!("route-{selector}"),
            &with_selector(selector, body.as_bytes()),
        );
    }
    for (selector, query) in (0u8..).zip(QUERIES) {
        write(
            dir,
            "api_query",
            &format!("route-{selector}"),
            &with_selector(selector, query.as_bytes()),
        );
    }
    write(
        dir,
        "cursor",
        "statement",
        &with_selector(3, encode_cursor("s1.", "42").as_bytes()),
    );
    write(
        dir,
        "cursor",
        "purchase",
        &with_selector(
            3,
            encode_cursor("p1.", "1700000000000.pur_0123456789abcdef").as_bytes(),
        ),
    );
    write(dir, "cursor", "plain", &with_selector(3, b"s1.42"));
}

fn pricing(dir: &Path) {
    let cards = repo().join("shared/rate-cards");
    for name in ["zoho-flat-usd.json", "meta-usd-2025-07-01.json"] {
        let card = fs::read(cards.join(name)).expect("a committed card");
        write(dir, "rate_card_json", name, &card);
    }
    for currency in ["USD", "BRL", "CLP"] {
        let path = cards.join(format!(
            "meta-format-examples/rates-{currency}-MADE-UP-FIGURES.csv"
        ));
        let file = fs::read(path).expect("a committed rates file");
        for selector in 0..2u8 {
            write(
                dir,
                "meta_rates_csv",
                &format!("{currency}-{selector}"),
                &with_selector(selector, &file),
            );
        }
    }
    let tiers = "Cost per message in USD\nMarket,Currency,Category,Tier,Rate\n\
        India,USD,Utility,0:25000000,0.0014\n\
        India,USD,Utility,25000001:50000000,0.0012\n\
        India,USD,Utility,50000001:,0.0010\n\
        India,USD,Authentication,0:25000000,0.0014\n";
    write(dir, "volume_tiers_csv", "india", tiers.as_bytes());
}

fn main() {
    let dir = std::env::args()
        .nth(1)
        .map_or_else(|| repo().join("fuzz/corpus"), PathBuf::from);
    meta(&dir);
    stripe(&dir);
    api(&dir);
    pricing(&dir);
    println!("seeds written under {}", dir.display());
}
