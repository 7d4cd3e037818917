//! The replay flood on the real runner binary: 100 signed bodies of ~1 MB sent 100 at a
//! time, once new and then in five replay rounds (six rounds in all), while a new charge is sent
//! in the middle. Prints the runner's peak memory (VmHWM), how soon the new charge posted, and the
//! cost of a replayed body against a new one (median wall time of one request on a quiet runner).
//! Run with `scripts/bench --bench flood` (loopback only; about a minute).

#[path = "../tests/runner/mod.rs"]
mod runner;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use runner::{PHONE, Runner, data_dir, free_port, meta_body, post_webhook, status};
use serde_json::{Value, json};

const BODIES: usize = 100;
const ROUNDS: usize = 6;
const CONCURRENCY: usize = 100;
const COST_SAMPLES: usize = 15;

/// A ~1 MB body of 3,000 statuses; `charged` ones are priced deliveries, the others `sent`.
fn big_body(tag: &str, index: usize, charged: bool) -> Vec<u8> {
    let statuses: Vec<Value> = (0..3_000)
        .map(|i| {
            let id = format!("wamid.{tag}.{index}.{i:06}");
            let mut status = if charged {
                status(&id)
            } else {
                json!({"id": id, "status": "sent", "timestamp": "1767225600", "recipient_id": "15550001111"})
            };
            status["unknown_to_us"] = json!("f".repeat(200));
            status
        })
        .collect();
    meta_body(PHONE, statuses)
}

fn peak_rss_mb(pid: u32) -> u64 {
    runner::peak_rss_bytes(pid) / 1024 / 1024
}

fn round(port: u16, data_dir: &std::path::Path, bodies: &Arc<Vec<Vec<u8>>>) -> usize {
    let next = Arc::new(AtomicUsize::new(0));
    let refusals = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (next, bodies, data_dir) =
                (Arc::clone(&next), Arc::clone(bodies), data_dir.to_owned());
            let refusals = Arc::clone(&refusals);
            std::thread::spawn(move || {
                loop {
                    let index = next.fetch_add(1, Ordering::SeqCst);
                    let Some(body) = bodies.get(index) else {
                        return;
                    };
                    let deadline = Instant::now() + Duration::from_secs(300);
                    while post_webhook(port, &data_dir, body) != Some(200) {
                        refusals.fetch_add(1, Ordering::SeqCst);
                        assert!(Instant::now() < deadline, "body {index} never accepted");
                        std::thread::sleep(Duration::from_millis(500));
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("a sender");
    }
    refusals.load(Ordering::SeqCst)
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Median wall time of one request: a new ~1 MB body of charged statuses against its replay.
fn replay_cost(runner: &Runner) {
    let mut new = Vec::new();
    let mut replay = Vec::new();
    for sample in 0..COST_SAMPLES {
        let body = big_body("cost", sample, true);
        let started = Instant::now();
        assert_eq!(runner.post_webhook(&body), Some(200));
        new.push(started.elapsed());
        let started = Instant::now();
        assert_eq!(runner.post_webhook(&body), Some(200));
        replay.push(started.elapsed());
    }
    let (new, replay) = (median(new), median(replay));
    println!(
        "one ~1 MB body of 3,000 charged statuses, median of {COST_SAMPLES}: new {:.1} ms, replay {:.1} ms ({:.0}% of new); a replay also adds nothing to the billing queue",
        new.as_secs_f64() * 1e3,
        replay.as_secs_f64() * 1e3,
        100.0 * replay.as_secs_f64() / new.as_secs_f64()
    );
}

fn main() {
    let data_dir = data_dir("flood-bench");
    let port = free_port();
    let runner = Runner::start(port, &data_dir);
    let (_, owner) = runner::wallet_with_card(&runner, 100_000);
    let bodies = Arc::new(
        (0..BODIES)
            .map(|i| big_body("flood", i, false))
            .collect::<Vec<_>>(),
    );
    let mb = bodies.iter().map(Vec::len).sum::<usize>() as f64 / 1e6;
    println!(
        "flood: {BODIES} bodies ({mb:.0} MB in all), {CONCURRENCY} at a time, {ROUNDS} rounds (the first new, then replays)"
    );
    let started = Instant::now();
    let mut new_charge_posted = None;
    for round_index in 0..ROUNDS {
        let round_started = Instant::now();
        let (tx, rx) = std::sync::mpsc::channel();
        if round_index == ROUNDS / 2 {
            // A new charge in the middle of the flood.
            let (data_dir, owner) = (data_dir.clone(), owner.clone());
            std::thread::spawn(move || {
                let sent = Instant::now();
                let body = meta_body(PHONE, vec![status("wamid.flood.new")]);
                while post_webhook(port, &data_dir, &body) != Some(200) {
                    std::thread::sleep(Duration::from_millis(100));
                }
                let _ = owner;
                tx.send(sent).unwrap();
            });
        }
        let refusals = round(port, &data_dir, &bodies);
        if let Ok(sent) = rx
            .try_recv()
            .or_else(|_| rx.recv_timeout(Duration::from_secs(30)))
        {
            let expected = "199999.9875";
            let balance = runner::balance_when(&runner, &owner, expected, Duration::from_secs(60));
            if balance == expected {
                new_charge_posted = Some(sent.elapsed());
            }
        }
        println!(
            "round {}: {:.1} s, {refusals} answers 503 (retried), runner peak RSS so far {} MB",
            round_index + 1,
            round_started.elapsed().as_secs_f64(),
            peak_rss_mb(runner.pid())
        );
    }
    println!(
        "flood done in {:.1} s; runner peak RSS {} MB; the new charge sent mid-flood posted within {:?}",
        started.elapsed().as_secs_f64(),
        peak_rss_mb(runner.pid()),
        new_charge_posted
    );
    replay_cost(&runner);
    runner.interrupt();
    let _ = std::fs::remove_dir_all(&data_dir);
}
