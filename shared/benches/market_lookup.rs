//! What placing a recipient in a market costs: the one-off metadata load, then each lookup.
//!
//! `cargo bench -p imcredits --bench market_lookup`. Lookups are timed in batches (an `Instant`
//! read costs tens of nanoseconds, as much as a lookup in a single-region code); the per-lookup
//! figure is a batch's time divided by its size, and the median and 99th percentile are over
//! batches. The numbers are made up and never printed.

use std::hint::black_box;
use std::time::{Duration, Instant};

use imcredits::pricing::{RecipientMarket, market_of, warm_up};

const LOOKUPS_PER_BATCH: usize = 100;
const BATCHES: usize = 5_000;

fn main() {
    let started = Instant::now();
    warm_up();
    let cold = started.elapsed();
    println!("cold start, warm_up() (compiles the North American patterns): {cold:.1?}");

    let sets: [(&str, &[&str]); 4] = [
        ("single-region code (+91 India)", &["919876543210"]),
        ("+1 United States", &["12025550123"]),
        (
            "+1 Caribbean (JM, DO, PR, TT, BB, BS)",
            &[
                "18765550123",
                "18095550123",
                "17875551234",
                "18685551234",
                "12465551234",
                "12425551234",
            ],
        ),
        (
            "mixed, 20 markets over shared and single codes",
            &[
                "12025550123",
                "14165550123",
                "18765550123",
                "18295551234",
                "19395551234",
                "16845551234",
                "919876543210",
                "5511987654321",
                "6281234567890",
                "525512345678",
                "447400123456",
                "79161234567",
                "77012345678",
                "390612345678",
                "61412345678",
                "5491123456789",
                "2348031234567",
                "27821234567",
                "971501234567",
                "8001234567",
            ],
        ),
    ];

    for (name, numbers) in sets {
        // First use of a region compiles its patterns; that is a cold-start cost, paid here.
        let first = Instant::now();
        for number in numbers {
            black_box(market_of(black_box(number)));
        }
        let first = first.elapsed();
        let placed = numbers
            .iter()
            .filter(|number| market_of(number) != RecipientMarket::Unknown)
            .count();

        let mut per_lookup: Vec<Duration> = Vec::with_capacity(BATCHES);
        let mut next = 0;
        for _ in 0..BATCHES {
            let batch = Instant::now();
            for _ in 0..LOOKUPS_PER_BATCH {
                black_box(market_of(black_box(numbers[next])));
                next = (next + 1) % numbers.len();
            }
            per_lookup.push(batch.elapsed() / LOOKUPS_PER_BATCH as u32);
        }
        per_lookup.sort();
        let median = per_lookup[BATCHES / 2];
        let p99 = per_lookup[BATCHES * 99 / 100];
        println!(
            "{name}: median {median:.2?} per lookup, p99 {p99:.2?} ({placed}/{} placed; \
             first pass {first:.1?})",
            numbers.len()
        );
    }
}
