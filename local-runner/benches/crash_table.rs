//! The crash table, on the real runner binary: eight signed bodies of 5,000 statuses
//! (40,000), every one answered 200, then SIGKILL at several moments after the last answer (or a
//! SIGTERM right after it), a restart, and a count of what was charged. Prints, per moment:
//! accepted, charged before the restart, charged after it, lost, charged twice.
//! Run with `scripts/bench --bench crash_table` (loopback only; about two minutes).

#[path = "../tests/runner/mod.rs"]
mod runner;

use std::path::Path;
use std::time::{Duration, Instant};

use imcredits::ids::AccountId;
use imcredits::ledger::EntryKind;
use imcredits::ports::store::WalletGet;
use runner::{PHONE, Runner, data_dir, free_port, meta_body, status};

const BODIES: usize = 8;
const STATUSES_PER_BODY: usize = 5_000;

/// Charge entries in the (stopped) runner's data file, and how many distinct ids they have.
async fn charges(data_dir: &Path) -> (usize, usize) {
    let store = runner::stopped_store(data_dir);
    let account = AccountId::parse("acme").unwrap();
    let wallet = store.get_wallet(&account).await.unwrap().unwrap();
    let entries = imcredits_tests::whole_statement(&store, &account, 100).await;
    assert_eq!(entries.len() as u64, wallet.entry_count);
    let ids: std::collections::BTreeSet<String> = entries
        .iter()
        .filter(|entry| entry.kind == EntryKind::Charge)
        .map(|entry| entry.id.to_string())
        .collect();
    let all = entries
        .iter()
        .filter(|e| e.kind == EntryKind::Charge)
        .count();
    (all, ids.len())
}

/// Sends the burst (a 503 is retried, as Meta does); answers how many statuses got a 200.
fn burst(runner: &Runner, tag: &str) -> usize {
    let mut accepted = 0;
    for body in 0..BODIES {
        let statuses = (0..STATUSES_PER_BODY)
            .map(|i| status(&format!("wamid.{tag}.{body}.{i}")))
            .collect();
        let body = meta_body(PHONE, statuses);
        let deadline = Instant::now() + Duration::from_secs(60);
        while runner.post_webhook(&body) != Some(200) {
            assert!(Instant::now() < deadline, "a body was never accepted");
            std::thread::sleep(Duration::from_millis(100));
        }
        accepted += STATUSES_PER_BODY;
    }
    accepted
}

async fn scenario(name: &str, signal: &str, after: Duration) {
    // Wamids are printable ASCII without spaces: the tag is the name's letters and digits.
    let tag: String = name.chars().filter(char::is_ascii_alphanumeric).collect();
    let data_dir = data_dir(&format!("crash-bench-{tag}"));
    let port = free_port();
    let runner = Runner::start(port, &data_dir);
    runner::wallet_with_card(&runner, 100_000);
    let started = Instant::now();
    let accepted = burst(&runner, &tag);
    let answered_in = started.elapsed();
    std::thread::sleep(after);
    runner.signal(signal);
    let exit = runner.wait(Duration::from_secs(60));
    let (before, _) = charges(&data_dir).await;
    // Restart and let billing finish (bounded), then stop cleanly and count.
    let runner = Runner::start(port, &data_dir);
    let deadline = Instant::now() + Duration::from_secs(180);
    let owner = runner::token(&data_dir, &["--account", "acme"]);
    let expected = format!("{:.2}", 200_000.0 - accepted as f64 * 0.0125);
    let balance = runner::balance_when(&runner, &owner, &expected, deadline - Instant::now());
    runner.interrupt();
    let (after_restart, distinct) = charges(&data_dir).await;
    println!(
        "| {name:<22} | {accepted:>8} | {before:>16} | {after_restart:>15} | {:>5} | {:>6} | {:>6.2} s | {exit} | balance {balance}",
        accepted.saturating_sub(distinct),
        after_restart - distinct,
        answered_in.as_secs_f64(),
    );
    let _ = std::fs::remove_dir_all(&data_dir);
}

#[tokio::main]
async fn main() {
    println!(
        "crash table: {BODIES} signed bodies of {STATUSES_PER_BODY} statuses, then a signal, a restart, a count"
    );
    println!(
        "| moment                 | accepted | charged at stop  | charged finally | lost  | twice  | burst    | exit"
    );
    scenario("SIGKILL 0 s after", "KILL", Duration::ZERO).await;
    scenario("SIGKILL 0.28 s after", "KILL", Duration::from_millis(280)).await;
    scenario("SIGKILL 1.7 s after", "KILL", Duration::from_millis(1_700)).await;
    scenario("SIGKILL 4.3 s after", "KILL", Duration::from_millis(4_300)).await;
    scenario("SIGTERM 0 s after", "TERM", Duration::ZERO).await;
}
