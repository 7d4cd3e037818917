//! What the webhook function spends per status: signature check + parse + normalise of a body
//! (`imcredits::meta::verify_and_parse`), next to the floor of the same bytes through a bare
//! HMAC-SHA256 check and `serde_json::from_slice::<serde_json::Value>`. Goal: within 2× the floor.
//!
//! Run: `cargo bench -p imcredits --bench webhook_parse`. Medians of interleaved samples from
//! `std::time::Instant` (the machine is shared, so the median resists noise better than the mean).

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use hmac::{Hmac, KeyInit, Mac};
use imcredits::meta::signature::signature_header_value;
use imcredits::meta::{AppSecret, decide_charge, verify_and_parse};
use serde_json::Value;
use sha2::Sha256;

const SECRET: &[u8] = b"benchmark app secret";
const FIXTURE: &str = "meta-doc_status_delivered_pmp_marketing_with_bsuid_contact.json";
const SAMPLES: usize = 41;
/// Each sample runs the work enough times to last at least this long.
const SAMPLE_TIME_MIN: Duration = Duration::from_millis(4);

fn fixture() -> Vec<u8> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/meta");
    let path = dir.join(FIXTURE);
    std::fs::read(&path).unwrap_or_else(|error| {
        panic!(
            "cannot read {} ({error}): the shared fixtures folder must sit beside the repository",
            path.display()
        )
    })
}

/// A body like Meta's largest batches: the fixture's status repeated with distinct wamids, compact.
fn body_with_statuses(template: &[u8], count: usize) -> Vec<u8> {
    let mut body: Value = serde_json::from_slice(template).expect("fixture is JSON");
    let value = &mut body["entry"][0]["changes"][0]["value"];
    let status = value["statuses"][0].clone();
    let statuses: Vec<Value> = (0..count)
        .map(|index| {
            let mut status = status.clone();
            let wamid = status["id"].as_str().expect("status id").to_owned();
            status["id"] = Value::from(format!("{wamid}{index:05}"));
            status
        })
        .collect();
    value["statuses"] = Value::from(statuses);
    serde_json::to_vec(&body).expect("serialisable")
}

/// The floor: what any handler must do at least, with no typing or checks of its own.
fn floor(key: &[u8], header: &str, body: &[u8]) -> Value {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("any key length");
    mac.update(body);
    let expected = hex::decode(&header["sha256=".len()..]).expect("hex");
    mac.verify_slice(&expected).expect("signature fits");
    serde_json::from_slice::<Value>(body).expect("JSON")
}

/// Iterations per sample so a sample lasts at least [`SAMPLE_TIME_MIN`].
fn iterations_for(mut work: impl FnMut()) -> u32 {
    let mut iterations = 1u32;
    loop {
        let start = Instant::now();
        for _ in 0..iterations {
            work();
        }
        if start.elapsed() >= SAMPLE_TIME_MIN || iterations >= 1 << 20 {
            return iterations;
        }
        iterations *= 2;
    }
}

fn sample(iterations: u32, work: &mut impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..iterations {
        work();
    }
    start.elapsed() / iterations
}

fn median(mut durations: Vec<Duration>) -> Duration {
    durations.sort();
    durations[durations.len() / 2]
}

/// Medians of `a` and `b`, sampled alternately so that drift on a shared machine hits both alike.
fn compare(mut a: impl FnMut(), mut b: impl FnMut()) -> (Duration, Duration) {
    let iterations_a = iterations_for(&mut a);
    let iterations_b = iterations_for(&mut b);
    let mut samples_a = Vec::with_capacity(SAMPLES);
    let mut samples_b = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        samples_a.push(sample(iterations_a, &mut a));
        samples_b.push(sample(iterations_b, &mut b));
    }
    (median(samples_a), median(samples_b))
}

fn measure(mut work: impl FnMut()) -> Duration {
    let iterations = iterations_for(&mut work);
    median(
        (0..SAMPLES)
            .map(|_| sample(iterations, &mut work))
            .collect(),
    )
}

fn per(duration: Duration, count: usize) -> f64 {
    duration.as_secs_f64() * 1e9 / count as f64
}

fn main() {
    let secret = AppSecret::new(SECRET).expect("secret");
    let template = fixture();
    let bodies = [
        ("1 status (fixture bytes as published)", template.clone(), 1),
        (
            "1,000 statuses (generated, compact)",
            body_with_statuses(&template, 1000),
            1000,
        ),
    ];
    println!(
        "webhook_parse: median of {SAMPLES} interleaved samples, each >= {} ms",
        SAMPLE_TIME_MIN.as_millis()
    );
    println!(
        "{:<40} {:>9} {:>16} {:>16} {:>7} {:>18}",
        "body", "bytes", "ours ns/status", "floor ns/status", "ratio", "+decide ns/status"
    );
    for (name, body, statuses) in &bodies {
        let header = signature_header_value(&secret, body);
        // Sanity: the work being timed succeeds and sees every status.
        let batch = verify_and_parse(&secret, Some(header.as_bytes()), body).expect("parses");
        assert_eq!(batch.statuses.len(), *statuses);
        assert!(!batch.report.possibly_billable_lost());

        let ours = || {
            let batch =
                verify_and_parse(&secret, Some(black_box(header.as_bytes())), black_box(body));
            black_box(batch.expect("parses"));
        };
        let floor_work = || {
            black_box(floor(SECRET, black_box(&header), black_box(body)));
        };
        let (ours_time, floor_time) = compare(ours, floor_work);
        let with_decisions = || {
            let batch =
                verify_and_parse(&secret, Some(black_box(header.as_bytes())), black_box(body))
                    .expect("parses");
            for status in &batch.statuses {
                black_box(decide_charge(status));
            }
        };
        let decided_time = measure(with_decisions);
        println!(
            "{:<40} {:>9} {:>16.0} {:>16.0} {:>6.2}x {:>18.0}",
            name,
            body.len(),
            per(ours_time, *statuses),
            per(floor_time, *statuses),
            ours_time.as_secs_f64() / floor_time.as_secs_f64(),
            per(decided_time, *statuses),
        );
    }
}
