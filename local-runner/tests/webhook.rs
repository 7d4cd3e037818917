//! A newcomer's pipeline session: a signed sample webhook sent to the runner charges the wallet
//! whose phone number it names, once, however often it is sent.

mod runner;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use runner::{RUNNER, Runner, data_dir, free_port};
use serde_json::Value;

const FIXTURE: &str = "meta-doc_status_delivered_pmp_marketing_with_bsuid_contact.json";

fn send_webhook(port: u16, data_dir: &Path, file: &Path) -> String {
    let output = Command::new(RUNNER)
        .arg("send-webhook")
        .arg(file)
        .args(["--port", &port.to_string(), "--data-dir"])
        .arg(data_dir)
        .output()
        .expect("send-webhook runs");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// The wallet, once its balance differs from `before` (bounded wait: billing runs in the background).
fn wallet_after(runner: &Runner, owner: &str, before: &Value) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, wallet) = runner.call("GET", "/v1/wallet", owner, None);
        if wallet["balance"] != before["balance"] || Instant::now() > deadline {
            return wallet;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_signed_sample_webhook_charges_the_wallet_once() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fixtures/meta")
        .join(FIXTURE);
    assert!(
        fixture.exists(),
        "Meta's sample bodies are expected beside the repository: {}",
        fixture.display()
    );
    let data_dir = data_dir("webhook");
    let port = free_port();
    let runner = Runner::start(port, &data_dir);
    let (_, owner) = runner::wallet_with_card(&runner, 5);
    let (_, before) = runner.call("GET", "/v1/wallet", &owner, None);
    assert_eq!(send_webhook(port, &data_dir, &fixture), "200");
    let after = wallet_after(&runner, &owner, &before);
    assert_eq!(after["balance"]["amount"], "9.9875");
    // Sent again: Meta retries; nothing more is charged.
    assert_eq!(send_webhook(port, &data_dir, &fixture), "200");
    std::thread::sleep(Duration::from_secs(2));
    let (_, statement) = runner.call("GET", "/v1/wallet/statement", &owner, None);
    let charges: Vec<&Value> = statement["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "charge")
        .collect();
    assert_eq!(charges.len(), 1);
    assert_eq!(charges[0]["metadata"]["market"], "US");
    let (_, wallet) = runner.call("GET", "/v1/wallet", &owner, None);
    assert_eq!(wallet["balance"]["amount"], "9.9875");
    // A body signed with another secret is refused.
    let forged = data_dir.join("forged");
    std::fs::create_dir_all(&forged).unwrap();
    assert_eq!(send_webhook(port, &forged, &fixture), "401");
    runner.interrupt();
    let _ = std::fs::remove_dir_all(&data_dir);
}
