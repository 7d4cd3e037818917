//! The runner keeps what it accepted: killed (SIGKILL) at several points of a 5,000-status burst
//! and restarted, or stopped with SIGTERM mid-burst, every status it answered 200 for is charged,
//! exactly once. Meta resends only what it did not get a 200 for; so does this test.

mod runner;

use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use imcredits::ids::AccountId;
use imcredits::ledger::EntryKind;
use runner::{PHONE, Runner, balance_when, data_dir, free_port, meta_body, signature, status};

const BODIES: usize = 10;
const STATUSES_PER_BODY: usize = 500;
/// 2,000.00 granted, 0.0125 a charge.
const CREDITS: u32 = 1_000;

fn burst(tag: &str) -> Vec<Vec<u8>> {
    (0..BODIES)
        .map(|body| {
            let statuses = (0..STATUSES_PER_BODY)
                .map(|i| status(&format!("wamid.{tag}.{body}.{i}")))
                .collect();
            meta_body(PHONE, statuses)
        })
        .collect()
}

/// Sends the bodies not accepted yet, in order, as Meta would; stops after `stop_after` 200s.
fn send(runner: &Runner, bodies: &[Vec<u8>], accepted: &mut [bool], stop_after: usize) {
    let mut sent = 0;
    for (body, done) in bodies.iter().zip(accepted.iter_mut()) {
        if *done {
            continue;
        }
        if sent == stop_after {
            return;
        }
        *done = runner.post_webhook(body) == Some(200);
        sent += usize::from(*done);
    }
}

/// The charges in the stopped runner's data file, after checking the wallet reconciles.
async fn charges_after_stop(data_dir: &Path) -> Vec<String> {
    let store = runner::stopped_store(data_dir);
    let account = AccountId::parse("acme").unwrap();
    imcredits_tests::assert_reconciled(&store, &account).await;
    imcredits_tests::whole_statement(&store, &account, 100)
        .await
        .into_iter()
        .filter(|entry| entry.kind == EntryKind::Charge)
        .map(|entry| entry.id.to_string())
        .collect()
}

fn expected_balance(charges: usize) -> String {
    let cents_x10000 = i64::from(CREDITS) * 2 * 10_000 - charges as i64 * 125;
    let text = format!("{}.{:04}", cents_x10000 / 10_000, cents_x10000 % 10_000);
    text.trim_end_matches("00").to_owned()
}

fn assert_each_charged_once(charges: &[String], expected: usize) {
    let unique: std::collections::BTreeSet<&String> = charges.iter().collect();
    assert_eq!(unique.len(), charges.len(), "an entry id twice");
    assert_eq!(charges.len(), expected, "every accepted status charged");
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_at_several_points_of_a_burst_loses_no_accepted_status() {
    let data_dir = data_dir("crash-kill");
    let port = free_port();
    let runner = Runner::start(port, &data_dir);
    let (_, owner) = runner::wallet_with_card(&runner, CREDITS);
    let bodies = burst("kill");
    let mut accepted = [false; BODIES];
    // 1. Killed mid-burst, the instant the third body was answered 200.
    send(&runner, &bodies, &mut accepted, 3);
    assert_eq!(accepted.iter().filter(|a| **a).count(), 3);
    runner.kill();
    // 2. Restarted; the rest sent and the runner killed the instant the last 200 arrives.
    let runner = Runner::start(port, &data_dir);
    send(&runner, &bodies, &mut accepted, BODIES);
    assert!(accepted.iter().all(|a| *a));
    runner.kill();
    // 3. Restarted, and killed again 300 ms later, while billing resumes.
    let runner = Runner::start(port, &data_dir);
    std::thread::sleep(Duration::from_millis(300));
    runner.kill();
    // 4. Restarted: the rest is billed; Meta's retries of the same bodies change nothing.
    let runner = Runner::start(port, &data_dir);
    for body in &bodies[..2] {
        assert_eq!(runner.post_webhook(body), Some(200));
    }
    let expected = expected_balance(BODIES * STATUSES_PER_BODY);
    let balance = balance_when(&runner, &owner, &expected, Duration::from_secs(120));
    assert_eq!(balance, expected);
    runner.interrupt();
    let charges = charges_after_stop(&data_dir).await;
    assert_each_charged_once(&charges, BODIES * STATUSES_PER_BODY);
    let _ = std::fs::remove_dir_all(&data_dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_answers_503_drains_what_is_in_flight_and_a_restart_bills_the_rest() {
    let data_dir = data_dir("crash-term");
    let port = free_port();
    let runner = Runner::start(port, &data_dir);
    let (_, owner) = runner::wallet_with_card(&runner, CREDITS);
    let bodies = burst("term");
    let mut accepted = [false; BODIES];
    send(&runner, &bodies, &mut accepted, BODIES);
    assert!(accepted.iter().all(|a| *a));
    // One more body is in flight when the signal comes: its first half sent, then the rest after.
    let held = meta_body(
        PHONE,
        (0..100)
            .map(|i| status(&format!("wamid.term.held.{i}")))
            .collect(),
    );
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "POST /webhooks/meta HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         X-Hub-Signature-256: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        signature(&data_dir, &held),
        held.len()
    )
    .unwrap();
    let half = held.len() / 2;
    stream.write_all(&held[..half]).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    runner.signal("TERM");
    std::thread::sleep(Duration::from_millis(300));
    // Stopping: a new request is refused with 503 and the error envelope, and asked to come back.
    let (status, answer) = runner.call("GET", "/v1/wallet", &owner, None);
    assert_eq!(status, 503, "{answer}");
    assert_eq!(answer["error"]["code"], "unavailable");
    // The request in flight is still handled.
    stream.write_all(&held[half..]).unwrap();
    let mut response = String::new();
    std::io::Read::read_to_string(&mut stream, &mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let exit = runner.wait(Duration::from_secs(60));
    assert!(exit.success(), "a clean stop: {exit}");
    // Restarted: whatever billing had not done is done now.
    let runner = Runner::start(port, &data_dir);
    let all = BODIES * STATUSES_PER_BODY + 100;
    let expected = expected_balance(all);
    let balance = balance_when(&runner, &owner, &expected, Duration::from_secs(120));
    assert_eq!(balance, expected);
    runner.interrupt();
    let charges = charges_after_stop(&data_dir).await;
    assert_each_charged_once(&charges, all);
    let _ = std::fs::remove_dir_all(&data_dir);
}
