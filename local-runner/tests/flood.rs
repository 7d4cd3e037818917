//! A flood of replayed 1 MB bodies, sent 32 at a time: the runner's memory stays under a bound
//! (webhook bodies are handled a few at a time, replays are recognised before they are read, and
//! queues live on disk), and a new charge sent during the flood still posts promptly.
//! (`flood_bench` runs the full flood and prints the figures.)

#![cfg(target_os = "linux")]

mod runner;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use runner::{
    PHONE, Runner, balance_when, data_dir, free_port, meta_body, peak_rss_bytes, post_webhook,
    status,
};
use serde_json::json;

const BODIES: usize = 24;
const CONCURRENCY: usize = 32;
const REPLAY_ROUNDS: usize = 3;
/// The bound the runner's peak memory must stay under (it was 1.1 GB under the flood).
const PEAK_RSS_MAX_BYTES: u64 = 256 * 1024 * 1024;

/// A ~1 MB body of `sent` statuses (not charged), as Meta sends between the charged ones.
fn big_body(index: usize) -> Vec<u8> {
    let statuses = (0..3_000)
        .map(|i| {
            json!({"id": format!("wamid.flood.{index}.{i:06}"), "status": "sent",
                   "timestamp": "1767225600", "recipient_id": "15550001111",
                   "unknown_to_us": "f".repeat(220)})
        })
        .collect();
    meta_body(PHONE, statuses)
}

/// Sends every body once, `CONCURRENCY` at a time; a 503 is retried after a pause, as Meta does.
fn round(port: u16, data_dir: &std::path::Path, bodies: &Arc<Vec<Vec<u8>>>) {
    let next = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (next, bodies, data_dir) =
                (Arc::clone(&next), Arc::clone(bodies), data_dir.to_owned());
            std::thread::spawn(move || {
                loop {
                    let index = next.fetch_add(1, Ordering::SeqCst);
                    let Some(body) = bodies.get(index) else {
                        return;
                    };
                    let deadline = Instant::now() + Duration::from_secs(120);
                    while post_webhook(port, &data_dir, body) != Some(200) {
                        assert!(Instant::now() < deadline, "body {index} never accepted");
                        std::thread::sleep(Duration::from_millis(200));
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("a sender");
    }
}

#[test]
fn a_replay_flood_keeps_memory_bounded_and_new_charges_post() {
    let data_dir = data_dir("flood");
    let port = free_port();
    let runner = Runner::start(port, &data_dir);
    let (_, owner) = runner::wallet_with_card(&runner, 5);
    let bodies = Arc::new((0..BODIES).map(big_body).collect::<Vec<_>>());
    assert!(
        bodies
            .iter()
            .all(|b| b.len() > 900_000 && b.len() < 1_200_000)
    );
    round(port, &data_dir, &bodies); // new the first time
    let flooding = Arc::new(AtomicBool::new(true));
    let flood = {
        let (bodies, data_dir, flooding) =
            (Arc::clone(&bodies), data_dir.clone(), Arc::clone(&flooding));
        std::thread::spawn(move || {
            for _ in 0..REPLAY_ROUNDS {
                round(port, &data_dir, &bodies);
            }
            flooding.store(false, Ordering::SeqCst);
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    // A new charge, in the middle of the flood.
    let sent_at = Instant::now();
    let new = meta_body(PHONE, vec![status("wamid.flood.new")]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while runner.post_webhook(&new) != Some(200) {
        assert!(Instant::now() < deadline, "the new body was never accepted");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        balance_when(&runner, &owner, "9.9875", Duration::from_secs(30)),
        "9.9875"
    );
    let posted_after = sent_at.elapsed();
    assert!(
        flooding.load(Ordering::SeqCst),
        "the flood should still be running when the new charge posts (it posted after {posted_after:?})"
    );
    flood.join().expect("the flood");
    let peak = peak_rss_bytes(runner.pid());
    assert!(
        peak < PEAK_RSS_MAX_BYTES,
        "peak RSS {} MB over the {} MB bound",
        peak / 1024 / 1024,
        PEAK_RSS_MAX_BYTES / 1024 / 1024
    );
    runner.interrupt();
    let _ = std::fs::remove_dir_all(&data_dir);
}
